"""Labels files and evaluation: validation, metrics against sklearn, bootstrap intervals,
agreement, alignment of label sets and error analysis."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score, precision_recall_fscore_support

from pipeline.errors import PipelineError
from pipeline.evaluate import agreement, align, error_analysis, normalise, score
from pipeline.labels import read_labels

GOOD = {"unit_id": "000/c1", "annotator": "gold", "themes": ["workload"], "stance_tr": "against",
        "reply_stance": "support"}

BAD_LINES = [
    pytest.param(json.dumps({**GOOD, "themes": ["workload", "burnout"]}), ["unknown theme", "burnout"], id="unknown-theme"),
    pytest.param(json.dumps({**GOOD, "stance_tr": "sceptical"}), ["stance_tr", "sceptical"], id="unknown-stance-value"),
    pytest.param(json.dumps({**GOOD, "reply_stance": "against"}), ["reply_stance", "against"], id="value-of-other-scheme"),
    pytest.param('{"unit_id": "000/c2", "annotator": "gold", "themes": [', ["invalid label"], id="not-json"),
    pytest.param(json.dumps({k: v for k, v in GOOD.items() if k != "unit_id"}), ["unit_id"], id="missing-unit-id"),
    pytest.param(json.dumps({**GOOD, "annotator": ""}), ["annotator"], id="missing-annotator"),
    pytest.param(json.dumps({**GOOD, "themes": "workload"}), ["list"], id="themes-not-a-list"),
    pytest.param(json.dumps(["000/c1", "gold"]), ["not a JSON object"], id="not-an-object"),
]


def _write(tmp_path, lines: list[str]):
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("bad, fragments", BAD_LINES)
def test_read_labels_names_the_bad_line(tmp_path, codebook, bad, fragments):
    path = _write(tmp_path, [json.dumps(GOOD), "", bad])  # blank lines are skipped but counted
    with pytest.raises(PipelineError) as exc:
        read_labels(path, codebook)
    p = exc.value.problem
    assert p.code == "E202" and p.file == str(path) and p.line == 3 and p.fix
    assert f"{path}:3" in str(exc.value)
    for fragment in fragments:
        assert fragment in p.message


def test_read_labels_not_strict_collects_problems(tmp_path, codebook):
    bad = [b.values[0] for b in BAD_LINES]
    path = _write(tmp_path, [json.dumps(GOOD)] + bad + [json.dumps({**GOOD, "unit_id": "000/c3", "themes": []})])
    df, problems = read_labels(path, codebook, strict=False)
    assert list(df["unit_id"]) == ["000/c1", "000/c3"]
    assert [p.line for p in problems] == list(range(2, 2 + len(bad)))
    assert all(p.code == "E202" and p.file == str(path) and p.severity == "error" for p in problems)


def test_read_labels_contract(tmp_path, codebook):
    path = _write(tmp_path, [
        json.dumps({**GOOD, "themes": ["workload", "workload", "blame_culture"]}),
        json.dumps({"unit_id": "000/c9", "annotator": "coder_a"}),  # stances may be left out
        json.dumps({**GOOD, "themes": ["drug_use_upw"]}),  # same unit and coder again: the latest wins
        json.dumps({**GOOD, "unit_id": "999/c1"}),
    ])
    df, problems = read_labels(path, codebook, known_units={"000/c1", "000/c9"})
    assert len(df) == 3
    latest = df.set_index(["unit_id", "annotator"]).loc[("000/c1", "gold")]
    assert latest["themes"] == ["drug_use_upw"] and latest["line"] == 3
    assert pd.isna(df.set_index("unit_id").at["000/c9", "stance_tr"])
    assert len(problems) == 1 and "999/c1" in problems[0].message  # unknown unit: reported, kept
    assert problems[0].line == 4 and problems[0].severity == "warning"


def test_missing_labels_file(tmp_path, codebook):
    with pytest.raises(PipelineError) as exc:
        read_labels(tmp_path / "nope.jsonl", codebook)
    assert exc.value.problem.code == "E202"


def test_bundled_labels_are_valid(labels_path, codebook, seed_units):
    df, problems = read_labels(labels_path, codebook, known_units=set(seed_units["unit_id"]))
    assert problems == []
    assert {"coder_a", "coder_b", "gold"} <= set(df["annotator"])


# ---------------------------------------------------------------- score


def _joined(rows) -> pd.DataFrame:
    """rows: (gold themes, pred themes, gold stance_tr, pred stance_tr, gold reply, pred reply)."""
    return pd.DataFrame([{"unit_id": f"t/c{i}", "themes_gold": g, "themes_pred": p, "stance_tr_gold": sg,
                          "stance_tr_pred": sp, "reply_stance_gold": rg, "reply_stance_pred": rp}
                         for i, (g, p, sg, sp, rg, rp) in enumerate(rows)])


W, C, D, B = "workload", "communication_failure", "drug_use_upw", "blame_culture"
TINY = _joined([
    ([W], [W], "against", "against", "support", "support"),
    ([W, C], [W], "against", "none", "deny", "comment"),
    ([], [W], "none", "none", "comment", "comment"),
    ([C], [C], "favour", "favour", "query", "query"),
    ([D], [D, B], "none", "against", "comment", "support"),
    ([B], [], "favour", "none", "support", "support"),
    ([], [], "none", "none", "comment", "comment"),
    ([D], [D], "against", "against", "deny", "deny"),
    ([W], [W], "none", "favour", "comment", "query"),
    ([B, W], [B, W], "against", "against", "support", "comment"),
])


def _tiny_scaled(k: int) -> pd.DataFrame:
    df = pd.concat([TINY] * k, ignore_index=True)
    df["unit_id"] = [f"t/c{i}" for i in range(len(df))]
    return df


def test_score_matches_sklearn(codebook, fast_bootstrap):
    result = score(TINY, codebook)
    names = codebook.theme_names
    G = np.array([[int(t in g) for t in names] for g in TINY["themes_gold"]])
    P = np.array([[int(t in p) for t in names] for p in TINY["themes_pred"]])
    prec, rec, f1, sup = precision_recall_fscore_support(G, P, average=None, zero_division=0)
    rows = {(r["scheme"], r["label"]): r for r in result["per_label"]}
    for j, t in enumerate(names):
        r = rows[("themes", t)]
        assert r["precision"] == pytest.approx(prec[j], abs=1e-3)
        assert r["recall"] == pytest.approx(rec[j], abs=1e-3)
        assert r["f1"] == pytest.approx(f1[j], abs=1e-3)
        assert r["support"] == sup[j] and r["predicted"] == P[:, j].sum()
    s = result["summary"]
    assert s["n_units"] == len(TINY)
    assert s["themes"]["macro_f1"] == pytest.approx(f1_score(G, P, average="macro"), abs=1e-3)
    assert s["themes"]["micro_f1"] == pytest.approx(f1_score(G, P, average="micro"), abs=1e-3)
    for scheme in ("stance_tr", "reply_stance"):
        values = codebook.values(scheme)
        g, p = TINY[f"{scheme}_gold"], TINY[f"{scheme}_pred"]
        f1s = f1_score(g, p, labels=values, average=None, zero_division=0)
        assert s[scheme]["macro_f1"] == pytest.approx(f1s.mean(), abs=1e-3)
        assert s[scheme]["accuracy"] == pytest.approx((g == p).mean(), abs=1e-3)
        for v, fv in zip(values, f1s):
            assert rows[(scheme, v)]["f1"] == pytest.approx(fv, abs=1e-3)
        assert result["confusion"][scheme]["labels"] == values
        assert np.array(result["confusion"][scheme]["matrix"]).sum() == len(TINY)
    # F_avg (SemEval-2016): the mean F1 of favour and against, 'none' left out
    f_fav = f1_score(TINY["stance_tr_gold"], TINY["stance_tr_pred"], labels=["favour"], average=None)[0]
    f_ag = f1_score(TINY["stance_tr_gold"], TINY["stance_tr_pred"], labels=["against"], average=None)[0]
    assert s["stance_tr"]["f_avg"] == pytest.approx((f_fav + f_ag) / 2, abs=1e-3)
    assert "f_avg" not in s["reply_stance"]


def test_score_of_perfect_predictions(codebook, fast_bootstrap):
    perfect = TINY.assign(themes_pred=TINY["themes_gold"], stance_tr_pred=TINY["stance_tr_gold"],
                          reply_stance_pred=TINY["reply_stance_gold"])
    s = score(perfect, codebook)["summary"]
    assert s["themes"]["macro_f1"] == 1 and s["stance_tr"]["f_avg"] == 1 and s["reply_stance"]["macro_f1"] == 1
    assert s["themes"]["micro_f1_ci_units"] == (1.0, 1.0)
    assert s["themes"]["macro_f1_ci_units"][1] == 1.0


def test_perfect_predictions_have_a_degenerate_interval(codebook, fast_bootstrap):
    perfect = TINY.assign(themes_pred=TINY["themes_gold"], stance_tr_pred=TINY["stance_tr_gold"],
                          reply_stance_pred=TINY["reply_stance_gold"])
    s = score(perfect, codebook)["summary"]
    assert s["themes"]["macro_f1_ci_units"] == (1.0, 1.0)
    assert s["stance_tr"]["f_avg_ci_units"] == (1.0, 1.0)


def test_bootstrap_intervals_contain_point_estimates(codebook, fast_bootstrap):
    joined = _tiny_scaled(4)
    groups = np.array([f"thread{i % 5}" for i in range(len(joined))])
    result = score(joined, codebook, groups=groups)
    s = result["summary"]
    checks = [(s["themes"]["macro_f1"], s["themes"]["macro_f1_ci_units"]),
              (s["themes"]["micro_f1"], s["themes"]["micro_f1_ci_threads"]),
              (s["stance_tr"]["f_avg"], s["stance_tr"]["f_avg_ci_units"]),
              (s["reply_stance"]["macro_f1"], s["reply_stance"]["macro_f1_ci_threads"])]
    checks += [(r["f1"], r["f1_ci_units"]) for r in result["per_label"] if r["scheme"] == "themes"]
    for value, (lo, hi) in checks:
        assert 0 <= lo <= value <= hi <= 1, (value, lo, hi)
    # the same seed gives the same intervals
    assert score(joined, codebook, groups=groups)["summary"] == s


# ---------------------------------------------------------------- agreement


def test_identical_label_sets_agree_perfectly(codebook):
    same = TINY.assign(themes_pred=TINY["themes_gold"], stance_tr_pred=TINY["stance_tr_gold"],
                       reply_stance_pred=TINY["reply_stance_gold"])
    a = agreement(same, codebook)
    assert a["n_units"] == len(TINY)
    for t in codebook.theme_names:
        assert a["themes"][t]["kappa"] == 1 and a["themes"][t]["alpha"] == 1 and a["themes"][t]["raw"] == 1
    assert a["themes_all"]["alpha"] == 1 and a["themes_all"]["raw_exact_set"] == 1
    for scheme in ("stance_tr", "reply_stance"):
        assert a[scheme]["kappa"] == 1 and a[scheme]["alpha"] == 1 and a[scheme]["raw"] == 1


def test_kappa_by_hand(codebook):
    # workload: coder A says yes on units 0,1; coder B on unit 0 only.
    # p_o = 3/4; p_e = P(yes)^2 terms = 2/4*1/4 + 2/4*3/4 = 1/2; kappa = (3/4 - 1/2) / (1 - 1/2) = 0.5
    joined = _joined([([W], [W], "against", "against", "support", "support"),
                      ([W], [], "against", "none", "support", "comment"),
                      ([], [], "none", "none", "comment", "comment"),
                      ([], [], "none", "none", "comment", "comment")])
    a = agreement(joined, codebook)
    assert a["themes"][W]["kappa"] == pytest.approx(0.5)
    assert a["themes"][W]["raw"] == pytest.approx(0.75)
    assert a["themes"][W]["n_a"] == 2 and a["themes"][W]["n_b"] == 1
    # a theme nobody used has no kappa (undefined), not a misleading 1.0
    assert a["themes"][D]["kappa"] is None
    # stance_tr: the same table shape (against/none), kappa 0.5 again
    assert a["stance_tr"]["kappa"] == pytest.approx(0.5)
    assert a["stance_tr"]["kappa"] == pytest.approx(
        cohen_kappa_score(joined["stance_tr_gold"], joined["stance_tr_pred"]), abs=1e-3)


# ---------------------------------------------------------------- align


def test_align_by_id_then_by_normalised_text():
    gold = pd.DataFrame({"unit_id": ["a/c1", "a/c2", "a/c3"], "themes": [[W], [], [B]],
                         "stance_tr": ["against", "none", "none"], "reply_stance": ["comment"] * 3})
    pred = pd.DataFrame({"unit_id": ["a/c2", "x/c7", "x/c8"], "themes": [[], [W], [D]],
                         "stance_tr": ["none", "against", "none"], "reply_stance": ["comment"] * 3})
    gold_units = pd.DataFrame({"unit_id": ["a/c1", "a/c2", "a/c3"],
                               "text": ["My caseload is 80!", "Nothing here.", "Blamed again."]})
    pred_units = pd.DataFrame({"unit_id": ["a/c2", "x/c7", "x/c8"],
                               "text": ["Nothing here.", "  my CASELOAD is 80 ", "Something else entirely."]})
    assert normalise("  my CASELOAD is 80 ") == normalise("My caseload is 80!")
    joined, report = align(gold, pred, gold_units=gold_units, pred_units=pred_units)
    assert sorted(joined["unit_id"]) == ["a/c1", "a/c2"]
    row = joined.set_index("unit_id").loc["a/c1"]
    assert row["themes_gold"] == [W] and row["themes_pred"] == [W] and row["stance_tr_pred"] == "against"
    assert report["matched"] == 2 and report["matched_by_text"] == 1
    assert report["unmatched_gold"] == ["a/c3"] and report["unmatched_pred"] == ["x/c8"]
    assert report["gold_units"] == 3 and report["pred_units"] == 3


def test_align_without_unit_tables_matches_ids_only():
    gold = pd.DataFrame({"unit_id": ["a/c1", "a/c2"], "themes": [[W], []]})
    pred = pd.DataFrame({"unit_id": ["a/c2", "b/c1"], "themes": [[], [W]]})
    joined, report = align(gold, pred)
    assert list(joined["unit_id"]) == ["a/c2"]
    assert report["matched_by_text"] == 0 and report["unmatched_gold"] == ["a/c1"]
    assert report["unmatched_pred"] == ["b/c1"]


# ---------------------------------------------------------------- error analysis


def test_error_analysis_most_confident_first(codebook):
    joined = _joined([([], [W], "none", "none", "comment", "comment"),     # FP p=0.55
                      ([], [W], "none", "none", "comment", "comment"),     # FP p=0.97
                      ([W], [W], "none", "none", "comment", "comment"),    # TP
                      ([], [W], "none", "none", "comment", "comment"),     # FP p=0.71
                      ([W], [], "none", "none", "comment", "comment"),     # FN p=0.30
                      ([W], [], "none", "none", "comment", "comment")])    # FN p=0.02
    probs = pd.DataFrame({"unit_id": joined["unit_id"], f"p_{W}": [0.55, 0.97, 0.9, 0.71, 0.30, 0.02]})
    units = pd.DataFrame({"unit_id": joined["unit_id"], "text": [f"text {i}" for i in range(len(joined))]})
    errors = error_analysis(joined, probs, units, codebook, k=5)
    fps = [e for e in errors if e["label"] == W and e["type"] == "false_positive"]
    fns = [e for e in errors if e["label"] == W and e["type"] == "false_negative"]
    assert [e["unit_id"] for e in fps] == ["t/c1", "t/c3", "t/c0"]
    assert fps[0]["p"] == 0.97 and fps[0]["text"] == "text 1" and fps[0]["scheme"] == "themes"
    assert [e["unit_id"] for e in fns] == ["t/c5", "t/c4"]  # most confident miss: lowest probability
    assert not [e for e in errors if e["label"] != W]  # stances all agree: no stance errors
    top = error_analysis(joined, probs, units, codebook, k=1)
    assert [e["unit_id"] for e in top if e["type"] == "false_positive"] == ["t/c1"]


def test_error_analysis_without_probabilities(codebook):
    joined = _joined([([], [W], "none", "against", "comment", "comment")])
    units = pd.DataFrame({"unit_id": joined["unit_id"], "text": ["t"]})
    errors = error_analysis(joined, None, units, codebook)
    assert {(e["label"], e["type"]) for e in errors} == {(W, "false_positive"), ("against", "false_positive"),
                                                        ("none", "false_negative")}
    assert all(e["p"] is None for e in errors)
