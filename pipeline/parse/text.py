"""Blogger threads copied from a web page as plain text, in the three layouts seen in the seeds.

``blogger_numbered``
    Comments numbered ``  1.`` (2-space indent), replies ``    1.`` (4 spaces) after a
    ``Replies`` line; link text ``ReplyDelete`` / ``Replies`` / ``Delete`` on lines of
    their own; an ``N comments:`` line after the post (seeds 000, 002, 003).
``blogger_numbered_plain``
    The same numbering with no link text and no count (seed 001).
``blogger_flat``
    No numbering, count, title or date.  The link text is glued to the start of the
    next comment's first line: ``ReplyDeleteBefore making...``.  The text closed by
    ``ReplyDelete`` is a top-level comment; text closed by ``Delete`` is a reply to the
    latest top-level comment (seed 004).  Paragraph breaks and comment breaks look
    the same here, so a closed block of several lines may hold several comments:
    such units are marked low-confidence rather than split by guesswork.

``blogger_classic``
    Older templates: each comment opens with ``Name said...`` (``dijo...``, ``hat gesagt…``,
    ``a dit...``) and closes with its time line (``November 1, 2009 10:15 AM``); no replies.

A date line opens the page (``Thursday 23 April 2015``, ``Sunday, November 1, 2009``,
``2015-04-23``, ``Freitag, 5. Juni 2015``), before or after the title.  Count headings are read
in several languages (``37 comments:``, ``1 comentario:``, ``Kommentare:``).

Any other text becomes a single post (``post_only``) with a warning.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from ..errors import Code, Problem
from .dates import DEFAULT_TZ, parse_visible, wall_time
from .model import ParsedThread, Unit
from .voices import flag_unmarked_voices

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
DATE_LINE_RE = re.compile(
    rf"^\s*(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?(\d{{1,2}})\s+({MONTHS})\s+(\d{{4}})\s*$")
# Blogger's count heading in the languages it is offered in most; without a number only in words
# that cannot open an ordinary sentence of the post ('Kommentare:', 'No comments:').
_COUNT_WORDS = (r"comments?|comentarios?|coment[aá]rios?|Kommentare?|commentaires?|commenti|commento|reacties|"
                r"reactie|kommentarer?|kommentti[a]?|komentarzy|komentarze|komentarz|komentáře|komentář|"
                r"σχόλια|σχόλιο|комментари[йяи]|комментарий")
COUNT_RE = re.compile(rf"^\s*(\d+)\s+(?:{_COUNT_WORDS})\s*:\s*$", re.I)
_COUNT_WORDLESS_RE = re.compile(
    rf"^\s*(?:(?P<none>no|keine|aucun|sin|nessun|geen|sem|ingen|brak)\s+)?(?P<word>{_COUNT_WORDS})\s*:\s*$", re.I)
# 'Anonymous said...', 'Jim Brown hat gesagt…', 'At 10:15 AM, Anonymous said...'
SAID_RE = re.compile(r"^\s*(?:At (?P<when>[^,]{3,40}), )?(?P<author>\S.{0,80}?)\s+(?:said|dijo|escribió|hat gesagt|"
                     r"schrieb|a dit|ha detto|ha scritto|zei|disse|skrev|sagde|napisał|kirjoitti)\s*(?:\.\.\.|…)\s*$")
_YEAR_RE = re.compile(r"(?<!\d)(?:19[89]\d|20\d\d)(?!\d)|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2}\b")
_TIME_RE = re.compile(r"\d{1,2}[:.h]\d{2}(?:\s*(?:[ap]\.?\s?m\.?|Uhr))?\s*$", re.I)
TOP_RE = re.compile(r"^ {2}(\d{1,5})\.(?:[ \t](.*))?$")
REPLY_RE = re.compile(r"^ {4}(\d{1,5})\.(?:[ \t](.*))?$")
LINK_LINE_RE = re.compile(r"^\s*(ReplyDelete|Replies|Delete|Reply)\s*$")
# 'Probation Officer23 April 2015 at 08:02': the display name glued to the date.
AUTHOR_RE = re.compile(rf"^\s*(?P<author>.*?)\s*(?P<ts>(\d{{1,2}}) ({MONTHS}) (\d{{4}}) at (\d{{1,2}}):(\d{{2}}))\s*$")
SEPARATOR_RE = re.compile(r"^\s*(\*{3,}|-*oo00oo-*)\s*$")
# Link text glued to the next comment; 'Deleted ...' or 'Deletes ...' are words, not link text.
FLAT_TOKEN_RE = re.compile(r"^(ReplyDelete|Delete)(?!(?:d|s|r|rs)\b|ion)")
BLANK_RUNS_RE = re.compile(r"\n{3,}")
_FLAT_TOKENS = ("ReplyDelete", "Delete")  # every FLAT_TOKEN_RE match starts with one of these
_SAID_ENDS = ("...", "…", "... ", "… ")  # every SAID_RE match ends with one of these (speed only)


def _may_be_link(line: str) -> bool:
    """False when LINK_LINE_RE cannot match (each of its words holds 'Repl' or 'Delete'); cheaper than the regex."""
    return "Repl" in line or "Delete" in line


@lru_cache(maxsize=4096)  # threads and comments share few dates; strptime is slow
def _date(day: str, month: str, year: str) -> str | None:
    try:
        return datetime.strptime(f"{day} {month} {year}", "%d %B %Y").date().isoformat()
    except ValueError:
        return None


def count_heading(line: str) -> tuple[bool, int | None]:
    """Is ``line`` a count heading, and the count it declares (None when it names no number)."""
    if m := COUNT_RE.match(line):
        return True, int(m.group(1))
    if (m := _COUNT_WORDLESS_RE.match(line)) and (m.group("none") or not m.group("word").lower().startswith("comment")):
        return True, 0 if m.group("none") else None
    return False, None


def read_date_line(line: str, lang: str | None = None) -> str | None:
    """A line that is only a date, in any language: ``YYYY-MM-DD``, or None."""
    if m := DATE_LINE_RE.match(line):  # the seeds' form, read without dateparser
        return _date(*m.groups())
    stripped = line.strip()
    if len(stripped) > 60 or len(stripped.split()) > 8 or not _YEAR_RE.search(stripped) or _TIME_RE.search(stripped):
        return None
    return parse_visible(stripped, lang=lang, date_only=True)


def read_time_line(line: str, tz: str = DEFAULT_TZ, lang: str | None = None) -> tuple[bool, str | None]:
    """A line that is only a date and time (a classic comment's footer): (is it one, ISO value or None)."""
    stripped = line.strip()
    if not stripped or len(stripped) > 60 or not _TIME_RE.search(stripped):
        return False, None
    found = parse_visible(stripped, lang=lang, tz=tz)
    if found is None and len(stripped.split()) > 2 and not _YEAR_RE.search(stripped):
        return False, None  # words ending in a time ('see you at 10:15'): text, not a footer
    return True, found if found and "T" in found else None


def _may_end_in_time(line: str) -> bool:
    """False when the line cannot end in a time (a digit, 'am'/'pm', 'a. m.', 'Uhr'); cheaper than _TIME_RE."""
    end = line.rstrip()[-2:]
    return len(line) <= 120 and end != "" and (end[-1].isdigit() or end.lower() in ("am", "pm", "hr", "m."))


def split_author_line(line: str, tz: str = DEFAULT_TZ) -> tuple[str | None, str] | None:
    """``Anónimo30 de diciembre de 2014, 2:07`` -> (``Anónimo``, ISO time): a name glued to a date, any language.

    Tries each place a date could start glued to a name: first a digit after a letter (the day,
    ``6. Juni``), then a capital after a small letter (a month name, ``AnonymousNovember 1``), and
    last the whole line (no name); the first suffix that reads as a full date and time wins.  Days first because those suffixes repeat across comments (the
    same date), so the date parser's cache answers them; None when nothing reads.
    """
    stripped = line.strip()
    if len(stripped) > 120 or not _TIME_RE.search(stripped) or not _YEAR_RE.search(stripped):
        return None
    # Copied from the page, the name is glued to the date ('Klaus6. Juni'): a date after a space is
    # a sentence that happens to end in a date, not an author line.
    glued = [k for k in range(1, min(len(stripped), 61)) if not stripped[k - 1].isspace()]
    digits = [k for k in glued if stripped[k].isdigit() and not stripped[k - 1].isdigit()]
    capitals = [k for k in glued if stripped[k].isupper() and stripped[k - 1].islower()]
    for k in digits + capitals + [0]:
        found = parse_visible(stripped[k:], tz=tz)
        if found and "T" in found:
            return stripped[:k].strip() or None, found
    return None


def _join(lines: list[str]) -> str:
    """Lines of one unit to text: indentation dropped, paragraphs (blank lines) kept."""
    text = "\n".join([line.strip() for line in lines])
    return (BLANK_RUNS_RE.sub("\n\n", text) if "\n\n\n" in text else text).strip()


def detect_layout(lines: list[str]) -> str:
    # The startswith tests only skip regexes that cannot match; once comment 1 and link text
    # are both seen the answer is fixed, so the scan stops.
    has_top = False
    has_link_line = False
    flat_tokens = 0
    said = 0
    glued = 0  # link text glued to text: only a flat copy does that
    for line in lines:
        if not line:  # a blank line matches none of the tests below
            continue
        if line.endswith(_SAID_ENDS) and SAID_RE.match(line):
            said += 1
            continue
        if not has_top and line.startswith("  1.") and (m := TOP_RE.match(line)) and m.group(1) == "1":
            has_top = True
            if has_link_line:
                break
        elif _may_be_link(line) and LINK_LINE_RE.match(line):
            has_link_line = True
            if line.startswith(_FLAT_TOKENS):  # a flat copy's last link text stands alone on its line
                flat_tokens += 1
            if has_top:
                break
        elif line.startswith(_FLAT_TOKENS) and FLAT_TOKEN_RE.match(line):
            flat_tokens += 1
            glued += 1
    if has_top:
        return "blogger_numbered" if has_link_line else "blogger_numbered_plain"
    if said and not glued:
        return "blogger_classic"
    if flat_tokens:
        return "blogger_flat"
    return "post_only"


def parse_text(text: str, *, thread_id: str, source_file: str, tz: str = DEFAULT_TZ) -> ParsedThread:
    lines = text.split("\n")
    layout = detect_layout(lines)
    thread = ParsedThread(thread_id=thread_id, source_file=source_file, layout=layout)
    thread.tz = tz
    body_start = _read_header(lines, thread)
    if layout.startswith("blogger_numbered"):
        _parse_numbered(lines, body_start, thread)
    elif layout == "blogger_flat":
        _parse_flat(lines, body_start, thread)
    elif layout == "blogger_classic":
        from .classic import parse_classic  # classic.py builds on this module's helpers
        parse_classic(lines, body_start, thread)
    else:
        _add_post(thread, lines[body_start:], body_start)
        if any(u.text for u in thread.units):
            n = len(thread.units) - 1
            found = (f"{n} contributions were found between separator lines, and no comments; the text before "
                     "the first separator may hold further voices." if n else
                     "no comments were recognised; the whole file was read as one post.")
            thread.problems.append(Problem(
                Code.E005.value, source_file, found,
                "If the file should have comments, check it is a Blogger thread copied as text, saved HTML, "
                "an Atom feed, or CSV/JSONL in the documented schema.", line=body_start + 1))
    flag_unmarked_voices(thread)
    if thread.unread_times:
        examples = ", ".join(repr(t) for t in dict.fromkeys(thread.unread_times[:3]))
        thread.problems.append(Problem(
            Code.W108.value, source_file, f"{len(thread.unread_times)} dates or times shown could not be read "
            f"(e.g. {examples}); they were left empty.", "Check the lines; a date needs day, month and year."))
    if thread.declared_comments is not None and thread.declared_comments != thread.parsed_comments:
        thread.problems.append(Problem(
            Code.W101.value, source_file,
            f"the page declares {thread.declared_comments} comments but {thread.parsed_comments} were found.",
            "Nothing was invented: check the page for deleted or hidden comments if the difference matters.",
            line=next((i + 1 for i, l in enumerate(lines) if count_heading(l)[0]), None)))
    return thread


def _read_header(lines: list[str], thread: ParsedThread) -> int:
    """Date line and title, when the page shows them.  Returns the index where the post body starts."""
    def next_text(k: int) -> int:
        while k < len(lines) and not lines[k].strip():
            k += 1
        return k

    i = next_text(0)
    if i < len(lines) and (day := read_date_line(lines[i])):
        thread.post_date = day
        thread.consumed.append(lines[i])
        i = next_text(i + 1)
        if i < len(lines) and not TOP_RE.match(lines[i]):
            thread.title = lines[i].strip()
            thread.consumed.append(lines[i])
            i += 1
        return i
    # The title first, then the date line (some templates and copies put them this way round).
    j = next_text(i + 1)
    if j < len(lines) and _may_be_title(lines[i]) and (day := read_date_line(lines[j])):
        thread.title, thread.post_date = lines[i].strip(), day
        thread.consumed += [lines[i], lines[j]]
        return j + 1
    return i


def _may_be_title(line: str) -> bool:
    s = line.strip()
    return 0 < len(s) <= 150 and not s.endswith((".", ",", ";")) and not TOP_RE.match(line) \
        and not SEPARATOR_RE.match(line)


def _add_post(thread: ParsedThread, lines: list[str], first_line: int) -> None:
    """The post, split into contributions at separator lines (``******``, ``--oo00oo--``)."""
    segments: list[tuple[int, list[str]]] = [(first_line, [])]
    for offset, line in enumerate(lines):
        if ("***" in line or "oo00oo" in line) and SEPARATOR_RE.match(line):
            thread.consumed.append(line)
            segments.append((first_line + offset + 1, []))
        else:
            segments[-1][1].append(line)
    tid = thread.thread_id

    def first_text_line(start: int, body: list[str]) -> int:  # 1-based; skips blank lines before the text
        return start + 1 + next((j for j, l in enumerate(body) if l and not l.isspace()), 0)

    start, body = segments[0]
    thread.units.append(Unit(f"{tid}/post", tid, "post", None, 0, 0, _join(body), line=first_text_line(start, body)))
    for k, (start, body) in enumerate(segments[1:], 1):
        thread.units.append(Unit(f"{tid}/k{k}", tid, "contribution", f"{tid}/post", 1, 0, _join(body),
                                 line=first_text_line(start, body)))


def _new_unit(thread: ParsedThread, uid: str, kind: str, parent: str, first: str | None, idx: int) -> tuple[Unit, list[str]]:
    depth = 1 if kind == "comment" else 2
    unit = Unit(uid, thread.thread_id, kind, parent, depth, 0, "", line=idx + 1)
    return unit, ([first] if first is not None else [])


def _close(thread: ParsedThread, unit: Unit | None, body: list[str]) -> None:
    if unit is None:
        return
    # An author line ('Probation Officer23 April 2015 at 08:02') opens the unit when shown.
    first = next((j for j, l in enumerate(body) if l and not l.isspace()), None)  # `l.strip()` without the copy
    # AUTHOR_RE ends in a digit and optional whitespace: a cheap test before its costly scan of a long line
    if first is not None and " at " in body[first] and body[first].rstrip()[-1:].isdecimal() \
            and (m := AUTHOR_RE.match(body[first])) \
            and (not m.group("author") or not body[first][m.start("ts") - 1].isspace()):  # name glued to the date
        unit.author = m.group("author") or None
        day, month, year, hh, mm = m.groups()[2:]
        unit.timestamp = wall_time(_date(day, month, year), int(hh), int(mm), thread.tz)
        if unit.timestamp is None:
            thread.unread_times.append(m.group("ts"))
        thread.consumed.append(body[first])
        body = body[first + 1:]
    elif first is not None and _may_end_in_time(body[first]) and (split := split_author_line(body[first], thread.tz)):
        unit.author, unit.timestamp = split  # another language or the US form: 'Anónimo30 de diciembre de 2014, 2:07'
        thread.consumed.append(body[first])
        body = body[first + 1:]
    unit.text = _join(body)
    if not unit.text:
        thread.problems.append(Problem(Code.W105.value, thread.source_file, f"{unit.unit_id} has no text.",
                                       "Check the source page around this line.", line=unit.line))
    thread.units.append(unit)


def add_post_before(thread: ParsedThread, lines: list[str], start: int, first_comment: int) -> None:
    """The post: the lines before the first comment, up to an 'N comments:' heading (read into
    ``declared_comments``); text between the heading and the first comment stays with the post."""
    post_end = first_comment
    for i in range(start, first_comment):
        if lines[i].rstrip().endswith(":") and (heading := count_heading(lines[i]))[0]:
            thread.declared_comments = heading[1]
            thread.consumed.append(lines[i])
            post_end = i
            break
    _add_post(thread, lines[start:post_end], start)
    for line in lines[post_end + 1:first_comment]:
        if line.strip():
            thread.units[0].text += "\n" + line.strip()


def _parse_numbered(lines: list[str], start: int, thread: ParsedThread) -> None:
    plain = thread.layout == "blogger_numbered_plain"
    first_comment = next(i for i in range(start, len(lines))
                         if lines[i].startswith("  1.") and (m := TOP_RE.match(lines[i])) and m.group(1) == "1")
    add_post_before(thread, lines, start, first_comment)

    tid = thread.thread_id
    unit: Unit | None = None
    body: list[str] = []
    top: Unit | None = None
    n_top = 0
    n_reply = 0
    replies_open = False
    for idx in range(first_comment, len(lines)):
        line = lines[idx]
        if not line:  # a blank line (every other line): body text, as the last branch below would have it
            body.append(line)
            continue
        # line[k:k+1].isdigit(): TOP_RE needs a digit after 2 spaces, REPLY_RE after 4 (skips most regex calls)
        if line[2:3].isdigit() and (m := TOP_RE.match(line)):
            _close(thread, unit, body)
            n_top += 1
            if int(m.group(1)) != n_top:
                thread.problems.append(Problem(
                    Code.W103.value, thread.source_file,
                    f"comment numbered {m.group(1)} where {n_top} was expected; it was kept as comment c{n_top}.",
                    "Check whether a comment is missing or was pasted twice.", line=idx + 1))
            thread.consumed.append(f"{m.group(1)}.")
            unit, body = _new_unit(thread, f"{tid}/c{n_top}", "comment", f"{tid}/post", m.group(2), idx)
            if int(m.group(1)) != n_top:
                unit.mark_low("numbering out of sequence")
            top, n_reply, replies_open = unit, 0, False
        elif top is not None and (plain or replies_open) and line[4:5].isdigit() and (m := REPLY_RE.match(line)):
            _close(thread, unit, body)
            n_reply += 1
            thread.consumed.append(f"{m.group(1)}.")
            unit, body = _new_unit(thread, f"{top.unit_id}.r{n_reply}", "reply", top.unit_id, m.group(2), idx)
            if int(m.group(1)) != n_reply:
                unit.mark_low("reply numbering out of sequence")
        elif ("Repl" in line or "Delete" in line) and (m := LINK_LINE_RE.match(line)):  # _may_be_link, inlined
            thread.consumed.append(m.group(1))
            if m.group(1) == "Replies":
                replies_open = True
        else:
            body.append(line)
    _close(thread, unit, body)


def _parse_flat(lines: list[str], start: int, thread: ParsedThread) -> None:
    # Split into blocks, each closed by the link text that follows it.
    blocks: list[tuple[int, list[str], str | None]] = []  # (first line index, lines, closing token)
    cur_start, cur = start, []
    for idx in range(start, len(lines)):
        line = lines[idx]
        if line.startswith(_FLAT_TOKENS) and (m := FLAT_TOKEN_RE.match(line)):
            token = m.group(1)
            thread.consumed.append(token)
            blocks.append((cur_start, cur, token))
            rest = line[m.end():]
            cur_start, cur = idx, ([rest] if rest.strip() else [])
        else:
            if not cur and (not line or line.isspace()):
                cur_start = idx + 1
                continue
            cur.append(line)
    if any(l and not l.isspace() for l in cur):
        blocks.append((cur_start, cur, None))

    tid = thread.thread_id
    if not blocks:
        _add_post(thread, [], start)
        return
    # The first block holds the post and the first comment with no boundary between them:
    # take the block's last line as the comment and say so.
    first_start, first_lines, first_token = blocks[0]
    nonblank = [j for j, l in enumerate(first_lines) if l and not l.isspace()]
    if len(nonblank) >= 2:
        cut = nonblank[-1]
        _add_post(thread, first_lines[:cut], first_start)
        blocks[0] = (first_start + cut, first_lines[cut:], first_token)
        first_note = "post/comment boundary lost: the last line before the first link text was taken as the first comment"
    else:
        _add_post(thread, [], first_start)
        first_note = "post/comment boundary lost: the post text could not be told apart from the first comment"

    top: Unit | None = None
    n_top = 0
    n_reply = 0
    n_low = 0
    for b, (bstart, blines, token) in enumerate(blocks):
        text = _join(blines)
        if token == "Delete" and top is not None:
            n_reply += 1
            unit = Unit(f"{top.unit_id}.r{n_reply}", tid, "reply", top.unit_id, 2, 0, text, line=bstart + 1)
        else:
            n_top += 1
            n_reply = 0
            unit = Unit(f"{tid}/c{n_top}", tid, "comment", f"{tid}/post", 1, 0, text, line=bstart + 1)
            if token == "Delete":
                unit.mark_low("closed by 'Delete' (a reply) but no top-level comment precedes it")
            top = unit
        if b == 0:
            unit.mark_low(first_note)
        if token is None:
            unit.mark_low("no link text after this block: the file may be truncated")
        n_lines = sum(1 for l in blines if l and not l.isspace())
        if n_lines > 1:
            unit.mark_low(f"{n_lines} lines with no link text between them: may be several comments "
                          "whose boundaries were lost")
        if unit.confidence == "low":
            n_low += 1
        thread.units.append(unit)
    if n_low:
        thread.problems.append(Problem(
            Code.W102.value, thread.source_file,
            f"flat layout: {n_low} of {n_top + sum(u.kind == 'reply' for u in thread.units)} comments have "
            "uncertain boundaries and are marked confidence=low (see confidence_note).",
            "Check those units against the web page, or parse a saved HTML copy of the page instead.",
            line=start + 1))
