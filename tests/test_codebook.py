"""The codebook (models/codebook.yaml): loading, validation errors, fingerprint, extension."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from pipeline.codebook import STANCE_SCHEMES, codebook_from_dict, load_codebook
from pipeline.errors import PipelineError
from pipeline.runs import CODEBOOK_PATH

# A small valid codebook; each broken case below is one edit of it, so line numbers are known.
MINI = """\
name: mini
version: "0.1"
themes:
  workload:
    definition: Too much work.
    cues:
      phrases: [caseload]
  blame_culture:
    definition: Staff blamed.
    cues:
      phrases: [scapegoat]
stances:
  stance_tr:
    values:
      against: {cues: [farce]}
      favour: {cues: [tr work]}
      none: {}
    default: none
  reply_stance:
    values:
      support: {cues: [agree]}
      comment: {}
    default: comment
"""


def test_bundled_codebook_loads(codebook):
    assert codebook.name and codebook.version
    assert codebook.theme_names == ["workload", "communication_failure", "drug_use_upw", "blame_culture"]
    assert set(codebook.stances) == set(STANCE_SCHEMES)
    assert codebook.stances["stance_tr"].default in codebook.values("stance_tr")
    assert {"against", "favour", "none"} <= set(codebook.values("stance_tr"))
    for theme in codebook.themes.values():
        assert theme.definition and (theme.phrases or theme.acronyms)
        assert all(p == p.lower() for p in theme.phrases + theme.veto)
    # one column per code, names distinct across themes and stance values
    assert len(codebook.all_labels) == len(set(codebook.all_labels))
    assert len(codebook.fingerprint) == 16


def test_mini_codebook_is_valid(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(MINI)
    cb = load_codebook(path)
    assert cb.theme_names == ["workload", "blame_culture"]
    assert cb.path == str(path)


BROKEN = [
    pytest.param(
        MINI.replace("stances:\n", "  workload:\n    definition: Again.\n    cues: {phrases: [x]}\nstances:\n"),
        12, ["duplicate key 'workload'", "first at line 4"], id="duplicate-theme-key"),
    pytest.param(MINI.replace("    definition: Staff blamed.\n", ""), None, ["blame_culture", "no definition"],
                 id="missing-definition"),
    pytest.param(MINI.replace("    cues:\n      phrases: [scapegoat]\n", ""), None, ["blame_culture", "no cues"],
                 id="missing-cues"),
    pytest.param(MINI.replace("      comment: {}", "      comment: {}\n      workload: {cues: [busy]}"), None,
                 ["distinct", "workload"], id="stance-value-collides-with-theme"),
    pytest.param(MINI.replace("    definition: Staff blamed.", "    definition: Staff: blamed: badly"), 9,
                 ["not valid YAML"], id="invalid-yaml"),
    pytest.param(MINI.split("  reply_stance:")[0], None, ["reply_stance", "missing"], id="missing-stance-scheme"),
    pytest.param(MINI.replace("    default: none", "    default: maybe"), None, ["default", "'maybe'"],
                 id="bad-default"),
]


@pytest.mark.parametrize("text, line, fragments", BROKEN)
def test_broken_codebook_is_refused_with_file_line_and_fix(tmp_path, text, line, fragments):
    path = tmp_path / "codebook.yaml"
    path.write_text(text)
    with pytest.raises(PipelineError) as exc:
        load_codebook(path)
    problem = exc.value.problem
    assert problem.code == "E201"
    assert problem.file == str(path)
    assert str(path) in str(exc.value)
    assert problem.fix.strip(), "every codebook error says how to fix it"
    assert problem.line == line
    if line is not None:
        assert f"{path}:{line}" in str(exc.value)
    for fragment in fragments:
        assert fragment in problem.message


def test_missing_codebook_file(tmp_path):
    with pytest.raises(PipelineError) as exc:
        load_codebook(tmp_path / "nope.yaml")
    assert exc.value.problem.code == "E201" and exc.value.problem.fix


def test_every_cited_example_unit_exists(codebook, seed_units):
    known = set(seed_units["unit_id"])
    cited = [(name, ex["unit_id"]) for name, theme in codebook.themes.items() for ex in theme.examples]
    assert cited, "the bundled codebook cites example units"
    missing = [c for c in cited if c[1] not in known]
    assert missing == [], f"examples citing units the parser does not produce: {missing}"


def _edited(codebook, edit) -> object:
    raw = copy.deepcopy(codebook.raw)
    edit(raw)
    return codebook_from_dict(raw, "edited")


def test_fingerprint_tracks_cues_not_prose(codebook):
    assert _edited(codebook, lambda raw: None).fingerprint == codebook.fingerprint

    def new_definition(raw):
        raw["themes"]["workload"]["definition"] = "Reworded: too much to do, too little time."
        raw["stances"]["stance_tr"]["values"]["favour"]["definition"] = "Reworded."
        raw["themes"]["workload"]["examples"] = []

    assert _edited(codebook, new_definition).fingerprint == codebook.fingerprint

    def new_theme_cue(raw):
        raw["themes"]["workload"]["cues"]["phrases"].append("snow under")

    def new_stance_cue(raw):
        raw["stances"]["reply_stance"]["values"]["support"]["cues"].append("quite right")

    def new_veto(raw):
        raw["themes"]["blame_culture"]["cues"]["veto"].append("blame the weather")

    prints = {_edited(codebook, e).fingerprint for e in (new_theme_cue, new_stance_cue, new_veto)}
    assert codebook.fingerprint not in prints and len(prints) == 3


# ---------------------------------------------------------------- a researcher adds a theme

NEW_THEME = """\
  risk_public_protection:
    label: Risk and public protection
    definition: >-
      Assessing and managing the risk of serious harm that people on probation pose to the
      public: risk assessment, MAPPA, risk escalation between CRC and NPS, public protection.
    cues:
      phrases: [public protection, risk of serious harm, risk escalation]
      acronyms: [MAPPA, ROSH]

"""


@pytest.fixture(scope="module")
def extended_codebook_path(tmp_path_factory):
    text = CODEBOOK_PATH.read_text(encoding="utf-8")
    assert "\nstances:\n" in text
    path = tmp_path_factory.mktemp("codebook") / "codebook.yaml"
    path.write_text(text.replace("\nstances:\n", "\n" + NEW_THEME + "stances:\n", 1), encoding="utf-8")
    return path


def test_added_theme_is_loaded(extended_codebook_path, codebook):
    cb = load_codebook(extended_codebook_path)
    assert cb.theme_names == codebook.theme_names + ["risk_public_protection"]
    assert "risk_public_protection" in cb.all_labels
    assert cb.fingerprint != codebook.fingerprint


def test_added_theme_reaches_rule_coder(extended_codebook_path):
    from pipeline.classify import RuleCoder, decide
    from pipeline.preprocess import build_nlp, features

    cb = load_codebook(extended_codebook_path)
    nlp = build_nlp(cb)
    texts = ["The MAPPA meeting was about public protection, and nobody from the CRC came.",
             "My caseload is huge."]
    feats = list(features(nlp, texts))
    assert ("risk_public_protection", "MAPPA", 0) in feats[0].cues
    coder = RuleCoder(cb).fit()
    probs = coder.predict_proba(feats, [None, None])
    assert probs["risk_public_protection"][0] > 0.5 and probs["risk_public_protection"][1] == 0
    decisions = decide(cb, probs, coder.thresholds_)
    assert "risk_public_protection" in decisions[0]["themes"]
    assert "risk_public_protection" not in decisions[1]["themes"]


def test_added_theme_reaches_classify_columns(extended_codebook_path, seed_units):
    from pipeline.runs import classify_units

    units = seed_units[seed_units["thread_id"] == "000"].reset_index(drop=True)
    labels = classify_units(units, "rules", codebook_path=extended_codebook_path)
    assert "p_risk_public_protection" in labels.columns
    p = labels["p_risk_public_protection"].to_numpy()
    assert np.all((p >= 0) & (p <= 1))
    # thread 000 discusses MAPPA and VISOR, so the new theme's cues fire somewhere
    assert (p > 0).any()
    assert labels["themes"].map(lambda ts: "risk_public_protection" in ts).any()
    themes = set(load_codebook(extended_codebook_path).theme_names)
    assert all(set(ts) <= themes for ts in labels["themes"])
    evidence = [json.loads(e) for e in labels["evidence"]]
    assert any("risk_public_protection" in e for e in evidence)


def test_added_theme_is_valid_in_labels(extended_codebook_path, codebook, tmp_path):
    from pipeline.labels import read_labels

    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"unit_id": "000/c1", "annotator": "gold", "themes": ["risk_public_protection"],
                                "stance_tr": "none", "reply_stance": "comment"}) + "\n")
    df, problems = read_labels(path, load_codebook(extended_codebook_path))
    assert problems == [] and df.loc[0, "themes"] == ["risk_public_protection"]
    with pytest.raises(PipelineError) as exc:  # the bundled codebook does not know the theme
        read_labels(path, codebook)
    assert exc.value.problem.code == "E202" and "risk_public_protection" in exc.value.problem.message
