"""The Validate page (ui/pages/validate.py) driven by streamlit.testing.v1.AppTest: draw a sample,
two researchers code it blind, one disagreement is adjudicated, the results show the corrected share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipeline.runs import CODEBOOK_PATH, run_all


def _page(run_dir: str, codebook_path: str) -> None:
    from pathlib import Path
    from types import SimpleNamespace

    from pipeline.codebook import load_codebook
    from ui.pages import validate

    validate.render(SimpleNamespace(run_dir=Path(run_dir), codebook=load_codebook(codebook_path),
                                    codebook_path=Path(codebook_path), annotator=""))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, seed_dir) -> Path:
    out = tmp_path_factory.mktemp("validate_app") / "run"
    run_all([seed_dir], out, model_dir="rules", chunk_mb=1000, workers=1)
    return out


def _app(run_dir: Path) -> AppTest:
    at = AppTest.from_function(_page, args=(str(run_dir), str(CODEBOOK_PATH)), default_timeout=30)
    return at.run()


def _code_all(at: AppTest, coder: str, gold, flip: str | None = None) -> list[str]:
    at.radio(key="val_step").set_value("Code").run()
    at.text_input(key="val_coder").set_value(coder).run()
    coded = []
    while at.multiselect:
        ms = at.multiselect[0]
        uid = ms.key.removeprefix("val_themes_")
        # blind: nothing preselected, and the model's codes are nowhere on the page
        assert ms.value == [] and at.radio(key=f"val_st_{uid}").value is None
        assert at.radio(key=f"val_rs_{uid}").value is None
        g = gold[uid]
        themes = list(g["themes"]) or ["(no theme applies)"]
        if uid == flip:
            themes = ["workload"] if "workload" not in themes else ["(no theme applies)"]
        ms.set_value(themes)
        at.radio(key=f"val_st_{uid}").set_value(g["stance_tr"] or "none")
        at.radio(key=f"val_rs_{uid}").set_value(g["reply_stance"] or "comment")
        at.button[0].click().run()  # the form's submit button
        assert not at.exception, at.exception
        coded.append(uid)
    assert any("coded the whole sample" in s.value for s in at.success)
    return coded


def test_validate_page_end_to_end(run_dir, labels_path):
    gold = {}
    for line in labels_path.read_text().splitlines():
        rec = json.loads(line)
        if rec["annotator"] == "gold":
            gold[rec["unit_id"]] = rec
    at = _app(run_dir)
    assert not at.exception
    at.number_input(key="val_n").set_value(14)
    at.button(key="val_draw").click().run()
    sheet = run_dir / "validation" / "sheet.jsonl"
    assert sheet.exists() and len(sheet.read_text().splitlines()) == 14

    at.radio(key="val_step").set_value("Code").run()
    at.text_input(key="val_coder").set_value("alice").run()
    uid = at.multiselect[0].key.removeprefix("val_themes_")
    at.button[0].click().run()  # nothing chosen: refused, nothing saved
    assert at.error and not (run_dir / "validation" / "sheet.coded.jsonl").exists()
    first = _code_all(at, "alice", gold)
    assert first[0] == uid and len(first) == 14

    at = _app(run_dir)  # a new session resumes: alice is done, bob starts at the beginning
    flip = first[3]
    _code_all(at, "bob", gold, flip=flip)

    at.radio(key="val_step").set_value("Adjudicate").run()
    assert any("Disagreements to adjudicate: 1" in h.value for h in at.subheader)
    assert at.dataframe  # the agreement table
    at.multiselect[0].set_value(list(gold[flip]["themes"]) or ["(no theme applies)"])
    at.radio(key=f"val_adj_st_{flip}").set_value(gold[flip]["stance_tr"] or "none")
    at.radio(key=f"val_adj_rs_{flip}").set_value(gold[flip]["reply_stance"] or "comment")
    at.button[0].click().run()
    assert at.error  # a note is required
    at.text_input(key=f"val_adj_note_{flip}").set_value("alice's reading fits the guide")
    at.button[0].click().run()
    assert any("Disagreements to adjudicate: 0" in h.value for h in at.subheader)

    at.radio(key="val_step").set_value("Results").run()
    at.button(key="val_score").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert "corrected share" in table.columns and len(table) == 7
    v = json.loads((run_dir / "validation" / "validation.json").read_text())
    assert v["kind"] == "validation" and v["n"] == 14 and v["annotator"] == "adjudicated"
