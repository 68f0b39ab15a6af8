"""Batch runs at scale (pipeline/scale.py, runs.run_all): chunked and parallel runs give the same tables
as one chunk, interrupted runs resume and redo only what is missing, outputs are byte-deterministic,
and the Dask engine labels exactly like the local one.

The corpus is 40 synthetic threads (benchmarks/synth.py, about 0.8 MB); with ``CHUNK_MB`` it is cut
into several chunks.  The rule coder (model 'rules') is used except where the trained model matters.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import traceback
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import pipeline.scale as scale
from pipeline import store
from pipeline.cli import app
from pipeline.runs import BUNDLED_MODEL, CODEBOOK_PATH, load_run, run_all

ROOT = Path(__file__).resolve().parents[1]
CHUNK_MB = 0.15  # about 6 chunks of the 0.8 MB corpus
TABLES = ("threads", "units", "labels")


import synth  # noqa: E402  (benchmarks/ is put on sys.path by conftest.py)


# ---------------------------------------------------------------- helpers


def _sorted(df: pd.DataFrame, key: str) -> pd.DataFrame:
    return df.sort_values(key).reset_index(drop=True)


def _tables(run: Path) -> dict[str, pd.DataFrame]:
    tables = load_run(run, need_labels=True)
    return {name: _sorted(df, "thread_id" if name == "threads" else "unit_id") for name, df in tables.items()}


def assert_same_tables(a: Path, b: Path) -> None:
    ta, tb = _tables(a), _tables(b)
    assert set(ta) == set(tb) == set(TABLES)
    for name in TABLES:
        pd.testing.assert_frame_equal(ta[name], tb[name], obj=name)


def _digests(run: Path) -> dict[str, str]:
    """sha256 of every part file of the three tables, by relative path."""
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for t in TABLES for p in sorted((run / f"{t}.parquet").glob("part-*.parquet"))}


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def _temp_files(run: Path) -> list[Path]:
    return [p for p in run.rglob(".*.tmp")]


def _run(corpus: Path, out: Path, **kw) -> dict:
    kw.setdefault("model_dir", "rules")
    kw.setdefault("chunk_mb", CHUNK_MB)
    kw.setdefault("workers", 1)
    return run_all([corpus], out, **kw)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scale") / "corpus"
    manifest = synth.generate(out, threads=40, seed=3)
    assert manifest["n_threads"] == 40
    return out


@pytest.fixture(scope="module")
def single_run(corpus, tmp_path_factory) -> tuple[Path, dict]:
    """One chunk, one worker: the reference."""
    out = tmp_path_factory.mktemp("scale") / "single"
    return out, _run(corpus, out, chunk_mb=1000, workers=1)


@pytest.fixture(scope="module")
def chunked_run(corpus, tmp_path_factory) -> tuple[Path, dict]:
    """Several chunks on two worker processes."""
    out = tmp_path_factory.mktemp("scale") / "chunked"
    return out, _run(corpus, out, workers=2)


# ---------------------------------------------------------------- chunked == single


def test_chunked_parallel_run_equals_single_chunk(single_run, chunked_run):
    (single, s1), (chunked, s2) = single_run, chunked_run
    assert s1["parse"]["chunks"] == 1
    n = s2["parse"]["chunks"]
    assert n >= 4, "the corpus should be cut into several chunks"
    assert s2["parse"]["chunks_done_now"] == n and s2["parse"]["chunks_resumed"] == 0
    for t in TABLES:
        assert len(list((chunked / f"{t}.parquet").glob("part-*.parquet"))) == n
    assert sorted(_manifest(chunked)["chunks"], key=int) == [str(i) for i in range(n)]
    assert_same_tables(single, chunked)
    tables = _tables(chunked)
    assert tables["units"]["unit_id"].is_unique
    assert len(tables["labels"]) == len(tables["units"]) == s2["parse"]["units"] == s1["parse"]["units"]
    assert s1["classify"]["themes"] == s2["classify"]["themes"]
    assert s1["classify"]["stance_tr"] == s2["classify"]["stance_tr"]
    # the only expected warning of a synthetic corpus is the flat layout's W102, the same in both
    key = lambda w: (w["file"], w["code"], w["line"] or 0)  # noqa: E731
    assert sorted(s1["parse"]["warnings"], key=key) == sorted(s2["parse"]["warnings"], key=key)
    assert {w["code"] for w in s2["parse"]["warnings"]} <= {"W102"}
    assert s2["parse"]["skipped"] == []


# ---------------------------------------------------------------- restartable


def test_resume_redoes_only_the_interrupted_chunk(corpus, chunked_run, tmp_path):
    original, first = chunked_run
    n = first["parse"]["chunks"]
    run = tmp_path / "run"
    shutil.copytree(original, run)
    k = 2
    (run / "labels.parquet" / f"part-{k:05d}.parquet").unlink()
    manifest = _manifest(run)
    del manifest["chunks"][str(k)]
    (run / "manifest.json").write_text(json.dumps(manifest))

    redone = []
    again = _run(corpus, run, progress=lambda res: redone.append(res["chunk"]))
    assert again["parse"]["chunks_done_now"] == 1 and redone == [k]
    assert again["parse"]["chunks_resumed"] == n - 1
    assert again["parse"]["units"] == first["parse"]["units"]
    assert_same_tables(original, run)
    assert _digests(run) == _digests(original)
    assert sorted(_manifest(run)["chunks"], key=int) == [str(i) for i in range(n)]

    third = _run(corpus, run)
    assert third["parse"]["chunks_done_now"] == 0 and third["parse"]["chunks_resumed"] == n
    assert_same_tables(original, run)


def test_missing_labels_part_alone_is_redone(corpus, chunked_run, tmp_path):
    original, first = chunked_run
    run = tmp_path / "run"
    shutil.copytree(original, run)
    (run / "labels.parquet" / "part-00000.parquet").unlink()
    again = _run(corpus, run)
    assert again["parse"]["chunks_done_now"] == 1
    assert _digests(run) == _digests(original)


def test_crash_mid_chunk_keeps_finished_chunks_and_resumes(corpus, chunked_run, tmp_path, monkeypatch):
    original, first = chunked_run
    n = first["parse"]["chunks"]
    run = tmp_path / "run"
    real = scale.classify_frame
    calls = []

    def flaky(units, model_dir, codebook_path):
        calls.append(len(units))
        if len(calls) == 3:
            raise RuntimeError("simulated crash while classifying the third chunk")
        return real(units, model_dir, codebook_path)

    monkeypatch.setattr(scale, "classify_frame", flaky)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(corpus, run, workers=1)
    monkeypatch.setattr(scale, "classify_frame", real)

    assert sorted(_manifest(run)["chunks"], key=int) == ["0", "1"]
    for k in (0, 1):
        for t in TABLES:
            part = run / f"{t}.parquet" / f"part-{k:05d}.parquet"
            assert part.read_bytes() == (original / part.relative_to(run)).read_bytes()
    assert not (run / "labels.parquet" / "part-00002.parquet").exists()
    assert not list((run / "labels.parquet").glob("part-0000[3-9].parquet"))
    assert _temp_files(run) == []
    # the half-done chunk's units part may be there, but it is not listed as done: a reader of the
    # manifest never takes it for finished work
    redone = []
    again = _run(corpus, run, workers=1, progress=lambda res: redone.append(res["chunk"]))
    assert redone == list(range(2, n))
    assert again["parse"]["chunks_done_now"] == n - 2 and again["parse"]["chunks_resumed"] == 2
    assert _temp_files(run) == []
    assert_same_tables(original, run)
    assert _digests(run) == _digests(original)


def test_changed_input_redoes_only_its_chunk(corpus, chunked_run, tmp_path):
    original, first = chunked_run
    n = first["parse"]["chunks"]
    src = tmp_path / "corpus"
    shutil.copytree(corpus, src)
    run = tmp_path / "run"
    _run(src, run)
    manifest = _manifest(run)
    chunk_of = {Path(f).name: int(k) for k, e in manifest["chunks"].items() for f in e["files"]}
    target = sorted(chunk_of)[len(chunk_of) // 2]
    k = chunk_of[target]
    before = _digests(run)

    # touched: same bytes, newer mtime -> its chunk is redone, with the same result
    path = src / target
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    redone = []
    again = _run(src, run, progress=lambda res: redone.append(res["chunk"]))
    assert redone == [k] and again["parse"]["chunks_done_now"] == 1 and again["parse"]["chunks_resumed"] == n - 1
    assert _digests(run) == before

    # edited in place (same size, so the chunk plan is unchanged): only its chunk is redone
    text = path.read_text(encoding="utf-8")
    word = next(w for w in ("probation", "the", "and") if f" {w} " in text)
    path.write_text(text.replace(f" {word} ", f" {word.upper()} ", 1), encoding="utf-8")
    assert path.stat().st_size == st.st_size
    redone.clear()
    again = _run(src, run, progress=lambda res: redone.append(res["chunk"]))
    assert redone == [k] and again["parse"]["chunks_done_now"] == 1
    after = _digests(run)
    changed = {p for p in after if after[p] != before[p]}
    assert changed and all(p.endswith(f"part-{k:05d}.parquet") for p in changed)
    units = load_run(run)["units"]
    tid = target.split("_")[0]  # synthetic files are named <thread id>_<hash>.txt
    assert units.loc[units["thread_id"] == tid, "text"].str.contains(f" {word.upper()} ", regex=False).any()


def test_same_inputs_give_byte_identical_parts(corpus, chunked_run, tmp_path):
    original, _ = chunked_run
    again = tmp_path / "again"
    _run(corpus, again, workers=1)  # other worker count, other run directory
    digests = _digests(again)
    assert digests and digests == _digests(original)
    assert {p.split("/")[0] for p in digests} == {f"{t}.parquet" for t in TABLES}


def test_plan_chunks_is_sorted_and_bounded(corpus):
    chunks = scale.plan_chunks([corpus], CHUNK_MB)
    files = [f for c in chunks for f in c]
    assert files == sorted(files) and len(files) == 40
    for c in chunks:
        assert len(c) == 1 or sum(f.stat().st_size for f in c) <= CHUNK_MB * 1_000_000


# ---------------------------------------------------------------- Dask


@pytest.mark.slow  # 10-25 s: a LocalCluster, and spaCy loaded in each worker
def test_classify_dask_equals_local_engine(chunked_run, tmp_path):
    original, first = chunked_run
    run = tmp_path / "run"
    shutil.copytree(original, run)
    shutil.rmtree(run / "labels.parquet")
    assert len(list((run / "units.parquet").glob("part-*.parquet"))) == first["parse"]["chunks"]
    summary = scale.classify_dask(run, model_dir="rules", codebook_path=CODEBOOK_PATH, n_workers=2)
    assert summary["engine"] == "dask" and summary["units"] == first["parse"]["units"]
    dask_labels = store.read_parquet(run / "labels.parquet")
    local_labels = store.read_parquet(original / "labels.parquet")
    pd.testing.assert_frame_equal(_sorted(dask_labels, "unit_id"), _sorted(local_labels, "unit_id"))
    # written in the units' order, like the local engine
    units = store.read_parquet(run / "units.parquet")
    assert dask_labels["unit_id"].tolist() == units["unit_id"].tolist()
    assert _temp_files(run) == []


def test_thread_slices_never_cut_a_thread(chunked_run, tmp_path):
    """A single-partition run is split for Dask at thread boundaries (a reply's features use its parent)."""
    original, _ = chunked_run
    units = store.read_parquet(original / "units.parquet")
    single = tmp_path / "units.parquet"
    store.write_parquet(units, single)
    for n in (2, 3, 7):
        slices = scale._thread_slices(single, n)
        assert 1 < len(slices) <= n
        assert slices[0][1] == 0 and slices[-1][2] == len(units)
        assert all(a[2] == b[1] for a, b in zip(slices, slices[1:]))
        for _, start, stop in slices:
            part = scale._units_rows((str(single), start, stop))
            assert len(part) == stop - start
            assert set(part["thread_id"]).isdisjoint(set(units["thread_id"].iloc[:start]))
            assert set(part["thread_id"]).isdisjoint(set(units["thread_id"].iloc[stop:]))


@pytest.mark.slow  # 10-25 s: a LocalCluster, and spaCy loaded in each worker
def test_cli_run_engine_dask_equals_local(corpus, tmp_path):
    """``run --engine dask`` end to end, with the bundled trained model (replies use their parents'
    features) on a single chunk, which Dask splits between its two workers."""
    out = tmp_path / "dask"
    result = CliRunner().invoke(app, ["run", str(corpus), "--out", str(out), "--engine", "dask", "--workers", "2",
                                      "--chunk-mb", "1000", "--quiet"])
    detail = result.output + "".join(traceback.format_exception(result.exception) if result.exception else [])
    assert result.exit_code == 0, detail
    assert "Traceback" not in result.output, detail
    assert "Parsed 40 threads" in result.output and "Classified" in result.output, detail
    report = json.loads((out / "report.json").read_text())
    assert report["classify"]["engine"] == "dask"
    local = tmp_path / "local"
    run_all([corpus], local, model_dir=BUNDLED_MODEL, chunk_mb=1000, workers=1)
    assert_same_tables(local, out)
