"""Blogger pages saved from a browser (HTML) and Blogger comment feeds (Atom XML).

Markup is read with real parsers (BeautifulSoup over lxml), never with regular
expressions over tags.  Entities are not resolved and nothing is fetched.
"""

from __future__ import annotations

import re
from datetime import datetime

from bs4 import BeautifulSoup, Tag
from lxml import etree

from ..errors import Code, PipelineError, Problem
from .model import ParsedThread, RawComment, add_comment_tree
from .text import AUTHOR_RE, COUNT_RE, DATE_LINE_RE, MONTHS, _add_post, _date

BLOCK_TAGS = ("p", "div", "blockquote", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "tr")
_WS_RE = re.compile(r"[ \t\xa0]+")
_TS_RE = re.compile(rf"(\d{{1,2}}) ({MONTHS}),? (\d{{4}})(?: at|,)? (\d{{1,2}}):(\d{{2}})(?:\s*([ap]m))?", re.I)
ATOM = "{http://www.w3.org/2005/Atom}"
THR = "{http://purl.org/syndication/thread/1.0}"
OPENSEARCH = "{http://a9.com/-/spec/opensearchrss/1.0/}"


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


def _timestamp(raw: str) -> str | None:
    m = _TS_RE.search(raw or "")
    if not m:
        return None
    day, month, year, hh, mm, ampm = m.groups()
    h = int(hh)
    if ampm:
        h = h % 12 + (12 if ampm.lower() == "pm" else 0)
    d = _date(day, month, year)
    return f"{d}T{h:02d}:{int(mm):02d}:00" if d and h < 24 and int(mm) < 60 else None


def _first(soup: BeautifulSoup | Tag, *selectors: str) -> Tag | None:
    for sel in selectors:
        found = soup.select_one(sel)
        if found is not None:
            return found
    return None


def parse_html(html: str, *, thread_id: str, source_file: str) -> ParsedThread:
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
    title = _first(soup, ".post-title", "h3.entry-title", "h1.entry-title")
    thread.title = element_text(title) if title else None
    date_el = _first(soup, ".date-header", "abbr.published", "time")
    if date_el is not None and (m := DATE_LINE_RE.match(element_text(date_el))):
        thread.post_date = _date(*m.groups())
    url_el = soup.find("link", rel="canonical") or soup.find("meta", property="og:url")
    if url_el is not None:
        thread.url = url_el.get("href") or url_el.get("content")
    heading = _first(soup, "#comments h4", "#comments h3", ".comments h4")
    if heading is not None and (m := COUNT_RE.match(element_text(heading))):
        thread.declared_comments = int(m.group(1))

    _add_post(thread, element_text(body).split("\n") if body is not None else [], 0)
    thread.units = [u for u in thread.units if u.kind == "post" or u.text]  # empty segments from stray separators
    thread.units[0].line = None  # line numbers refer to the text layouts only
    add_comment_tree(thread, _html_comments(soup))
    if thread.declared_comments is not None and thread.declared_comments != thread.parsed_comments:
        thread.problems.append(Problem(
            Code.W101.value, source_file,
            f"the page declares {thread.declared_comments} comments but {thread.parsed_comments} were found.",
            "Blogger pages show at most 200 comments at once: save every comment page, or use the Atom feed."))
    return thread


def _html_comments(soup: BeautifulSoup) -> list[RawComment]:
    comments: list[RawComment] = []
    threaded = soup.select("li.comment")
    if threaded:  # current Blogger templates: <li class="comment" id="c123"> nested in .comment-replies
        for li in threaded:
            parent_li = li.find_parent("li", class_="comment")
            author = _first(li, ".comment-header cite", "cite.user", ".user")
            when = _first(li, ".comment-header .datetime", ".datetime")
            content = _first(li, ".comment-content")
            if content is None:
                continue
            comments.append(RawComment(
                source_id=li.get("id") or f"li{len(comments)}",
                parent_source_id=parent_li.get("id") if parent_li is not None else None,
                text=element_text(content),
                author=element_text(author) or None if author is not None else None,
                timestamp=_timestamp(element_text(when)) if when is not None else None))
        return comments
    # classic templates: <dl id="comments-block"><dt class="comment-author"> <dd class="comment-body"> ...
    for n, dt in enumerate(soup.select("#comments-block dt, dl.comments-block dt"), 1):
        body = dt.find_next_sibling("dd")
        footer = body.find_next_sibling("dd") if body is not None else None
        if body is None:
            continue
        author = re.sub(r"\s*said\.*\s*$", "", element_text(dt)).strip() or None
        comments.append(RawComment(source_id=dt.get("id") or f"dt{n}", parent_source_id=None,
                                   text=element_text(body), author=author,
                                   timestamp=_timestamp(element_text(footer)) if footer is not None else None))
    return comments


def parse_atom(xml: str, *, thread_id: str, source_file: str) -> ParsedThread:
    """A Blogger comment feed (``/feeds/POSTID/comments/default``)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(xml.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise PipelineError(Code.E006, f"the XML is malformed or truncated ({exc.msg}).", file=source_file,
                            line=exc.lineno, fix="Download the feed again; check the file ends with </feed>.") from exc
    if root.tag != f"{ATOM}feed":
        raise PipelineError(Code.E005, f"XML root is <{etree.QName(root).localname}>, not an Atom <feed>.",
                            file=source_file, fix="Give a Blogger comment feed (Atom), or convert to CSV/JSONL.")
    thread = ParsedThread(thread_id=thread_id, source_file=source_file, layout="blogger_atom")
    title = root.findtext(f"{ATOM}title") or ""
    thread.title = re.sub(r"^Comments on [^:]*:\s*", "", title).strip() or None
    total = root.findtext(f"{OPENSEARCH}totalResults")
    if total and total.strip().isdigit():
        thread.declared_comments = int(total)
    alt = root.find(f"{ATOM}link[@rel='alternate']")
    thread.url = alt.get("href") if alt is not None else None
    _add_post(thread, [], 0)
    thread.units[0].line = None

    entries = []
    for entry in root.findall(f"{ATOM}entry"):
        eid = (entry.findtext(f"{ATOM}id") or "").rsplit("post-", 1)[-1]
        published = entry.findtext(f"{ATOM}published") or ""
        content = entry.find(f"{ATOM}content")
        raw = content.text or "" if content is not None else ""
        text = element_text(BeautifulSoup(raw, "lxml")) if content is not None and content.get("type") == "html" else raw.strip()
        parent = None
        for link in entry.findall(f"{ATOM}link[@rel='related']"):
            # '.../comments/default/PARENTID', in v2 feeds with '?v=2' after the id
            href = re.split(r"[?#]", link.get("href", ""), maxsplit=1)[0]
            parent = href.rstrip("/").rsplit("/", 1)[-1] or None
        try:
            ts = datetime.fromisoformat(published).replace(tzinfo=None).isoformat(timespec="seconds")
        except ValueError:
            ts = None
        entries.append((published, RawComment(eid, parent, text, entry.findtext(f"{ATOM}author/{ATOM}name"),
                                              ts, entry.sourceline)))
    entries.sort(key=lambda e: e[0])  # feeds list newest first; read oldest first
    add_comment_tree(thread, [c for _, c in entries])
    if thread.declared_comments is not None and thread.declared_comments != thread.parsed_comments:
        thread.problems.append(Problem(
            Code.W101.value, source_file,
            f"the feed declares {thread.declared_comments} comments but holds {thread.parsed_comments}.",
            "Blogger feeds page their results: fetch every page (start-index, max-results) and give them all."))
    return thread


__all__ = ["parse_html", "parse_atom", "element_text", "AUTHOR_RE"]
