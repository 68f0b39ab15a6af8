"""Already-segmented comments from other forums, as CSV or JSONL.

One row (or JSON object per line) per post or comment:

=============  ========  ==========================================================
column         required  meaning
=============  ========  ==========================================================
thread_id      yes       groups rows into threads (unit ids start with it)
comment_id     yes       unique within its thread
text           yes       the comment's text
parent_id      no        comment_id it answers; empty = top-level comment
kind           no        ``post`` for the thread's post (at most one per thread)
author         no        display name
timestamp      no        ISO 8601 (``2015-04-23T08:02+01:00``; without an offset: the blog's zone)
title          no        thread title (first non-empty value per thread)
post_date      no        thread date, ISO 8601
url            no        thread address
=============  ========  ==========================================================

Rows are kept in file order; a bad row is skipped with a problem naming its line.
"""

from __future__ import annotations

import csv
import io
import json
import re

from ..errors import Code, PipelineError, Problem
from .dates import DEFAULT_TZ, from_iso
from .model import ParsedThread, RawComment, Unit, add_comment_tree, scrub_thread

REQUIRED = ("thread_id", "comment_id", "text")
_SAFE_ID_RE = re.compile(r"[^\w.-]+")


def _iso(value: object, thread: ParsedThread, line: int) -> str | None:
    """ISO 8601 with its offset kept; a naive value is a wall time in the blog's zone; unreadable ones are counted."""
    if value in (None, ""):
        return None
    found = from_iso(str(value), thread.tz)
    if found is None:
        thread.unread_times.append(f"{str(value)[:40]} (line {line})")
    return found


def _build(rows: list[tuple[int, dict]], source_file: str, layout: str, problems: list[Problem],
           tz: str = DEFAULT_TZ) -> list[ParsedThread]:
    threads: dict[str, ParsedThread] = {}
    comments: dict[str, list[RawComment]] = {}
    seen: dict[str, set[str]] = {}
    post_ids: dict[str, str] = {}  # the post row's comment_id: comments answering it are top-level
    for line, row in rows:
        missing = [c for c in REQUIRED if str(row.get(c) or "").strip() == "" and c != "text"]
        if missing or row.get("text") is None:  # None: a CSV row that ends before the text column
            problems.append(Problem(Code.E007.value, source_file, f"row lacks {', '.join(missing or ['text'])}; skipped.",
                                    f"Every row needs {', '.join(REQUIRED)}.", line=line))
            continue
        tid = _SAFE_ID_RE.sub("_", str(row["thread_id"]).strip())
        cid = str(row["comment_id"]).strip()
        thread = threads.get(tid)
        if thread is None:
            thread = threads[tid] = ParsedThread(thread_id=tid, source_file=source_file, layout=layout, tz=tz)
            thread.units.append(Unit(f"{tid}/post", tid, "post", None, 0, 0, ""))
            comments[tid], seen[tid] = [], set()
        for key in ("title", "url"):
            if not getattr(thread, key) and row.get(key):
                setattr(thread, key, str(row[key]))
        if not thread.post_date and row.get("post_date"):
            thread.post_date = _iso(row["post_date"], thread, line)
        if cid in seen[tid]:
            problems.append(Problem(Code.E007.value, source_file, f"comment_id {cid!r} repeats in thread {tid!r}; "
                                    "the repeat was skipped.", "Make comment ids unique within a thread.", line=line))
            continue
        seen[tid].add(cid)
        text = str(row.get("text") or "")
        if str(row.get("kind") or "").strip().lower() == "post":
            post_ids[tid] = cid
            post = thread.units[0]
            post.text, post.author, post.timestamp, post.line = text, row.get("author") or None, _iso(row.get("timestamp"), thread, line), line
            continue
        parent = str(row.get("parent_id") or "").strip() or None
        comments[tid].append(RawComment(cid, parent, text, str(row.get("author") or "") or None,
                                        _iso(row.get("timestamp"), thread, line), line))
    for tid, thread in threads.items():
        for c in comments[tid]:
            if c.parent_source_id is not None and c.parent_source_id == post_ids.get(tid):
                c.parent_source_id = None
        add_comment_tree(thread, comments[tid])
        scrub_thread(thread)
        if thread.unread_times:
            examples = ", ".join(repr(v) for v in dict.fromkeys(thread.unread_times[:3]))
            problems.append(Problem(Code.W108.value, source_file, f"thread {tid!r}: {len(thread.unread_times)} "
                                    f"timestamps or dates are not ISO 8601 (e.g. {examples}); they were left empty.",
                                    "Write them as 2015-04-23T08:02:00+01:00 (or 2015-04-23 for a date)."))
    return list(threads.values())


def _quote_left_open(rest: str) -> bool:
    """True if the CSV text ``rest`` (from the start of a row) ends inside a quoted field."""
    try:
        for _ in csv.reader(io.StringIO(rest), strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def parse_csv(text: str, *, source_file: str, tz: str = DEFAULT_TZ) -> list[ParsedThread]:
    # The csv module refuses fields over 128 KB by default (and then drops the rest of the file);
    # no field can be longer than the file itself.
    csv.field_size_limit(max(csv.field_size_limit(), min(len(text) + 1, 2**31 - 1)))
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:  # an unreadable header line (stray carriage return, huge field, ...)
        raise PipelineError(Code.E007, f"the CSV header cannot be read ({exc}).", file=source_file, line=1,
                            fix="Check the first line names the columns, separated by commas.") from exc
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise PipelineError(Code.E007, f"the CSV header lacks {', '.join(missing)} (it has {', '.join(header)}).",
                            file=source_file, line=1,
                            fix=f"Name the columns {', '.join(REQUIRED)} (see README, 'CSV and JSONL input').")
    problems: list[Problem] = []
    rows: list[tuple[int, dict]] = []
    prev = last = reader.line_num  # the header's last line
    try:
        for row in reader:
            # line_num is the row's last line; a quoted field may hold line breaks: name the first line
            # (but not before the previous row's end: a quote left open also takes in the final newline)
            line = max(prev + 1, reader.line_num - sum((v if isinstance(v, str) else "".join(v or ())).count("\n")
                                                       for v in row.values()))
            prev, last = reader.line_num, line
            if None in row:  # more fields than the header
                problems.append(Problem(Code.E007.value, source_file, "the row has more fields than the header; "
                                        "skipped.", "Quote fields that contain commas.", line=line))
                continue
            rows.append((line, row))
    except csv.Error as exc:
        problems.append(Problem(Code.E007.value, source_file, f"CSV error: {exc}; the rest of the file was skipped.",
                                "Check quoting near this line.", line=reader.line_num))
    else:
        if prev > last and _quote_left_open(text.split("\n", last - 1)[-1]):
            problems.append(Problem(Code.E007.value, source_file, "a quote opened in this row is never closed: its "
                                    "field runs to the end of the file and holds every line after it.",
                                    'Close the quote; double any quote inside a quoted field ("").', line=last))
    threads = _build(rows, source_file, "csv", problems, tz)
    if not threads:
        raise PipelineError(Code.E007, "no usable rows.", file=source_file, fix="See README, 'CSV and JSONL input'.")
    threads[0].problems.extend(problems)
    return threads


def parse_jsonl(text: str, *, source_file: str, tz: str = DEFAULT_TZ) -> list[ParsedThread]:
    problems: list[Problem] = []
    rows: list[tuple[int, dict]] = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(Code.E007.value, source_file, f"invalid JSON ({exc.msg}, column {exc.colno}); "
                                    "line skipped.", "One JSON object per line.", line=n))
            continue
        except RecursionError:
            problems.append(Problem(Code.E007.value, source_file, "the JSON is nested too deeply to read; "
                                    "line skipped.", "One flat JSON object per line.", line=n))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(Code.E007.value, source_file, "the line is JSON but not an object; skipped.",
                                    "One JSON object per line.", line=n))
            continue
        rows.append((n, obj))
    threads = _build(rows, source_file, "jsonl", problems, tz)
    if not threads:
        raise PipelineError(Code.E007, "no usable lines." + (f" First problem: {problems[0].message}" if problems else ""),
                            file=source_file, line=problems[0].line if problems else None,
                            fix="See README, 'CSV and JSONL input'.")
    threads[0].problems.extend(problems)
    return threads
