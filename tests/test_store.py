"""Atomic stage outputs and the append-only annotation store (crash and concurrency safety)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline import store
from pipeline.store import AnnotationStore

ROOT = Path(__file__).resolve().parents[1]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ---------------------------------------------------------------- atomic writes


def test_atomic_writes_leave_no_temp_files(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    store.write_parquet(df, tmp_path / "t.parquet")
    store.write_json({"k": [1, 2]}, tmp_path / "t.json")
    store.write_text("hello", tmp_path / "t.txt")
    store.write_bytes(b"\x00\x01", tmp_path / "t.bin")
    store.write_csv(df.assign(c=[["p", "q"], []]), tmp_path / "t.csv")
    store.write_jsonl([{"a": 1}, {"a": 2}], tmp_path / "t.jsonl")
    assert _leftovers(tmp_path) == []
    assert store.read_parquet(tmp_path / "t.parquet").equals(df)
    assert json.loads((tmp_path / "t.json").read_text()) == {"k": [1, 2]}
    assert (tmp_path / "t.txt").read_text() == "hello"
    assert (tmp_path / "t.csv").read_text().splitlines()[1] == "1,x,p | q"
    assert [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()] == [{"a": 1}, {"a": 2}]


def test_atomic_files_get_ordinary_permissions(tmp_path):
    """mkstemp creates 0600 files; outputs must be readable like any other written file."""
    umask = os.umask(0)
    os.umask(umask)
    store.write_text("x", tmp_path / "t.txt")
    assert (tmp_path / "t.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_identical_data_gives_identical_parquet_bytes(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    store.write_parquet(df, tmp_path / "1.parquet")
    store.write_parquet(df.copy(), tmp_path / "2.parquet")
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()


class Boom(RuntimeError):
    pass


def test_atomic_path_failure_keeps_old_target(tmp_path):
    target = tmp_path / "report.json"
    target.write_text('{"old": true}')
    with pytest.raises(Boom):
        with store.atomic_path(target) as tmp:
            tmp.write_text('{"new": ')  # half written ...
            raise Boom  # ... then the writer dies
    assert target.read_text() == '{"old": true}'
    assert _leftovers(tmp_path) == []


def test_atomic_path_failure_without_old_target(tmp_path):
    with pytest.raises(Boom):
        with store.atomic_path(tmp_path / "new.txt") as tmp:
            tmp.write_text("partial")
            raise Boom
    assert list(tmp_path.iterdir()) == []


def test_parquet_writer_raising_midway_never_leaves_a_partial_table(tmp_path, monkeypatch):
    target = tmp_path / "units.parquet"
    old = pd.DataFrame({"unit_id": ["a/post"], "n": [1]})
    store.write_parquet(old, target)
    real = pq.write_table

    def half_then_fail(table, where, **kwargs):
        real(table, where, **kwargs)
        with open(where, "r+b") as fh:  # a torn file: keep only the first half
            fh.truncate(os.path.getsize(where) // 2)
        raise Boom("disk full")

    monkeypatch.setattr(pq, "write_table", half_then_fail)
    with pytest.raises(Boom):
        store.write_parquet(pd.DataFrame({"unit_id": [f"b/c{i}" for i in range(1000)], "n": range(1000)}), target)
    assert store.read_parquet(target).equals(old)
    assert _leftovers(tmp_path) == []
    with pytest.raises(Boom):
        store.write_parquet(old, tmp_path / "fresh.parquet")
    assert not (tmp_path / "fresh.parquet").exists()
    assert _leftovers(tmp_path) == []


def test_json_writer_raising_midway(tmp_path, monkeypatch):
    target = tmp_path / "model.json"
    store.write_json({"version": 1}, target)

    def fail(*args, **kwargs):
        raise Boom("not serialisable")

    monkeypatch.setattr(store.json, "dumps", fail)
    with pytest.raises(Boom):
        store.write_json({"version": 2}, target)
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"version": 1}
    assert _leftovers(tmp_path) == []


# ---------------------------------------------------------------- annotation store


def label(uid: str, annotator: str = "coder_a", **kw) -> dict:
    return {"unit_id": uid, "annotator": annotator, "themes": kw.pop("themes", []), "stance_tr": "none",
            "reply_stance": "comment", **kw}


def test_latest_wins(tmp_path):
    st = AnnotationStore(tmp_path / "labels.jsonl")
    st.add(label("000/c1", themes=["workload"]))
    st.add(label("000/c1", annotator="coder_b", themes=["blame_culture"]))
    st.add(label("000/c2"))
    st.add(label("000/c1", themes=["drug_use_upw", "workload", "workload"], note="changed my mind"))
    assert len(st.records()) == 4  # append-only: history kept
    latest = st.latest().set_index(["unit_id", "annotator"])
    assert len(latest) == 3
    assert latest.loc[("000/c1", "coder_a"), "themes"] == ["drug_use_upw", "workload"]
    assert latest.loc[("000/c1", "coder_a"), "note"] == "changed my mind"
    assert latest.loc[("000/c1", "coder_b"), "themes"] == ["blame_culture"]
    only_b = st.latest("coder_b")
    assert list(only_b["unit_id"]) == ["000/c1"]
    assert st.latest("nobody").empty


def test_label_needs_unit_and_annotator(tmp_path):
    st = AnnotationStore(tmp_path / "labels.jsonl")
    with pytest.raises(ValueError):
        st.add({"unit_id": "000/c1"})
    with pytest.raises(ValueError):
        st.add({"annotator": "coder_a"})
    assert st.records() == [] and st.latest().empty


def test_partial_last_line_is_skipped_then_repaired(tmp_path):
    path = tmp_path / "labels.jsonl"
    st = AnnotationStore(path)
    for i in range(3):
        st.add(label(f"000/c{i}", themes=["workload"]))
    with open(path, "ab") as fh:  # a writer killed mid-line
        fh.write(b'{"unit_id": "000/c9", "annotator": "coder_a", "them')
    assert [r["unit_id"] for r in st.records()] == ["000/c0", "000/c1", "000/c2"]
    st.add(label("000/c4"))
    recs = st.records()
    assert [r["unit_id"] for r in recs] == ["000/c0", "000/c1", "000/c2", "000/c4"]
    assert all(r["themes"] == ["workload"] for r in recs[:3])
    lines = path.read_bytes().split(b"\n")
    assert lines[3].startswith(b'{"unit_id": "000/c9"')  # the torn line is isolated, not glued to the new one
    assert json.loads(lines[4])["unit_id"] == "000/c4"


def test_records_of_missing_file(tmp_path):
    assert AnnotationStore(tmp_path / "none.jsonl").records() == []


WRITER = textwrap.dedent("""
    import sys
    from pipeline.store import AnnotationStore
    st = AnnotationStore(sys.argv[1])
    i = 0
    while True:
        st.add({"unit_id": f"000/c{i}", "annotator": "killed", "themes": ["workload"], "note": "x" * 200})
        i += 1
""")


def test_killed_writer_leaves_a_readable_file(tmp_path):
    path = tmp_path / "labels.jsonl"
    AnnotationStore(path).add(label("000/post", annotator="earlier"))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if path.read_bytes().count(b"\n") >= 60:
                break
            assert proc.poll() is None, "the writer died on its own"
            time.sleep(0.01)
        else:
            pytest.fail("the writer did not write")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    data = path.read_bytes()
    complete = data.split(b"\n")[:-1]  # drops b"" after a final newline, or a torn last line
    assert len(complete) >= 60
    parsed = [json.loads(line) for line in complete]  # every complete line is intact JSON
    st = AnnotationStore(path)
    recs = st.records()
    assert recs == parsed
    assert recs[0]["annotator"] == "earlier"
    assert [r["unit_id"] for r in recs[1:]] == [f"000/c{i}" for i in range(len(recs) - 1)]  # nothing lost or reordered
    st.add(label("000/after"))
    assert st.records()[-1]["unit_id"] == "000/after"
    assert st.records()[: len(recs)] == recs


def _add_many(path: str, annotator: str, n: int) -> None:
    st = AnnotationStore(path)
    for i in range(n):
        st.add({"unit_id": f"000/c{i}", "annotator": annotator, "themes": ["workload"], "note": annotator * 50})


def test_two_writers_at_once(tmp_path):
    path = tmp_path / "labels.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_add_many, args=(str(path), name, 200)) for name in ("coder_a", "coder_b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 401
    recs = [json.loads(line) for line in lines[:-1]]  # all valid JSON, none interleaved
    assert len(recs) == 400
    for name in ("coder_a", "coder_b"):
        mine = [r["unit_id"] for r in recs if r["annotator"] == name]
        assert mine == [f"000/c{i}" for i in range(200)]  # each writer's labels complete and in order
    assert len(AnnotationStore(path).latest()) == 400
