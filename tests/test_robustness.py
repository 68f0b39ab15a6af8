"""Bad inputs, bad labels, bad codebooks and bad models: every one is reported with a code, the file,
the line where there is one, and a fix; nothing already written is damaged when a later stage fails.

The bad input files are committed in tests/data/bad/ (each a few hundred bytes):

=====================  ==============================================================  ====================
file                   what is wrong                                                   expected
=====================  ==============================================================  ====================
empty.txt              0 bytes                                                         skipped, E001
whitespace.txt         blanks, tabs, CRLF                                              skipped, E001
binary.txt             a PDF-like file, first NUL byte on line 3                       skipped, E002 line 3
cp1252.txt             numbered thread saved by Word: cp1252 curly quotes, CRLF        parsed, E003 line 7
bom.txt                numbered thread in UTF-8 with a byte-order mark                 parsed, no warning
truncated.html         Blogger page cut off inside its third comment                   parsed, E006
malformed.jsonl        good lines, broken JSON, an array, a missing id, a cut line     parsed, E007 x4
malformed.csv          an unquoted comma, a short row, stray quotes, a quote left open parsed, E007 x3
unknown_layout.txt     plain prose, no comments                                        parsed, E005 line 1
labels_unknown.jsonl   labels (not a thread file) naming unknown units and codes       skipped, E007
codebook_dup.yaml      a theme defined twice                                           E201 line 10
codebook_missing.yaml  a theme without cues, no reply_stance scheme                    E201
=====================  ==============================================================  ====================
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline import store
from pipeline.cli import app
from pipeline.codebook import load_codebook
from pipeline.errors import PipelineError
from pipeline.labels import read_labels
from pipeline.runs import BUNDLED_MODEL, CODEBOOK_PATH

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"
SEED = ROOT / "corpora" / "probation_blog" / "raw" / "000_9e97da0ccfa3b6ef.txt"

SKIPPED = {"empty.txt": "E001", "whitespace.txt": "E001", "binary.txt": "E002", "labels_unknown.jsonl": "E007"}
PARSED_THREADS = {"000", "cp1252", "bom", "truncated", "jsonbad", "csvbad", "unknown_layout",
                  # any file is tried as a text thread: the YAML files become one post each (with E005)
                  "codebook_dup", "codebook_missing"}

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def digests(folder: Path) -> dict[str, str]:
    """Every file's hash (the run folder's lock file is not an output)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".run.lock"}


def problems_by_file(problems: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in problems:
        out.setdefault(Path(p["file"]).name, []).append(p)
    return out


# ---------------------------------------------------------------- parsing a folder of bad files


@pytest.fixture(scope="module")
def bad_parse(tmp_path_factory):
    out = tmp_path_factory.mktemp("robust") / "run"
    result = invoke("parse", BAD, SEED, "--out", out, "--quiet")
    report = json.loads((out / "report.json").read_text())
    return result, out, report


def test_bad_folder_parses_good_files_and_skips_the_rest(bad_parse):
    result, out, report = bad_parse
    assert result.exit_code == 0, result.output
    assert report["files_seen"] == len(list(BAD.iterdir())) + 1
    threads = store.read_parquet(out / "threads.parquet")
    assert set(threads["thread_id"]) == PARSED_THREADS
    units = store.read_parquet(out / "units.parquet")
    assert units["unit_id"].is_unique
    assert len(units[units["thread_id"] == "000"]) == 38, "the good seed thread is parsed in full"
    # every unparseable file is in 'skipped' with its code, the file and a fix
    skipped = problems_by_file(report["skipped"])
    assert {name: [p["code"] for p in ps] for name, ps in skipped.items()} == {k: [v] for k, v in SKIPPED.items()}
    for p in report["skipped"]:
        assert p["severity"] == "error" and p["fix"].strip() and Path(p["file"]).parent == BAD
    assert skipped["binary.txt"][0]["line"] == 3
    # and the CLI says so, naming file and line
    assert "Skipped files (4):" in result.output
    assert f"[E002] {BAD / 'binary.txt'}:3:" in result.output


def test_warnings_name_the_line(bad_parse):
    result, _, report = bad_parse
    warnings = problems_by_file(report["warnings"])
    assert all(p["severity"] == "warning" and p["fix"].strip() for p in report["warnings"])
    # cp1252: the line of the first byte that is not UTF-8 (the curly quote in the post)
    (cp,) = warnings["cp1252.txt"]
    assert cp["code"] == "E003" and cp["line"] == 7
    raw = (BAD / "cp1252.txt").read_bytes()
    first_bad = next(i for i, b in enumerate(raw) if b >= 0x80)
    assert raw[:first_bad].count(b"\n") + 1 == 7
    assert f"[E003] {BAD / 'cp1252.txt'}:7:" in result.output
    assert "bom.txt" not in warnings
    assert [(p["code"], p["line"]) for p in warnings["truncated.html"]] == [("E006", 14)]
    assert sorted((p["code"], p["line"]) for p in warnings["malformed.jsonl"]) == [("E007", n) for n in (3, 4, 6, 7)]
    assert sorted((p["code"], p["line"]) for p in warnings["malformed.csv"]) == [("E007", n) for n in (3, 4, 6)]
    assert [(p["code"], p["line"]) for p in warnings["unknown_layout.txt"]] == [("E005", 1)]
    unclosed = next(p for p in warnings["malformed.csv"] if p["line"] == 6)
    assert "never closed" in unclosed["message"]


def test_parsed_bad_files_keep_their_text(bad_parse):
    _, out, _ = bad_parse
    units = store.read_parquet(out / "units.parquet").set_index("unit_id")
    threads = store.read_parquet(out / "threads.parquet").set_index("thread_id")
    # cp1252 decoded as cp1252 (curly quotes, en dash), CRLF gone; the same thread as its UTF-8 twin
    assert units.at["cp1252/c1.r1", "text"] == "That’s the “new future” for you."
    assert units.at["cp1252/c1", "text"] == "Same here – nobody answers the phone at the NPS office."
    assert not units["text"].str.contains("\r").any()
    assert units.loc[units["thread_id"] == "cp1252", "text"].tolist() == \
        units.loc[units["thread_id"] == "bom", "text"].tolist()
    # the BOM is not part of the first line: the date and title are read
    assert threads.at["bom", "post_date"] == "2015-04-23" and threads.at["bom", "title"] == "Guest Blog 97"
    assert not units["text"].str.contains("\ufeff").any()
    # the truncated page keeps the comments before the cut
    assert units.at["truncated/c1", "text"] == "Nobody told the court either."
    assert units.at["truncated/c2", "text"] == "Our caseloads are unmanageable since the split."
    assert threads.at["truncated", "declared_comments"] == 3
    # tabular files keep their good rows
    assert units.at["jsonbad/c1", "text"] == "Unpaid overtime every week."
    assert units.at["jsonbad/c1.r1", "text"] == "Same in our office."
    assert units.at["csvbad/c1", "text"] == "Caseloads are through the roof, again."
    assert units.loc[units["thread_id"] == "csvbad", "text"].str.contains("unclosed quote").any()
    assert threads.at["unknown_layout", "layout"] == "post_only"


def test_strict_parse_exits_3(tmp_path):
    result = invoke("parse", BAD / "cp1252.txt", "--out", tmp_path / "run", "--strict", "--quiet")
    assert result.exit_code == 3


def test_only_bad_files_exit_1_and_write_no_tables(tmp_path):
    result = invoke("parse", BAD / "empty.txt", BAD / "binary.txt", "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 1
    assert not (tmp_path / "run" / "units.parquet").exists()


# ---------------------------------------------------------------- very large files


def _write_huge(path: Path, mb: float) -> int:
    """A numbered-layout thread of about ``mb`` MB: seed 000's comments over and over, numbered on.

    Comment lines are made four times longer so the numbering stays within the five digits Blogger's
    text copies use.  Returns the number of top-level comments.
    """
    lines = SEED.read_text(encoding="utf-8").split("\n")
    count = next(i for i, line in enumerate(lines) if re.match(r"^\s*\d+\s+comments?:\s*$", line))
    head, body = lines[:count], lines[count + 1:]
    numbered = re.compile(r"^( {2}| {4})(\d{1,5})\.(.*)$")
    not_text = re.compile(r"^\s*(ReplyDelete|Replies|Delete)?\s*$| at \d\d:\d\d\s*$")  # link, blank, author

    def longer(text: str) -> str:
        return text if not_text.search(text) else text + (" " + text.strip()) * 3

    n = size = 0
    target = int(mb * 1_000_000)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(head) + "\n\n")
        while size < target:
            out = []
            for line in body:
                if m := numbered.match(line):
                    indent, number, rest = m.groups()
                    if indent == "  ":  # a top-level comment: numbered on; replies restart at 1 anyway
                        n += 1
                        number = str(n)
                    line = f"{indent}{number}.{longer(rest)}"
                else:
                    line = longer(line)
                out.append(line)
            block = "\n".join(out) + "\n"
            fh.write(block)
            size += len(block.encode("utf-8"))
    assert n < 100_000
    return n


def _free_gb(path: Path) -> float:
    return shutil.disk_usage(path).free / 1e9


@pytest.fixture(scope="module")
def huge_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("huge")
    if _free_gb(folder) < 1:
        pytest.skip("less than 1 GB of free disk")
    path = folder / "huge_thread.txt"
    n = _write_huge(path, 200)
    yield path, n
    path.unlink()  # do not leave 200 MB in pytest's kept temp folders


def test_huge_file_over_max_mb_is_skipped_with_e004(huge_file, tmp_path):
    path, _ = huge_file
    assert path.stat().st_size > 190_000_000
    out = tmp_path / "run"
    result = invoke("parse", path, SEED, "--out", out, "--max-mb", "100", "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    (skip,) = report["skipped"]
    assert skip["code"] == "E004" and skip["file"] == str(path)
    assert "--max-mb" in skip["fix"]
    assert "over the limit of 100 MB" in skip["message"]
    assert set(store.read_parquet(out / "threads.parquet")["thread_id"]) == {"000"}


@pytest.mark.slow
def test_huge_file_parses_with_the_default_limit(huge_file, tmp_path):
    """About 12 s (plus 2 s to write the file) on the development machine."""
    path, n_comments = huge_file
    out = tmp_path / "run"
    result = invoke("parse", path, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["skipped"] == [] and report["threads"] == 1
    assert report["units_by_kind"]["comment"] == n_comments
    assert not [w for w in report["warnings"] if w["code"] in ("W101", "W103")]


def test_ten_megabyte_line_parses(tmp_path):
    sentence = "The CRC caseloads are unmanageable and nobody answers the phone at the office. "
    long_line = sentence * (10_000_000 // len(sentence))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "prose.txt").write_text(long_line + "\n", encoding="utf-8")
    (folder / "numbered.txt").write_text("\n".join([
        "Thursday 23 April 2015", "", "One long comment", "", "Post.", "", "2 comments:", "",
        "  1. " + long_line, "", "    ReplyDelete", "  2. A short one.", "", "    ReplyDelete"]), encoding="utf-8")
    (folder / "long.csv").write_text(f'thread_id,comment_id,text\nlongcsv,c1,short\nlongcsv,c2,"{long_line}"\n'
                                     'longcsv,c3,after\n', encoding="utf-8")
    (folder / "long.jsonl").write_text(json.dumps({"thread_id": "longjson", "comment_id": "c1", "text": long_line})
                                       + "\n", encoding="utf-8")
    out = tmp_path / "run"
    result = invoke("parse", folder, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["skipped"] == []
    assert [(Path(w["file"]).name, w["code"]) for w in report["warnings"]] == [("prose.txt", "E005")]
    units = store.read_parquet(out / "units.parquet").set_index("unit_id")
    big = long_line.strip()
    assert units.at["numbered/c1", "text"] == big and units.at["numbered/c2", "text"] == "A short one."
    assert units.at["prose/post", "text"] == big
    assert units.at["longjson/c1", "text"] == big
    assert units.loc[units["thread_id"] == "longcsv", "text"].tolist() == ["", "short", big, "after"]


# ---------------------------------------------------------------- labels


def test_labels_with_unknown_codes_raise_e202_naming_the_line(codebook):
    path = BAD / "labels_unknown.jsonl"
    with pytest.raises(PipelineError) as exc:
        read_labels(path, codebook)
    p = exc.value.problem
    assert p.code == "E202" and p.file == str(path) and p.line == 3 and p.fix
    assert "paperwork_hell" in p.message
    assert f"{path}:3" in str(exc.value)


def test_labels_lenient_reading_lists_every_bad_line(codebook, seed_units):
    path = BAD / "labels_unknown.jsonl"
    df, problems = read_labels(path, codebook, known_units=set(seed_units["unit_id"]), strict=False)
    assert set(df["unit_id"]) == {"000/post", "999/c1", "000/c3"}  # unknown units are kept, bad codes are not
    by_line = {p.line: p for p in problems}
    assert sorted(by_line) == [2, 3, 4] and all(p.code == "E202" and p.fix for p in problems)
    assert "999/c1" in by_line[2].message
    assert "paperwork_hell" in by_line[3].message
    assert "'hate'" in by_line[4].message


def test_cli_train_with_bad_labels_exits_2(tmp_path, seed_dir):
    result = invoke("train", "--labels", BAD / "labels_unknown.jsonl", "--corpus", seed_dir, "--out", tmp_path / "m")
    assert result.exit_code == 2
    assert f"[E202] {BAD / 'labels_unknown.jsonl'}:3:" in result.output
    assert not (tmp_path / "m").exists()


# ---------------------------------------------------------------- codebooks


def test_duplicate_theme_is_e201_with_file_and_line():
    path = BAD / "codebook_dup.yaml"
    with pytest.raises(PipelineError) as exc:
        load_codebook(path)
    p = exc.value.problem
    assert p.code == "E201" and p.file == str(path) and p.line == 10 and p.fix
    assert "duplicate key 'workload'" in p.message and "first at line 4" in p.message
    assert f"{path}:10:" in str(exc.value)


def test_incomplete_codebook_is_e201_naming_the_file(tmp_path):
    path = BAD / "codebook_missing.yaml"
    with pytest.raises(PipelineError) as exc:
        load_codebook(path)
    p = exc.value.problem
    assert p.code == "E201" and p.file == str(path) and p.fix
    assert "blame_culture" in p.message and "no cues" in p.message
    # once the theme has cues, the missing stance scheme is the next error
    fixed = tmp_path / "codebook.yaml"
    fixed.write_text(path.read_text().replace("this theme has no cues.\n", "now with cues.\n    cues: {phrases: [blame]}\n"))
    with pytest.raises(PipelineError) as exc:
        load_codebook(fixed)
    assert exc.value.problem.code == "E201" and "reply_stance" in exc.value.problem.message


# ---------------------------------------------------------------- models, and outputs left intact


@pytest.fixture(scope="module")
def classified_run(tmp_path_factory):
    """A parsed and classified run (seed 000, rule coder) that the failing commands must leave alone."""
    out = tmp_path_factory.mktemp("robust") / "run"
    assert invoke("parse", SEED, "--out", out, "--quiet").exit_code == 0
    assert invoke("classify", out, "--model", "rules").exit_code == 0
    return out


def _model_copy(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    shutil.copytree(BUNDLED_MODEL, model)
    for p in model.iterdir():
        p.chmod(0o644)
    return model


def _other_codebook_model(tmp_path: Path) -> tuple[Path, list[str]]:
    model = _model_copy(tmp_path)
    meta = json.loads((model / "model.json").read_text())
    meta["codebook"].update(name="another_study", version="2.0.0", fingerprint="0123456789abcdef",
                            themes=["caseload", "morale"])
    (model / "model.json").write_text(json.dumps(meta, indent=2))
    return model, []


def _other_codebook_given(tmp_path: Path) -> tuple[Path, list[str]]:
    codebook = tmp_path / "codebook.yaml"
    codebook.write_text(CODEBOOK_PATH.read_text(encoding="utf-8").replace(
        "any: [no response, no reply,", "any: [no responses, no reply,", 1), encoding="utf-8")
    assert load_codebook(codebook).fingerprint != load_codebook(CODEBOOK_PATH).fingerprint
    return BUNDLED_MODEL, ["--codebook", str(codebook)]


def _tampered_model(tmp_path: Path) -> tuple[Path, list[str]]:
    model = _model_copy(tmp_path)
    data = bytearray((model / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (model / "model.skops").write_bytes(bytes(data))
    return model, []


def _garbled_model_json(tmp_path: Path) -> tuple[Path, list[str]]:
    model = _model_copy(tmp_path)
    (model / "model.json").write_text('{\n  "format_version": 1,\n  "recipe": combined\n}\n')
    return model, []


def _not_a_model(tmp_path: Path) -> tuple[Path, list[str]]:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty", []


BAD_MODELS = [
    pytest.param(_other_codebook_model, "E203", "another_study", id="model-of-another-codebook"),
    pytest.param(_other_codebook_given, "E203", "codebook.yaml", id="codebook-the-model-was-not-trained-on"),
    pytest.param(_tampered_model, "E204", "does not match the hash", id="tampered-model-file"),
    pytest.param(_garbled_model_json, "E208", "model.json:3", id="model-json-not-json"),
    pytest.param(_not_a_model, "E208", "not a complete model directory", id="not-a-model-directory"),
]


@pytest.mark.parametrize("make, code, fragment", BAD_MODELS)
def test_classify_with_a_bad_model_exits_2_and_leaves_the_run_alone(classified_run, tmp_path, make, code, fragment):
    model, extra = make(tmp_path)
    before = digests(classified_run)
    assert "labels.parquet" in before and "units.parquet" in before
    result = invoke("classify", classified_run, "--model", model, *extra)
    assert result.exit_code == 2, result.output
    assert f"[{code}]" in result.output and fragment in result.output and "Fix:" in result.output
    assert digests(classified_run) == before


def test_classify_engine_dask_with_a_bad_model_fails_before_starting_a_cluster(classified_run, tmp_path):
    model, _ = _tampered_model(tmp_path)
    before = digests(classified_run)
    result = invoke("classify", classified_run, "--model", model, "--engine", "dask")
    assert result.exit_code == 2 and "[E204]" in result.output
    assert digests(classified_run) == before


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_run_with_a_bad_model_keeps_the_earlier_parse(classified_run, tmp_path, engine):
    """``run`` into a directory made by ``parse`` + ``classify``: a model that cannot be loaded must not
    cost the researcher the tables already there (the chunked run would replace them)."""
    run = tmp_path / "run"
    shutil.copytree(classified_run, run)
    model, _ = _tampered_model(tmp_path)
    before = digests(run)
    result = invoke("run", SEED, "--out", run, "--model", model, "--engine", engine, "--workers", "1", "--quiet")
    assert result.exit_code == 2 and "[E204]" in result.output
    assert digests(run) == before


def test_failing_classify_leaves_earlier_outputs(classified_run, tmp_path, monkeypatch):
    """A crash inside the classify stage (not a PipelineError) writes nothing."""
    import pipeline.runs

    run = tmp_path / "run"
    shutil.copytree(classified_run, run)
    before = digests(run)

    def boom(*args, **kwargs):
        raise MemoryError("simulated: out of memory while classifying")

    import pipeline.classify.tables

    monkeypatch.setattr(pipeline.classify.tables, "labels_frame", boom)
    result = runner.invoke(app, ["classify", str(run), "--model", "rules"])
    assert isinstance(result.exception, MemoryError)
    assert digests(run) == before
    assert not list(run.rglob(".*.tmp"))
    labels = store.read_parquet(run / "labels.parquet")
    assert len(labels) == len(store.read_parquet(run / "units.parquet"))
    pd.testing.assert_frame_equal(labels, store.read_parquet(classified_run / "labels.parquet"))


def test_pipeline_error_survives_pickling():
    """Errors raised in worker processes (joblib/loky, Dask) are pickled back to the caller intact."""
    import pickle

    err = PipelineError("E204", "model.skops does not match.", file="m/model.skops", line=None, fix="Retrain.")
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, PipelineError) and back.problem == err.problem and str(back) == str(err)
