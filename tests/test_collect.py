"""`collect` against a real HTTP server on 127.0.0.1 serving the seed threads as Blogger feeds.

The server renders Blogger's public feeds (``/feeds/posts/default`` and
``/feeds/<post id>/comments/default``, Atom with openSearch paging and ``rel="next"``
links, newest first) from the parsed seed threads, so collecting and parsing back must
give the seeds' structure, authors and texts.
"""

from __future__ import annotations

import html
import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.collect import USER_AGENT, collect
from pipeline.errors import PipelineError
from pipeline.parse import parse_paths

FEED_NS = ("xmlns='http://www.w3.org/2005/Atom' xmlns:openSearch='http://a9.com/-/spec/opensearchrss/1.0/' "
           "xmlns:blogger='http://schemas.google.com/blogger/2008' xmlns:georss='http://www.georss.org/georss' "
           "xmlns:gd=\"http://schemas.google.com/g/2005\" xmlns:thr='http://purl.org/syndication/thread/1.0'")


def _content(text: str) -> str:
    """Blogger's type='html' content: the HTML, escaped once more for XML."""
    return html.escape(html.escape(text, quote=False).replace("\n", "<br />"), quote=False)


class Blog:
    """The seed threads as a Blogger blog: posts and comments with ids, times and parents."""

    def __init__(self, threads, base: str) -> None:
        self.base = base
        self.posts, self.comments = [], {}
        start = datetime(2019, 1, 1, 10, 0)
        for i, t in enumerate(sorted(threads, key=lambda t: t.thread_id)):
            pid = str(1000 + i)
            day = datetime.fromisoformat(t.post_date) if t.post_date else start
            when = day.replace(hour=10)
            body = "\n\n******\n\n".join(u.text for u in t.units if u.kind in ("post", "contribution"))
            self.posts.append(dict(id=pid, tid=t.thread_id, title=t.title or f"Thread {t.thread_id}",
                                   published=when, text=body, url=f"{base}{when:%Y/%m}/{t.thread_id}.html"))
            ids, entries = {}, []
            for k, u in enumerate(u for u in t.units if u.kind in ("comment", "reply")):
                cid = f"{pid}{k:04d}"
                ids[u.unit_id] = cid
                entries.append(dict(id=cid, parent=ids.get(u.parent_id), author=u.author or "Anonymous",
                                    text=u.text, published=when + timedelta(minutes=k + 1)))
            self.comments[pid] = entries[::-1]  # Blogger lists newest first

    def _feed(self, self_path: str, title: str, entries: list[str], total: int, start: int, size: int) -> bytes:
        nxt = (f"<link rel='next' type='application/atom+xml' href='{self.base}{self_path}?start-index="
               f"{start + size}&amp;max-results={size}'/>" if start - 1 + size < total else "")
        return (f"<?xml version='1.0' encoding='UTF-8'?><?xml-stylesheet href=\"http://www.blogger.com/styles/atom.css\" "
                f"type=\"text/css\"?><feed {FEED_NS}><id>tag:blogger.com,1999:blog-77</id>"
                f"<updated>2019-03-01T10:00:00.000+00:00</updated><title type='text'>{title}</title>"
                f"<link rel='http://schemas.google.com/g/2005#feed' type='application/atom+xml' href='{self.base}{self_path}'/>"
                f"<link rel='self' type='application/atom+xml' href='{self.base}{self_path}?start-index={start}&amp;"
                f"max-results={size}'/><link rel='alternate' type='text/html' href='{self.base}'/>{nxt}"
                "<author><name>Jim Brown</name><email>noreply@blogger.com</email></author>"
                "<generator version='7.00' uri='http://www.blogger.com'>Blogger</generator>"
                f"<openSearch:totalResults>{total}</openSearch:totalResults><openSearch:startIndex>{start}"
                f"</openSearch:startIndex><openSearch:itemsPerPage>{size}</openSearch:itemsPerPage>"
                + "\n".join(entries) + "</feed>").encode("utf-8")

    def posts_page(self, start: int, size: int, since: str | None, until: str | None) -> bytes:
        posts = [p for p in self.posts if (not since or p["published"].isoformat() >= since)
                 and (not until or p["published"].isoformat() <= until)][::-1]
        entries = [
            f"<entry><id>tag:blogger.com,1999:blog-77.post-{p['id']}</id><published>{p['published']:%Y-%m-%dT%H:%M:%S}"
            f".000+01:00</published><updated>{p['published']:%Y-%m-%dT%H:%M:%S}.000+01:00</updated>"
            "<category scheme='http://www.blogger.com/atom/ns#' term='TR'/>"
            f"<title type='text'>{html.escape(p['title'], quote=False)}</title><content type='html'>{_content(p['text'])}"
            f"</content><link rel='replies' type='application/atom+xml' href='{self.base}feeds/{p['id']}/comments/"
            f"default' title='Post Comments'/><link rel='replies' type='text/html' href='{p['url']}#comment-form' "
            f"title='{len(self.comments[p['id']])} Comments'/><link rel='alternate' type='text/html' href='{p['url']}' "
            f"title='{html.escape(p['title'])}'/><author><name>Jim Brown</name></author>"
            f"<thr:total>{len(self.comments[p['id']])}</thr:total></entry>" for p in posts[start - 1:start - 1 + size]]
        return self._feed("feeds/posts/default", "On Probation", entries, len(posts), start, size)

    def comments_page(self, pid: str, start: int, size: int) -> bytes:
        post = next(p for p in self.posts if p["id"] == pid)
        entries = []
        for c in self.comments[pid][start - 1:start - 1 + size]:
            related = (f"<link rel='related' type='application/atom+xml' href='{self.base}feeds/{pid}/comments/"
                       f"default/{c['parent']}'/>" if c["parent"] else "")
            ms = int((c["published"] - timedelta(hours=1) - datetime(1970, 1, 1)).total_seconds() * 1000)
            entries.append(
                f"<entry><id>tag:blogger.com,1999:blog-77.post-{c['id']}</id><published>{c['published']:%Y-%m-%dT%H:%M:%S}"
                f".000+01:00</published><updated>{c['published']:%Y-%m-%dT%H:%M:%S}.000+01:00</updated>"
                f"<title type='text'>{html.escape(c['text'][:30], quote=False)}</title>"
                f"<content type='html'>{_content(c['text'])}</content>"
                f"<link rel='alternate' type='text/html' href='{post['url']}?showComment={ms}#c{c['id']}' title=''/>"
                f"{related}<author><name>{html.escape(c['author'], quote=False)}</name></author>"
                f"<thr:in-reply-to href='{post['url']}' ref='tag:blogger.com,1999:blog-77.post-{pid}' "
                f"source='{self.base}feeds/posts/default/{pid}' type='text/html'/>"
                "<gd:extendedProperty name='blogger.itemClass' value='pid-1'/></entry>")
        return self._feed(f"feeds/{pid}/comments/default", f"Comments on On Probation: {post['title']}", entries,
                          len(self.comments[pid]), start, size)


@pytest.fixture()
def server(seed_result):
    state = {"log": [], "agents": set(), "robots": "User-agent: *\nDisallow: /search\n", "fail": {}}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            parts = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(parts.query).items()}
            state["log"].append(self.path)
            state["agents"].add(self.headers.get("User-Agent"))
            if state["fail"].get(parts.path, 0) > 0:
                state["fail"][parts.path] -= 1
                return self._send(503, b"busy", "text/plain", {"Retry-After": "0"})
            start, size = int(q.get("start-index", 1)), int(q.get("max-results", 25))
            segs = parts.path.strip("/").split("/")
            if parts.path == "/robots.txt":
                return self._send(200, state["robots"].encode(), "text/plain")
            if segs[:3] == ["feeds", "posts", "default"]:
                return self._send(200, blog.posts_page(start, size, q.get("published-min"), q.get("published-max")))
            if len(segs) == 4 and segs[0] == "feeds" and segs[2:] == ["comments", "default"] and segs[1] in blog.comments:
                return self._send(200, blog.comments_page(segs[1], start, size))
            return self._send(404, b"not found", "text/plain")

        def _send(self, status, body, ctype="application/atom+xml; charset=UTF-8", headers=None):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    blog = Blog(seed_result.threads, base)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base, blog, state
    httpd.shutdown()
    httpd.server_close()


def _structure(thread):
    """(relative id, kind, relative parent, author, text with whitespace collapsed) per unit."""
    def rel(uid):
        return uid.split("/", 1)[1] if uid else None
    return [(rel(u.unit_id), u.kind, rel(u.parent_id), u.author or "Anonymous", " ".join(u.text.split()))
            for u in thread.units]


def test_collect_then_parse_offline_gives_back_the_seed_threads(server, seed_result, tmp_path):
    base, blog, state = server
    report = collect(base, tmp_path / "blog", delay=0, max_results=2)
    assert report.complete and report.posts == 5 and report.comments_feeds == 5 and not report.failed
    posts_requests = [p for p in state["log"] if p.startswith("/feeds/posts/")]
    assert len(posts_requests) == 3  # 5 posts, 2 per page: paged with start-index
    assert state["log"][0] == "/robots.txt" and state["agents"] == {USER_AGENT}

    result = parse_paths([tmp_path / "blog"])
    assert result.files_seen == 1  # the folder is one input: its collect.json
    assert not [p for p in result.problems if p.code not in ("W110",)], result.problems
    by_tid = {p["tid"]: p for p in blog.posts}
    got = {t.url: t for t in result.threads}
    for seed in seed_result.threads:
        t = got[by_tid[seed.thread_id]["url"]]
        assert t.layout == "blogger_feeds" and t.labels == ["TR"]
        assert _structure(t)[1:] == _structure(seed)[1:]  # every comment and reply, its parent, author, text
        assert " ".join(t.units[0].text.split()) == " ".join(seed.units[0].text.split())
        # the instants come from <published>, offset kept
        comments = [u for u in t.units if u.kind in ("comment", "reply")]
        assert all(u.timestamp and u.timestamp.endswith("+01:00") for u in comments)


def test_comment_pages_are_followed_to_the_end(server, tmp_path):
    base, blog, state = server
    collect(base, tmp_path / "b", delay=0, max_results=25)
    biggest = max(blog.comments, key=lambda pid: len(blog.comments[pid]))
    n = len(blog.comments[biggest])
    saved = sorted((tmp_path / "b" / "comments" / biggest).glob("page-*.xml"))
    assert n > 25 and len(saved) == -(-n // 25)


def test_interrupted_collection_resumes_without_fetching_saved_pages(server, tmp_path):
    base, blog, state = server
    broken = f"/feeds/{blog.posts[2]['id']}/comments/default"
    state["fail"][broken] = 10**6
    first = collect(base, tmp_path / "b", delay=0, max_results=2, retries=1, backoff=0)
    assert not first.complete and len(first.failed) == 1 and blog.posts[2]["id"] in first.failed[0]
    partial = parse_paths([tmp_path / "b"])
    assert any(p.code == "W101" and "not finished" in p.message for p in partial.problems)

    state["fail"].clear()
    state["log"].clear()
    second = collect(base, tmp_path / "b", delay=0, max_results=2)
    n = len(blog.comments[blog.posts[2]["id"]])
    assert second.complete and second.pages_fetched == -(-n // 2)  # only the feed that had failed
    assert {p.split("?")[0] for p in state["log"] if p.startswith("/feeds/")} == {broken}
    assert len(parse_paths([tmp_path / "b"]).threads) == 5


def test_retries_with_backoff_after_a_503(server, tmp_path):
    base, blog, state = server
    state["fail"]["/feeds/posts/default"] = 2
    sleeps: list[float] = []
    report = collect(base, tmp_path / "b", delay=0, max_results=2, retries=3, backoff=1.5, sleep=sleeps.append)
    assert report.complete
    assert [s for s in sleeps if s in (1.5, 3.0)] == [1.5, 3.0]  # exponential backoff between the tries


def test_a_delay_between_requests(server, tmp_path):
    base, _, state = server
    sleeps: list[float] = []
    collect(base, tmp_path / "b", delay=0.25, max_results=2, sleep=sleeps.append)
    assert len(sleeps) >= len(state["log"]) - 1 and all(0 < s <= 0.25 for s in sleeps)


def test_robots_txt_is_honoured(server, tmp_path):
    base, _, state = server
    state["robots"] = "User-agent: *\nDisallow: /feeds/\n"
    with pytest.raises(PipelineError) as exc:
        collect(base, tmp_path / "b", delay=0)
    assert exc.value.problem.code == "E010" and "robots.txt" in exc.value.problem.message
    assert state["log"] == ["/robots.txt"]


def test_since_and_until(server, tmp_path):
    base, blog, _ = server
    report = collect(base, tmp_path / "b", delay=0, since="2016-01-01", until="2019-02-28")
    want = {p["tid"] for p in blog.posts if "2016-01-01" <= p["published"].date().isoformat() <= "2019-02-28"}
    assert report.posts == len(want) == 3
    threads = parse_paths([tmp_path / "b"]).threads
    assert {t.url for t in threads} == {p["url"] for p in blog.posts if p["tid"] in want}
    with pytest.raises(PipelineError):  # the folder holds another range: refused, not mixed
        collect(base, tmp_path / "b", delay=0, since="2015-01-01")


def test_cli_collect_then_parse(server, tmp_path):
    base, _, _ = server
    runner = CliRunner()
    res = runner.invoke(app, ["collect", base, "--out", str(tmp_path / "b"), "--delay", "0"])
    assert res.exit_code == 0, res.output
    assert "5 posts" in res.output
    manifest = json.loads((tmp_path / "b" / "collect.json").read_text())
    assert manifest["complete"] is True
    res = runner.invoke(app, ["parse", str(tmp_path / "b"), "--out", str(tmp_path / "run"), "-q"])
    assert res.exit_code == 0, res.output
    assert "Parsed 5 threads from 1 files" in res.output
