"""A run directory is one consistent thing, and the machine's refusals are errors, not tracebacks.

Issue 13: locks, per-chunk model/codebook fingerprints, workers that die with their parent, long
units, formula-safe CSV, atomic model directories, disk-full and read-only outputs, the private
default of the app, and the annotation file lock.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline import store
from pipeline.errors import PipelineError
from pipeline.runs import BUNDLED_MODEL
from test_robustness import digests, invoke

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "corpora" / "probation_blog" / "raw"


def model_copy(tmp_path: Path, name: str = "model") -> Path:
    model = tmp_path / name
    shutil.copytree(BUNDLED_MODEL, model)
    return model


# ------------------------------------------------------------------------- one run, one model

def test_second_run_into_a_locked_folder_stops_at_once(tmp_path):
    out = tmp_path / "run"
    with store.run_lock(out):
        result = subprocess.run([sys.executable, "-m", "pipeline", "run", str(SEEDS), "--out", str(out), "-q"],
                                capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 5, result.stderr
    assert "[E207]" in result.stderr and str(out) in result.stderr and "Traceback" not in result.stderr
    assert not (out / "units.parquet").exists()  # it wrote nothing


def test_lock_is_reentrant_within_a_process_and_released(tmp_path):
    with store.run_lock(tmp_path):
        with store.run_lock(tmp_path):
            pass
    with store.run_lock(tmp_path):  # released: can be taken again
        pass


def test_resume_redoes_chunks_when_the_model_is_retrained_in_place(tmp_path):
    model = model_copy(tmp_path)
    out = tmp_path / "run"
    first = invoke("run", SEEDS, "--out", out, "--model", model, "--workers", "1", "-q")
    assert first.exit_code == 0 and "1 already done" not in first.output
    again = invoke("run", SEEDS, "--out", out, "--model", model, "--workers", "1", "-q")
    assert "(1 already done)" in again.output  # same model: nothing to redo
    meta = json.loads((model / "model.json").read_text())
    meta["created"] = "2099-01-01"  # retrained in place: model.json changes with every training
    (model / "model.json").write_text(json.dumps(meta))
    third = invoke("run", SEEDS, "--out", out, "--model", model, "--workers", "1", "-q")
    assert third.exit_code == 0 and "(0 already done)" in third.output, third.output
    manifest = json.loads((out / "manifest.json").read_text())
    entry = manifest["chunks"]["0"]
    assert entry["model_fingerprint"] and entry["codebook_fingerprint"]


def test_resume_redoes_chunks_when_the_codebook_changes(tmp_path):
    from pipeline.scale import coder_fingerprints

    cb = tmp_path / "codebook.yaml"
    shutil.copy(ROOT / "models" / "codebook.yaml", cb)
    before = coder_fingerprints("rules", cb)
    cb.write_text(cb.read_text() + "\n# an edit\n")
    assert coder_fingerprints("rules", cb)["codebook_fingerprint"] != before["codebook_fingerprint"]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_workers_end_with_a_killed_run(tmp_path):
    """SIGKILL of `run` used to leave its two 400 MB workers writing parts for minutes."""
    import synth

    corpus = tmp_path / "corpus"
    synth.generate(corpus, units=8000, seed=3)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(corpus), "--out", str(tmp_path / "run"),
                             "--workers", "2", "--chunk-mb", "0.2", "--model", "rules", "-q"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    workers: list[int] = []
    while time.time() < deadline and not (tmp_path / "run" / "units.parquet").exists():
        time.sleep(0.2)
    # workers are the (grand)children that run chunks; collect the whole tree below the run
    tree, frontier = [], [proc.pid]
    while frontier:
        kids = [c for p in frontier for c in _children(p)]
        tree += kids
        frontier = kids
    workers = tree
    assert workers, "the run started no worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.25)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, f"{len(left)} worker processes outlived the killed run"


# ------------------------------------------------------------------------------ long units

def test_a_unit_over_spacys_limit_is_labelled_and_so_is_everything_else(tmp_path):
    long_line = ("The CRC cut staff again and caseloads are impossible. " * 20 + "\n") * 1000 + "x" * 1_100_000
    (tmp_path / "in").mkdir()
    rows = [{"thread_id": "long", "comment_id": "1", "kind": "post", "text": long_line},
            {"thread_id": "long", "comment_id": "2", "parent_id": "1", "text": "Nobody answers the phone at the CRC."}]
    (tmp_path / "in" / "long.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    for seed in SEEDS.iterdir():
        shutil.copy(seed, tmp_path / "in" / seed.name)
    result = invoke("run", tmp_path / "in", "--out", tmp_path / "run", "--model", BUNDLED_MODEL, "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    units = store.read_parquet(tmp_path / "run" / "units.parquet")
    labels = store.read_parquet(tmp_path / "run" / "labels.parquet")
    assert len(units) == 184 and set(labels["unit_id"]) == set(units["unit_id"])
    big = labels.set_index("unit_id").loc["long/post"]
    assert "workload" in list(big["themes"])


# ------------------------------------------------------------------------------ safe CSV

@pytest.mark.parametrize("cell, written", [
    ("=HYPERLINK(\"http://x\",\"click\")", "'=HYPERLINK(\"http://x\",\"click\")"),
    ("@SUM(A1:A3)", "'@SUM(A1:A3)"), ("+44 1234", "'+44 1234"), ("-- oo00oo --", "'-- oo00oo --"),
    ("\tcmd", "'\tcmd"), ("\rcmd", "'\rcmd"), ("plain words", "plain words"), ("a=b", "a=b"),
])
def test_csv_cells_never_run_as_formulas(cell, written):
    df = pd.DataFrame({"text": [cell], "p": [-0.5], "n": [3], "themes": [["=x", "workload"]]})
    safe = store.csv_safe(df)
    assert safe.loc[0, "text"] == written
    assert safe.loc[0, "p"] == -0.5 and safe.loc[0, "n"] == 3  # numbers stay numbers
    assert safe.loc[0, "themes"] == "'=x | workload"


def test_run_csv_is_formula_safe(tmp_path):
    rows = [{"thread_id": "inj", "comment_id": "1", "kind": "post", "text": "=HYPERLINK(\"http://evil\",\"x\")"},
            {"thread_id": "inj", "comment_id": "2", "parent_id": "1", "author": "@SUM(1+1)", "text": "-2+3 ok"}]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "inj.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert invoke("run", tmp_path / "in", "--out", tmp_path / "run", "--model", "rules", "--csv", "-q").exit_code == 0
    units_csv = (tmp_path / "run" / "units.csv").read_text()
    assert "'=HYPERLINK" in units_csv and "'@SUM" in units_csv and "'-2+3 ok" in units_csv
    for line in units_csv.splitlines():
        for cell in line.split(","):
            assert not cell.startswith(("=", "@", "+")), cell
    assert pd.read_csv(tmp_path / "run" / "units.csv")["word_count"].dtype.kind == "i"


# ---------------------------------------------------------------------- atomic model directories

def test_an_interrupted_train_leaves_the_old_model_working(tmp_path, labels_path, monkeypatch, codebook):
    from pipeline import model_io
    from pipeline.runs import train_model

    model = model_copy(tmp_path)
    before = digests(model)

    def crash(*args, **kwargs):
        (args[1] / "model.skops").write_bytes(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(model_io, "_write_model_files", crash)
    with pytest.raises(KeyboardInterrupt):
        train_model(labels_path, model)
    assert digests(model) == before
    model_io.load_model(model, codebook)  # still loads
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary folder left behind


def test_damaged_and_changed_models_get_different_messages(tmp_path, codebook):
    from pipeline.model_io import load_model

    damaged = model_copy(tmp_path, "damaged")
    (damaged / "model.skops").write_bytes((damaged / "model.skops").read_bytes()[:1000])  # truncated
    changed = model_copy(tmp_path, "changed")
    data = bytearray((changed / "model.skops").read_bytes())
    data[len(data) // 2] ^= 1
    (changed / "model.skops").write_bytes(bytes(data))
    missing = model_copy(tmp_path, "missing")
    (missing / "model.skops").unlink()
    codes = {}
    for m in (damaged, changed, missing):
        with pytest.raises(PipelineError) as exc:
            load_model(m, codebook)
        codes[m.name] = exc.value.problem
    assert codes["damaged"].code == "E208" and "damaged" in codes["damaged"].message
    assert codes["missing"].code == "E208"
    assert codes["changed"].code == "E204" and "changed after training" in codes["changed"].message


# ---------------------------------------------------------------- disk full, read-only, refused

@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_refused_write_is_a_coded_error_and_leaves_earlier_tables(tmp_path, monkeypatch, err):
    import pyarrow.parquet as pq

    out = tmp_path / "run"
    assert invoke("parse", SEEDS, "--out", out).exit_code == 0
    before = digests(out)
    real = pq.write_table
    calls = []

    def refuse(table, where, **kw):  # the second table of the set cannot be written
        calls.append(where)
        if len(calls) == 2:
            raise OSError(err, os.strerror(err), str(where))
        return real(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", refuse)
    result = invoke("parse", SEEDS, "--out", out)
    assert result.exit_code == 4, result.output
    assert "[E301]" in result.output and "units.parquet" in result.output and "Fix:" in result.output
    assert digests(out) == before  # threads.parquet was not replaced without units.parquet
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_an_unwritable_output_folder_is_a_coded_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = subprocess.run([sys.executable, "-m", "pipeline", "parse", str(SEEDS), "--out", str(blocker / "run")],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr and "[E301]" in result.stderr


# ------------------------------------------------------------------------ private by default

def test_streamlit_config_is_private():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False
    assert 0 < config["server"]["maxUploadSize"] <= 200


@pytest.mark.parametrize("address, sign_in, allowed, refused", [
    ("127.0.0.1", False, False, False), ("localhost", False, False, False), ("::1", False, False, False),
    ("0.0.0.0", False, False, True), (None, False, False, True), ("", False, False, True),
    ("192.168.1.20", True, False, False), ("0.0.0.0", False, True, False),
])
def test_serving_rule(address, sign_in, allowed, refused):
    from pipeline.serving import serving_problem

    assert (serving_problem(address, sign_in=sign_in, allowed=allowed) is not None) is refused


def test_public_flag_and_environment():
    from pipeline.serving import public_allowed

    assert public_allowed(["app.py", "--i-know-it-is-public"], {}) and public_allowed([], {"PROBATION_TR_PUBLIC": "1"})
    assert not public_allowed(["app.py"], {})


def test_app_command_refuses_a_public_address():
    result = invoke("app", "--address", "0.0.0.0")
    assert result.exit_code == 2 and "Refusing" in result.output


@pytest.mark.slow
def test_streamlit_answers_only_on_loopback(tmp_path):
    """`streamlit run app.py` from the repository: listening on 127.0.0.1, not on every interface."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PROBATION_TR_RUN": str(tmp_path / "norun")})
    try:
        deadline = time.time() + 60
        listening = None
        while time.time() < deadline and listening is None:
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:] + \
                    Path("/proc/net/tcp6").read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    listening = local.rsplit(":", 1)[0]
            time.sleep(0.2)
        assert listening == "0100007F", f"listening on {listening!r}, not 127.0.0.1"
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    assert "Collecting usage statistics" not in out


# ---------------------------------------------------------------------------- annotation lock

def test_annotation_writes_wait_for_the_lock(tmp_path):
    from filelock import FileLock

    path = tmp_path / "annotations.jsonl"
    annotations = store.AnnotationStore(path)
    held = FileLock(str(path) + ".lock")
    held.acquire()
    done = threading.Event()
    threading.Thread(target=lambda: (annotations.add({"unit_id": "000/c1", "annotator": "a"}), done.set()),
                     daemon=True).start()
    assert not done.wait(0.5)  # blocked while another writer holds the lock
    held.release()
    assert done.wait(10) and len(annotations.records()) == 1


# ---------------------------------------------------------------- the aim, end to end

@pytest.mark.slow
def test_seeds_beside_hostile_files_are_fully_labelled_twice_identically(tmp_path):
    """Seeds next to empty, binary, cp1252, truncated HTML, a line longer than spaCy's limit, malformed
    JSONL and a lone-surrogate JSONL: every parsed unit labelled, every bad file named, no traceback,
    and two runs byte-identical.  (The issue's 5,000,000-character line was checked by hand, see the
    note on issue 13; 1,100,000 characters exercise the same path in a third of the time.)"""
    bad = ROOT / "tests" / "data" / "bad"
    corpus = tmp_path / "in"
    shutil.copytree(SEEDS, corpus)
    for name in ("empty.txt", "binary.txt", "cp1252.txt", "truncated.html", "malformed.jsonl"):
        shutil.copy(bad / name, corpus / name)
    (corpus / "huge_line.txt").write_text("Guest blog\n\n" + "caseloads are crushing us all " * 37_000 + "\n")
    (corpus / "surrogate.jsonl").write_text(
        '{"thread_id": "sur", "comment_id": "1", "kind": "post", "text": "A post about TR."}\n'
        '{"thread_id": "sur", "comment_id": "2", "parent_id": "1", "text": "broken \\ud800 char, CRC caseloads"}\n')
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        result = subprocess.run([sys.executable, "-m", "pipeline", "run", str(corpus), "--out", str(out), "--csv",
                                 "--workers", "1", "-q"], capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        runs.append(out)
    units = store.read_parquet(runs[0] / "units.parquet")
    labels = store.read_parquet(runs[0] / "labels.parquet")
    assert set(labels["unit_id"]) == set(units["unit_id"])
    assert {"000", "004", "sur", "huge_line"} <= set(units["thread_id"])
    assert "\ufffd" in units.set_index("unit_id").loc["sur/c1", "text"]
    report = json.loads((runs[0] / "report.json").read_text())
    named = {Path(p["file"]).name for p in report["skipped"] + report["warnings"]}
    assert {"empty.txt", "binary.txt", "cp1252.txt", "truncated.html", "malformed.jsonl", "surrogate.jsonl"} <= named
    tables = [p.name for p in sorted(runs[0].iterdir()) if p.suffix in (".parquet", ".csv")]
    assert digests(runs[0]) and all(
        digests(runs[0] / t) == digests(runs[1] / t) if (runs[0] / t).is_dir()
        else (runs[0] / t).read_bytes() == (runs[1] / t).read_bytes() for t in tables)


def test_run_passes_the_parse_options_and_redoes_chunks_when_they_change(tmp_path):
    out = tmp_path / "run"
    first = invoke("run", SEEDS, "--out", out, "--model", "rules", "--workers", "1", "--tz", "America/New_York", "-q")
    assert first.exit_code == 0, first.output
    stamps = store.read_parquet(out / "units.parquet").set_index("unit_id")["timestamp"]
    assert stamps["000/c4"].endswith("-04:00")  # 23 April 2015 08:02 in New York
    second = invoke("run", SEEDS, "--out", out, "--model", "rules", "--workers", "1", "-q")
    assert "(0 already done)" in second.output
    assert store.read_parquet(out / "units.parquet").set_index("unit_id").at["000/c4", "timestamp"].endswith("+01:00")


def test_chunked_segments_equal_the_whole_run_segments(tmp_path):
    """`run` writes each chunk's segments in its worker (bounded memory); the table is the one
    `write_segments` gives for the whole run."""
    from pipeline.classify.segments import segments_for, write_segments
    from pipeline.runs import CODEBOOK_PATH

    out = tmp_path / "run"
    assert invoke("run", SEEDS, "--out", out, "--workers", "2", "--chunk-mb", "0.02", "-q").exit_code == 0
    assert len(list((out / "segments.parquet").glob("part-*.parquet"))) > 1
    chunked = segments_for(out)
    whole = tmp_path / "whole"
    shutil.copytree(out, whole)
    shutil.rmtree(whole / "segments.parquet")
    write_segments(whole, CODEBOOK_PATH)
    key = ["unit_id", "quoted", "segment", "code", "start"]
    a = chunked.sort_values(key).reset_index(drop=True)
    b = segments_for(whole).sort_values(key).reset_index(drop=True)
    assert len(a) and a["quoted"].any()
    pd.testing.assert_frame_equal(a, b)
