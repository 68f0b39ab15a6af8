"""Classifiers: the rule coder on inline units, the combined (supervised + cues) coder on the
seed gold, decisions, evidence and determinism.  Behaviour and contracts, not scores: the
hyper-parameters are still being tuned."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.classify import SCHEMES, MajorityCoder, RuleCoder, SupervisedCoder, decide, explain, rule_evidence
from pipeline.parse import parse_string, to_frames
from pipeline.runs import featurize

ROWS = [
    {"thread_id": "t", "comment_id": "p", "kind": "post",
     "text": "Guest blog. My caseload is unmanageable and I work unpaid overtime most weekends."},
    {"thread_id": "t", "comment_id": "1", "text": "Heroin users on UPW rarely complete their hours. Breach under the CRCs is a farce."},
    {"thread_id": "t", "comment_id": "2", "parent_id": "1", "text": "I agree, spot on."},
    {"thread_id": "t", "comment_id": "3", "parent_id": "1", "text": "Can you expand on that? Which area are you in?"},
    {"thread_id": "t", "comment_id": "4", "text": "The weather in Leeds was lovely yesterday."},
    {"thread_id": "t", "comment_id": "5",
     "text": "The SPO was scapegoated after the SFO and hung out to dry; we live in fear of the blame culture."},
]


@pytest.fixture(scope="module")
def inline(nlp):
    units = to_frames(parse_string("\n".join(json.dumps(r) for r in ROWS), kind="jsonl"))[1]
    feats, parents = featurize(units, nlp)
    return units, feats, parents


def _row(units, uid):
    return list(units["unit_id"]).index(uid)


def test_inline_units_are_built(inline):
    units, feats, parents = inline
    assert list(units["unit_id"]) == ["t/post", "t/c1", "t/c1.r1", "t/c1.r2", "t/c2", "t/c3"]
    assert len(feats) == len(parents) == len(units)
    assert parents[0] is None
    assert parents[_row(units, "t/c1.r1")] is feats[_row(units, "t/c1")]


def test_rule_coder_on_inline_units(codebook, inline):
    units, feats, parents = inline
    coder = RuleCoder(codebook).fit()
    probs = coder.predict_proba(feats, parents)
    assert set(probs) == set(codebook.all_labels)
    decisions = decide(codebook, probs, coder.thresholds_)
    got = dict(zip(units["unit_id"], decisions))
    assert got["t/post"]["themes"] == ["workload"]
    assert got["t/c1"]["themes"] == ["drug_use_upw"]
    assert got["t/c1"]["stance_tr"] == "against"
    assert got["t/c1.r1"]["reply_stance"] == "support"
    assert got["t/c1.r2"]["reply_stance"] == "query"
    assert got["t/c2"] == {"themes": [], "stance_tr": "none", "reply_stance": "comment"}
    assert got["t/c3"]["themes"] == ["blame_culture"]


def test_rule_coder_probabilities_follow_cue_counts(codebook, inline):
    units, feats, parents = inline
    probs = RuleCoder(codebook).fit().predict_proba(feats, parents)
    counts = np.array([rule_evidence(f, ["blame_culture"], codebook)[0] for f in feats])
    p = probs["blame_culture"]
    assert np.all(p[counts == 0] == 0)
    order = np.argsort(counts)
    assert np.all(np.diff(p[order]) >= 0), "more cues never lower the probability"
    for scheme in SCHEMES:
        total = sum(probs[v] for v in codebook.values(scheme))
        np.testing.assert_allclose(total, 1.0)


@pytest.mark.parametrize("min_cues", [1, 2, 3])
def test_rule_coder_min_cues(codebook, inline, min_cues):
    """A theme is coded exactly when its segment-rule evidence reaches ``min_cues`` times the threshold."""
    _, feats, parents = inline
    coder = RuleCoder(codebook, min_cues=min_cues).fit()
    decisions = decide(codebook, coder.predict_proba(feats, parents), coder.thresholds_)
    for f, d in zip(feats, decisions):
        for theme in codebook.theme_names:
            n = rule_evidence(f, [theme], codebook)[0]
            assert (theme in d["themes"]) == bool(n >= min_cues * codebook.segments.unit_threshold), (f.text, theme, n)


def test_majority_coder(codebook, gold_data):
    _, _, feats, parents, y = gold_data
    coder = MajorityCoder(codebook).fit(feats, parents, y)
    decisions = decide(codebook, coder.predict_proba(feats[:5], parents[:5]), coder.thresholds_)
    values, counts = np.unique(y.stance_tr, return_counts=True)
    assert {d["stance_tr"] for d in decisions} == {values[np.argmax(counts)]}


# ---------------------------------------------------------------- the combined coder


def test_gold_training_data_is_aligned(gold_data):
    codebook, units, feats, parents, y = gold_data
    n = len(units)
    assert n >= 100 and len(feats) == len(parents) == n
    assert y.themes.shape == (n, len(codebook.theme_names))
    assert set(y.stance_tr) <= set(codebook.values("stance_tr"))
    assert set(y.reply_stance) <= set(codebook.values("reply_stance"))
    assert sorted(set(y.groups)) == ["000", "001", "002", "003", "004"]
    assert list(y.groups) == list(units["thread_id"])


def test_supervised_probabilities(fitted_coder, gold_data):
    codebook, _, feats, parents, _ = gold_data
    probs = fitted_coder.predict_proba(feats, parents)
    assert set(probs) == set(codebook.all_labels)
    for code, p in probs.items():
        assert p.shape == (len(feats),)
        assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1)), code
    for scheme in SCHEMES:
        total = sum(probs[v] for v in codebook.values(scheme))
        np.testing.assert_allclose(total, 1.0, atol=1e-9)


def test_supervised_decisions_use_valid_codes(fitted_coder, gold_data):
    codebook, _, feats, parents, _ = gold_data
    probs = fitted_coder.predict_proba(feats, parents)
    assert set(fitted_coder.thresholds_) == set(codebook.theme_names)
    assert all(0 < t < 1 for t in fitted_coder.thresholds_.values())
    decisions = decide(codebook, probs, fitted_coder.thresholds_, fitted_coder.priors_)
    assert len(decisions) == len(feats)
    for d in decisions:
        assert set(d["themes"]) <= set(codebook.theme_names)
        assert len(d["themes"]) == len(set(d["themes"]))
        for scheme in SCHEMES:
            assert d[scheme] in codebook.values(scheme)
    # on its own training data the model codes every theme somewhere and is not constant
    assert {t for d in decisions for t in d["themes"]} == set(codebook.theme_names)
    assert len({d["stance_tr"] for d in decisions}) > 1


def test_supervised_on_new_text(fitted_coder, codebook, inline):
    units, feats, parents = inline
    probs = fitted_coder.predict_proba(feats, parents)
    for code in codebook.all_labels:
        assert np.all((probs[code] >= 0) & (probs[code] <= 1))
    empty = fitted_coder.predict_proba([], [])
    assert all(len(v) == 0 for v in empty.values())


def test_supervised_without_cues(codebook, gold_data):
    _, _, feats, parents, y = gold_data
    coder = SupervisedCoder(codebook, use_cues=False, tune_thresholds=False).fit(feats, parents, y)
    assert coder.name == "supervised"
    probs = coder.predict_proba(feats[:20], parents[:20])
    for scheme in SCHEMES:
        np.testing.assert_allclose(sum(probs[v] for v in codebook.values(scheme)), 1.0, atol=1e-9)


def test_evidence_names_own_sentences_and_cues(fitted_coder, gold_data):
    codebook, units, feats, parents, _ = gold_data
    probs = fitted_coder.predict_proba(feats, parents)
    decisions = decide(codebook, probs, fitted_coder.thresholds_, fitted_coder.priors_)
    checked_cues = 0
    for i, (f, d) in enumerate(zip(feats, decisions)):
        own = units.at[i, "own_text"]
        evidence = explain(codebook, f, d, fitted_coder)
        assert set(evidence) == set(d["themes"]) | {d[s] for s in SCHEMES}
        for code, items in evidence.items():
            for item in items:
                assert item["sentence"] and item["sentence"] in own
                assert own[item["start"]:item["end"]].strip() == item["sentence"]
                for cue in item["cues"]:
                    assert cue in item["sentence"]
                    assert (code, cue) in {(c[0], c[1]) for c in f.cues}
                    checked_cues += 1
    assert checked_cues > 20


def test_evidence_of_rules_only_is_cue_sentences(codebook, inline):
    units, feats, parents = inline
    coder = RuleCoder(codebook).fit()
    d = decide(codebook, coder.predict_proba(feats, parents), coder.thresholds_)
    i = _row(units, "t/c1")
    evidence = explain(codebook, feats[i], d[i], None)
    (item,) = [it for it in evidence["drug_use_upw"] if it["cues"]][:1]
    assert item["sentence"] == "Heroin users on UPW rarely complete their hours."
    assert {"Heroin", "UPW"} <= set(item["cues"])
    assert evidence["against"][0]["sentence"] == "Breach under the CRCs is a farce."
    # the target with its evaluation, the weak cue, and the verdict in a unit that names a target (2.1)
    assert evidence["against"][0]["patterns"] == ["target_negative", "against_weak", "target_then_verdict"]
    assert evidence["against"][0]["score"] == 1.0  # capped per segment by the codebook's rule


def test_same_random_state_same_probabilities(fitted_coder, gold_data):
    codebook, _, feats, parents, y = gold_data
    again = SupervisedCoder(codebook, use_cues=True, random_state=0).fit(feats, parents, y)
    a, b = fitted_coder.predict_proba(feats, parents), again.predict_proba(feats, parents)
    assert set(a) == set(b)
    for code in a:
        np.testing.assert_array_equal(a[code], b[code])
    assert again.thresholds_ == fitted_coder.thresholds_
    assert again.priors_ == fitted_coder.priors_


def test_tfidf_transform_matches_scikit_learn_exactly(fitted_coder, gold_data):
    from pipeline.classify import tfidf_transform

    feats = gold_data[2]
    vec = fitted_coder.vectorizer_
    ours = tfidf_transform(vec, feats)
    theirs = vec.transform([f.lemma_string for f in feats])
    ours.sort_indices()
    theirs.sort_indices()
    assert ours.shape == theirs.shape
    assert np.array_equal(ours.indptr, theirs.indptr) and np.array_equal(ours.indices, theirs.indices)
    assert np.array_equal(ours.data, theirs.data)


# ---------------------------------------------------------------- calibration, segments, one classify path


def test_thresholds_are_tuned_on_nested_probabilities(gold_data):
    """Each thread's probabilities used for tuning come from calibrators that never saw its labels:
    relabelling one thread leaves its own nested probabilities unchanged."""
    from pipeline.classify import Targets

    codebook, _, feats, parents, y = gold_data
    coder = SupervisedCoder(codebook, use_cues=True, random_state=0)
    coder.fit(feats, parents, y)
    oof = coder._out_of_fold_scores(feats, parents, y)
    stacked = {k: coder._stack(k, oof[k], feats, parents) for k in codebook.theme_names}
    targets = {t: y.themes[:, j] for j, t in enumerate(codebook.theme_names)}
    before = coder._nested_probabilities(stacked, targets, y.groups)
    flipped = {t: np.where(y.groups == "003", 1 - v, v) for t, v in targets.items()}
    after = coder._nested_probabilities(stacked, flipped, y.groups)
    in_003 = y.groups == "003"
    for t in codebook.theme_names:
        np.testing.assert_array_equal(before[t][in_003], after[t][in_003])
        assert not np.array_equal(before[t][~in_003], after[t][~in_003])
    assert isinstance(Targets, type)


def test_segments_table_points_into_text(tmp_path, seed_units):
    """segments.parquet: one row per coded segment; offsets index the unit's ``text``."""
    from pipeline import store
    from pipeline.classify import segments_for
    from pipeline.runs import classify_units, write_segments

    units = seed_units[seed_units["thread_id"].isin(["000", "002"])].reset_index(drop=True)
    labels = classify_units(units, "rules")
    store.write_parquet(labels, tmp_path / "labels.parquet")
    n = write_segments(tmp_path)
    seg = segments_for(tmp_path)
    assert n == len(seg) > 20
    assert list(seg.columns) == ["unit_id", "segment", "start", "end", "code", "score", "decided_by", "quoted"]
    text = dict(zip(units["unit_id"], units["text"]))
    assert (seg["start"] >= 0).all(), "every coded segment is located in its unit's text"
    for row in seg.itertuples():
        assert 0 <= row.start < row.end <= len(text[row.unit_id])
    coded = {(u, c) for u, ts in zip(labels["unit_id"], labels["themes"]) for c in ts}
    assert coded <= set(zip(seg["unit_id"], seg["code"])), "every coded theme has a segment behind it"
    assert seg["decided_by"].str.startswith(("pattern:", "veto:", "model")).all()


def test_one_classify_path_without_import_cycle():
    """scale and runs share pipeline.classify's classify_frame and loader; scale never imports runs."""
    import subprocess
    import sys

    code = "import sys, pipeline.scale; print('pipeline.runs' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    import pipeline.classify.tables as tables
    import pipeline.scale as scale
    from pipeline.classify import loader

    assert scale.classify_frame is tables.classify_frame and scale.check_coder is loader.check_coder
    from pipeline.runs import CODEBOOK_PATH

    assert loader.coder("rules", str(CODEBOOK_PATH)) is loader.coder("rules", str(CODEBOOK_PATH))


def test_quoted_passages_are_coded_as_quoted_only(tmp_path):
    """A reply quoting 'TR is a success' gets a quoted favour segment, never a favour stance."""
    from pipeline import store
    from pipeline.classify import segments_for
    from pipeline.runs import CODEBOOK_PATH, classify_units, write_segments

    rows = [{"thread_id": "q", "comment_id": "p", "kind": "post", "text": "Two years on."},
            {"thread_id": "q", "comment_id": "1", "text": "Through the gate is working well in our area."},
            {"thread_id": "q", "comment_id": "2", "parent_id": "1",
             "text": '"Through the gate is working well in our area, a real success story" Rubbish. The CRCs '
                     'are a complete disaster.'}]
    units = to_frames(parse_string("\n".join(json.dumps(r) for r in rows), kind="jsonl"))[1]
    labels = classify_units(units, "rules")
    store.write_parquet(units, tmp_path / "units.parquet")
    store.write_parquet(labels, tmp_path / "labels.parquet")
    write_segments(tmp_path, CODEBOOK_PATH)
    seg = segments_for(tmp_path)
    reply = seg[seg["unit_id"] == "q/c1.r1"]
    quoted = reply[reply["quoted"]]
    assert "favour" in set(quoted["code"]) and quoted["decided_by"].str.startswith("quoted").all()
    text = units.set_index("unit_id").at["q/c1.r1", "text"]
    for row in quoted.itertuples():
        assert text[row.start:row.end].startswith('"Through the gate')
    assert labels.set_index("unit_id").at["q/c1.r1", "stance_tr"] == "against"
    assert "favour" not in set(reply.loc[~reply["quoted"], "code"])


def test_reply_reads_its_parent(codebook, nlp):
    """Reply stance reads the parent: the share of the reply's content words the parent used, and
    whether the reply takes the parent's side on TR, are inputs of the reply-stance calibrator."""
    from pipeline.classify import content_overlap
    from pipeline.preprocess import features

    parent, backing, tangent = features(nlp, ["The risk escalation process wastes hours every week.",
                                              "Risk escalation wastes my hours too, every single week.",
                                              "Anyone going to the union conference in June?"])
    assert content_overlap(backing, parent) > 0.5 > content_overlap(tangent, parent) == 0.0
    assert content_overlap(backing, None) == 0.0
    coder = SupervisedCoder(codebook)
    Z = coder._cue_matrix([backing, tangent], [parent, parent], codebook.values("reply_stance"), reply=True)
    assert Z[0, -1] > Z[1, -1]  # the overlap column
