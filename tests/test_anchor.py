"""Labels stay on the text they were made on (pipeline/anchor.py, labels check, train)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.anchor import anchor_labels, fingerprint, normalise_time
from pipeline.cli import app

ROOT = Path(__file__).resolve().parents[1]


def units_of(comments: list[tuple[str, str, str]], thread: str = "t") -> pd.DataFrame:
    """A units table whose ids are positions, as a re-saved page renumbers them."""
    return pd.DataFrame({"unit_id": [f"{thread}/c{i}" for i in range(1, len(comments) + 1)],
                         "text": [c[0] for c in comments], "author": [c[1] for c in comments],
                         "timestamp": [c[2] for c in comments]})


def labels_on(units: pd.DataFrame) -> pd.DataFrame:
    from pipeline.anchor import fingerprints

    return pd.DataFrame({"unit_id": units["unit_id"], "fingerprint": fingerprints(units),
                         "text_made_on": units["text"]})


@pytest.mark.parametrize("a, b, same", [
    (("Caseloads are   mad.", "Anon", "2015-04-23T08:02"), ("caseloads are mad.", "anon", "2015-04-23T08:02:00+01:00"), True),
    (("Caseloads are mad.", "Anon", "2015-04-23T08:02"), ("Caseloads are mad.", "Anon", "2015-04-23T08:03"), False),
    (("Caseloads are mad.", "Anon", None), ("Caseloads are mad.", "JB", None), False),
    (("Caseloads\u00a0are mad.", None, None), ("Caseloads are mad.", None, None), True),  # nbsp from a re-save
    (("Agreed.", "Anon", "2015-04-23T08:02"), ("Agreed!", "Anon", "2015-04-23T08:02"), False),
])
def test_fingerprint_ignores_presentation_not_content(a, b, same):
    assert (fingerprint(*a) == fingerprint(*b)) is same


@pytest.mark.parametrize("ts, minute", [("2015-04-23T08:02", "2015-04-23T08:02"),
                                         ("2015-04-23T08:02:59.544-08:00", "2015-04-23T08:02"),
                                         ("2015-04-23 08:02", "2015-04-23T08:02"), (None, "")])
def test_normalise_time_keeps_the_wall_clock_minute(ts, minute):
    assert normalise_time(ts) == minute


def test_statuses():
    before = units_of([("one", "A", None), ("two", "B", None), ("three", "C", None), ("dup", "D", None),
                       ("five", "E", None), ("six", "F", None)])
    labels = labels_on(before)
    labels.loc[len(labels)] = {"unit_id": "t/c2", "fingerprint": None, "text_made_on": "two, edited"}  # legacy
    after = units_of([("one", "A", None), ("dup", "D", None), ("two, edited", "B", None), ("dup", "D", None),
                      ("three", "C", None)])
    out, report = anchor_labels(labels, after)
    assert report.counts == {"kept": 2, "moved": 1, "unanchored": 1, "changed": 2, "orphaned": 1}
    assert report.moved == [("t/c3", "t/c5")]
    assert report.changed == ["t/c2", "t/c5"]  # the ids exist but hold other text now
    assert report.orphaned == ["t/c6"]  # neither the id nor the text exists any more
    assert report.unanchored == ["t/c2"]  # without a fingerprint only the id can be trusted
    assert list(zip(out["source_unit_id"], out["unit_id"], out["anchor"])) == [
        ("t/c1", "t/c1", "kept"), ("t/c3", "t/c5", "moved"), ("t/c4", "t/c4", "kept"), ("t/c2", "t/c2", "unanchored")]


def test_text_held_by_several_units_is_never_guessed():
    labels = labels_on(units_of([("dup", "D", None), ("other", "E", None)]))
    after = units_of([("first", "A", None), ("dup", "D", None), ("dup", "D", None)])
    out, report = anchor_labels(labels, after)
    assert report.changed == ["t/c1", "t/c2"] and out.empty  # "dup" is at c2 and c3, neither is its id


# One operation on a thread: delete, insert or edit the comment at a position.
operations = st.lists(st.tuples(st.sampled_from(["delete", "insert", "edit"]), st.integers(0, 30),
                                st.text(alphabet="abc ", min_size=1, max_size=6)), max_size=6)
comments = st.lists(st.tuples(st.text(alphabet="abcd .", min_size=0, max_size=12),
                              st.sampled_from(["Anon", "JB", None]),
                              st.sampled_from(["2015-04-23T08:02", "2015-04-23T09:10", None])),
                    min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(comments, operations)
def test_no_label_ever_lands_on_other_text(thread, ops):
    """Delete, insert or edit any comments: every label that is used sits on the text it was made on."""
    from pipeline.anchor import normalise_text

    labels = labels_on(units_of(thread))
    changed = list(thread)
    for op, pos, text in ops:
        i = pos % (len(changed) + 1)
        if op == "insert":
            changed.insert(i, (text, "New", None))
        elif changed and op == "delete":
            changed.pop(i % len(changed))
        elif changed:
            t, a, s = changed[i % len(changed)]
            changed[i % len(changed)] = (t + text, a, s)
    after = units_of(changed)
    out, report = anchor_labels(labels, after)
    text_now = dict(zip(after["unit_id"], after["text"]))
    for uid, made_on in zip(out["unit_id"], out["text_made_on"]):
        assert normalise_text(text_now[uid]) == normalise_text(made_on)
    assert sum(report.counts.values()) == len(labels)
    if not ops:  # nothing changed: every label kept
        assert report.counts["kept"] == len(labels)


# ------------------------------------------------------------------ end to end on a seed thread

@pytest.fixture
def corpus_without_a_comment(tmp_path, seed_dir) -> Path:
    """The seeds, re-saved after the moderator deleted comment 2 of thread 000 (Blogger renumbers)."""
    corpus = tmp_path / "raw"
    shutil.copytree(seed_dir, corpus)
    page = next(corpus.glob("000_*.txt"))
    text = page.read_text(encoding="utf-8")
    start, end = text.index("\n  2. Under TR"), text.index("\n  3. I have trouble")
    page.write_text(text[:start] + text[end:], encoding="utf-8")
    return corpus


def test_labels_check_reports_moved_and_changed(corpus_without_a_comment, labels_path, tmp_path):
    labels = tmp_path / "labels.jsonl"
    shutil.copy(labels_path, labels)
    result = CliRunner().invoke(app, ["labels", "check", str(labels), "--corpus", str(corpus_without_a_comment),
                                      "--strict"])
    assert result.exit_code == 3, result.output
    assert "moved: 000/c3 -> 000/c2" in result.output and "[W201]" in result.output
    assert "[W202]" in result.output and "000/c2" in result.output.split("changed:")[1].splitlines()[0]
    # the shipped labels are anchored: against the unchanged corpus every one is kept
    clean = CliRunner().invoke(app, ["labels", "check", str(labels_path), "--strict"])
    assert clean.exit_code == 0 and "546 kept" in clean.output, clean.output


def test_stamp_rewrites_ids_and_keeps_the_rest(corpus_without_a_comment, labels_path, tmp_path):
    labels = tmp_path / "labels.jsonl"
    shutil.copy(labels_path, labels)
    result = CliRunner().invoke(app, ["labels", "check", str(labels), "--corpus", str(corpus_without_a_comment),
                                      "--stamp"])
    assert result.exit_code == 0, result.output
    before = [json.loads(x) for x in labels_path.read_text().splitlines()]
    after = [json.loads(x) for x in labels.read_text().splitlines()]
    assert len(before) == len(after)
    moved = {(b["unit_id"], a["unit_id"]) for b, a in zip(before, after) if b["unit_id"] != a["unit_id"]}
    assert ("000/c3", "000/c2") in moved and ("000/c10.r2", "000/c9.r2") in moved
    # the deleted comment's labels are left as they were, for a person to look at
    assert [a for b, a in zip(before, after) if b["unit_id"] == "000/c2"] == [b for b in before if b["unit_id"] == "000/c2"]
    again = CliRunner().invoke(app, ["labels", "check", str(labels), "--corpus", str(corpus_without_a_comment)])
    assert "90" not in again.output.split("\n")[0] or "kept" in again.output


def test_train_on_a_changed_corpus_says_so_and_uses_the_right_text(corpus_without_a_comment, labels_path, tmp_path):
    """Before anchoring, 20 gold labels silently trained on other comments' text."""
    from pipeline.runs import training_data

    codebook, units, *_ = training_data(labels_path, corpus_without_a_comment)
    anchor = units.attrs["labels_anchor"]
    assert anchor["counts"]["moved"] == 90 and anchor["counts"]["changed"] == 3
    codes = {p["code"] for p in units.attrs["label_problems"]}
    assert {"W201", "W202"} <= codes
    gold = {json.loads(x)["fingerprint"] for x in labels_path.read_text().splitlines()}
    assert set(units["fingerprint"]) <= gold  # every unit trained on carries a label made on its text
