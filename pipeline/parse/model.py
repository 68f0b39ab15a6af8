"""The parsed thread and unit records, and the derived fields every reader shares.

A reader (plain text, Blogger HTML, Atom feed, CSV/JSONL) only decides the
structure: which unit is which, its parent, author and timestamp.  The fields
derived from a unit's text (URLs, quotes, mentions, word count) are computed
here, once, the same way for every layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import Problem

KINDS = ("post", "contribution", "comment", "reply")

URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)

# Quotation marks, paired left to right within a line: straight quotes alternate open/close,
# curly quotes say which they are.  A pair is a quotation when it holds at least six words or
# fills its line (apart from closing punctuation); shorter pairs are scare quotes ("probation").
QUOTE_CHAR_RE = re.compile("[\"\u201c\u201d]")
MIN_QUOTE_WORDS = 6

# References to other comments: by time ('Anon 10:20', 'annon @10:20', 'Anon at 17.33', '18:33')
# or by name (the blog host, or an author who posted in the same thread).
TIME_MENTION_RE = re.compile(
    r"(?<![\w£$€.:])(?:(?:anon(?:ymous)?|annon)\s*(?:@|at\b)?\s*)?@?"
    r"(?:[01]?\d|2[0-3])[:.][0-5]\d(?![\w%.:]|\.\d)",
    re.IGNORECASE,
)
DEFAULT_HOST_NAMES = ("Jim", "JB")


@dataclass
class Unit:
    unit_id: str
    thread_id: str
    kind: str
    parent_id: str | None
    depth: int
    position: int
    text: str
    author: str | None = None
    timestamp: str | None = None  # ISO 8601
    line: int | None = None  # 1-based line in the source file where the unit starts
    confidence: str = "high"  # "high" or "low": is the structure (boundaries, parent) certain?
    confidence_note: str = ""
    # derived, filled by finish()
    urls: list[str] = field(default_factory=list)
    link_only: bool = False
    quoted_text: list[str] = field(default_factory=list)
    own_text: str = ""
    mentions: list[str] = field(default_factory=list)
    word_count: int = 0

    def mark_low(self, note: str) -> None:
        self.confidence = "low"
        self.confidence_note = f"{self.confidence_note}; {note}" if self.confidence_note else note


@dataclass
class ParsedThread:
    thread_id: str
    source_file: str
    layout: str
    title: str | None = None
    post_date: str | None = None  # ISO date
    url: str | None = None
    declared_comments: int | None = None
    units: list[Unit] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Markup the parser consumed (link text, numbering, headers); lets tests prove no text is lost.
    consumed: list[str] = field(default_factory=list)

    @property
    def parsed_comments(self) -> int:
        return sum(u.kind in ("comment", "reply") for u in self.units)


def quote_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        opened: int | None = None
        for m in QUOTE_CHAR_RE.finditer(line):
            ch = m.group()
            if opened is None:
                if ch != "\u201d":
                    opened = m.start()
            elif ch == "\u201c":
                opened = m.start()
            else:
                inner = line[opened + 1:m.start()]
                whole_line = not line[:opened].strip() and not line[m.end():].strip(" ?!.,:;")
                if len(inner.split()) >= MIN_QUOTE_WORDS or (whole_line and inner.strip()):
                    spans.append((offset + opened, offset + m.end()))
                opened = None
        offset += len(line) + 1
    return spans


def split_quotes(text: str) -> tuple[list[str], str]:
    """Return (quoted passages, the unit's own words with the quotations removed)."""
    spans = quote_spans(text)
    if not spans:
        return [], text
    quoted = [text[s:e].strip() for s, e in spans]
    own, last = [], 0
    for s, e in spans:
        own.append(text[last:s])
        last = e
    own.append(text[last:])
    return quoted, re.sub(r"[ \t]+\n", "\n", "".join(own)).strip()


def find_mentions(text: str, names: frozenset[str]) -> list[str]:
    found = [m.group(0).strip() for m in TIME_MENTION_RE.finditer(text)]
    if names:
        name_re = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")
        found += [m.group(1) for m in name_re.finditer(text)]
    return found


def finish(thread: ParsedThread, *, host_names: tuple[str, ...] = DEFAULT_HOST_NAMES) -> ParsedThread:
    """Fill the derived fields of every unit and renumber positions in reading order."""
    authors = {u.author for u in thread.units if u.author and u.author.lower() not in ("anonymous", "unknown")}
    names = frozenset(host_names) | frozenset(a for a in authors if len(a) <= 30)
    for pos, unit in enumerate(thread.units):
        unit.position = pos
        unit.text = unit.text.strip()
        unit.urls = URL_RE.findall(unit.text)
        unit.quoted_text, unit.own_text = split_quotes(unit.text)
        unit.link_only = bool(unit.urls) and not URL_RE.sub("", unit.text).strip()
        # Posts cannot answer comments, so times in a post ('At 12.02 ...') are not mentions.
        if unit.kind in ("comment", "reply"):
            unit.mentions = find_mentions(unit.own_text, names - {unit.author or ""})
        unit.word_count = len(unit.text.split())
    return thread


@dataclass
class RawComment:
    """A comment as a structured source gives it: its own id and its parent's (None = top level)."""

    source_id: str
    parent_source_id: str | None
    text: str
    author: str | None = None
    timestamp: str | None = None
    line: int | None = None


def add_comment_tree(thread: ParsedThread, comments: list[RawComment]) -> None:
    """Append comments in reading order (each parent followed by its replies) with readable ids.

    Top-level comments become ``c1, c2, ...`` in input order; a reply gets its parent's
    id plus ``.r1, .r2, ...``, at any depth.  A reply whose parent is unknown is kept
    at top level and marked low-confidence.
    """
    from ..errors import Code, Problem

    tid = thread.thread_id
    by_id = {c.source_id: c for c in comments}

    def reaches_top(c: RawComment) -> bool:  # False for a parent chain that loops
        seen = set()
        while c.parent_source_id in by_id:
            if c.source_id in seen:
                return False
            seen.add(c.source_id)
            c = by_id[c.parent_source_id]
        return True

    children: dict[str | None, list[RawComment]] = {}
    for c in comments:
        parent = c.parent_source_id if c.parent_source_id in by_id and reaches_top(c) else None
        if c.parent_source_id and parent is None:
            thread.problems.append(Problem(
                Code.W103.value, thread.source_file,
                f"comment {c.source_id!r} answers {c.parent_source_id!r}, which is not in the file; "
                "it was kept as a top-level comment.", "Check the export is complete.", line=c.line))
        children.setdefault(parent, []).append(c)

    def walk(parent_src: str | None, parent_uid: str, depth: int) -> None:
        for k, c in enumerate(children.get(parent_src, []), 1):
            uid = f"{tid}/c{k}" if parent_src is None else f"{parent_uid}.r{k}"
            unit = Unit(uid, tid, "comment" if parent_src is None else "reply",
                        f"{tid}/post" if parent_src is None else parent_uid, depth, 0, c.text,
                        author=c.author, timestamp=c.timestamp, line=c.line)
            if c.parent_source_id and parent_src is None:
                unit.mark_low(f"parent {c.parent_source_id!r} not found")
            thread.units.append(unit)
            if depth < 50:  # guard against pathological nesting
                walk(c.source_id, uid, depth + 1)

    walk(None, f"{tid}/post", 1)
