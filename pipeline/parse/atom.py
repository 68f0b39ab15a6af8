"""Blogger's Atom: comment feeds, post feeds and the entries of an export file.

One entry reader serves all three.  A Blogger entry says what it is with a ``category``
(``.../blogger/2008/kind#post``, ``#comment``, ``#page``, ``#settings``, ``#template``; the
2018 export format says it with ``<blogger:type>``), which post a comment belongs to with
``thr:in-reply-to ref=``, and which comment it answers with ``link rel="related"``
(``.../comments/default/<parent id>``).  Timestamps are ``<published>``, kept with their
offset; a comment's ``?showComment=<ms>`` permalink is the fallback.
"""

from __future__ import annotations

import re
from datetime import datetime
from dataclasses import dataclass, field

from bs4 import BeautifulSoup
from lxml import etree

from ..errors import Code, PipelineError, Problem
from . import xmlsafe
from .dates import DEFAULT_TZ, from_iso, from_permalink
from .markup import element_text
from .model import ParsedThread, RawComment, Unit, add_comment_tree

ATOM = "{http://www.w3.org/2005/Atom}"
THR = "{http://purl.org/syndication/thread/1.0}"
OPENSEARCH = "{http://a9.com/-/spec/opensearchrss/1.0/}"
APP = "{http://purl.org/atom/app#}"
BLOGGER = "{http://schemas.google.com/blogger/2018}"
KIND_SCHEME = "http://schemas.google.com/g/2005#kind"
KIND_PREFIX = "http://schemas.google.com/blogger/2008/kind#"
LABEL_SCHEME = "http://www.blogger.com/atom/ns#"
# Blogger keeps a removed comment as this notice (and its replies stay under it).
REMOVED_RE = re.compile(r"^\s*This (?:comment|post) has been removed by (?:the author|a blog administrator)\.?\s*$",
                        re.I)
_ID_RE = re.compile(r"(?:post|page)-(\d+)$")


@dataclass
class Entry:
    """One Atom entry, read into plain values (the XML element can then be freed)."""

    id: str
    kind: str  # post, comment, page, settings, template, or the raw kind
    title: str | None = None
    text: str = ""
    author: str | None = None
    published: str | None = None
    url: str | None = None
    post_id: str | None = None  # the post a comment belongs to
    parent_id: str | None = None  # the comment a reply answers
    labels: list[str] = field(default_factory=list)
    draft: bool = False
    deleted: bool = False
    total: int | None = None  # thr:total, comments the post declares
    line: int | None = None


def short_id(value: str | None) -> str | None:
    """``tag:blogger.com,1999:blog-1.post-222`` -> ``222``; other ids are kept whole."""
    if not value:
        return None
    value = value.strip()
    m = _ID_RE.search(value)
    return m.group(1) if m else value


def _kind(entry: etree._Element) -> str:
    for cat in entry.iterfind(f"{ATOM}category"):
        term = cat.get("term", "")
        if cat.get("scheme") == KIND_SCHEME or term.startswith(KIND_PREFIX):
            return term.rsplit("#", 1)[-1]
    btype = entry.findtext(f"{BLOGGER}type")
    return btype.strip().lower() if btype else "comment"  # a comment feed's entries carry no kind


def content_text(el: etree._Element | None, problems: list[Problem], source_file: str) -> str:
    if el is None:
        return ""
    raw = xmlsafe.xml_text(el, problems, source_file)
    if el.get("type") in ("html", "xhtml") and ("<" in raw or "&" in raw):
        return element_text(BeautifulSoup(raw, "lxml"))
    return raw.strip()


def read_entry(entry: etree._Element, problems: list[Problem], source_file: str, tz: str = DEFAULT_TZ) -> Entry:
    kind = _kind(entry)
    e = Entry(id=short_id(entry.findtext(f"{ATOM}id")) or f"line{entry.sourceline}", kind=kind, line=entry.sourceline)
    if kind in ("settings", "template"):
        return e  # skipped by the readers: no need to read their (large) content
    title = entry.find(f"{ATOM}title")
    e.title = " ".join(xmlsafe.xml_text(title, problems, source_file).split()) or None if title is not None else None
    e.text = content_text(entry.find(f"{ATOM}content"), problems, source_file)
    name = entry.find(f"{ATOM}author/{ATOM}name")
    e.author = xmlsafe.xml_text(name, problems, source_file).strip() or None if name is not None else None
    for link in entry.iterfind(f"{ATOM}link"):
        rel, href = link.get("rel"), link.get("href", "")
        if rel == "alternate":
            e.url = href
        elif rel == "related":  # '.../comments/default/PARENTID', in v2 feeds with '?v=2' after the id
            e.parent_id = re.split(r"[?#]", href, maxsplit=1)[0].rstrip("/").rsplit("/", 1)[-1] or None
    published = (entry.findtext(f"{ATOM}published") or entry.findtext(f"{BLOGGER}created") or "").strip()
    e.published = from_iso(published, tz) if published else None
    if e.published is None and e.url:
        e.published = from_permalink(e.url)
    reply_to = entry.find(f"{THR}in-reply-to")
    if reply_to is not None:
        e.post_id = short_id(reply_to.get("ref"))
    elif (parent := entry.findtext(f"{BLOGGER}parent")) is not None:
        e.post_id = short_id(parent)
    e.labels = [c.get("term", "") for c in entry.iterfind(f"{ATOM}category") if c.get("scheme") == LABEL_SCHEME]
    status = (entry.findtext(f"{BLOGGER}status") or "").strip().upper()
    e.draft = (entry.findtext(f"{APP}control/{APP}draft") or "").strip() == "yes" or status == "DRAFT"
    e.deleted = status in ("DELETED", "SOFT_TRASHED") or (kind == "comment" and bool(REMOVED_RE.match(e.text)))
    total = entry.findtext(f"{THR}total")
    e.total = int(total) if total and total.strip().isdigit() else None
    return e


DELETED_NOTE = "deleted comment: Blogger keeps only its removal notice or marks it deleted"


def comment_of(e: Entry) -> RawComment:
    """A removed comment stays (its replies hang under it) but says so."""
    return RawComment(e.id, e.parent_id if e.parent_id != e.post_id else None, e.text, e.author, e.published, e.line,
                      note=DELETED_NOTE if e.deleted else "")


def sort_key(e: Entry) -> tuple:
    # feeds list newest first; read oldest first.  Instants in different offsets compare wrongly as
    # strings, so compare them as datetimes; entries with no time keep their place at the end.
    try:
        return (0, datetime.fromisoformat(e.published.replace("Z", "+00:00")).timestamp()) if e.published else (1, 0.0)
    except ValueError:
        return (1, 0.0)


def parse_atom(xml: str, *, thread_id: str, source_file: str, tz: str = DEFAULT_TZ) -> ParsedThread:
    """A Blogger comment feed (``/feeds/POSTID/comments/default``)."""
    root, problems = xmlsafe.parse_string(xml, source_file)
    if root.tag != f"{ATOM}feed":
        raise PipelineError(Code.E005, f"XML root is <{etree.QName(root).localname}>, not an Atom <feed>.",
                            file=source_file, fix="Give a Blogger comment feed (Atom), or convert to CSV/JSONL.")
    if root.find(f"{ATOM}entry/{ATOM}link[@rel='replies']") is not None:  # posts link their comment feeds
        raise PipelineError(Code.E005, "this is a blog's posts feed, not a post's comment feed: its entries are "
                            "posts, and their comments are in other feeds.", file=source_file,
                            fix="Give the folder `python -m pipeline collect` wrote (it holds both), or an export.")
    thread = ParsedThread(thread_id=thread_id, source_file=source_file, layout="blogger_atom")
    thread.problems.extend(problems)
    title = xmlsafe.xml_text(root.find(f"{ATOM}title"), thread.problems, source_file)
    thread.title = re.sub(r"^Comments on [^:]*:\s*", "", title).strip() or None
    total = root.findtext(f"{OPENSEARCH}totalResults")
    if total and total.strip().isdigit():
        thread.declared_comments = int(total)
    alt = root.find(f"{ATOM}link[@rel='alternate']")
    thread.url = alt.get("href") if alt is not None else None
    thread.units.append(Unit(f"{thread_id}/post", thread_id, "post", None, 0, 0, ""))

    entries = sorted((read_entry(el, thread.problems, source_file, tz) for el in root.iterfind(f"{ATOM}entry")),
                     key=sort_key)
    add_comment_tree(thread, [comment_of(e) for e in entries])
    if thread.declared_comments is not None and thread.declared_comments != thread.parsed_comments:
        thread.problems.append(Problem(
            Code.W101.value, source_file,
            f"the feed declares {thread.declared_comments} comments but holds {thread.parsed_comments}.",
            "Blogger feeds page their results: fetch every page (start-index, max-results) and give them all, "
            "or use `python -m pipeline collect`."))
    return thread


__all__ = ["parse_atom", "read_entry", "Entry", "comment_of", "sort_key", "short_id", "ATOM",
           "THR", "OPENSEARCH", "REMOVED_RE"]
