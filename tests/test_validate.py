"""Validation on a blind sample: allocation, the blind sheet, the design-based estimator (checked
by simulation), scoring, agreement and adjudication, the CLI, on the real seed run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, precision_score, recall_score
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import PipelineError
from pipeline.labels import read_labels
from pipeline.runs import BUNDLED_MODEL, run_all
from pipeline.validate import (adjudicate, design_path, disagreements, latest_validation, pairwise_agreement,
                               score_validation, write_sample)
from pipeline.validate.estimate import (share_interval, stratified_bootstrap, stratified_share, weighted_scores)
from pipeline.validate.sample import allocate

from validation_seeds import gold_coded_sheet, truth  # benchmarks/ is on sys.path (conftest)


@pytest.fixture(scope="module")
def run(tmp_path_factory, seed_dir) -> Path:
    out = tmp_path_factory.mktemp("validate") / "run"
    run_all([seed_dir], out, model_dir=BUNDLED_MODEL, chunk_mb=1000, workers=1)
    return out


@pytest.fixture(scope="module")
def gold(labels_path, codebook) -> pd.DataFrame:
    df, _ = read_labels(labels_path, codebook)
    return df[df["annotator"] == "gold"].set_index("unit_id")


# ---------------------------------------------------------------- allocation and the sheet

def test_allocation_sums_caps_and_favours_small_strata():
    N_h = {"big": 100, "mid": 30, "rare": 5, "tiny": 1}
    n_h = allocate(N_h, 40)
    assert sum(n_h.values()) == 40
    assert all(1 <= n_h[h] <= N_h[h] for h in N_h) and n_h["tiny"] == 1 and n_h["rare"] == 5
    assert n_h["rare"] / N_h["rare"] > n_h["big"] / N_h["big"]  # rare codes oversampled
    assert allocate({"a": 10, "b": 3}, 50) == {"a": 10, "b": 3}
    with pytest.raises(PipelineError, match="E206"):
        allocate({h: 10 for h in "abcdef"}, 5)


def test_sheet_is_blind_deterministic_and_has_a_design(run, tmp_path):
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    design = write_sample(run, a, 80, seed=7)
    write_sample(run, b, 80, seed=7)
    write_sample(run, c, 80, seed=8)
    assert a.read_bytes() == b.read_bytes() and design_path(a).read_bytes() == design_path(b).read_bytes()
    assert a.read_bytes() != c.read_bytes()
    rows = [json.loads(x) for x in a.read_text().splitlines()]
    assert len(rows) == 80 == design["n"] and len({r["unit_id"] for r in rows}) == 80
    for r in rows:  # what a coder needs, and nothing of the model's
        assert {"unit_id", "thread_title", "parent_text", "text", "fingerprint"} <= set(r)
        assert not {"themes", "stance_tr", "reply_stance", "stratum"} & set(r)
        assert not any(k.startswith("p_") for k in r)
    assert sum(s["N"] for s in design["strata"]) == 182 and sum(s["n"] for s in design["strata"]) == 80
    assert set(design["units"]) == {r["unit_id"] for r in rows}
    for s in design["strata"]:
        assert s["inclusion_probability"] == pytest.approx(s["n"] / s["N"], abs=1e-6)
    assert {"seed", "predictions_sha256", "codebook_fingerprint", "model", "allocation"} <= set(design)
    reply = next(r for r in rows if r["kind"] == "reply")
    assert reply["parent_text"]


# ---------------------------------------------------------------- the estimator

def test_stratified_share_is_cochrans_estimator():
    # stratum 0: N=10, 3 coded, 2 positive; stratum 1: N=20, 3 coded, 1 positive
    r = stratified_share([1, 1, 0, 0, 0, 1], [0, 0, 0, 1, 1, 1], {0: 10, 1: 20})
    assert r["estimate"] == pytest.approx(10 / 30 * 2 / 3 + 20 / 30 * 1 / 3)
    var = (1 / 3) ** 2 * (1 - 3 / 10) * (1 / 3) / 3 + (2 / 3) ** 2 * (1 - 3 / 20) * (1 / 3) / 3
    assert r["se"] == pytest.approx(var ** 0.5)
    assert r["ci"][0] <= r["estimate"] <= r["ci"][1]
    take_all = stratified_share([1, 0, 0, 1], [0, 0, 1, 1], {0: 2, 1: 2})  # everything coded: no uncertainty
    assert take_all["estimate"] == 0.5 and take_all["ci"] == [0.5, 0.5]


@pytest.mark.parametrize("Ns,Ks,ns", [
    ([17, 12, 25, 26, 22, 7, 73], [11, 7, 24, 8, 1, 0, 3], [10, 8, 11, 11, 11, 7, 22]),  # like the seed run
    ([30, 150], [25, 6], [20, 20]),  # a rare code the model misses in a big stratum
    ([40, 140], [20, 35], [20, 20]),  # a common code
])
def test_interval_covers_the_truth_about_95_percent(Ns, Ks, ns):
    """Simulation: draw 2000 stratified samples from a fixed finite population; the 95% interval
    must contain the true share about 95% of the time (binomial s.e. of the rate 0.5%)."""
    rng = np.random.default_rng(42)
    Ns, Ks, ns = map(np.array, (Ns, Ks, ns))
    R = 2000
    k = rng.hypergeometric(Ks, Ns - Ks, ns, size=(R, len(Ns)))
    lo, hi = share_interval(k, np.broadcast_to(ns, k.shape), np.broadcast_to(Ns, k.shape), draws=1000, seed=1)
    t = Ks.sum() / Ns.sum()
    coverage = np.mean((lo <= t + 1e-12) & (t - 1e-12 <= hi))
    assert 0.93 <= coverage <= 0.99, coverage


def test_weighted_scores_match_sklearn_with_equal_weights():
    rng = np.random.default_rng(0)
    g, p = rng.random(60) < 0.3, rng.random(60) < 0.35
    s = weighted_scores(g, p, np.ones(60))
    assert s["precision"][0] == pytest.approx(precision_score(g, p))
    assert s["recall"][0] == pytest.approx(recall_score(g, p))
    assert s["kappa"][0] == pytest.approx(cohen_kappa_score(g, p))


def test_bootstrap_resamples_within_strata():
    strata = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 2)
    W = stratified_bootstrap(strata, {"a": 50, "b": 9, "c": 2}, n_boot=200, seed=0)
    assert np.allclose(W[:, :5].sum(1), 50) and np.allclose(W[:, 5:8].sum(1), 9)
    assert np.allclose(W[:, 8:], 1.0)  # take-all stratum: fixed
    assert W[:, :5].std() > 0


# ---------------------------------------------------------------- scoring on the seed run

def _sheet(run, tmp_path, gold, seed=0, n=80):
    sheet = tmp_path / "sheet.jsonl"
    write_sample(run, sheet, n, seed=seed)
    coded = tmp_path / "sheet.coded.jsonl"
    gold_coded_sheet(sheet, gold, coded)
    return sheet, coded


def test_corrected_prevalence_recovers_the_gold_share(run, tmp_path, gold, codebook):
    """The aim of issue 9 on one seed: a blind sample of 80 'coded' by the gold labels."""
    from pipeline.runs import load_run

    _, coded = _sheet(run, tmp_path, gold, seed=0)
    res = score_validation(run, coded, tmp_path / "out", n_boot=200)
    true = truth(load_run(run, need_labels=True), gold, codebook)
    raw_err, corr_err = [], []
    for t in codebook.theme_names:
        pv = res["themes"][t]["prevalence"]
        assert pv["ci"][0] <= true[t] <= pv["ci"][1], (t, pv, true[t])
        raw_err.append(abs(pv["model"] - true[t]))
        corr_err.append(abs(pv["corrected"] - true[t]))
    assert np.mean(corr_err) < np.mean(raw_err)
    assert res["kind"] == "validation" and res["n"] == 80 and res["uncoded"] == 0
    assert set(res["stance_tr"]) == {"against", "favour", "none"}
    e = res["themes"]["drug_use_upw"]
    assert e["precision_ci"][0] <= e["precision"] <= e["precision_ci"][1]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "validated on a blind sample of 80" in report and "validation-sample" in report


def test_partly_coded_sheet_and_errors(run, tmp_path, gold, codebook):
    sheet, coded = _sheet(run, tmp_path, gold, seed=1)
    lines = coded.read_text().splitlines()
    blank = json.loads(sheet.read_text().splitlines()[0])  # an uncoded sheet line is skipped, not an error
    coded.write_text("\n".join(lines[1:] + [json.dumps(blank)]) + "\n")
    res = score_validation(run, coded, tmp_path / "o1", n_boot=50)
    assert res["n"] == 79 and res["uncoded"] == 1
    bad = json.loads(lines[2])
    bad["themes"] = ["not_a_theme"]
    coded.write_text("\n".join(lines[:2] + [json.dumps(bad)]) + "\n")
    with pytest.raises(PipelineError) as exc:
        score_validation(run, coded, tmp_path / "o2")
    assert exc.value.problem.code == "E202" and exc.value.problem.line == 3
    # a stratum nobody coded cannot be estimated
    design = json.loads(design_path(sheet).read_text())
    only = {u for u, h in design["units"].items() if h != "stance_tr:none"}
    coded.write_text("\n".join(x for x in lines if json.loads(x)["unit_id"] in only) + "\n")
    with pytest.raises(PipelineError, match="E206"):
        score_validation(run, coded, tmp_path / "o3")


def test_reclassified_run_is_refused(run, tmp_path, gold):
    from pipeline import store

    other = tmp_path / "run2"
    other.mkdir()
    for name in ("threads", "units"):
        store.write_parquet(store.read_parquet(run / f"{name}.parquet"), other / f"{name}.parquet")
    labels = store.read_parquet(run / "labels.parquet")
    labels.loc[0, "themes"] = ["workload", "blame_culture"] if "blame_culture" not in labels.loc[0, "themes"] else []
    store.write_parquet(labels, other / "labels.parquet")
    _, coded = _sheet(run, tmp_path, gold)
    with pytest.raises(PipelineError, match="E203"):
        score_validation(other, coded, tmp_path / "o")


def test_two_coders_agreement_and_adjudication(run, tmp_path, gold, codebook):
    sheet, coded = _sheet(run, tmp_path, gold, seed=2, n=30)
    rows = [json.loads(x) for x in coded.read_text().splitlines()]
    second = []
    for i, r in enumerate(rows):
        r2 = {**r, "annotator": "researcher_b"}
        if i in (0, 1):  # two disagreements
            r2["themes"] = [] if r["themes"] else ["workload"]
        second.append(r2)
    coded.write_text("".join(json.dumps(r) + "\n" for r in rows + second))
    from pipeline.validate import read_coded

    labels, _ = read_coded(coded, codebook)
    todo = disagreements(labels)
    assert sorted(todo["unit_id"]) == sorted(r["unit_id"] for r in rows[:2])
    assert {"themes:researcher", "themes:researcher_b"} <= set(todo.columns)
    agree = pairwise_agreement(labels, codebook)
    assert agree[0]["pair"] == "researcher vs researcher_b" and agree[0]["n_units"] == 30
    with pytest.raises(PipelineError, match="E206"):  # disagreements must be adjudicated first
        score_validation(run, coded, tmp_path / "o", n_boot=50)
    for r in rows[:2]:
        adjudicate(coded, r["unit_id"], themes=r["themes"], stance_tr=r["stance_tr"],
                   reply_stance=r["reply_stance"], note="agreed after discussion", fingerprint=r["fingerprint"])
    with pytest.raises(ValueError):
        adjudicate(coded, rows[0]["unit_id"], themes=[], stance_tr=None, reply_stance=None, note=" ")
    labels, _ = read_coded(coded, codebook)
    assert disagreements(labels).empty
    res = score_validation(run, coded, run / "validation", n_boot=50)
    assert res["annotator"] == "adjudicated" and res["n"] == 30 and res["agreement"]
    one = score_validation(run, coded, tmp_path / "b", annotator="researcher_b", n_boot=50)
    assert one["themes"] != res["themes"]
    assert latest_validation(tmp_path) is None
    latest = latest_validation(run)
    assert latest["kind"] == "validation" and latest["n"] == 30 and latest["path"].endswith("validation.json")


def test_cli_sample_score_agree(run, tmp_path, gold):
    runner = CliRunner()
    sheet = tmp_path / "s.jsonl"
    r = runner.invoke(app, ["validate", "sample", str(run), "--n", "40", "--out", str(sheet), "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert "Sampled 40 of 182" in r.output and design_path(sheet).exists()
    coded = tmp_path / "s.coded.jsonl"
    gold_coded_sheet(sheet, gold, coded)
    r = runner.invoke(app, ["validate", "score", str(run), "--labels", str(coded), "--out", str(tmp_path / "v")])
    assert r.exit_code == 0, r.output
    assert "corrected" in r.output and (tmp_path / "v" / "validation.json").exists()
    r = runner.invoke(app, ["validate", "agree", "--labels", str(coded), "--out", str(tmp_path / "d.jsonl")])
    assert r.exit_code == 0 and "0 units to adjudicate" in r.output
    r = runner.invoke(app, ["validate", "score", str(run), "--labels", str(tmp_path / "missing.jsonl"),
                            "--out", str(tmp_path / "v2"), "--design", str(design_path(sheet))])
    assert r.exit_code == 2 and "E202" in r.output
    r = runner.invoke(app, ["validate", "sample", str(run), "--n", "5", "--out", str(tmp_path / "t.jsonl")])
    assert r.exit_code == 2 and f"[E206] {run}:" in r.output and "--n 14" in r.output
