"""The command line, end to end on the seed threads: every stage, bad input, exit codes,
and byte-for-byte determinism of parse + classify.

The evaluation steps run with fewer bootstrap resamples (``fast_bootstrap``): these tests
check that the stages run and write what they promise, not the width of the intervals.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import store
from pipeline.cli import app


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args) -> object:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"`{' '.join(map(str, args))}` raised:\n{result.output}") from result.exception
    return result


def ok(runner: CliRunner, *args) -> str:
    result = invoke(runner, *args)
    assert result.exit_code == 0, f"`{' '.join(map(str, args))}` exited {result.exit_code}:\n{result.output}"
    return result.output


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_stage_end_to_end(runner, seed_dir, labels_path, tmp_path, fast_bootstrap, codebook):
    run = tmp_path / "run"
    model = tmp_path / "model"

    # parse
    out = ok(runner, "parse", seed_dir, "--out", run, "-q")
    assert "Parsed 5 threads from 5 files" in out
    assert "[W101]" in out and "003_" in out  # 003 declares 17 comments, 16 are on the page
    for name in ("threads.parquet", "units.parquet", "report.json"):
        assert (run / name).is_file(), name
    report = json.loads((run / "report.json").read_text())
    assert report["stage"] == "parse" and report["threads"] == 5 and report["skipped"] == []
    assert "W101" in {w["code"] for w in report["warnings"]}
    units = store.read_parquet(run / "units.parquet")
    assert len(store.read_parquet(run / "threads.parquet")) == 5 and len(units) == sum(report["units_by_kind"].values())

    # classify with the codebook rules alone
    out = ok(runner, "classify", run, "--model", "rules")
    assert f"Classified {len(units)} units" in out
    labels = store.read_parquet(run / "labels.parquet")
    assert list(labels["unit_id"]) == list(units["unit_id"])
    assert {f"p_{c}" for c in codebook.all_labels} <= set(labels.columns)
    assert set(labels["model"]) == {"rules"}
    assert json.loads((run / "report.json").read_text())["classify"]["units"] == len(units)

    # train (two threads left out to keep it quick)
    out = ok(runner, "train", "--labels", labels_path, "--out", model, "--exclude-thread", "004",
             "--exclude-thread", "003")
    assert "excluded: 003, 004" in out and "Theme thresholds" in out
    assert {"model.skops", "model.json", "MODEL_CARD.md"} <= {p.name for p in model.iterdir()}
    meta = json.loads((model / "model.json").read_text())
    assert meta["training"]["excluded_threads"] == ["003", "004"]
    assert meta["training"]["threads"] == ["000", "001", "002"]

    # classify with the trained model
    ok(runner, "classify", run, "--model", model)
    labels = store.read_parquet(run / "labels.parquet")
    assert set(labels["model"]) == {"combined"} and len(labels) == len(units)
    assert all(set(ts) <= set(codebook.theme_names) for ts in labels["themes"])

    # evaluate a run against gold
    out = ok(runner, "evaluate", "--gold", labels_path, "--pred", run)
    assert "Theme macro F1" in out
    ev = json.loads((run / "evaluation" / "evaluation.json").read_text())
    assert ev["alignment"]["matched"] > 100 and ev["alignment"]["unmatched_gold"] == []
    assert (run / "evaluation" / "report.md").is_file()

    # evaluate the training recipe by leave-one-thread-out cross-validation
    out = ok(runner, "evaluate", "--gold", labels_path, "--model", model, "--cv", "thread", "--no-learning-curve")
    for recipe in ("majority", "rules", "supervised", "combined"):
        assert recipe in out
    ev = json.loads((model / "evaluation" / "evaluation.json").read_text())
    assert set(ev["baselines"]) == {"majority", "rules", "supervised", "combined"}
    assert ev["learning_curve"] == []
    assert "coder_a vs coder_b" in {a["pair"] for a in ev["agreement"]}
    assert (model / "evaluation" / "report.md").is_file()

    # run: parse + classify in one go, same labels as the two stages above
    run2 = tmp_path / "run2"
    out = ok(runner, "run", seed_dir, "--out", run2, "--model", model, "-q")
    assert "Parsed 5 threads" in out and "[W101]" in out
    labels2 = store.read_parquet(run2 / "labels.parquet")
    assert list(labels2["unit_id"]) == list(labels["unit_id"])
    for col in ("themes", "stance_tr", "reply_stance"):
        assert labels2[col].map(list if col == "themes" else str).tolist() == \
            labels[col].map(list if col == "themes" else str).tolist(), col
    assert len(store.read_parquet(run2 / "units.parquet")) == len(units)


def test_bad_files_are_skipped_and_reported(runner, seed_dir, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = sorted(seed_dir.glob("000_*.txt"))[0]
    shutil.copy(good, inputs / good.name)
    (inputs / "empty.txt").write_bytes(b"")
    (inputs / "scan.txt").write_bytes(b"%PDF-1.4\n\x00\x01\x02binary\xff\xfe")
    result = invoke(runner, "parse", inputs, "--out", tmp_path / "run", "-q")
    assert result.exit_code == 0, result.output
    assert "Parsed 1 threads from 3 files" in result.output
    assert "Skipped files (2)" in result.output
    assert "[E001]" in result.output and "empty.txt" in result.output
    assert "[E002]" in result.output and "scan.txt" in result.output
    threads = store.read_parquet(tmp_path / "run" / "threads.parquet")
    assert list(threads["thread_id"]) == ["000"]
    skipped = json.loads((tmp_path / "run" / "report.json").read_text())["skipped"]
    assert sorted((Path(s["file"]).name, s["code"]) for s in skipped) == [("empty.txt", "E001"), ("scan.txt", "E002")]
    assert all(s["fix"] for s in skipped)


def test_only_bad_files_exit_1(runner, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "empty.txt").write_bytes(b"")
    (inputs / "scan.txt").write_bytes(b"\x00\x00\x00")
    result = invoke(runner, "parse", inputs, "--out", tmp_path / "run", "-q")
    assert result.exit_code == 1
    assert "Nothing could be parsed" in result.output and "[E001]" in result.output
    assert not (tmp_path / "run" / "units.parquet").exists()


def test_strict_fails_on_warnings(runner, seed_dir, tmp_path):
    result = invoke(runner, "parse", seed_dir, "--out", tmp_path / "run", "--strict", "-q")
    assert result.exit_code not in (0, None)
    assert "[W101]" in result.output
    assert (tmp_path / "run" / "units.parquet").exists()  # outputs are still written for inspection


def test_classify_missing_run_dir(runner, tmp_path):
    missing = tmp_path / "no_such_run"
    result = invoke(runner, "classify", missing, "--model", "rules")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "[E205]" in result.output and str(missing) in result.output and "Fix:" in result.output
    assert "parse" in result.output  # says which command makes a run


def test_parse_then_classify_is_deterministic(runner, seed_dir, tmp_path):
    digests = []
    for name in ("a", "b"):
        run = tmp_path / name
        ok(runner, "parse", seed_dir, "--out", run, "-q")
        ok(runner, "classify", run, "--model", "rules")
        digests.append({t: sha256(run / t) for t in ("threads.parquet", "units.parquet", "labels.parquet")})
    assert digests[0] == digests[1]
