"""Hostile and damaged input (issue 13): bad characters never stop a file, XML entities never resolve."""

from __future__ import annotations

import json

import pytest

from pipeline.parse import parse_paths, parse_string, to_frames
from pipeline.store import write_parquet

ATOM_HEAD = ("<?xml version='1.0' encoding='UTF-8'?>\n{doctype}"
             "<feed xmlns='http://www.w3.org/2005/Atom' xmlns:thr='http://purl.org/syndication/thread/1.0'>\n"
             "<title type='text'>Comments on On Probation: Entities</title>\n")


def _entry(cid: str, text: str) -> str:
    return (f"<entry>\n<id>tag:blogger.com,1999:blog-1.post-{cid}</id>\n"
            f"<published>2015-04-23T08:02:00.000+01:00</published>\n"
            f"<content type='html'>{text}</content>\n<author><name>Anonymous</name></author>\n</entry>\n")


def _feed(entries: str, doctype: str = "") -> str:
    return ATOM_HEAD.format(doctype=doctype) + entries + "</feed>\n"


# ---------------------------------------------------------------- lone surrogates and bad bytes

def test_lone_surrogate_in_jsonl_becomes_replacement_char_and_the_run_is_written(tmp_path):
    rows = [{"thread_id": "s", "comment_id": "p", "kind": "post", "text": "The post."},
            {"thread_id": "s", "comment_id": "1", "text": "bad \ud800 char", "author": "A\udc00n"},
            {"thread_id": "s", "comment_id": "2", "text": "fine"}]
    # json.dumps writes the surrogate as the escape '\ud800', exactly what a broken exporter produces
    (tmp_path / "s.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    (tmp_path / "other.jsonl").write_text(json.dumps({"thread_id": "o", "comment_id": "1", "text": "ok"}) + "\n")
    result = parse_paths([tmp_path])
    units = {u.unit_id: u for t in result.threads for u in t.units}
    assert units["s/c1"].text == "bad \ufffd char" and units["s/c1"].author == "A\ufffdn"
    assert units["s/c2"].text == "fine" and "o/c1" in units  # the rest of the file and the other file
    (w,) = [p for p in result.problems if p.code == "W106"]
    assert w.file.endswith("s.jsonl") and w.line == 2 and "s/c1" in w.message
    threads, units_df = to_frames(result.threads)
    write_parquet(units_df, tmp_path / "units.parquet")  # raised UnicodeEncodeError before
    assert (tmp_path / "units.parquet").stat().st_size > 0


def test_undecodable_bytes_in_a_utf8_file_become_replacement_chars(tmp_path):
    good = "Thursday 23 April 2015\n\nTitle\n\nCafé au lait \u2013 the post.\n".encode()
    (tmp_path / "t.txt").write_bytes(good + b"A broken \xff\xfe byte pair.\n")
    result = parse_paths([tmp_path])
    (thread,) = result.threads
    assert "Café au lait \u2013 the post." in thread.units[0].text  # still read as UTF-8, not Windows-1252
    assert "A broken \ufffd\ufffd byte pair." in thread.units[0].text
    (w,) = [p for p in result.problems if p.code == "W106"]
    assert w.line == 6


def test_windows_1252_file_is_still_read_as_such(tmp_path):
    (tmp_path / "w.txt").write_bytes("Thursday 23 April 2015\n\nTitle\n\nCaf\u00e9 \u201cquoted\u201d.\n".encode("cp1252"))
    result = parse_paths([tmp_path])
    assert "Café “quoted”." in result.threads[0].units[0].text
    assert "E003" in [p.code for p in result.problems] and "W106" not in [p.code for p in result.problems]


# ---------------------------------------------------------------- XML entities

def test_text_around_an_undefined_entity_is_kept_and_the_entity_dropped_with_a_warning():
    (t,) = parse_string(_feed(_entry("1", "before &amp;amp; &xxe; after &#233;t&#xe9;")), kind="atom",
                        source_file="f.xml")
    assert t.units[1].text == "before & after été"
    (w,) = [p for p in t.problems if p.code == "W107"]
    assert "&xxe;" in w.message and w.file == "f.xml" and w.line == 7


def test_external_entities_are_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    doctype = (f"<!DOCTYPE feed [<!ENTITY xxe SYSTEM \"file://{secret}\">"
               "<!ENTITY inner \"INTERNAL-MARKER\">]>\n")
    feed = _feed(_entry("1", "before &xxe; middle &inner; after"), doctype=doctype)
    (t,) = parse_string(feed, kind="atom")
    everything = " ".join([t.title or ""] + [u.text for u in t.units])
    assert "TOP-SECRET-MARKER" not in everything and "INTERNAL-MARKER" not in everything
    assert "before" in t.units[1].text and "middle" in t.units[1].text and "after" in t.units[1].text
    assert sorted(p.code for p in t.problems) == ["W107", "W107"]


def test_character_reference_to_a_surrogate_in_a_feed_is_replaced():
    (t,) = parse_string(_feed(_entry("1", "x &#xD800; y") + _entry("2", "next")), kind="atom", source_file="f.xml")
    assert [u.text for u in t.units[1:]] == ["x \ufffd y", "next"]
    assert [(p.code, p.line) for p in t.problems] == [("W106", 7)]


def test_truncated_feed_is_still_an_error():
    from pipeline.errors import PipelineError
    with pytest.raises(PipelineError) as exc:
        parse_string(_feed(_entry("1", "text"))[:-30], kind="atom")
    assert exc.value.problem.code == "E006"
