"""`python -m pipeline export`: the Export page's files from the command line.

Runs the typer app in-process on the explorer's test run (seed threads + a hostile thread,
built once by test_app.build_app_data) and checks the files against the library function the
app's Export page calls, so the two can never drift apart.
"""

from __future__ import annotations

import io
import json
import zipfile
from xml.etree import ElementTree as ET

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline import explore as ex
from pipeline.cli import app
from pipeline.codebook import load_codebook
from pipeline.paths import CODEBOOK_PATH
from pipeline.rundir import RunDir
from test_app import build_app_data

NS = {"q": "urn:QDA-XML:project:1.0"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return build_app_data(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def cb():
    return load_codebook(CODEBOOK_PATH)


def export(data, tmp_path, fmt, *extra) -> tuple[object, bytes]:
    out = tmp_path / f"out.{fmt}"
    result = CliRunner().invoke(app, ["export", str(data["run"]), "--format", fmt, "--out", str(out),
                                      "--labels-file", str(data["labels"]), *extra])
    return result, (out.read_bytes() if out.exists() else b"")


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl", "qdpx"])
def test_cli_writes_the_export_page_bytes(data, cb, tmp_path, fmt):
    result, written = export(data, tmp_path, fmt)
    assert result.exit_code == 0, result.output
    table = ex.read_run(data["run"], cb)["units"]
    same = ex.export_bytes(data["run"], table, cb, fmt, coder=str(table["model"].iloc[0]))
    assert written == same  # the Export page's function, byte for byte
    assert f"Exported {len(table)} units" in result.output
    if fmt == "csv":
        df = pd.read_csv(io.BytesIO(written))
        assert len(df) == len(table) and df.columns[0] == "unit_id"
    if fmt == "jsonl":
        assert len(written.decode().splitlines()) == len(table)


def test_qdpx_has_creation_times_and_the_coder_as_user(data, tmp_path):
    result, written = export(data, tmp_path, "qdpx", "--labels", "gold")
    assert result.exit_code == 0, result.output
    root = ET.fromstring(zipfile.ZipFile(io.BytesIO(written)).read("project.qde"))
    users = root.findall("q:Users/q:User", NS)
    assert [u.get("name") for u in users] == ["gold"]
    created = RunDir(data["run"]).created()
    objects = (root.findall(".//q:TextSource", NS) + root.findall(".//q:PlainTextSelection", NS)
               + root.findall(".//q:Coding", NS))
    assert objects and {o.get("creationDateTime") for o in objects} == {created}
    assert {o.get("creatingUser") for o in objects} == {users[0].get("guid")}
    assert root.get("creationDateTime") == created
    # Gold labels: only the five gold-labelled units, with their gold codes.
    assert len(root.findall(".//q:PlainTextSelection", NS)) == 5
    _, again = export(data, tmp_path, "qdpx", "--labels", "gold")
    assert again == written  # deterministic: stamped with the run's time, not the export time


def test_pseudonymised_export_hides_names(data, tmp_path):
    result, written = export(data, tmp_path, "jsonl", "--pseudonymise")
    assert result.exit_code == 0, result.output
    text = written.decode()
    assert "Alice Example" not in text and "Bob Sample" not in text and "Commenter" in text
    rows = [json.loads(line) for line in text.splitlines()]
    assert any(r["author"].startswith("Commenter") for r in rows if r["author"])


def test_annotator_labels_and_formula_safe_csv(data, cb, tmp_path):
    result, written = export(data, tmp_path, "csv", "--labels", "coder_a")
    assert result.exit_code == 0, result.output
    df = pd.read_csv(io.BytesIO(written))
    assert df["unit_id"].tolist() == ["evil/c1"] and df["label_source"].tolist() == ["coder_a"]
    assert df["themes"].tolist() == ["workload"]


@pytest.mark.parametrize("args, code", [(["--format", "xls"], "E205"), (["--labels", "nobody"], "E202")])
def test_bad_choices_are_coded_errors(data, tmp_path, args, code):
    out = tmp_path / "x.out"
    result = CliRunner().invoke(app, ["export", str(data["run"]), "--out", str(out), "--labels-file",
                                      str(data["labels"]), *args])
    assert result.exit_code == 2 and code in result.output and "Fix:" in result.output
    assert not out.exists()


def test_not_a_run_directory(tmp_path):
    result = CliRunner().invoke(app, ["export", str(tmp_path), "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "E205" in result.output and str(tmp_path) in result.output
