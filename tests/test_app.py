"""The Streamlit explorer (app.py) driven by streamlit.testing.v1.AppTest.

One run is built per session in a temporary folder with the 'rules' model: the five seed
threads plus a hostile thread whose comments hold <script>, HTML and Markdown tricks and
named commenters.  The app is pointed at it (and at temporary gold-label and annotation
files) with environment variables.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
SEEDS = ROOT / "corpora" / "probation_blog" / "raw"
ENV_KEYS = ("PROBATION_TR_RUN", "PROBATION_TR_ANNOTATIONS", "PROBATION_TR_LABELS", "PROBATION_TR_MODEL",
            "PROBATION_TR_CORPUS")

HOSTILE = [
    {"thread_id": "evil", "comment_id": "p", "kind": "post", "author": "Blog Host", "post_date": "2016-05-01",
     "title": "<b>Bold</b> title & <script>alert('title')</script>",
     "text": "Guest post about caseloads under TR. Our caseload is unmanageable and we are short staffed."},
    {"thread_id": "evil", "comment_id": "1", "author": "Alice Example", "timestamp": "2016-05-01T10:00",
     "text": "<script>alert('xss')</script> **not bold** [click me](javascript:alert(1)) "
             "![img](http://example.invalid/x.png)\n# Not a heading\n"
             "The caseload is unmanageable and nobody answers the phone, no response at all."},
    {"thread_id": "evil", "comment_id": "2", "parent_id": "1", "author": "Bob Sample", "timestamp": "2016-05-01T11:00",
     "text": "I agree with Alice Example, <img src=x onerror=alert(2)> the paperwork takes all day."},
    {"thread_id": "evil", "comment_id": "3", "author": "Carol Third", "timestamp": "2016-05-02T09:00",
     "text": "TR was a disaster from day one; Bob Sample is right about <iframe src='javascript:alert(3)'></iframe> "
             "the workload."},
]


def _evaluation() -> dict:
    """An evaluation.json in the shape the evaluate stage writes (metrics under 'main')."""
    return {
        "title": "test evaluation", "description": "hand-made for the app tests",
        "command": "python -m pipeline evaluate",
        "main": {"summary": {"n_units": 20,
                             "themes": {"macro_f1": 0.5, "micro_f1": 0.6, "macro_f1_ci_units": [0.3, 0.7]}},
                 "per_label": [{"scheme": "themes", "label": "workload", "precision": 0.5, "recall": 1.0, "f1": 0.667,
                                "support": 2, "predicted": 4, "f1_ci_units": [0.2, 0.9]},
                               {"scheme": "stance_tr", "label": "against", "precision": 1.0, "recall": 0.5, "f1": 0.667,
                                "support": 2, "predicted": 1}],
                 "confusion": {"stance_tr": {"labels": ["against", "favour", "none"],
                                             "matrix": [[1, 0, 1], [0, 0, 0], [0, 0, 18]]}}},
        "baselines": {"rules": {"themes": {"macro_f1": 0.4}}},
        "agreement": [{"pair": "coder_a vs gold", "n_units": 5, "themes": {"workload": {"kappa": 0.8}},
                       "stance_tr": {"kappa": 0.5, "alpha": 0.4}, "themes_all": {"alpha": 0.7}}],
        "errors": [{"label": "workload", "scheme": "themes", "type": "false_positive", "unit_id": "evil/c1", "p": 0.9,
                    "text": "<script>alert('xss')</script> ..."},
                   {"label": "against", "scheme": "stance_tr", "type": "false_negative", "unit_id": "000/c4", "p": 0.1,
                    "text": "MAPPA ..."}],
    }


def build_app_data(base: Path) -> dict:
    """Build (once per session folder) the corpus, run, gold labels and evaluation the app tests use."""
    from pipeline.runs import run_all

    root = Path(base) / "app_data"
    paths = {"root": root, "corpus": root / "corpus", "run": root / "runs" / "probation_blog",
             "labels": root / "labels.jsonl", "annotations": root / "annotations.jsonl"}
    if (paths["run"] / "labels.parquet").exists():
        return paths
    corpus = paths["corpus"]
    corpus.mkdir(parents=True, exist_ok=True)
    for f in SEEDS.iterdir():
        shutil.copy(f, corpus / f.name)
    (corpus / "evil.jsonl").write_text("\n".join(json.dumps(r) for r in HOSTILE) + "\n", encoding="utf-8")
    run_all([corpus], paths["run"], model_dir="rules")
    gold = [{"unit_id": "000/post", "annotator": "gold", "themes": ["communication_failure"], "stance_tr": "against",
             "reply_stance": "comment"},
            {"unit_id": "000/c1", "annotator": "gold", "themes": [], "stance_tr": "none", "reply_stance": "query"},
            {"unit_id": "000/c4", "annotator": "gold", "themes": [], "stance_tr": "against", "reply_stance": "comment"},
            {"unit_id": "evil/c1", "annotator": "gold", "themes": ["workload", "communication_failure"],
             "stance_tr": "none", "reply_stance": "comment", "note": "gold note **x**"},
            {"unit_id": "evil/c2", "annotator": "gold", "themes": ["workload"], "stance_tr": "against",
             "reply_stance": "comment"},
            {"unit_id": "evil/c1", "annotator": "coder_a", "themes": ["workload"], "stance_tr": "none",
             "reply_stance": "comment"}]
    paths["labels"].write_text("\n".join(json.dumps(g) for g in gold) + "\n", encoding="utf-8")
    (paths["run"] / "evaluation").mkdir(exist_ok=True)
    (paths["run"] / "evaluation" / "evaluation.json").write_text(json.dumps(_evaluation()), encoding="utf-8")
    (paths["run"] / "evaluation" / "report.md").write_text("# Report\n<script>alert(1)</script>\n", encoding="utf-8")
    return paths


@pytest.fixture(scope="session")
def app_data(tmp_path_factory):
    paths = build_app_data(tmp_path_factory.getbasetemp())
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    os.environ.update({"PROBATION_TR_RUN": str(paths["run"]), "PROBATION_TR_ANNOTATIONS": str(paths["annotations"]),
                       "PROBATION_TR_LABELS": str(paths["labels"]), "PROBATION_TR_MODEL": "rules",
                       "PROBATION_TR_CORPUS": str(paths["corpus"])})
    yield paths
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def app_run(app_data):
    return app_data["run"]


def plain(markdown: str) -> str:
    """Markdown-escaped text (app.md) back to what the reader sees."""
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))


def new_app(page: str | None = None, **query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if page:
        at.query_params["page"] = page
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def html_of(at: AppTest) -> str:
    return "\n".join(h.value for h in at.get("html"))


def goto(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page)
    return at.run()


def match_count(at: AppTest) -> str:
    return next(m.value for m in at.markdown if " units match" in m.value)


# --- every page -------------------------------------------------------------------------------

# Every page the sidebar offers (Validate appears when its module exists).
sys.path.insert(0, str(ROOT))
from ui.pages import available  # noqa: E402

PAGES = available()


def test_every_page_renders(app_data):
    at = new_app()
    no_exception(at)
    assert at.header[0].value == "Overview"
    for page in PAGES[1:]:
        goto(at, page)
        no_exception(at)
        assert at.header[0].value == page
        assert not at.error, [e.value for e in at.error]


def test_overview_charts_and_gold_switch(app_data):
    at = new_app()
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 5  # prevalence, stance by theme, co-occurrence, themes and stance over time
    assert any("CRCs sold" in str(c.proto) for c in charts)  # the milestones are drawn
    assert any("Model predictions" in plain(c.value) for c in at.caption)
    at.sidebar.radio(key="source").set_value("gold").run()
    no_exception(at)
    assert any("Gold labels: 5 units" in plain(c.value) for c in at.caption)
    assert [m.value for m in at.metric][:2] == ["2", "5"]  # threads, units with gold labels
    for key, value in (("ov_scheme", "reply_stance"), ("ov_measure", "jaccard"), ("ov_freq", "Y")):
        at.selectbox(key=key).set_value(value).run()
        no_exception(at)


# --- comments ---------------------------------------------------------------------------------

def test_filter_changes_the_table(app_data):
    at = new_app("Comments")
    no_exception(at)
    before = at.dataframe[0].value
    assert match_count(at).startswith("**186** of 186")
    at.multiselect(key="f_themes").set_value(["workload"]).run()
    no_exception(at)
    after = at.dataframe[0].value
    assert len(after) < len(before) and after["themes"].str.contains("workload").all()
    n_workload = int(match_count(at).split("**")[1])
    at.checkbox(key="f_use_prob").check().run()
    at.slider(key="f_min_prob").set_value(0.05).run()
    assert int(match_count(at).split("**")[1]) >= n_workload
    at.multiselect(key="f_themes").set_value([]).run()
    at.checkbox(key="f_use_prob").uncheck().run()
    at.text_input(key="f_text").set_value("iframe").run()
    assert at.dataframe[0].value["unit"].tolist() == ["evil/c2"]
    at.multiselect(key="f_kinds").set_value(["post"]).run()
    assert len(at.dataframe[0].value) == 0
    no_exception(at)


def test_unit_detail_parent_replies_gold(app_data):
    at = new_app("Comments")
    at.text_input(key="f_text").set_value("onerror").run()
    assert at.selectbox(key="open_unit").value == "evil/c1.r1"
    body = html_of(at)
    assert "evil/c1.r1" in body and "&lt;img src=x onerror=alert(2)&gt;" in body
    assert any(plain(e.label).startswith("Parent: evil/c1") for e in at.expander)
    at.text_input(key="f_text").set_value("").run()
    at.multiselect(key="f_threads").set_value(["evil"]).run()
    at.selectbox(key="open_unit").set_value("evil/c1").run()
    no_exception(at)
    assert any(e.label == "Replies (1)" for e in at.expander)
    coder_tables = [d.value for d in at.dataframe if "annotator" in d.value.columns]
    assert coder_tables and set(coder_tables[0]["annotator"]) == {"gold", "coder_a"}
    probs = [d.value for d in at.dataframe if "code" in d.value.columns][0]
    assert set(probs["code"]) >= {"workload", "against", "comment"}


def test_hostile_comment_shows_as_text(app_data):
    at = new_app("Comments", unit="evil/c1")
    no_exception(at)
    body = html_of(at)
    assert "&lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;" in body
    assert "**not bold** [click me](javascript:alert(1)) ![img](http://example.invalid/x.png)" in body
    assert "# Not a heading" in body
    assert "&lt;b&gt;Bold&lt;/b&gt; title &amp; &lt;script&gt;" in body  # the thread title too
    assert "<script" not in body.lower() and "<img" not in body.lower() and "<iframe" not in body.lower()
    assert "<mark" in body  # evidence highlighted around the escaped text
    for el in list(at.markdown) + list(at.caption) + list(at.get("alert")) + list(at.info):
        assert "<script" not in str(el.value) and "javascript:" not in str(el.value)
    # The Thread view escapes too.
    goto(at, "Thread")
    at.selectbox(key="thread_pick").set_value("evil").run()
    body = html_of(at)
    assert "&lt;script&gt;alert(&#x27;xss&#x27;)" in body and "<script" not in body.lower()


def test_pseudonymise_every_view(app_data):
    at = new_app("Comments", unit="evil/c1.r1")
    assert "Alice Example" in html_of(at) and "Bob Sample" in html_of(at)
    at.sidebar.toggle(key="pseudo").set_value(True).run()
    no_exception(at)
    body = html_of(at)
    assert "Alice Example" not in body and "Bob Sample" not in body and "Commenter" in body
    assert not any(at.dataframe[0].value["author"].isin(["Alice Example", "Bob Sample"]))
    goto(at, "Thread")
    at.selectbox(key="thread_pick").set_value("evil").run()
    assert "Alice Example" not in html_of(at) and "Carol Third" not in html_of(at)
    goto(at, "Words")
    at.text_input(key="kwic_q").set_value("Alice").run()
    assert len(at.dataframe[0].value) == 0  # the Words page searches the pseudonymised texts
    at.text_input(key="kwic_q").set_value("agree").run()
    kwic = at.dataframe[0].value
    context = kwic["left"] + " " + kwic["keyword"] + " " + kwic["right"]
    assert context.str.contains("agree with Commenter").any() and not context.str.contains("Alice").any()
    at.radio(key="words_tool").set_value("Distinctive terms").run()
    terms = [d.value for d in at.dataframe if "z" in d.value.columns][0]
    assert not terms["term"].isin(["alice", "bob", "carol"]).any()


# --- thread, words ----------------------------------------------------------------------------

def test_thread_tree_has_chips_and_badges(app_data):
    at = new_app("Thread")
    at.selectbox(key="thread_pick").set_value("000").run()
    no_exception(at)
    body = html_of(at)
    assert body.count("000/c1.r") >= 5 and "TR: " in body and "reply: " in body and "Communication failure" in body
    assert "margin:0 0 0.5em 3.2em" in body  # replies indented under their comment
    at.checkbox(key="thread_only_coded").check().run()
    assert html_of(at).count("000/c1.r") < body.count("000/c1.r")


def test_words_kwic_and_log_odds(app_data):
    at = new_app("Words")
    at.text_input(key="kwic_q").set_value("caseload").run()
    word = at.dataframe[0].value
    at.radio(key="kwic_mode").set_value("lemma").run()
    lemma = at.dataframe[0].value
    assert len(lemma) > len(word) > 0
    assert set(lemma["keyword"].str.lower()) >= {"caseload", "caseloads"}
    assert at.selectbox(key="kwic_unit").value in set(lemma["unit_id"])
    assert at.selectbox(key="kwic_unit").value in html_of(at)  # the unit shown in full
    at.radio(key="words_tool").set_value("Distinctive terms").run()
    no_exception(at)
    terms = [d.value for d in at.dataframe if "z" in d.value.columns][0]
    assert len(terms) and {"group", "rest"} <= set(terms["side"])
    at.selectbox(key="lo_target").set_value(("stance_tr", "against")).run()
    no_exception(at)


# --- annotate -------------------------------------------------------------------------------

def _annotate(at: AppTest, annotator: str) -> AppTest:
    goto(at, "Annotate")
    at.sidebar.text_input(key="annotator").set_value(annotator).run()
    return at


def test_annotation_is_saved_and_survives_a_restart(app_data):
    from pipeline.store import AnnotationStore

    at = _annotate(new_app(), "tester")
    no_exception(at)
    first = plain(at.subheader[0].value).removeprefix("Unit ")
    at.multiselect(key=f"ann_themes_{first}").set_value(["workload", "blame_culture"])
    at.radio(key=f"ann_tr_{first}").set_value("against")
    at.radio(key=f"ann_rs_{first}").set_value("deny")
    at.text_area(key=f"ann_note_{first}").set_value("answers c2 <b>")
    next(b for b in at.button if b.label == "Save label").click().run()
    no_exception(at)
    saved = AnnotationStore(app_data["annotations"]).latest("tester")
    row = saved[saved["unit_id"] == first].iloc[0]
    assert list(row["themes"]) == ["blame_culture", "workload"] and row["stance_tr"] == "against"
    assert row["reply_stance"] == "deny" and row["note"] == "answers c2 <b>"
    from pipeline.store import read_parquet

    units = read_parquet(app_data["run"] / "units.parquet").set_index("unit_id")
    assert row["fingerprint"] == units.at[first, "fingerprint"]  # the label records the text it was made on
    assert plain(at.subheader[0].value) != f"Unit {first}"  # moved on to the next unit

    restarted = _annotate(new_app(), "tester")  # a new session: resumes after the saved unit
    no_exception(restarted)
    assert plain(restarted.subheader[0].value) != f"Unit {first}"
    assert any("1 units labelled so far" in c.value for c in restarted.caption)
    restarted.checkbox(key="ann_include_done").check().run()
    next(b for b in restarted.button if b.label == "Back to the last saved").click().run()
    assert plain(restarted.subheader[0].value) == f"Unit {first}"
    assert sorted(restarted.multiselect(key=f"ann_themes_{first}").value) == ["blame_culture", "workload"]
    assert restarted.radio(key=f"ann_rs_{first}").value == "deny"


def test_annotation_queue_by_thread_and_skip(app_data):
    at = _annotate(new_app(), "skipper")
    at.radio(key="ann_order").set_value("thread").run()
    at.selectbox(key="ann_thread").set_value("001").run()
    assert plain(at.subheader[0].value) == "Unit 001/post"
    next(b for b in at.button if b.label == "Skip").click().run()
    assert plain(at.subheader[0].value) == "Unit 001/c1"
    next(b for b in at.button if b.label == "Skip").click().run()
    assert plain(at.subheader[0].value) == "Unit 001/c2"  # skipped units go to the end of the queue
    no_exception(at)


def test_retrain_reports_what_went_wrong(app_data):
    at = _annotate(new_app(), "tester")
    at.radio(key="rt_src").set_value("gold").run()
    next(b for b in at.button if b.label == "Retrain and re-evaluate").click().run()
    no_exception(at)
    out = "\n".join(c.value for c in at.code)
    assert "E206" in out and "labelled units to train on" in out  # 5 gold labels are too few to train on
    assert not at.success


# --- evaluation, codebook, export -------------------------------------------------------------

def test_evaluation_page(app_data):
    at = new_app("Evaluation")
    no_exception(at)
    tables = [d.value for d in at.dataframe]
    per_label = next(t for t in tables if "f1" in t.columns and "label" in t.columns)
    assert set(per_label["label"]) == {"workload", "against"}
    errors = next(t for t in tables if "open" in t.columns)
    assert errors["open"].tolist()[0] == "?page=Comments&unit=evil/c1"
    assert len(at.get("vega_lite_chart")) == 1  # the stance_tr confusion matrix
    assert at.selectbox(key="ev_unit").value == "evil/c1"
    assert "&lt;script&gt;" in html_of(at)
    assert any("<script>" in c.value for c in at.code)  # report.md shown as code, never rendered


def test_evaluation_absent_and_partial(app_data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(app_data["run"], run, ignore=shutil.ignore_patterns("evaluation"))
    monkeypatch.setenv("PROBATION_TR_RUN", str(run))
    at = new_app("Evaluation")
    no_exception(at)
    assert any("No evaluation yet" in plain(i.value) for i in at.info)
    (run / "evaluation").mkdir()
    (run / "evaluation" / "evaluation.json").write_text(json.dumps({"per_label": [{"label": "x", "f1": 0.5}],
                                                                    "errors": [{"unit_id": "nope"}]}))
    at = new_app("Evaluation")
    no_exception(at)
    assert any("label" in d.value.columns for d in at.dataframe)


def test_codebook_page(app_data):
    from pipeline.codebook import load_codebook
    from pipeline.paths import CODEBOOK_PATH

    cb = load_codebook(CODEBOOK_PATH)
    at = new_app("Codebook")
    labels = [e.label for e in at.expander]
    for name, theme in cb.themes.items():
        assert f"{theme.label} ({name})" in labels
    assert any(lab.startswith("Stance toward TR") for lab in labels)
    assert at.selectbox(key="cb_example").value == cb.themes[cb.theme_names[0]].examples[0]["unit_id"]
    no_exception(at)


def test_export_page(app_data):
    at = new_app("Comments")
    at.multiselect(key="f_themes").set_value(["workload"]).run()
    n = int(match_count(at).split("**")[1])
    goto(at, "Export")
    no_exception(at)
    assert f"({n:,})" in at.radio(key="exp_scope").options[0]
    labels = {b.proto.label for b in at.get("download_button")}
    assert {"CSV", "PARQUET", "JSONL", "REFI-QDA project (.qdpx)", "Theme prevalence"} <= labels


# --- runs -------------------------------------------------------------------------------------

def test_first_start_builds_the_default_run(app_data, tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(app_data["corpus"] / "evil.jsonl", corpus / "evil.jsonl")
    run = tmp_path / "runs" / "probation_blog"
    monkeypatch.setenv("PROBATION_TR_RUN", str(run))
    monkeypatch.setenv("PROBATION_TR_CORPUS", str(corpus))
    at = new_app()
    no_exception(at)
    assert (run / "units.parquet").exists() and (run / "labels.parquet").exists()
    assert [m.value for m in at.metric][:2] == ["1", "4"]


def test_upload_parses_and_codes(app_data, tmp_path, monkeypatch):
    monkeypatch.setenv("PROBATION_TR_RUN", str(app_data["run"]))
    at = new_app()
    rows = [{"thread_id": "up", "comment_id": "1", "text": "Our caseload is unmanageable.", "post_date": "2015-03-01"},
            {"thread_id": "up", "comment_id": "2", "parent_id": "1", "text": "Agreed, no response from NPS."}]
    data = ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
    at.sidebar.file_uploader(key="uploads").set_value(("forum.jsonl", data, "application/x-ndjson")).run()
    next(b for b in at.sidebar.button if b.label == "Parse and code").click().run()
    no_exception(at)
    assert Path(at.session_state["run_dir"]).name.startswith("upload_")
    assert [m.value for m in at.metric][:2] == ["1", "3"]  # an (empty) post and the two comments
    shutil.rmtree(at.session_state["run_dir"], ignore_errors=True)


def test_missing_run_directory_is_an_error(app_data):
    at = new_app()
    at.sidebar.text_input(key="run_other").set_value("/nonexistent/run").run()
    assert any("not a run directory" in plain(e.value) for e in at.error)


def test_labels_whose_text_changed_are_left_out_and_reported(app_data, tmp_path):
    """A gold label made on other text (its fingerprint is not this unit's) is never shown on this unit."""
    labels = [json.loads(x) for x in app_data["labels"].read_text().splitlines() if x.strip()]
    moved = next(r for r in labels if r["annotator"] == "gold")
    edited = tmp_path / "labels.jsonl"
    edited.write_text("\n".join(json.dumps(dict(r, fingerprint="0" * 16) if r is moved else r) for r in labels)
                      + "\n")
    os.environ["PROBATION_TR_LABELS"] = str(edited)
    try:
        at = new_app()
        no_exception(at)
        warnings = " ".join(w.value for w in at.sidebar.warning)
        assert "not shown" in warnings and moved["unit_id"] in plain(warnings)
    finally:
        os.environ["PROBATION_TR_LABELS"] = str(app_data["labels"])


def test_overview_shows_validated_prevalence_beside_the_raw_share(app_data):
    folder = app_data["run"] / "validation_test"
    folder.mkdir()
    (folder / "validation.json").write_text(json.dumps({
        "kind": "validation", "n": 80,
        "themes": {"workload": {"prevalence": {"model": 0.25, "corrected": 0.31, "ci": [0.24, 0.38]}}}}))
    try:
        at = new_app("Overview")
        no_exception(at)
        assert any(s.value == "Theme prevalence, validated" for s in at.subheader)
        table = next(d.value for d in at.dataframe if "corrected share" in d.value.columns)
        row = table.iloc[0]
        assert row["model share"] == 0.25 and row["corrected share"] == 0.31 and row["95% CI high"] == 0.38
        assert any("blind sample of 80" in c.value for c in at.caption)
    finally:
        shutil.rmtree(folder)
