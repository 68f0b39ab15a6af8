"""Blogger export files (Settings > Back up content): posts become threads, comments their units."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.parse import parse_paths, to_frames

EXPORT = Path(__file__).parent / "data" / "blogger" / "export.xml"
CASELOADS = "2015-06-caseloads-in-crc"


@pytest.fixture(scope="module")
def export():
    return parse_paths([EXPORT])


def test_each_post_is_a_thread_with_title_date_url_labels(export):
    t = {x.thread_id: x for x in export.threads}
    assert sorted(t) == [CASELOADS, "post-5002"]  # no page without --include-pages, no settings, no template
    c = t[CASELOADS]
    assert (c.layout, c.title, c.post_date, c.url, c.labels, c.status) == (
        "blogger_export", "Caseloads in the CRC", "2015-06-01T10:11:00+01:00",
        "https://testprobation.blogspot.com/2015/06/caseloads-in-crc.html", ["CRC", "workload"], "live")
    assert (c.declared_comments, c.parsed_comments) == (3, 3)
    assert t["post-5002"].status == "draft"


def test_comments_hang_under_their_post_and_replies_under_their_comment(export):
    (c,) = [x for x in export.threads if x.thread_id == CASELOADS]
    got = [(u.unit_id.split("/", 1)[1], u.kind, u.parent_id.split("/", 1)[1] if u.parent_id else None, u.author,
            u.timestamp, u.text) for u in c.units]
    assert got == [
        ("post", "post", None, "Blog Host", "2015-06-01T10:11:00+01:00",
         "Our caseloads have doubled since the split.\n\nWhat is it like where you are?"),
        ("c1", "comment", "post", "Anonymous", "2015-06-01T11:05:00+01:00", "Mine went from 40 to 75.\n\nNobody listens."),
        ("c1.r1", "reply", "c1", "Jim Brown", "2015-06-01T12:40:00+01:00", "Anon 11:05 agreed, same here."),
        ("c2", "comment", "post", "Anonymous", "2015-06-01T11:30:00+01:00", "This comment has been removed by the author."),
    ]
    deleted = c.units[3]
    assert deleted.confidence == "low" and deleted.confidence_note.startswith("deleted comment")
    assert c.units[2].mentions == ["Anon 11:05"]


def test_settings_template_pages_and_drafts_are_counted_in_one_warning(export):
    (w,) = [p for p in export.problems if p.code == "W110"]
    assert "2 settings entries" in w.message and "1 template entries" in w.message
    assert "1 pages" in w.message and "1 comments on pages" in w.message and "1 drafts" in w.message
    assert not [p for p in export.problems if p.code in ("W101", "W103", "E005")]
    # no settings value became a comment
    assert not any("PUBLISH_MODE" in u.text for t in export.threads for u in t.units)


def test_pages_with_include_pages():
    result = parse_paths([EXPORT], include_pages=True)
    (page,) = [t for t in result.threads if t.status == "page"]
    assert page.thread_id == "p-about" and page.title == "About this blog"
    assert [(u.unit_id, u.text) for u in page.units] == [("p-about/post", "Written by probation staff."),
                                                         ("p-about/c1", "Who writes this blog?")]


def test_export_frames_have_labels_and_status(export):
    threads, units = to_frames(export.threads)
    assert threads.set_index("thread_id").at[CASELOADS, "labels"].tolist() == ["CRC", "workload"]
    assert list(threads["status"]) == ["live", "draft"]
    assert len(units) == 5


def _big_export(path: Path, n_settings: int, n_posts: int) -> None:
    head = EXPORT.read_text(encoding="utf-8").split("<entry>", 1)[0]
    filler = "x" * 10_000
    with path.open("w", encoding="utf-8") as f:
        f.write(head)
        for i in range(n_settings):
            f.write(f"<entry><id>tag:blogger.com,1999:blog-900.settings.S{i}</id><category "
                    "scheme='http://schemas.google.com/g/2005#kind' term='http://schemas.google.com/blogger/2008/"
                    f"kind#settings'/><content type='text'>{filler}</content></entry>\n")
        for i in range(n_posts):
            f.write(f"<entry><id>tag:blogger.com,1999:blog-900.post-{i}</id><published>2015-06-01T10:11:00.000+01:00"
                    "</published><category scheme='http://schemas.google.com/g/2005#kind' term='http://schemas.google."
                    f"com/blogger/2008/kind#post'/><title type='text'>Post {i}</title><content type='html'>Text {i}."
                    f"</content><link rel='alternate' type='text/html' href='https://b.blogspot.com/2015/06/p{i}.html'/>"
                    "</entry>\n")
        f.write("</feed>\n")


@pytest.mark.slow
def test_a_50_mb_export_streams_in_bounded_memory(tmp_path):
    """Peak memory grows by far less than the file: entries are freed as they are read."""
    big = tmp_path / "big.xml"
    _big_export(big, n_settings=5000, n_posts=500)
    assert big.stat().st_size > 50e6
    script = textwrap.dedent(f"""
        import resource, sys
        from pipeline.parse import parse_paths
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = parse_paths([{str(big)!r}])
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(len(result.threads), (after - before) // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[1]).stdout.split()
    n_threads, grew_mb = int(out[0]), int(out[1])
    assert n_threads == 500
    assert grew_mb < 20, f"peak memory grew by {grew_mb} MB while reading a 50 MB export"


def test_an_export_given_as_text_is_read_as_an_export_not_a_comment_feed():
    """The app's upload path: parse_string(kind='atom') on an export must not make settings into comments."""
    from pipeline.parse import parse_string
    threads = parse_string(EXPORT.read_text(encoding="utf-8"), kind="atom", source_file="upload.xml")
    assert sorted(t.thread_id for t in threads) == [CASELOADS, "post-5002"]
    assert not any("PUBLISH_MODE" in u.text for t in threads for u in t.units)


def _export_text(parents: list[int | None], order: list[int]) -> str:
    """An export with one post and comments i=0..n-1, comment i answering comment parents[i] (None: the post)."""
    head = EXPORT.read_text(encoding="utf-8").split("<entry>", 1)[0]
    kind = "<category scheme='http://schemas.google.com/g/2005#kind' term='http://schemas.google.com/blogger/2008/kind#{}'/>"
    post_url = "https://t.blogspot.com/2015/06/p.html"
    entries = [f"<entry><id>tag:blogger.com,1999:blog-9.post-1</id><published>2015-06-01T10:00:00.000+01:00</published>"
               f"{kind.format('post')}<title type='text'>P</title><content type='html'>Post.</content>"
               f"<link rel='alternate' type='text/html' href='{post_url}'/></entry>"]
    for i in order:  # exports do not promise any order: the parser must not rely on one
        related = (f"<link rel='related' type='application/atom+xml' href='https://www.blogger.com/feeds/9/1/comments/"
                   f"default/{100 + parents[i]}'/>" if parents[i] is not None else "")
        entries.append(f"<entry><id>tag:blogger.com,1999:blog-9.post-{100 + i}</id><published>2015-06-01T11:{i:02d}:00"
                       f".000+01:00</published>{kind.format('comment')}<content type='html'>comment {i}</content>"
                       f"{related}<author><name>A{i}</name></author><thr:in-reply-to href='{post_url}' "
                       "ref='tag:blogger.com,1999:blog-9.post-1' type='text/html'/></entry>")
    return head + "\n".join(entries) + "</feed>\n"


@st.composite
def trees(draw):
    n = draw(st.integers(1, 12))
    parents = [None] + [draw(st.one_of(st.none(), st.integers(0, i - 1))) for i in range(1, n)]
    order = draw(st.permutations(range(n)))
    return parents, order


@settings(max_examples=40, deadline=None)
@given(trees())
def test_any_reply_tree_in_any_entry_order_comes_back(tree):
    from pipeline.parse import parse_string
    parents, order = tree
    (t,) = parse_string(_export_text(parents, order), kind="atom")
    by_text = {u.text: u for u in t.units}
    for i, p in enumerate(parents):
        u = by_text[f"comment {i}"]
        want = t.units[0].unit_id if p is None else by_text[f"comment {p}"].unit_id
        assert u.parent_id == want and u.author == f"A{i}"
        assert u.kind == ("comment" if p is None else "reply")
    # reading order: every reply after its parent, siblings oldest first
    pos = {u.unit_id: u.position for u in t.units}
    assert all(pos[u.parent_id] < u.position for u in t.units[1:])


def test_cli_parse_with_include_pages_and_a_time_zone(tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.store import read_parquet
    runner = CliRunner()
    res = runner.invoke(app, ["parse", str(EXPORT), "--out", str(tmp_path / "run"), "--include-pages",
                              "--tz", "America/New_York", "-q"])
    assert res.exit_code == 0, res.output
    threads = read_parquet(tmp_path / "run" / "threads.parquet")
    assert sorted(threads["status"]) == ["draft", "live", "page"]
    res = runner.invoke(app, ["parse", str(EXPORT), "--out", str(tmp_path / "run2"), "--tz", "Mars/Olympus"])
    assert res.exit_code == 2 and "unknown time zone" in res.output


def test_a_posts_feed_alone_is_refused_with_advice(tmp_path):
    from pipeline.errors import PipelineError
    from pipeline.parse import parse_string
    posts_feed = EXPORT.read_text(encoding="utf-8").replace("kind#", "kindx#")  # no kinds: like the public feed
    with pytest.raises(PipelineError) as exc:
        parse_string(posts_feed, kind="atom")
    assert exc.value.problem.code == "E005" and "collect" in exc.value.problem.fix
