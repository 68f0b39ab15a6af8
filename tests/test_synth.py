"""The synthetic corpus generator (benchmarks/synth.py): deterministic, and its files parse back as planned."""

from __future__ import annotations

import collections
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline import store
from pipeline.parse import UNITS_SCHEMA, parse_paths, to_frames

ROOT = Path(__file__).resolve().parents[1]


import synth  # noqa: E402  (benchmarks/ is put on sys.path by conftest.py)

N_THREADS = 15  # three blocks of the seeds' five layouts: 9 numbered, 3 numbered plain, 3 flat


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "threads"
    tabular = out.parent / "threads.jsonl"
    manifest = synth.generate(out, threads=N_THREADS, seed=3, tabular=tabular)
    return out, tabular, manifest


def test_same_seed_gives_the_same_bytes(corpus, tmp_path):
    out, tabular, manifest = corpus
    again = synth.generate(tmp_path / "threads", threads=N_THREADS, seed=3, tabular=tmp_path / tabular.name)
    assert _files(tmp_path / "threads") == _files(out)  # thread files and the manifest
    assert (tmp_path / tabular.name).read_bytes() == tabular.read_bytes()
    assert again == manifest


def test_different_seed_gives_different_files(corpus, tmp_path):
    out, _, _ = corpus
    synth.generate(tmp_path / "other", threads=N_THREADS, seed=4)
    theirs, ours = _files(tmp_path / "other"), _files(out)
    assert theirs.keys() != ours.keys()  # names carry a content hash
    assert set(theirs.values()).isdisjoint(ours.values())


def test_a_larger_corpus_starts_with_the_smaller_one(corpus, tmp_path):
    out, _, _ = corpus
    synth.generate(tmp_path / "bigger", threads=N_THREADS + 3, seed=3)
    bigger = _files(tmp_path / "bigger")
    assert {k: v for k, v in bigger.items() if not k.startswith(".")}.items() >= \
        {k: v for k, v in _files(out).items() if not k.startswith(".")}.items()


def test_layouts_follow_the_seed_proportions(corpus):
    _, _, manifest = corpus
    assert manifest["by_layout"] == {"blogger_numbered": 9, "blogger_numbered_plain": 3, "blogger_flat": 3}


def test_files_parse_back_to_the_planned_threads(corpus):
    out, _, manifest = corpus
    result = parse_paths([out])  # the hidden manifest .synth.json is not read
    assert result.files_seen == N_THREADS and not result.skipped
    planned = {e["thread_id"]: e for e in manifest["threads"]}
    assert sorted(t.thread_id for t in result.threads) == sorted(planned)
    for t in result.threads:
        want = planned[t.thread_id]
        kinds = collections.Counter(u.kind for u in t.units)
        assert t.layout == want["layout"]
        assert (len(t.units), kinds["contribution"], kinds["comment"], kinds["reply"]) == \
               (want["units"], want["contributions"], want["comments"], want["replies"]), t.thread_id
        if t.layout == "blogger_numbered":
            assert t.declared_comments == t.parsed_comments
    # The only warning is the flat layout's lost boundaries, once per flat file.
    assert [p.code for p in result.problems] == ["W102"] * manifest["by_layout"]["blogger_flat"]
    flat_files = {str(out / e["file"]) for e in manifest["threads"] if e["layout"] == "blogger_flat"}
    assert {p.file for p in result.problems} == flat_files


def test_numbered_files_give_back_the_planned_texts(corpus):
    out, _, _ = corpus
    pools = synth.load_pools()
    for t in parse_paths([out]).threads:
        if not t.layout.startswith("blogger_numbered"):
            continue
        plan = synth.to_parsed(synth.plan_thread(int(t.thread_id), 3, pools=pools))
        assert (t.title, t.post_date) == (plan.title, plan.post_date)
        assert [(u.unit_id, u.kind, u.parent_id, u.text, u.author, u.timestamp) for u in t.units] == \
               [(u.unit_id, u.kind, u.parent_id, u.text, u.author, u.timestamp) for u in plan.units]
        if t.layout == "blogger_numbered":  # synth_units_frame's source_line: where the comment starts
            assert [u.line for u in t.units if u.depth > 0 and u.kind != "contribution"] == \
                   [u.line for u in plan.units if u.depth > 0 and u.kind != "contribution"]


def test_tabular_file_parses_back(corpus, tmp_path):
    _, tabular, manifest = corpus
    result = parse_paths([tabular])
    assert not result.problems
    assert len(result.threads) == N_THREADS
    # Tabular rows have no contributions: the post's parts are one post row.
    assert sum(len(t.units) for t in result.threads) == \
        sum(1 + e["comments"] + e["replies"] for e in manifest["threads"])
    csv_manifest = synth.generate(None, threads=4, seed=3, tabular=tmp_path / "t.csv", text=False)
    csv_result = parse_paths([tmp_path / "t.csv"])
    assert not csv_result.problems
    assert sum(len(t.units) for t in csv_result.threads) == \
        sum(1 + e["comments"] + e["replies"] for e in csv_manifest["threads"])


def test_generation_stops_at_the_first_limit(tmp_path):
    by_units = synth.generate(tmp_path / "u", units=100, seed=1)
    assert by_units["n_units"] >= 100
    assert by_units["n_units"] - by_units["threads"][-1]["units"] < 100
    by_mb = synth.generate(tmp_path / "m", mb=0.05, threads=1000, seed=1)
    assert by_mb["bytes"] >= 50_000 and by_mb["bytes"] - by_mb["threads"][-1]["bytes"] < 50_000
    with pytest.raises(ValueError):
        synth.generate(tmp_path / "none", seed=1)


def test_cli_writes_the_corpus(tmp_path, capsys):
    assert synth.main(["--out", str(tmp_path / "cli"), "--threads", "5", "--seed", "2", "-q"]) == 0
    assert synth.main(["--out", str(tmp_path / "cli2"), "--threads", "5", "--seed", "2", "-q"]) == 0
    assert _files(tmp_path / "cli") == _files(tmp_path / "cli2")
    assert len([n for n in _files(tmp_path / "cli") if n.endswith(".txt")]) == 5


def test_synth_units_frame_has_the_schema_columns():
    df = synth.synth_units_frame(300, seed=5)
    assert list(df.columns) == UNITS_SCHEMA.names
    assert len(df) == 300
    assert df["unit_id"].is_unique
    assert set(df["kind"]) <= {"post", "contribution", "comment", "reply"}
    # Same types as a parsed units table, and it converts back to the schema.
    parsed = to_frames([])[1]
    assert df.dtypes.to_dict() == parsed.dtypes.to_dict()
    assert pa.Table.from_pandas(df, schema=UNITS_SCHEMA, preserve_index=False).num_rows == 300
    # Every reply's parent is in the frame (the last thread is trimmed, not cut mid-tree).
    assert set(df.loc[df["parent_id"].notna(), "parent_id"]) <= set(df["unit_id"])
    assert synth.synth_units_frame(300, seed=5).equals(df)
    assert not synth.synth_units_frame(300, seed=6).equals(df)


def test_write_synth_run(tmp_path):
    run = synth.write_synth_run(tmp_path / "run", 120, seed=2)
    threads = store.read_parquet(run / "threads.parquet")
    units = store.read_parquet(run / "units.parquet")
    assert len(units) == 120 and list(units.columns) == UNITS_SCHEMA.names
    assert threads["n_units"].sum() == 120
    assert set(units["thread_id"]) == set(threads["thread_id"])
