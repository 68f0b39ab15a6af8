"""The classic Blogger layout copied as text: ``Name said...``, the comment, its time line.

::

    12 comments:

    Anonymous said...

        I agree with every word.

        November 1, 2009 10:15 AM

    Michael Russell said...
    ...

Older templates put the time first (``At 10:15 AM, Anonymous said...``).  Classic comments
have no replies.  The time line is read in any language (``pipeline.parse.dates``); a line
that shows a time but cannot be read as a full date is dropped from the text and counted in
the file's W108 warning.
"""

from __future__ import annotations

from .model import ParsedThread, Unit
from .text import LINK_LINE_RE, SAID_RE, _join, add_post_before, read_time_line


def parse_classic(lines: list[str], start: int, thread: ParsedThread) -> None:
    starts = [i for i in range(start, len(lines)) if SAID_RE.match(lines[i])]
    add_post_before(thread, lines, start, starts[0])

    tid = thread.thread_id
    for k, (a, b) in enumerate(zip(starts, starts[1:] + [len(lines)]), 1):
        said = SAID_RE.match(lines[a])
        thread.consumed.append(lines[a])
        body = []
        for line in lines[a + 1:b]:
            if LINK_LINE_RE.match(line):  # 'Delete' under each comment for the blog's owner
                thread.consumed.append(line)
            else:
                body.append(line)
        timestamp = None
        if said.group("when"):  # 'At 10:15 AM, Anonymous said...': often a time only
            timestamp = read_time_line(said.group("when"), thread.tz)[1]
            if timestamp is None:
                thread.unread_times.append(said.group("when"))
        last = next((j for j in range(len(body) - 1, -1, -1) if body[j].strip()), None)
        if last is not None:
            is_time, value = read_time_line(body[last], thread.tz)
            if is_time:
                thread.consumed.append(body[last])
                if value is None:
                    thread.unread_times.append(body[last].strip())
                timestamp = value or timestamp
                body = body[:last]
        unit = Unit(f"{tid}/c{k}", tid, "comment", f"{tid}/post", 1, 0, _join(body),
                    author=said.group("author").strip() or None, timestamp=timestamp, line=a + 1)
        thread.units.append(unit)
