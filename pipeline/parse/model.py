"""The parsed thread and unit records, and the derived fields every reader shares.

A reader (plain text, Blogger HTML, Atom feed, CSV/JSONL) only decides the
structure: which unit is which, its parent, author and timestamp.  The fields
derived from a unit's text (URLs, quotes, mentions, word count) are computed
here, once, the same way for every layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import Code, Problem
from .dates import DEFAULT_TZ

KINDS = ("post", "contribution", "comment", "reply")

URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)

# Quotation marks, paired left to right within a line: straight quotes alternate open/close,
# curly quotes say which they are.  A pair is a quotation when it holds at least six words or
# fills its line (apart from closing punctuation); shorter pairs are scare quotes ("probation").
QUOTE_CHAR_RE = re.compile("[\"\u201c\u201d]")
MIN_QUOTE_WORDS = 6
_SPACES_RE = re.compile(r"\s*")  # what str.strip() removes
_CLOSING_PUNCT_RE = re.compile(r"[ ?!.,:;]*")

# References to other comments: by time ('Anon 10:20', 'annon @10:20', 'Anon at 17.33', '18:33')
# or by name (the blog host, or an author who posted in the same thread).
TIME_MENTION_RE = re.compile(
    r"(?<![\w£$€.:])(?:(?:anon(?:ymous)?|annon)\s*(?:@|at\b)?\s*)?@?"
    r"(?:[01]?\d|2[0-3])[:.][0-5]\d(?![\w%.:]|\.\d)",
    re.IGNORECASE,
)
DEFAULT_HOST_NAMES = ("Jim", "JB")

# Cheap tests that rule a regex out before it scans a whole text (speed only: each is a
# necessary condition for a match, so results are unchanged).  Every time mention holds
# '[:.][0-5]\d'; every URL holds '://' or 'www.' (only 'w'/'W' match 'w' case-insensitively).
_TIME_HINT_RE = re.compile(r"[:.][0-5]\d")


def _may_hold_time(text: str) -> bool:
    return ("0" in text or "1" in text or "2" in text or "3" in text or "4" in text or "5" in text) \
        and _TIME_HINT_RE.search(text) is not None


def _may_hold_url(text: str) -> bool:
    return "://" in text or "ww" in text or "wW" in text or "Ww" in text or "WW" in text


# URL_RE without IGNORECASE, run on lower-cased ASCII text: for ASCII the two find the same spans
# (lower() keeps every position, and the only case pairs are A-Z/a-z).
_URL_LOWER_RE = re.compile(URL_RE.pattern)


def find_urls(text: str) -> tuple[list[str], bool]:
    """``(URL_RE.findall(text), the text is only URLs and whitespace)``, cheaper than the two regex passes."""
    if text.isascii():
        low = text.lower()
        if "://" not in text and "www." not in low:
            return [], False
        spans = [m.span() for m in _URL_LOWER_RE.finditer(low)]
    elif _may_hold_url(text):
        spans = [m.span() for m in URL_RE.finditer(text)]
    else:
        return [], False
    if not spans:
        return [], False
    rest, last = [], 0  # what URL_RE.sub("", text) leaves
    for start, end in spans:
        rest.append(text[last:start])
        last = end
    rest.append(text[last:])
    return [text[start:end] for start, end in spans], not "".join(rest).strip()


@lru_cache(maxsize=1024)
def _names_re(names: frozenset[str]) -> re.Pattern:
    return re.compile(r"\b(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")


# str.isspace() for each byte value, as b" " (whitespace) or b"x": counts the words of an ASCII
# text without building the list of words that str.split() makes.
_ASCII_SPACE_TABLE = bytes(0x20 if chr(i).isspace() else 0x78 for i in range(256))


# The same for UTF-8 bytes: only ASCII whitespace is a space (bytes >= 0x80 belong to other characters).
_UTF8_SPACE_TABLE = bytes(0x20 if i < 128 and chr(i).isspace() else 0x78 for i in range(256))
# Whitespace beyond ASCII other than the no-break space (which is made a plain space first).
_RARE_SPACES = tuple(c for c in map(chr, range(128, 0x3001)) if c.isspace() and c != "\xa0")


def word_count(text: str) -> int:
    """``len(text.split())``, without building the list of words."""
    if text.isascii():
        marks = text.encode("ascii").translate(_ASCII_SPACE_TABLE)
    else:
        if "\xa0" in text:
            text = text.replace("\xa0", " ")
        for space in _RARE_SPACES:
            if space in text:
                return len(text.split())
        marks = text.encode("utf-8", "surrogatepass").translate(_UTF8_SPACE_TABLE)
    return marks.count(b" x") + (marks[:1] == b"x")


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
    timestamp: str | None = None  # ISO 8601 with offset or Z
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
    post_date: str | None = None  # ISO date, or ISO date-time with offset when the source gives the instant
    url: str | None = None
    declared_comments: int | None = None
    units: list[Unit] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Markup the parser consumed (link text, numbering, headers); lets tests prove no text is lost.
    consumed: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # the post's labels (tags) when the source has them
    status: str = "live"  # 'draft' or 'page' for such export entries
    tz: str = DEFAULT_TZ  # the blog's zone: wall times read from the page are in it
    unread_times: list[str] = field(default_factory=list)  # dates/times shown but unreadable (one W108 per file)

    @property
    def parsed_comments(self) -> int:
        return sum(u.kind in ("comment", "reply") for u in self.units)


def quote_spans(text: str) -> list[tuple[int, int]]:
    """Quotation spans as offsets into ``text``; quotes pair within a line only."""
    spans: list[tuple[int, int]] = []
    if '"' not in text and (text.isascii() or ("\u201c" not in text and "\u201d" not in text)):
        return spans
    # One scan of the whole text (not one per line): quote marks are single characters, and the
    # line around a mark is found only when a mark is on it.
    line_start, line_end = 0, -1
    opened: int | None = None
    for m in QUOTE_CHAR_RE.finditer(text):
        pos = m.start()
        if pos > line_end:  # first mark on a new line: a pair never spans lines
            line_start = text.rfind("\n", 0, pos) + 1
            line_end = text.find("\n", pos)
            if line_end < 0:
                line_end = len(text)
            opened = None
        ch = m.group()
        if opened is None:
            if ch != "\u201d":
                opened = pos
        elif ch == "\u201c":
            opened = pos
        else:
            inner = text[opened + 1:pos]
            # split(None, n) stops after n words: it has n parts exactly when there are at least n words.
            # The pair fills its line when only whitespace precedes it and only " ?!.,:;" follows it
            # (`not text[line_start:opened].strip()`, `not text[pos + 1:line_end].strip(" ?!.,:;")`,
            # tested without copying the rest of a long line).
            if len(inner.split(None, MIN_QUOTE_WORDS)) >= MIN_QUOTE_WORDS or (
                    inner.strip() and _SPACES_RE.match(text, line_start, opened).end() == opened
                    and _CLOSING_PUNCT_RE.match(text, pos + 1, line_end).end() == line_end):
                spans.append((opened, pos + 1))
            opened = None
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
    own_text = "".join(own)
    if " \n" in own_text or "\t\n" in own_text:  # drop spaces and tabs left before line breaks
        lines = own_text.split("\n")
        own_text = "\n".join([line.rstrip(" \t") for line in lines[:-1]] + lines[-1:])
    return quoted, own_text.strip()


# Characters that may stand between the start of a time mention and its '[:.]': 'anon', 'anonymous',
# 'annon', 'at' in any case ('ſ' matches 's' under IGNORECASE), '@', whitespace and the hour's digits.
_MENTION_PREFIX_CHARS = frozenset("anonymustANONYMUST@\u017f")


def _time_mentions(text: str) -> list[str]:
    r"""``[m.group(0).strip() for m in TIME_MENTION_RE.finditer(text)]``, scanning from near the first time.

    Every mention holds ``[:.][0-5]\d``; the first mention's start lies before its '[:.]' only by
    characters of ``_MENTION_PREFIX_CHARS``, whitespace and digits, none of which is ':' or '.', so
    no mention starts before the run of such characters ending at the first '[:.][0-5]\d' (a later
    one starts after it).  ``finditer(text, pos)`` still sees the characters before ``pos`` for
    the pattern's look-behind, so the matches are the same.
    """
    if not ("0" in text or "1" in text or "2" in text or "3" in text or "4" in text or "5" in text):
        return []
    hint = _TIME_HINT_RE.search(text)
    if hint is None:
        return []
    start = hint.start()
    while start > 0 and ((c := text[start - 1]) in _MENTION_PREFIX_CHARS or c.isspace() or c.isdecimal()):
        start -= 1
    return [m.group(0).strip() for m in TIME_MENTION_RE.finditer(text, start)]


def find_mentions(text: str, names: frozenset[str]) -> list[str]:
    found = _time_mentions(text)
    for name in names:
        if name in text:  # the name pattern is case-sensitive: no name in the text, no match
            found += [m.group(1) for m in _names_re(names).finditer(text)]
            break
    return found


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _scrub(value: str | None) -> tuple[str | None, bool]:
    """A lone surrogate (from a JSON ``\\ud800`` escape, say) cannot be written as UTF-8: U+FFFD instead."""
    if not value or value.isascii() or _SURROGATE_RE.search(value) is None:
        return value, False
    return _SURROGATE_RE.sub("\ufffd", value), True


def scrub_thread(thread: ParsedThread) -> None:
    """Replace lone surrogates in every text field, with one warning per unit naming its line.

    Only JSON makes them (a ``\\ud800`` escape decodes to one): text decoded from bytes
    (:func:`~pipeline.parse.source.read_text`), HTML (BeautifulSoup) and XML (:mod:`.xmlsafe`)
    never hold one, so the CSV/JSONL reader calls this, not every reader.
    """
    for name in ("title", "post_date", "url"):
        value, bad = _scrub(getattr(thread, name))
        if bad:
            setattr(thread, name, value)
            thread.problems.append(Problem(Code.W106.value, thread.source_file, f"the thread {name} held a lone "
                                           "surrogate (an invalid character); it was replaced by U+FFFD.",
                                           "Re-save the file as valid UTF-8."))
    for unit in thread.units:
        fixed = []
        for name in ("text", "author", "timestamp"):
            value, bad = _scrub(getattr(unit, name))
            if bad:
                setattr(unit, name, value)
                fixed.append(name)
        if fixed:
            thread.problems.append(Problem(Code.W106.value, thread.source_file, f"{unit.unit_id}: the "
                                           f"{' and '.join(fixed)} held a lone surrogate (an invalid character); "
                                           "it was replaced by U+FFFD.", "Re-save the file as valid UTF-8.",
                                           line=unit.line))


def finish(thread: ParsedThread, *, host_names: tuple[str, ...] = DEFAULT_HOST_NAMES) -> ParsedThread:
    """Fill the derived fields of every unit and renumber positions in reading order."""
    authors = {u.author for u in thread.units if u.author and u.author.lower() not in ("anonymous", "unknown")}
    names = frozenset(host_names) | frozenset(a for a in authors if len(a) <= 30)
    names_for_anonymous = names - {""}
    for pos, unit in enumerate(thread.units):
        unit.position = pos
        unit.text = unit.text.strip()
        unit.urls, unit.link_only = find_urls(unit.text)  # link_only: nothing but URLs and whitespace
        unit.quoted_text, unit.own_text = split_quotes(unit.text)
        # Posts cannot answer comments, so times in a post ('At 12.02 ...') are not mentions.
        if unit.kind in ("comment", "reply"):
            unit.mentions = find_mentions(unit.own_text, names - {unit.author} if unit.author else names_for_anonymous)
        unit.word_count = word_count(unit.text)
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
    note: str = ""  # set: the unit is marked low-confidence with this note (e.g. a deleted comment)


def add_comment_tree(thread: ParsedThread, comments: list[RawComment]) -> None:
    """Append comments in reading order (each parent followed by its replies) with readable ids.

    Top-level comments become ``c1, c2, ...`` in input order; a reply gets its parent's
    id plus ``.r1, .r2, ...``, at any depth.  A reply whose parent is unknown is kept
    at top level and marked low-confidence.
    """
    tid = thread.thread_id
    by_id = {c.source_id: c for c in comments}

    known: dict[str, bool] = {}  # source id -> does its parent chain reach the top (memoised: long chains stay linear)

    def reaches_top(c: RawComment) -> bool:  # False for a parent chain that loops
        path: list[str] = []
        on_path: set[str] = set()
        while True:
            if c.source_id in known:
                result = known[c.source_id]
                break
            if c.parent_source_id not in by_id:
                result = True
                break
            if c.source_id in on_path:
                result = False
                break
            path.append(c.source_id)
            on_path.add(c.source_id)
            c = by_id[c.parent_source_id]
        known.update(dict.fromkeys(path, result))
        return result

    children: dict[str | None, list[RawComment]] = {}
    for c in comments:
        parent = c.parent_source_id if c.parent_source_id in by_id and reaches_top(c) else None
        if c.parent_source_id and parent is None:
            thread.problems.append(Problem(
                Code.W103.value, thread.source_file,
                f"comment {c.source_id!r} answers {c.parent_source_id!r}, which is not in the file; "
                "it was kept as a top-level comment.", "Check the export is complete.", line=c.line))
        children.setdefault(parent, []).append(c)

    # Depth-first, each comment followed by its replies, with an explicit stack: reply chains of any
    # depth are kept (no recursion limit), and each source id's replies are expanded once.
    expanded: set[str] = set()
    stack = [(None, f"{tid}/post", 1, iter(enumerate(children.get(None, []), 1)))]
    while stack:
        parent_src, parent_uid, depth, todo = stack[-1]
        nxt = next(todo, None)
        if nxt is None:
            stack.pop()
            continue
        k, c = nxt
        uid = f"{tid}/c{k}" if parent_src is None else f"{parent_uid}.r{k}"
        unit = Unit(uid, tid, "comment" if parent_src is None else "reply",
                    f"{tid}/post" if parent_src is None else parent_uid, depth, 0, c.text,
                    author=c.author, timestamp=c.timestamp, line=c.line)
        if c.parent_source_id and parent_src is None:
            unit.mark_low(f"parent {c.parent_source_id!r} not found")
        if c.note:
            unit.mark_low(c.note)
        thread.units.append(unit)
        if c.source_id not in expanded:
            expanded.add(c.source_id)
            stack.append((c.source_id, uid, depth + 1, iter(enumerate(children.get(c.source_id, []), 1))))
