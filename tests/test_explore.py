"""The explorer's data functions (pipeline/explore.py): filters, summaries, safe HTML,
pseudonyms, KWIC, log-odds, the annotation queue and the exports."""

from __future__ import annotations

import io
import json
import re
import zipfile
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipeline import explore as ex
from pipeline.codebook import load_codebook
from pipeline.paths import CODEBOOK_PATH

from test_app import build_app_data  # the explorer's test run (seed threads + a hostile thread), built once


@pytest.fixture(scope="session")
def app_run(tmp_path_factory):
    return build_app_data(tmp_path_factory.getbasetemp())["run"]


@pytest.fixture(scope="module")
def cb():
    return load_codebook(CODEBOOK_PATH)


def make_df(cb, rows: list[dict]) -> pd.DataFrame:
    """A small unit table in the shape read_run gives (themes as th__ columns)."""
    recs = []
    for i, r in enumerate(rows):
        themes = r.get("themes", [])
        rec = {"unit_id": r.get("unit_id", f"t/c{i}"), "thread_id": r.get("thread_id", "t"),
               "kind": r.get("kind", "comment"),
               "parent_id": r.get("parent_id"), "depth": r.get("depth", 1), "position": i, "author": r.get("author"),
               "timestamp": None, "text": r.get("text", f"text {i}"),
               "own_text": r.get("own_text", r.get("text", f"text {i}")),
               "word_count": 2, "confidence": r.get("confidence", "high"), "confidence_note": "", "link_only": False,
               "stance_tr": r.get("stance_tr", "none"), "reply_stance": r.get("reply_stance", "comment"),
               "date": pd.Timestamp(r["date"]) if r.get("date") else pd.NaT, "title": "T"}
        for code in cb.all_labels:
            rec[f"p_{code}"] = r.get("p", {}).get(code, 0.0)
        for c in cb.theme_names:
            rec[ex.theme_col(c)] = c in themes
        recs.append(rec)
    df = pd.DataFrame(recs)
    m = np.column_stack([df[ex.theme_col(c)].to_numpy(bool) for c in cb.theme_names])
    df["n_themes"] = m.sum(axis=1)
    df["themes_str"] = ex.themes_string(m, cb.theme_names)
    df["p_theme_max"] = df[[f"p_{c}" for c in cb.theme_names]].max(axis=1)
    return df


# --- reading a run -----------------------------------------------------------------------------

def test_theme_matrix_from_arrow_lists(cb):
    codes = cb.theme_names
    arr = pa.array([[codes[0]], [], [codes[1], codes[0]], None], type=pa.list_(pa.string()))
    m = ex.theme_matrix(arr, codes)
    assert m.shape == (4, len(codes))
    assert m[0].tolist() == [True] + [False] * (len(codes) - 1)
    assert not m[1].any() and not m[3].any()
    assert m[2, 0] and m[2, 1]
    assert ex.theme_matrix([[codes[2]], []], codes)[0, 2]


def test_read_run_flat_table(cb, app_run):
    data = ex.read_run(app_run, cb)
    df = data["units"]
    labels = pd.read_parquet(app_run / "labels.parquet")
    assert len(df) == len(labels)
    for c in cb.theme_names:  # never a hard-coded theme list
        assert df[ex.theme_col(c)].sum() == labels["themes"].map(lambda t, c=c: c in t).sum()
    assert "evidence" not in df  # read on demand
    assert df["date"].notna().any() and df["title"].notna().any()
    assert (df["themes_str"] != "").sum() == (df["n_themes"] > 0).sum()
    assert ex.run_signature(app_run) == ex.run_signature(app_run)


def test_read_run_without_labels(cb, app_run, tmp_path):
    run = tmp_path / "parse_only"
    run.mkdir()
    for name in ("units.parquet", "threads.parquet"):  # a file, or a chunked run's folder of parts
        pd.read_parquet(app_run / name).to_parquet(run / name)
    data = ex.read_run(run, cb)
    assert not data["has_labels"]
    assert (data["units"]["n_themes"] == 0).all()


def test_read_column_subset(app_run):
    s = ex.read_column(app_run, "labels", "evidence", ["000/post"])
    assert list(s.index) == ["000/post"] and isinstance(json.loads(s.iloc[0]), dict)
    assert ex.read_column(app_run, "labels", "no_such_column").empty


# --- filters and summaries -----------------------------------------------------------------------

def test_filters(cb):
    w, c = cb.theme_names[0], cb.theme_names[1]
    df = make_df(cb, [
        {"themes": [w], "stance_tr": "against", "p": {w: 0.9}, "author": "A", "text": "The caseload is huge"},
        {"themes": [w, c], "p": {w: 0.7, c: 0.8}, "kind": "reply", "thread_id": "u"},
        {"themes": [], "p": {w: 0.4}, "text": "nothing here", "confidence": "low"},
        {"themes": [c], "stance_tr": "favour", "p": {c: 0.95}},
    ])
    m = lambda **kw: ex.filter_mask(df, ex.Filters(**kw)).nonzero()[0].tolist()  # noqa: E731
    assert m() == [0, 1, 2, 3]
    assert m(themes=(w,)) == [0, 1]
    assert m(themes=(w, c)) == [0, 1, 3]
    assert m(themes=(w, c), theme_mode="all") == [1]
    assert m(themes=(w,), min_prob=0.3) == [0, 1, 2]  # probability rule reaches borderline units
    assert m(no_theme=True) == [2]
    assert m(stance_tr=("against", "favour")) == [0, 3]
    assert m(kinds=("reply",)) == [1]
    assert m(threads=("u",)) == [1]
    assert m(authors=("A",)) == [0]
    assert m(text="CASELOAD") == [0]
    assert m(text="case.oad", regex=True) == [0]
    assert m(text="case.oad") == []  # plain text, not a pattern
    assert m(text="([unclosed", regex=True) == []  # an unfinished regex matches nothing, no error
    assert m(low_confidence_only=True) == [2]
    assert "themes" in ex.Filters(themes=(w,)).describe() and ex.Filters().describe() == "all units"


def test_sort_and_page(cb):
    w = cb.theme_names[0]
    df = make_df(cb, [{"p": {w: p}} for p in (0.1, 0.9, 0.5)])
    assert ex.sort_units(df, "highest theme probability")["p_theme_max"].tolist() == [0.9, 0.5, 0.1]
    assert len(ex.page_slice(df, 1, 2)) == 2 and len(ex.page_slice(df, 2, 2)) == 1
    assert len(ex.page_slice(df, 99, 2)) == 1  # clamped to the last page


def test_prevalence_stance_cooccurrence(cb):
    a, b = cb.theme_names[0], cb.theme_names[1]
    df = make_df(cb, [{"themes": [a], "stance_tr": "against"}, {"themes": [a, b], "stance_tr": "none"},
                      {"themes": []}, {"themes": [b], "stance_tr": "against"}])
    prev = ex.theme_prevalence(df, cb).set_index("theme")
    assert prev.at[a, "units"] == 2 and prev.at[a, "share"] == 0.5 and prev.at["(none)", "units"] == 1
    st = ex.stance_by_theme(df, cb, "stance_tr")
    row = st[(st["theme"] == a) & (st["value"] == "against")].iloc[0]
    assert row["units"] == 1 and row["total"] == 2 and row["share"] == 0.5
    assert set(st["value"]) == set(cb.values("stance_tr"))
    co = ex.cooccurrence(df, cb)
    assert co.at[a, b] == co.at[b, a] == 1 and co.at[a, a] == 2
    jac = ex.cooccurrence(df, cb, "jaccard")
    assert jac.at[a, b] == pytest.approx(1 / 3) and jac.at[a, a] == 1
    cond = ex.cooccurrence(df, cb, "conditional")
    assert cond.at[a, b] == pytest.approx(0.5)


def test_time_series_and_milestones(cb):
    a = cb.theme_names[0]
    df = make_df(cb, [{"themes": [a], "date": "2014-07-01", "stance_tr": "against"}, {"date": "2014-08-01"},
                      {"themes": [a], "date": "2016-01-05"}, {"themes": [a]}])  # the last has no date
    ts = ex.time_series(df, cb, "Q", "themes")
    s = ts[ts["series"] == a].set_index("period")
    assert s.loc[pd.Timestamp("2014-07-01"), "share"] == 0.5
    assert s.loc[pd.Timestamp("2016-01-01"), "share"] == 1.0
    assert ts["total"].groupby(ts["period"]).first().sum() == 3
    st = ex.time_series(df, cb, "Y", "stance_tr")
    assert set(st["series"]) == set(cb.values("stance_tr"))
    ms = ex.milestones_frame()
    assert ms["date"].dt.strftime("%Y-%m").tolist() == ["2014-06", "2015-02", "2018-07"]


def test_gold_view_replaces_codes(cb):
    a, b = cb.theme_names[0], cb.theme_names[1]
    df = make_df(cb, [{"unit_id": "t/c1", "themes": [a]}, {"unit_id": "t/c2", "themes": [b]}])
    gold = pd.DataFrame([{"unit_id": "t/c2", "themes": [a], "stance_tr": "against", "reply_stance": None}])
    g = ex.gold_view(df, gold, cb)
    assert g["unit_id"].tolist() == ["t/c2"]
    assert g[ex.theme_col(a)].tolist() == [True] and g[ex.theme_col(b)].tolist() == [False]
    assert g["pred__" + ex.theme_col(b)].tolist() == [True]
    assert g["stance_tr"].tolist() == ["against"] and g["themes_str"].tolist() == [a]
    assert ex.gold_view(df, None, cb).empty


# --- safe HTML and evidence -------------------------------------------------------------------

def test_highlight_escapes_before_wrapping():
    text = "<script>alert(1)</script> **bold** [x](javascript:alert(1)) & the caseload is huge."
    start = text.index("the caseload")
    spans = [ex.Span(start, len(text), "workload", ("caseload",))]
    out = ex.highlight_html(text, spans, colours={"workload": "#1f77b4"})
    assert "<script" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "**bold**" in out and "[x](javascript:alert(1))" in out  # shown literally: no Markdown involved
    assert "&amp; " in out
    assert re.search(r"<mark [^>]*>the caseload is huge\.</mark>", out)
    # Only our own tags: div and mark.
    assert set(re.findall(r"<(\w+)", out)) == {"div", "mark"}


def test_highlight_span_with_markup_inside_is_escaped():
    text = 'a <img src=x onerror="alert(1)"> b'
    out = ex.highlight_html(text, [ex.Span(0, len(text), "x")])
    assert "<img" not in out and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in out


def test_overlapping_spans_and_truncation():
    text = "one two three four"
    spans = [ex.Span(0, 7, "a"), ex.Span(4, 13, "b")]
    out = ex.highlight_html(text, spans)
    assert out.count("<mark") == 3  # 'one ', 'two' (both), ' three'
    assert 'title="a, b"' in out
    short = ex.highlight_html(text, spans, max_chars=5)
    assert "three" not in short and "&hellip;" in short


def test_evidence_spans_offsets_and_quotes():
    own = "First sentence. The caseload is too high."
    ev = json.dumps({"workload": [{"sentence": "The caseload is too high.", "start": 16, "end": 41,
                                   "cues": ["caseload"], "model_weight": 0.0}], "none": []})
    spans = ex.evidence_spans(own, own, ev)
    assert [(s.start, s.end, s.code) for s in spans] == [(16, 41, "workload")]
    # With a quotation removed from own_text, the sentence is found in the full text.
    text = '"Quoted words from someone else here today" ' + own
    spans = ex.evidence_spans(text, own, ev)
    assert text[spans[0].start:spans[0].end] == "The caseload is too high."
    assert ex.evidence_spans(text, own, "not json") == []
    assert ex.evidence_spans(text, own, json.dumps({"x": [{"sentence": "absent"}]})) == []


def test_labels_html_and_md_escape(cb):
    a = cb.theme_names[0]
    out = ex.labels_html({ex.theme_col(a): True, "stance_tr": "against", "reply_stance": "query"}, cb)
    assert cb.themes[a].label in out and "TR: against" in out and "reply: query" in out
    assert ex.md_escape("**x** <b>[y](z)</b>") == r"\*\*x\*\* &lt;b&gt;\[y\]\(z\)&lt;/b&gt;"


# --- pseudonyms ----------------------------------------------------------------------------------

def test_collect_names_and_pseudonymise():
    names = ex.collect_names(["Alice Example", None, "Anonymous", "Bob", "Alice Example"],
                             [["Anon 10:20", "Jim"], [], None, ["18:33"]])
    assert names == ["Alice Example", "Bob", "Jim"]
    p = ex.Pseudonymiser(names)
    assert p.name("Bob") == "Commenter 2" and p.name("Anonymous") == "Anonymous"
    assert p.text("Jim said Bob and Alice Example agree; Bobby and jim stay.") == \
        "Commenter 3 said Commenter 2 and Commenter 1 agree; Bobby and jim stay."
    assert not ex.Pseudonymiser([]) and ex.Pseudonymiser([]).text("Bob") == "Bob"


def test_pseudonymise_offsets_follow_the_text():
    p = ex.Pseudonymiser(["Al", "Bob"])
    text = "Al wrote: the caseload is high. Bob agrees."
    new, remap = p.text_and_offsets(text)
    s, e = text.index("the caseload"), text.index("high.") + 5
    assert new[remap(s):remap(e)] == "the caseload is high."
    out = ex.highlight_html(text, [ex.Span(s, e, "workload")], pseudonymiser=p)
    assert "Commenter 1 wrote" in out and "Bob" not in out
    assert re.search(r"<mark [^>]*>the caseload is high\.</mark>", out)


def test_pseudonymise_frame_and_evidence():
    p = ex.Pseudonymiser(["Alice"])
    own = "Alice says the caseload is high."
    ev = json.dumps({"workload": [{"sentence": own, "start": 0, "end": len(own), "cues": ["caseload"]}]})
    df = pd.DataFrame({"author": ["Alice"], "text": [own], "own_text": [own], "mentions": [["Alice"]],
                       "quoted_text": [["Alice wrote this"]], "evidence": [ev]})
    out = p.frame(df)
    assert out.at[0, "author"] == "Commenter 1" and "Alice" not in out.at[0, "text"]
    assert out.at[0, "mentions"] == ["Commenter 1"] and out.at[0, "quoted_text"] == ["Commenter 1 wrote this"]
    item = json.loads(out.at[0, "evidence"])["workload"][0]
    assert "Alice" not in item["sentence"]
    assert out.at[0, "own_text"][item["start"]:item["end"]] == item["sentence"]
    assert df.at[0, "author"] == "Alice"  # the input is not modified


# --- threads -------------------------------------------------------------------------------------

def test_thread_units_depth_first(cb):
    df = make_df(cb, [{"unit_id": "t/post", "kind": "post", "depth": 0},
                      {"unit_id": "t/c1", "parent_id": "t/post"}, {"unit_id": "t/c2", "parent_id": "t/post"},
                      {"unit_id": "t/c1.r1", "parent_id": "t/c1", "kind": "reply", "depth": 2}])
    df = df.iloc[[0, 1, 2, 3]]
    df.loc[df["unit_id"] == "t/c1.r1", "position"] = 9  # appears last in the file, belongs after c1
    assert ex.thread_units(df, "t")["unit_id"].tolist() == ["t/post", "t/c1", "t/c1.r1", "t/c2"]
    out = ex.thread_tree_html(ex.thread_units(df, "t"), cb)
    assert out.count("margin:0 0 0.5em") == 4 and "t/c1.r1" in out


# --- words ------------------------------------------------------------------------------------

def test_tokenize_and_lemmas():
    assert ex.tokenize("Caseloads, don’t 2014 co-working!") == ["caseloads", "don't", "co-working"]
    assert ex.lemma_of("caseloads") == "caseload"
    forms = ex.lemma_forms("went")
    assert {"go", "went", "goes", "going"} <= forms


def test_kwic_word_and_lemma():
    texts = pd.Series({"a": "My caseload is big. Caseloads grow.", "b": "No match here", "c": "The caseloader"},
                      name="text")
    word = ex.kwic(texts, "caseload", window=10)
    assert word["unit_id"].tolist() == ["a"] and word["keyword"].tolist() == ["caseload"]
    assert word.iloc[0]["left"] == "My" and word.iloc[0]["right"].startswith("is big")
    lemma = ex.kwic(texts, "caseload", lemma=True)
    assert lemma["keyword"].tolist() == ["caseload", "Caseloads"]
    assert ex.kwic(texts, "is big", window=5)["keyword"].tolist() == ["is big"]
    assert ex.kwic(texts, "  ").empty
    assert len(ex.kwic(pd.Series({"x": "a a a a"}), "a", max_lines=2)) == 2


def test_log_odds_matches_the_formula():
    y_i = np.array([10.0, 0.0, 5.0])
    y_j = np.array([2.0, 8.0, 5.0])
    delta, z = ex.log_odds_dirichlet(y_i, y_j, alpha0=30.0)
    a = 30.0 * (y_i + y_j) / (y_i + y_j).sum()
    n_i, n_j, a0 = y_i.sum(), y_j.sum(), a.sum()
    want = np.log((y_i + a) / (n_i + a0 - y_i - a)) - np.log((y_j + a) / (n_j + a0 - y_j - a))
    np.testing.assert_allclose(delta, want)
    np.testing.assert_allclose(z, want / np.sqrt(1 / (y_i + a) + 1 / (y_j + a)))
    assert z[0] > 0 > z[1]  # word 0 typical of group i, word 1 of group j
    d2, z2 = ex.log_odds_dirichlet(y_j, y_i, alpha0=30.0)
    np.testing.assert_allclose(z2, -z)  # symmetric
    _, z_eq = ex.log_odds_dirichlet(np.array([5.0, 5.0]), np.array([5.0, 5.0]))
    np.testing.assert_allclose(z_eq, 0, atol=1e-12)
    # More prior weight shrinks the estimate toward zero.
    assert abs(ex.log_odds_dirichlet(y_i, y_j, alpha0=1000.0)[0][0]) < abs(delta[0])


def test_distinctive_terms():
    texts = ["caseload caseload staff", "caseload too high staff", "drugs testing", "drugs methadone testing",
             "the the", "the the"]
    X, vocab = ex.term_counts(texts, min_count=1)
    mask = np.array([True, True, False, False, False, False])
    out = ex.distinctive_terms(X, vocab, mask, alpha0=10, top=3)
    group = out[out["side"] == "group"]
    assert group.iloc[0]["term"] == "caseload" and group.iloc[0]["group_count"] == 3
    assert (out[out["side"] == "rest"]["z"] < 0).all()
    assert ex.distinctive_terms(X, vocab, np.zeros(6, bool)).empty
    Xs, vs = ex.term_counts(texts, min_count=1, stop_words={"the"})
    assert "the" not in set(vs)
    Xl, vl = ex.term_counts(["caseloads caseload"], lemmas=True, min_count=1)
    assert list(vl) == ["caseload"] and Xl.sum() == 2


# --- annotation queue ------------------------------------------------------------------------

def test_uncertainty_and_queue(cb):
    a = cb.theme_names[0]
    sure = {a: 0.99, "none": 0.98, "against": 0.01, "favour": 0.01, "comment": 0.97}
    unsure = {a: 0.5, "none": 0.98, "against": 0.01, "favour": 0.01, "comment": 0.97}
    df = make_df(cb, [{"unit_id": "t/c1", "p": sure}, {"unit_id": "t/c2", "p": unsure},
                      {"unit_id": "u/c1", "thread_id": "u", "p": sure}])
    u = ex.uncertainty(df, cb)
    assert u.iloc[1] == pytest.approx(1.0) and u.iloc[0] < 0.2
    assert ex.uncertainty(df, cb, {a: 0.99}).iloc[0] == pytest.approx(1.0)  # at its threshold
    assert ex.annotation_queue(df, cb, order="uncertain")[0] == "t/c2"
    assert ex.annotation_queue(df, cb, order="uncertain", done={"t/c2"})[0] != "t/c2"  # resume: labelled drop out
    assert "t/c2" in ex.annotation_queue(df, cb, done={"t/c2"}, include_done=True)
    # the default is a random order, fixed by the seed and independent of the table's row order
    rnd = ex.annotation_queue(df, cb, seed=7)
    assert sorted(rnd) == ["t/c1", "t/c2", "u/c1"] and rnd == ex.annotation_queue(df.iloc[::-1], cb, seed=7)
    assert len({tuple(ex.annotation_queue(df, cb, seed=s)) for s in range(20)}) > 1
    assert "t/c2" not in ex.annotation_queue(df, cb, done={"t/c2"})
    assert ex.annotation_queue(df, cb, order="thread") == ["t/c1", "t/c2", "u/c1"]
    assert ex.annotation_queue(df, cb, order="thread", thread="u") == ["u/c1"]


# --- exports -------------------------------------------------------------------------------------

def test_export_formats_round_trip(cb, app_run):
    df = ex.read_run(app_run, cb)["units"].head(15)
    ev = ex.read_column(app_run, "labels", "evidence", df["unit_id"])
    out = ex.export_frame(df, cb, extra={"evidence": ev})
    assert {"themes", "stance_tr", "reply_stance", "evidence", "label_source", *cb.theme_names} <= set(out.columns)
    assert out["themes"].map(len).sum() == df["n_themes"].sum()
    csv = pd.read_csv(io.BytesIO(ex.to_csv_bytes(out)))
    assert len(csv) == 15 and csv["unit_id"].tolist() == df["unit_id"].tolist()
    pq_back = pd.read_parquet(io.BytesIO(ex.to_parquet_bytes(out)))
    assert [list(t) for t in pq_back["themes"]] == out["themes"].tolist()
    lines = ex.to_jsonl_bytes(out).decode().splitlines()
    assert len(lines) == 15 and json.loads(lines[0])["themes"] == out.at[0, "themes"]


def test_export_pseudonymised(cb):
    df = make_df(cb, [{"author": "Alice", "text": "Bob is right"}, {"author": "Bob", "text": "Thanks Alice"}])
    p = ex.Pseudonymiser(["Alice", "Bob"])
    out = ex.export_frame(df, cb, pseudonymiser=p)
    blob = ex.to_csv_bytes(out).decode()
    assert "Alice" not in blob and "Bob" not in blob and "Commenter 2 is right" in blob


QDA = "{urn:QDA-XML:project:1.0}"
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_refi_qda_project_structure(cb, app_run):
    df = ex.read_run(app_run, cb)["units"]
    df = df[df["thread_id"].isin(["000", "001"])]
    data = ex.refi_qda_project(df, cb, project_name="test")
    assert data == ex.refi_qda_project(df, cb, project_name="test")  # deterministic bytes
    zf = zipfile.ZipFile(io.BytesIO(data))
    names = zf.namelist()
    assert names[0] == "project.qde" and all(n.startswith("sources/") and n.endswith(".txt") for n in names[1:])
    root = ET.fromstring(zf.read("project.qde"))
    assert root.tag == f"{QDA}Project" and root.get("name") == "test"
    assert [c.tag for c in root] == [f"{QDA}Users", f"{QDA}CodeBook", f"{QDA}Sources"]  # schema order
    codes = root.findall(f".//{QDA}Code")
    by_name = {c.get("name"): c for c in codes}
    for t in cb.themes.values():
        assert by_name[t.label].get("isCodable") == "true"
    assert by_name["stance_tr"].get("isCodable") == "false"
    code_guids = {c.get("guid") for c in codes}
    assert all(GUID_RE.match(g) for g in code_guids) and len(code_guids) == len(codes)
    sources = root.findall(f"{QDA}Sources/{QDA}TextSource")
    assert len(sources) == 2
    n_sel = 0
    for src in sources:
        path = src.get("plainTextPath")
        assert path.startswith("internal://") and f"sources/{path[len('internal://'):]}" in names
        text = zf.read(f"sources/{path[len('internal://'):]}").decode("utf-8")
        assert [c.tag for c in src][0] == f"{QDA}Description"
        for sel in src.findall(f"{QDA}PlainTextSelection"):
            n_sel += 1
            s, e = int(sel.get("startPosition")), int(sel.get("endPosition"))
            unit = df[df["unit_id"] == sel.get("name")].iloc[0]
            assert text[s:e] == unit["text"]  # character offsets of the unit's text
            refs = [c.find(f"{QDA}CodeRef").get("targetGUID") for c in sel.findall(f"{QDA}Coding")]
            assert set(refs) <= code_guids
            assert len(refs) == unit["n_themes"] + 2  # its themes and both stance values
    assert n_sel == len(df)


def test_refi_qda_pseudonymised_offsets(cb):
    df = make_df(cb, [{"unit_id": "t/c1", "author": "Alice", "text": "Alice here: <b>bold</b> & more"},
                      {"unit_id": "t/c2", "author": "Bob", "text": "Thanks Alice", "themes": [cb.theme_names[0]]}])
    data = ex.refi_qda_project(df, cb, pseudonymiser=ex.Pseudonymiser(["Alice", "Bob"]))
    zf = zipfile.ZipFile(io.BytesIO(data))
    text = zf.read([n for n in zf.namelist() if n.startswith("sources/")][0]).decode()
    assert "Alice" not in text and "Bob" not in text and "<b>bold</b> & more" in text  # raw text file
    root = ET.fromstring(zf.read("project.qde"))
    sels = root.findall(f".//{QDA}PlainTextSelection")
    s, e = int(sels[1].get("startPosition")), int(sels[1].get("endPosition"))
    assert text[s:e] == "Thanks Commenter 1"


def test_png_charts(cb, app_run):
    df = ex.read_run(app_run, cb)["units"]
    for png in (ex.png_prevalence(ex.theme_prevalence(df, cb)), ex.png_stance_by_theme(ex.stance_by_theme(df, cb)),
                ex.png_cooccurrence(ex.cooccurrence(df, cb)), ex.png_time_series(ex.time_series(df, cb))):
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
