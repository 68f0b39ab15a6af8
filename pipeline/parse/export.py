"""A whole blog: a Blogger export file, or the feeds ``python -m pipeline collect`` saved.

Export (Settings > Back up content): one Atom file whose entries are posts, comments, pages,
settings and the template.  Each post becomes a thread (title, date, address, labels); its
comments hang under it, replies under the comment they answer.  Pages become threads only
with ``include_pages``; drafts are kept with ``status = "draft"``; settings and the template
are skipped; every skipped entry is counted in one W110 warning.  The file is streamed with
``lxml.etree.iterparse`` and each entry freed once read, so a 50 MB export needs only its text
in memory, not its XML tree.

Collected feeds (``collect.json`` with ``posts/page-*.xml`` and ``comments/<post id>/page-*.xml``
beside it) are read the same way, offline.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from ..errors import Code, PipelineError, Problem
from . import xmlsafe
from .atom import ATOM, Entry, comment_of, read_entry, sort_key
from .dates import DEFAULT_TZ
from .model import ParsedThread, add_comment_tree
from .source import MANIFEST
from .text import _add_post

# Only an export holds these kinds (a comment feed may say kind#comment); the template and settings come first.
EXPORT_MARKERS = tuple(b"schemas.google.com/blogger/2008/kind#" + k for k in (b"post", b"page", b"settings", b"template")) \
    + (b"schemas.google.com/blogger/2018",)
_SLUG_RE = re.compile(r"[^\w.-]+")
_DRAFTS = "drafts"  # counted with the skipped entries, reported apart: drafts are kept
_PAGES = "pages (give --include-pages to read them)"


def is_export(head: bytes) -> bool:
    """Is this the start of a Blogger export (an Atom feed whose entries say their kind)?"""
    return b"<feed" in head and any(m in head for m in EXPORT_MARKERS)


def _thread_id(e: Entry) -> str:
    """Readable and stable: the post address's path (``/2015/04/guest-blog-35.html`` -> ``2015-04-guest-blog-35``)."""
    if e.url and not e.draft:
        path = re.sub(r"^[a-z]+://[^/]+/", "", e.url.split("?")[0].split("#")[0]).removesuffix(".html")
        slug = _SLUG_RE.sub("-", path.replace("/", "-")).strip("-")
        if slug:
            return slug
    return f"post-{e.id}"


def build_threads(posts: list[Entry], comments: dict[str, list[Entry]], *, source_file: str, layout: str,
                  tz: str, problems: list[Problem], skipped: Counter,
                  skipped_pages: frozenset[str] = frozenset()) -> list[ParsedThread]:
    threads = []
    used: set[str] = set()
    for post in sorted(posts, key=sort_key):
        tid = _thread_id(post)
        if tid in used:
            tid = f"{tid}-{post.id}"
        used.add(tid)
        thread = ParsedThread(thread_id=tid, source_file=source_file, layout=layout, title=post.title,
                              post_date=post.published, url=post.url, declared_comments=post.total,
                              labels=list(post.labels), tz=tz,
                              status="draft" if post.draft else ("page" if post.kind == "page" else "live"))
        _add_post(thread, post.text.split("\n"), 0)
        thread.units = [u for u in thread.units if u.kind == "post" or u.text]
        for u in thread.units:
            u.line = post.line
        thread.units[0].author, thread.units[0].timestamp = post.author, post.published
        add_comment_tree(thread, [comment_of(c) for c in sorted(comments.pop(post.id, []), key=sort_key)])
        if post.total is not None and post.total != thread.parsed_comments:
            thread.problems.append(Problem(
                Code.W101.value, source_file, f"{tid}: the post declares {post.total} comments but "
                f"{thread.parsed_comments} are in the file.", "Comments awaiting moderation or deleted for "
                "good are not exported; nothing was invented.", line=post.line))
        threads.append(thread)
    for post_id, orphans in comments.items():
        if post_id in skipped_pages:  # comments on a page read without --include-pages
            skipped["comments on pages"] += len(orphans)
            continue
        skipped["comments on a missing post"] += len(orphans)
        problems.append(Problem(Code.W103.value, source_file, f"{len(orphans)} comments answer post {post_id!r}, "
                                "which is not in the input (a page not included, or a missing post); skipped.",
                                "Give --include-pages for comments on pages, or check the export is complete.",
                                line=orphans[0].line))
    return threads


def _skipped_warning(skipped: Counter, source_file: str) -> Problem | None:
    if not skipped:
        return None
    drafts = skipped.get(_DRAFTS, 0)
    what = ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items()) if kind != _DRAFTS)
    message = (f"entries not made into threads: {what}." if what else "") + \
        (f"{' ' if what else ''}{drafts} drafts (never published) kept with status=draft." if drafts else "")
    return Problem(Code.W110.value, source_file, message,
                   "Nothing to do for settings and the template; give --include-pages to read pages too.")


def _sort_entry(e: Entry, posts: list[Entry], comments: dict[str, list[Entry]], skipped: Counter,
                include_pages: bool, skipped_pages: set[str]) -> None:
    if e.kind in ("post", "page") and e.deleted:  # 2018 format: a post in the bin is not the blog's
        skipped["deleted posts"] += 1
    elif e.kind == "post" or (e.kind == "page" and include_pages):
        posts.append(e)
    elif e.kind == "page":
        skipped[_PAGES] += 1
        skipped_pages.add(e.id)
    elif e.kind == "comment" and e.post_id:
        comments.setdefault(e.post_id, []).append(e)
    else:
        skipped[f"{e.kind} entries" if e.kind != "comment" else "comments with no post"] += 1
    if e.draft:
        skipped[_DRAFTS] += 1


def parse_export(source: Path | BinaryIO, *, source_file: str | None = None, include_pages: bool = False,
                 tz: str = DEFAULT_TZ) -> list[ParsedThread]:
    """``source``: the export's path, or a binary file object (an upload) named by ``source_file``."""
    source_file = source_file or str(source)
    problems: list[Problem] = []
    posts: list[Entry] = []
    comments: dict[str, list[Entry]] = {}
    skipped: Counter = Counter()
    pages: set[str] = set()
    context = etree.iterparse(str(source) if isinstance(source, Path) else source, events=("end",), tag=f"{ATOM}entry", resolve_entities=False,
                              no_network=True, load_dtd=False, recover=True, huge_tree=True)
    try:
        for _, el in context:
            try:
                _sort_entry(read_entry(el, problems, source_file, tz), posts, comments, skipped, include_pages, pages)
            except UnicodeDecodeError:  # recovery kept a character XML forbids (&#xD800;): the entry is unreadable
                skipped["entries with invalid characters"] += 1
                problems.append(Problem(Code.W106.value, source_file, "this entry holds a character XML forbids "
                                        "(a lone surrogate or control character); it was skipped.",
                                        "Export the blog again.", line=el.sourceline))
            # free the entry and everything read before it: memory stays bounded by one entry
            el.clear(keep_tail=True)
            while el.getprevious() is not None:
                del el.getparent()[0]
    except etree.XMLSyntaxError as exc:
        raise PipelineError(Code.E006, f"the export cannot be read ({exc.msg}).", file=source_file, line=exc.lineno,
                            fix="Export the blog again (Settings > Back up content).") from exc
    errors = [e for e in context.error_log if e.level_name in ("ERROR", "FATAL")
              and e.type_name not in ("ERR_UNDECLARED_ENTITY", "ERR_INVALID_CHAR")]
    if errors and not posts:
        raise PipelineError(Code.E006, f"the export is malformed ({errors[0].message}).", file=source_file,
                            line=errors[0].line, fix="Export the blog again (Settings > Back up content).")
    if errors:
        problems.append(Problem(Code.E006.value, source_file, f"the export is malformed or truncated here "
                                f"({errors[0].message}); entries after this point may be missing.",
                                "Export the blog again and check the file ends with </feed>.", line=errors[0].line))
    threads = build_threads(posts, comments, source_file=source_file, layout="blogger_export", tz=tz,
                            problems=problems, skipped=skipped, skipped_pages=frozenset(pages))
    if (w := _skipped_warning(skipped, source_file)) is not None:
        problems.append(w)
    if not threads:
        raise PipelineError(Code.E005, "the export holds no posts" + (f" ({w.message})" if w else "."),
                            file=source_file, fix="Check this is the blog's export, or give --include-pages.")
    threads[0].problems[:0] = problems
    return threads


def parse_collected(manifest: Path, *, include_pages: bool = False, tz: str = DEFAULT_TZ) -> list[ParsedThread]:
    """The folder ``collect`` wrote: posts pages, then each post's comment pages, read offline."""
    folder = manifest.parent
    try:
        meta = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PipelineError(Code.E007, f"the collect manifest cannot be read ({exc}).", file=str(manifest),
                            fix="Run `python -m pipeline collect` again into this folder.") from exc
    problems: list[Problem] = []
    posts: list[Entry] = []
    comments: dict[str, list[Entry]] = {}
    skipped: Counter = Counter()
    pages: set[str] = set()
    since, until = meta.get("since"), meta.get("until")
    for page in sorted((folder / "posts").glob("page-*.xml")):
        for el in _entries(page, problems):
            e = read_entry(el, problems, str(page), tz)
            e.kind = "post" if e.kind == "comment" else e.kind  # a posts feed's entries carry no kind
            day = (e.published or "")[:10]
            if (since and day < since) or (until and day > until):  # the server ignored published-min/max
                skipped["posts outside --since/--until"] += 1
                continue
            _sort_entry(e, posts, comments, skipped, include_pages, pages)
    seen: set[str] = set()
    for page in sorted((folder / "comments").glob("*/page-*.xml")):
        post_id = page.parent.name
        for el in _entries(page, problems):
            e = read_entry(el, problems, str(page), tz)
            if e.id in seen:  # pages overlap when comments arrive while collecting
                continue
            seen.add(e.id)
            e.post_id = e.post_id or post_id
            _sort_entry(e, posts, comments, skipped, include_pages, pages)
    if not meta.get("complete", False):
        problems.append(Problem(Code.W101.value, str(manifest), "the collection was not finished; posts or "
                                "comments may be missing.", "Run the same `collect` command again: it resumes."))
    threads = build_threads(posts, comments, source_file=str(manifest), layout="blogger_feeds", tz=tz,
                            problems=problems, skipped=skipped, skipped_pages=frozenset(pages))
    if (w := _skipped_warning(skipped, str(manifest))) is not None:
        problems.append(w)
    if not threads:
        raise PipelineError(Code.E005, "the collected feeds hold no posts.", file=str(manifest),
                            fix="Check --since/--until, or collect again.")
    threads[0].problems[:0] = problems
    return threads


def _entries(page: Path, problems: list[Problem]) -> list[etree._Element]:
    try:
        root, found = xmlsafe.parse_string(page.read_text(encoding="utf-8", errors="replace"), str(page))
    except PipelineError as exc:
        problems.append(Problem(exc.problem.code, exc.problem.file, exc.problem.message + " This page was skipped.",
                                "Delete the page and run `collect` again: it fetches what is missing.",
                                line=exc.problem.line))
        return []
    problems.extend(found)
    return list(root.iterfind(f"{ATOM}entry"))


__all__ = ["is_export", "parse_export", "parse_collected", "build_threads", "MANIFEST"]
