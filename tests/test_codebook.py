"""The codebook (models/codebook.yaml): loading, validation errors, fingerprint, extension."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

from pipeline.codebook import codebook_from_dict, load_codebook
from pipeline.schema import SCHEMES
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
    assert set(codebook.stances) == set(SCHEMES)
    assert codebook.stances["stance_tr"].default in codebook.values("stance_tr")
    assert {"against", "favour", "none"} <= set(codebook.values("stance_tr"))
    for theme in codebook.themes.values():
        assert theme.definition and theme.patterns, "v2: every theme is coded by Matcher patterns"
        assert all(p == p.lower() for p in theme.phrases + theme.veto)
        assert all(p.example for p in theme.patterns + theme.veto_patterns), "every pattern has an example"
    assert codebook.segments.unit_threshold == 1.0 and codebook.segments.rule
    assert set(codebook.raw["development"]["frozen_test_threads"]).isdisjoint(codebook.raw["development"]["dev_threads"])
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
    pytest.param(MINI.replace("      phrases: [caseload]\n", "      phrases: [caseload]\n    patterns:\n"
                              "      - {id: a, any: [busy], near: [[x], [y]]}\n"), 9,
                 ["patterns[0]", "exactly one of"], id="pattern-any-and-near"),
    pytest.param(MINI.replace("      phrases: [caseload]\n", "      phrases: [caseload]\n    patterns:\n"
                              "      - {id: a, any: [busy], weight: 3}\n"), 9,
                 ["weight must be in (0, 1]"], id="pattern-bad-weight"),
    pytest.param(MINI.replace("      phrases: [caseload]\n", "      phrases: [caseload]\n    patterns:\n"
                              "      - {id: a, near: [[busy]]}\n"), 9,
                 ["two or more groups"], id="pattern-near-one-group"),
    pytest.param(MINI.replace("      phrases: [caseload]\n", "      phrases: [caseload]\n    patterns:\n"
                              "      - {id: a, any: [busy]}\n      - {id: a, any: [swamped]}\n"), None,
                 ["repeated"], id="pattern-duplicate-id"),
    pytest.param(MINI.replace("      phrases: [caseload]\n", "      phrases: [caseload]\n    patterns:\n"
                              "      - {id: a, near: [[call], [no, never]]}\n"), 9,
                 ["False", "boolean"], id="pattern-unquoted-no-named-with-line"),
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
        raw["themes"]["workload"]["patterns"].append({"id": "snowed", "any": ["snowed under"]})

    def new_stance_cue(raw):
        raw["stances"]["reply_stance"]["values"]["support"]["patterns"][0]["any"].append("right on the money")

    def new_veto(raw):
        raw["themes"]["blame_culture"]["veto"].append({"id": "weather", "any": ["blame the weather"]})

    def new_weight(raw):
        raw["themes"]["workload"]["patterns"][0]["weight"] = 0.5

    def new_rule(raw):
        raw["segments"]["unit_threshold"] = 2.0

    def new_lexicon_word(raw):
        raw["lexicons"]["crc_owners"].append("the new provider")

    def new_negation_window(raw):
        raw["matching"]["negation_window"] = 4

    def new_option(raw):
        raw["stances"]["stance_tr"]["values"]["against"]["patterns"][0]["negation"] = "ignore"

    edits = (new_theme_cue, new_stance_cue, new_veto, new_weight, new_rule, new_lexicon_word, new_negation_window,
             new_option)
    prints = {_edited(codebook, e).fingerprint for e in edits}
    assert codebook.fingerprint not in prints and len(prints) == len(edits)


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
    assert "\nsegments:\n" in text  # the themes mapping ends where the segment rule begins
    path = tmp_path_factory.mktemp("codebook") / "codebook.yaml"
    path.write_text(text.replace("\nsegments:\n", "\n" + NEW_THEME + "segments:\n", 1), encoding="utf-8")
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
    assert ("risk_public_protection", "MAPPA", 0) in [c[:3] for c in feats[0].cues]
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


# ---------------------------------------------------------------- v2 patterns and vetoes, by their examples

def _matches(nlp, text: str, code: str) -> list[tuple]:
    from pipeline.preprocess import features

    return [c for c in next(features(nlp, [text])).cues if c[0] == code]


def _pattern_cases(codebook):
    for name, theme in codebook.themes.items():
        for p in theme.patterns:
            yield name, p
    for scheme in codebook.stances.values():
        for value in scheme.values.values():
            for p in value.patterns:
                yield value.name, p


def test_every_pattern_matches_its_own_example(codebook):
    """Each pattern's example sentence (written for the codebook) is matched by that very pattern,
    unvetoed: the examples document the patterns and this keeps them honest."""
    from pipeline.preprocess import build_nlp

    nlp = build_nlp(codebook, glossary=False)
    misses = [(code, p.id) for code, p in _pattern_cases(codebook)
              if not any(c[3] == p.id and c[4] > 0 for c in _matches(nlp, p.example, code))]
    assert misses == []


def test_every_veto_cancels_the_trap_in_its_example(codebook):
    """A veto's example is a trap: without the veto the theme matches it, with the veto it does not."""
    from pipeline.preprocess import build_nlp

    nlp = build_nlp(codebook, glossary=False)
    cases = [(["themes", name], name, veto) for name, theme in codebook.themes.items() for veto in theme.veto_patterns]
    cases += [(["stances", scheme.name, "values", value.name], value.name, veto)
              for scheme in codebook.stances.values() for value in scheme.values.values()
              for veto in value.veto_patterns]
    assert any(keys[0] == "stances" for keys, _, _ in cases), "stance values have vetoes too (2.1)"
    for keys, name, veto in cases:
        def drop(raw, keys=keys, vid=veto.id):
            spec = raw
            for k in keys:
                spec = spec[k]
            spec["veto"] = [v for v in spec["veto"] if v["id"] != vid]

        without = build_nlp(_edited(codebook, drop), glossary=False)
        assert any(c[4] > 0 for c in _matches(without, veto.example, name)), (name, veto.id, "no trap to veto")
        found = _matches(nlp, veto.example, name)
        assert found and all(c[4] == 0 and c[5] for c in found), (name, veto.id, found)


def test_segment_rule_one_strong_or_two_weak(codebook):
    """'A passing word is not enough': one weak segment does not code a unit, two weak segments or
    one strong segment do; a vetoed match counts nothing."""
    from pipeline.classify import RuleCoder, decide
    from pipeline.preprocess import build_nlp, features

    nlp = build_nlp(codebook, glossary=False)
    texts = ["There are drugs everywhere on that estate.",                        # one weak segment
             "There are drugs everywhere on that estate. He is back on a script after his detox.",  # two weak
             "She relapsed on heroin last month.",                                # one strong
             "I did ten hours of unpaid overtime this week."]                     # UPW words, vetoed
    feats = list(features(nlp, texts))
    coder = RuleCoder(codebook).fit()
    got = [("drug_use_upw" in d["themes"]) for d in decide(codebook, coder.predict_proba(feats, [None] * 4),
                                                              coder.thresholds_)]
    assert got == [False, True, True, False]


# ---------------------------------------------------------------- 2.1: stance by target, negation, the opening

def _pattern_ids(nlp, text: str, code: str) -> set[str]:
    return {c[3] for c in _matches(nlp, text, code) if c[4] > 0}


@pytest.fixture(scope="module")
def nlp21(codebook):
    from pipeline.preprocess import build_nlp

    return build_nlp(codebook, glossary=False)


def test_lexicons_expand_into_pattern_groups(codebook):
    against = {p.id: p for p in codebook.stances["stance_tr"].values["against"].patterns}
    targets = set(against["target_negative"].groups[0])
    assert {"crc", "sodexo", "privatisation", "grayling", "the split"} <= targets
    assert not any(w.startswith("@") for p in against.values() for g in p.groups for w in g)


@pytest.mark.parametrize("text, pattern, expected", [
    ("The CRC has been a disaster for everyone.", "target_negative", True),
    ("The CRC has not been a disaster, whatever people say.", "target_negative", False),   # negation: drop
    ("The new owners simply do not care about rehabilitation.", "target_not_positive", True),  # require
    ("The new owners care about rehabilitation.", "target_not_positive", False),
    ("I moved to the CRC last year. What a shambles it has turned out to be.", "target_then_verdict", True),
    ("What a shambles the court list was this morning.", "target_then_verdict", False),   # no target in the unit
    ("Well done Grayling, a triumph of a reform.", "mock_praise", True),
    ("They sold probation to the lowest bidders. What could possibly go wrong?", "irony_about_target", True),
])
def test_stance_by_target(nlp21, text, pattern, expected):
    """A target of TR with an evaluation around it, negation-aware; a verdict anywhere in a unit that
    names a target (scope: unit); mock praise and irony about a target."""
    assert (pattern in _pattern_ids(nlp21, text, "against")) is expected


def test_unit_scope_codes_the_verdicts_segment(nlp21):
    from pipeline.preprocess import features

    f = next(features(nlp21, ["I moved to the CRC last year. What a shambles it has turned out to be."]))
    segs = {c[2] for c in f.cues if c[0] == "against" and c[3] == "target_then_verdict"}
    assert segs == {1}, "the evaluation's sentence is the coded segment"


@pytest.mark.parametrize("text, code, pattern, expected", [
    ("Well said, that is exactly how it is in our office.", "support", "agreement_opening", True),
    ("I went to the office on Monday and the duty officer told me about the new rota for the courts. "
     "Well said.", "support", "agreement_opening", False),            # past the opening (15 words)
    ("No, the CRC never held that contract.", "deny", "denial_at_start", True),
    ("There was no, or hardly any, notice given.", "deny", "denial_at_start", False),  # not at a sentence start
    ("This. Every word of it.", "support", "this_opening", True),
    ("I read this. It was long.", "support", "this_opening", False),
    ("Source? I would like to read that report.", "query", "request_opening", True),
])
def test_reply_stance_reads_the_opening(nlp21, text, code, pattern, expected):
    """Agreement, denial and query markers count in the reply's opening (its first 15 words);
    'No,' and 'This.' only when they open a sentence."""
    assert (pattern in _pattern_ids(nlp21, text, code)) is expected


def _codebook_with(tmp_path, old: str, new: str):
    text = CODEBOOK_PATH.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "codebook.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path, text.replace(old, new, 1).splitlines()


@pytest.mark.parametrize("old, new, words, line_of", [
    ('near: [["@tr_reform", "@crc_owners", "@privatisation", "@architects"], ["@negative"]]',
     'near: [["@tr_reform", "@crc_owners", "@privatisation", "@architects"], ["@negatives"]]',
     ["target_negative", "@negatives", "names no lexicon"], r"\bid: target_negative,"),
    ("  verdicts: [omnishambles,", "  verdicts: [no, omnishambles,", ["lexicon 'verdicts'", "boolean"], r"^  verdicts:"),
    ("window: 10, negation: drop, example", "window: 10, negation: sometimes, example",
     ["target_negative", "negation one of"], r"\bid: target_negative,"),
    ("  negation_window: 3\n", "  negation_window: 30\n", ["matching.negation_window"], r"^matching:"),
])
def test_21_errors_name_file_and_line(tmp_path, old, new, words, line_of):
    path, lines = _codebook_with(tmp_path, old, new)
    with pytest.raises(PipelineError) as exc:
        load_codebook(path)
    problem = exc.value.problem
    assert problem.code == "E201" and problem.file == str(path) and problem.fix
    for w in words:
        assert w in problem.message, (w, problem.message)
    assert problem.line == next(i for i, t in enumerate(lines, 1) if re.search(line_of, t))
