"""Collect a whole blog from its public Atom feeds, politely and resumably, for ``parse`` to read offline.

Blogger serves every blog's posts at ``<blog>/feeds/posts/default`` and each post's comments
at ``<blog>/feeds/<post id>/comments/default``, a page at a time (``start-index``,
``max-results``; each page links the next with ``rel="next"``).  ``collect`` fetches the posts
pages, then every post's comment pages, and saves each page as it came::

    <out>/collect.json                      what was asked and what is done (resume state)
    <out>/posts/page-0001.xml ...           the posts feed, page by page
    <out>/comments/<post id>/page-0001.xml  each post's comments feed

``python -m pipeline parse <out>`` then reads the folder as one blog, offline
(:func:`pipeline.parse.export.parse_collected`).

Politeness: one request at a time with ``delay`` seconds between them, a User-Agent naming the
tool, robots.txt honoured (a disallowed feed is an error, never fetched), and retries with
exponential backoff on 429 and 5xx (``Retry-After`` respected).  A page already saved is never
fetched again, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import time
import urllib.robotparser
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
from lxml import etree

from . import store
from .errors import Code, PipelineError
from .parse import xmlsafe
from .parse.atom import ATOM, short_id
from .parse.export import MANIFEST

USER_AGENT = "probation-tr-collect/0.1 (research tool reading public Blogger feeds; python -m pipeline collect)"
RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass
class CollectReport:
    out: Path
    posts: int = 0
    comments_feeds: int = 0
    pages_fetched: int = 0
    pages_reused: int = 0
    failed: list[str] = field(default_factory=list)  # feeds that could not be fetched (URL: reason)
    complete: bool = False


def _day(value: str | date | None, name: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return (value if isinstance(value, date) else date.fromisoformat(str(value))).isoformat()
    except ValueError as exc:
        raise PipelineError(Code.E010, f"{name} {value!r} is not a date.", fix="Give it as YYYY-MM-DD.") from exc


class _Fetcher:
    """One polite HTTP client: delay, User-Agent, robots.txt, retries with backoff."""

    def __init__(self, blog: str, *, delay: float, retries: int, backoff: float, timeout: float,
                 client: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client or httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=timeout,
                                             follow_redirects=True)
        self.delay, self.retries, self.backoff, self.sleep = delay, retries, backoff, sleep
        self.last = 0.0
        self.robots = urllib.robotparser.RobotFileParser()
        robots_url = urljoin(blog, "/robots.txt")
        try:
            resp = self._get(robots_url)
            self.robots.parse(resp.text.splitlines() if resp.status_code == 200 else [])
        except PipelineError:
            self.robots.parse([])  # no robots.txt reachable: nothing is disallowed (RFC 9309)

    def _wait(self) -> None:
        pause = self.last + self.delay - time.monotonic()
        if pause > 0:
            self.sleep(pause)
        self.last = time.monotonic()

    def _get(self, url: str) -> httpx.Response:
        for attempt in range(self.retries + 1):
            self._wait()
            try:
                resp = self.client.get(url)
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code not in RETRY_STATUS:
                    return resp
                reason = f"HTTP {resp.status_code}"
                retry_after = resp.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    self.sleep(min(float(retry_after), 300.0))
            if attempt < self.retries:
                self.sleep(self.backoff * 2 ** attempt)
        raise PipelineError(Code.E010, f"{url} could not be fetched after {self.retries + 1} tries ({reason}).",
                            fix="Check the address and your connection, then run the same command again: it resumes.")

    def get_feed(self, url: str) -> bytes:
        if not self.robots.can_fetch(USER_AGENT, url):
            raise PipelineError(Code.E010, f"robots.txt of the blog disallows {url}.",
                                fix="Ask the blog's owner for an export (Settings > Back up content) instead.")
        resp = self._get(url)
        if resp.status_code != 200:
            raise PipelineError(Code.E010, f"{url} answered HTTP {resp.status_code}.",
                                fix="Check the blog address; a private blog cannot be collected.")
        return resp.content


def _next_link(page: bytes, source: str) -> tuple[str | None, list[etree._Element]]:
    root, _ = xmlsafe.parse_string(page.decode("utf-8", errors="replace"), source)
    nxt = root.find(f"{ATOM}link[@rel='next']")
    return (nxt.get("href") if nxt is not None else None), list(root.iterfind(f"{ATOM}entry"))


def _pages(fetcher: _Fetcher, first_url: str, folder: Path, report: CollectReport) -> list[etree._Element]:
    """Every page of one feed, saved as page-0001.xml ...; pages already saved are read, not fetched."""
    entries: list[etree._Element] = []
    url: str | None = first_url
    seen: set[str] = set()
    k = 1
    while url and url not in seen:  # a 'next' link pointing back would otherwise page forever
        seen.add(url)
        path = folder / f"page-{k:04d}.xml"
        if path.exists():
            data = path.read_bytes()
            report.pages_reused += 1
        else:
            data = fetcher.get_feed(url)
            folder.mkdir(parents=True, exist_ok=True)
            store.write_bytes(data, path)  # atomic: an interrupted write leaves no half page to resume from
            report.pages_fetched += 1
        url, found = _next_link(data, str(path))
        entries += found
        k += 1
        if not found:
            break
    return entries


def _in_range(entry: etree._Element, since: str | None, until: str | None) -> bool:
    published = (entry.findtext(f"{ATOM}published") or "")[:10]
    return (not since or published >= since) and (not until or published <= until)


def collect(blog_url: str, out: Path | str, *, since: str | date | None = None, until: str | date | None = None,
            delay: float = 1.0, max_results: int = 25, retries: int = 4, backoff: float = 2.0,
            timeout: float = 30.0, client: httpx.Client | None = None,
            sleep: Callable[[float], None] = time.sleep, on_feed: Callable[[str], None] | None = None) -> CollectReport:
    """Fetch ``blog_url``'s posts and comments feeds into ``out`` (see the module docstring)."""
    parts = urlsplit(blog_url if "://" in blog_url else f"https://{blog_url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PipelineError(Code.E010, f"{blog_url!r} is not a blog address.",
                            fix="Give the blog's address, e.g. https://example.blogspot.com/")
    blog = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/"
    since, until = _day(since, "--since"), _day(until, "--until")
    out = Path(out)
    manifest_path = out / MANIFEST
    wanted = {"blog": blog, "since": since, "until": until}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if {k: manifest.get(k) for k in wanted} != wanted:
            raise PipelineError(Code.E010, f"{out} holds a collection of {manifest.get('blog')} "
                                f"(since {manifest.get('since')}, until {manifest.get('until')}).",
                                file=str(manifest_path), fix="Give another --out folder, or the same blog and dates.")
    else:
        manifest = {**wanted, "tool": USER_AGENT, "started": datetime.now().isoformat(timespec="seconds"),
                    "posts_done": False, "comments_done": [], "failed": {}, "complete": False}
    out.mkdir(parents=True, exist_ok=True)
    store.write_json(manifest, manifest_path)
    report = CollectReport(out=out)
    fetcher = _Fetcher(blog, delay=delay, retries=retries, backoff=backoff, timeout=timeout, client=client,
                       sleep=sleep)

    query = {"start-index": 1, "max-results": max_results, "orderby": "published"}
    if since:
        query["published-min"] = f"{since}T00:00:00"
    if until:
        query["published-max"] = f"{until}T23:59:59"
    posts_url = f"{blog}feeds/posts/default?{urlencode(query)}"
    if on_feed:
        on_feed(posts_url)
    posts = [e for e in _pages(fetcher, posts_url, out / "posts", report) if _in_range(e, since, until)]
    manifest["posts_done"] = True
    store.write_json(manifest, manifest_path)
    report.posts = len(posts)

    done = set(manifest["comments_done"])
    for entry in posts:
        post_id = short_id(entry.findtext(f"{ATOM}id"))
        if post_id in done:
            continue
        url = f"{blog}feeds/{post_id}/comments/default?{urlencode({'start-index': 1, 'max-results': max_results})}"
        if on_feed:
            on_feed(url)
        try:
            _pages(fetcher, url, out / "comments" / post_id, report)
        except PipelineError as exc:  # one post's comments lost never costs the others
            manifest["failed"][post_id] = exc.problem.message
            store.write_json(manifest, manifest_path)
            continue
        manifest["failed"].pop(post_id, None)
        manifest["comments_done"].append(post_id)
        store.write_json(manifest, manifest_path)  # after each post: a rerun resumes from here
        report.comments_feeds += 1
    manifest["complete"] = not manifest["failed"]
    store.write_json(manifest, manifest_path)
    report.failed = [f"{pid}: {why}" for pid, why in manifest["failed"].items()]
    report.complete = manifest["complete"]
    return report


__all__ = ["collect", "CollectReport", "USER_AGENT"]
