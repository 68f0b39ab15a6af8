"""Blogger pages saved from a browser (HTML).

Markup is read with real parsers (BeautifulSoup over lxml), never with regular
expressions over tags.  Nothing is fetched.  Timestamps are read in order of trust
(:mod:`pipeline.parse.dates`): the comment permalink's ``?showComment=<ms>``, then
machine-readable attributes, then the visible text in the page's language (``<html lang>``).
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

from ..errors import Code, PipelineError, Problem
from .dates import DEFAULT_TZ, from_epoch_ms, from_iso, from_permalink, parse_visible
from .model import ParsedThread, RawComment, add_comment_tree
from .text import AUTHOR_RE, SAID_RE, _add_post, count_heading, read_date_line

BLOCK_TAGS = ("p", "div", "blockquote", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "tr")
_WS_RE = re.compile(r"[ \t\xa0]+")
# Machine-readable post dates, most exact first: (selector, attribute).
_POST_DATE_ATTRS = (("abbr.published", "title"), ("time.published", "datetime"), ("time[datetime]", "datetime"),
                    ("[itemprop=datePublished]", "content"), ("[itemprop=datePublished]", "title"),
                    ("[data-published]", "data-published"), ("[data-datetime]", "data-datetime"))
_COMMENT_TIME_ATTRS = (("time[datetime]", "datetime"), ("abbr[title]", "title"), ("[data-datetime]", "data-datetime"),
                       ("[data-timestamp]", "data-timestamp"))


def element_text(el: Tag) -> str:
    """Visible text of an element: <br> and block ends become line breaks, spaces normalised."""
    el = BeautifulSoup(str(el), "lxml")  # work on a copy
    for tag in el.find_all(["script", "style"]):
        tag.decompose()
    for br in el.find_all("br"):
        br.replace_with("\n")
    for tag in el.find_all(BLOCK_TAGS):
        tag.insert_after("\n\n")
    lines = [_WS_RE.sub(" ", line).strip() for line in el.get_text().split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _Times:
    """Reads one page's timestamps and counts the ones shown but unreadable (for one W108 warning)."""

    def __init__(self, lang: str | None, tz: str) -> None:
        self.lang, self.tz = lang, tz
        self.unread: list[str] = []

    def machine(self, scope: Tag, pairs: tuple[tuple[str, str], ...]) -> str | None:
        for selector, attr in pairs:
            for el in scope.select(selector):
                value = el.get(attr)
                if value and (found := from_iso(value, self.tz) or _epoch_attr(value)):
                    return found
        return None

    def visible(self, text: str, *, date_only: bool = False) -> str | None:
        if not text.strip():
            return None
        found = parse_visible(text, lang=self.lang, tz=self.tz, date_only=date_only)
        if found is None:
            self.unread.append(text.strip())
        return found

    def warning(self, source_file: str, what: str) -> Problem | None:
        if not self.unread:
            return None
        examples = ", ".join(repr(u) for u in dict.fromkeys(self.unread[:3]))
        return Problem(Code.W108.value, source_file, f"{len(self.unread)} {what} shown but could not be read "
                       f"(e.g. {examples}); they were left empty.",
                       "Give the page's language in <html lang>, or save the page's Atom feed, which has exact times.")


def _epoch_attr(value: str) -> str | None:
    value = value.strip()
    if value.isdigit() and len(value) in (10, 13):  # seconds or milliseconds since 1970
        return from_epoch_ms(int(value) * (1000 if len(value) == 10 else 1))
    return None


def _first(soup: BeautifulSoup | Tag, *selectors: str) -> Tag | None:
    for sel in selectors:
        found = soup.select_one(sel)
        if found is not None:
            return found
    return None


def parse_html(html: str, *, thread_id: str, source_file: str, tz: str = DEFAULT_TZ) -> ParsedThread:
    soup = BeautifulSoup(html, "lxml")
    thread = ParsedThread(thread_id=thread_id, source_file=source_file, layout="blogger_html")
    body = _first(soup, ".post-body", ".entry-content", "article")
    if body is None and not soup.select("li.comment, #comments-block dt, .comment"):
        raise PipelineError(Code.E005, "no Blogger post or comments were found in this HTML page.", file=source_file,
                            fix="Save the thread page itself (File > Save Page As, 'HTML only'), or copy it as text.")
    if "</html>" not in html[-4096:].lower():
        thread.problems.append(Problem(Code.E006.value, source_file,
                                       "the page has no closing </html>: it looks truncated; comments after the "
                                       "cut are missing.", "Save the page again and check it is complete.",
                                       line=html.count("\n") + 1))
    html_el = soup.find("html")
    times = _Times(html_el.get("lang") or html_el.get("xml:lang") if html_el is not None else None, tz)
    title = _first(soup, ".post-title", "h3.entry-title", "h1.entry-title")
    thread.title = element_text(title) if title else None
    thread.post_date = times.machine(soup, _POST_DATE_ATTRS)
    if thread.post_date is None and (date_el := _first(soup, ".date-header", "abbr.published", "time")) is not None:
        shown = element_text(date_el)
        thread.post_date = read_date_line(shown) or times.visible(shown, date_only=True)
    url_el = soup.find("link", rel="canonical") or soup.find("meta", property="og:url")
    if url_el is not None:
        thread.url = url_el.get("href") or url_el.get("content")
    heading = _first(soup, "#comments h4", "#comments h3", ".comments h4")
    if heading is not None:
        thread.declared_comments = count_heading(element_text(heading))[1]

    _add_post(thread, element_text(body).split("\n") if body is not None else [], 0)
    thread.units = [u for u in thread.units if u.kind == "post" or u.text]  # empty segments from stray separators
    thread.units[0].line = None  # line numbers refer to the text layouts only
    add_comment_tree(thread, _html_comments(soup, times))
    if thread.declared_comments is not None and thread.declared_comments != thread.parsed_comments:
        thread.problems.append(Problem(
            Code.W101.value, source_file,
            f"the page declares {thread.declared_comments} comments but {thread.parsed_comments} were found.",
            "Blogger pages show at most 200 comments at once: save every comment page, or use the Atom feed."))
    if (w := times.warning(source_file, "dates or times")) is not None:
        thread.problems.append(w)
    return thread


def _own(li: Tag, selector: str) -> Tag | None:
    """The first match inside this comment, not inside one of its nested replies."""
    for el in li.select(selector):
        if el.find_parent("li", class_="comment") is li:
            return el
    return None


def _comment_time(scope: Tag, shown: Tag | None, times: _Times, own=None) -> str | None:
    links = [a for a in scope.select("a[href*='showComment='], a[href*='commentId=']") if own is None or own(a)]
    for a in links:
        if found := from_permalink(a.get("href")):
            return found
    machine = times.machine(shown, _COMMENT_TIME_ATTRS) if shown is not None else None
    if machine:
        return machine
    return times.visible(element_text(shown)) if shown is not None else None


def _html_comments(soup: BeautifulSoup, times: _Times) -> list[RawComment]:
    comments: list[RawComment] = []
    threaded = soup.select("li.comment")
    if threaded:  # current Blogger templates: <li class="comment" id="c123"> nested in .comment-replies
        for li in threaded:
            parent_li = li.find_parent("li", class_="comment")
            author = _own(li, ".comment-header cite, cite.user, .user")
            when = _own(li, ".comment-header .datetime, .datetime, .comment-timestamp")
            content = _own(li, ".comment-content")
            if content is None:
                continue
            header = _own(li, ".comment-header") or li
            comments.append(RawComment(
                source_id=li.get("id") or f"li{len(comments)}",
                parent_source_id=parent_li.get("id") if parent_li is not None else None,
                text=element_text(content),
                author=element_text(author) or None if author is not None else None,
                timestamp=_comment_time(header, when, times,
                                        own=lambda a, li=li: a.find_parent("li", class_="comment") is li)))
        return comments
    # classic templates: <dl id="comments-block"><dt class="comment-author"> <dd class="comment-body"> ...
    for n, dt in enumerate(soup.select("#comments-block dt, dl.comments-block dt"), 1):
        body = dt.find_next_sibling("dd")
        footer = body.find_next_sibling("dd") if body is not None else None
        if body is None:
            continue
        said = SAID_RE.match(element_text(dt))
        author = (said.group("author") if said else element_text(dt)).strip() or None
        timestamp = None
        if footer is not None:
            shown = footer.select_one(".comment-timestamp") or footer
            timestamp = _comment_time(footer, shown, times)
        comments.append(RawComment(source_id=dt.get("id") or f"dt{n}", parent_source_id=None,
                                   text=element_text(body), author=author, timestamp=timestamp))
    return comments


__all__ = ["parse_html", "element_text", "AUTHOR_RE"]
