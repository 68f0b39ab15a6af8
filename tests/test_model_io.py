"""Model files: round trip, and refusal of tampered, foreign-codebook and unsafe models."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil

import numpy as np
import pytest
import skops.io as sio

from pipeline.codebook import load_codebook
from pipeline.errors import PipelineError
from pipeline.model_io import load_model
from pipeline.runs import CODEBOOK_PATH, featurize


@pytest.fixture
def model_copy(trained_model, tmp_path):
    """A private copy of the session's trained model, safe to damage."""
    return shutil.copytree(trained_model[0], tmp_path / "model")


@pytest.fixture(scope="module")
def heldout(seed_units, codebook):
    """Features of thread 004, which the trained model never saw."""
    from pipeline.preprocess import build_nlp

    units = seed_units[seed_units["thread_id"] == "004"].reset_index(drop=True)
    return featurize(units, build_nlp(codebook, glossary=False))


def _fix_hash(model_dir):
    meta = json.loads((model_dir / "model.json").read_text())
    meta["model_sha256"] = hashlib.sha256((model_dir / "model.skops").read_bytes()).hexdigest()
    (model_dir / "model.json").write_text(json.dumps(meta, indent=2))


def test_model_directory_contents(trained_model, codebook):
    model_dir, coder, info = trained_model
    assert {p.name for p in model_dir.iterdir()} >= {"model.skops", "model.json", "MODEL_CARD.md"}
    assert not [p for p in model_dir.iterdir() if p.name.endswith(".tmp")]
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["model_sha256"] == hashlib.sha256((model_dir / "model.skops").read_bytes()).hexdigest()
    assert meta["codebook"]["fingerprint"] == codebook.fingerprint
    assert meta["codebook"]["themes"] == codebook.theme_names
    assert meta["training"]["excluded_threads"] == ["004"] == info["excluded_threads"]
    assert "004" not in meta["training"]["threads"]
    assert meta["recipe"] == coder.name == "combined"
    assert set(meta["thresholds"]) == set(codebook.theme_names)
    card = (model_dir / "MODEL_CARD.md").read_text()
    assert codebook.fingerprint in card and "004" in card


def test_round_trip_gives_identical_predictions(trained_model, codebook, heldout):
    model_dir, coder, _ = trained_model
    loaded, meta = load_model(model_dir, codebook)
    feats, parents = heldout
    before, after = coder.predict_proba(feats, parents), loaded.predict_proba(feats, parents)
    assert set(before) == set(after) == set(codebook.all_labels)
    for code in before:
        np.testing.assert_array_equal(before[code], after[code])
    assert loaded.thresholds_ == coder.thresholds_
    assert loaded.priors_ == coder.priors_
    for name in ("use_cues", "C", "cue_weight", "min_df", "rule_prior", "rule_precision", "random_state"):
        assert getattr(loaded, name) == getattr(coder, name), name
    # unigram weights (the evidence) survive the round trip too
    assert loaded.unigram_weights("workload") == coder.unigram_weights("workload")


def test_classify_with_trained_model(trained_model, seed_units):
    from pipeline.runs import classify_units

    units = seed_units[seed_units["thread_id"] == "004"].reset_index(drop=True)
    labels = classify_units(units, trained_model[0])
    assert list(labels["unit_id"]) == list(units["unit_id"])
    assert set(labels["model"]) == {"combined"}


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_tampered_model_is_refused(model_copy, codebook, where):
    path = model_copy / "model.skops"
    data = bytearray(path.read_bytes())
    i = {"start": 0, "middle": len(data) // 2, "end": len(data) - 1}[where]
    data[i] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(PipelineError) as exc:
        load_model(model_copy, codebook)
    p = exc.value.problem
    assert p.code == "E204" and p.file == str(path) and p.fix
    assert "hash" in p.message


def test_model_under_changed_codebook_is_refused(trained_model, tmp_path):
    text = CODEBOOK_PATH.read_text(encoding="utf-8")
    assert "any: [no response, no reply," in text
    edited = tmp_path / "codebook_edited.yaml"
    edited.write_text(text.replace("any: [no response, no reply,", "any: [no responses, no reply,", 1))
    other = load_codebook(edited)
    original = load_codebook(CODEBOOK_PATH)
    assert other.fingerprint != original.fingerprint  # only a cue changed
    with pytest.raises(PipelineError) as exc:
        load_model(trained_model[0], other)
    p = exc.value.problem
    assert p.code == "E203" and p.fix and "--codebook" in p.fix
    assert p.file == str(trained_model[0])
    # both codebooks are named, and can be told apart although name and version are the same
    assert f"{original.name} v{original.version}" in p.message
    assert original.fingerprint in p.message and other.fingerprint in p.message
    assert str(edited) in p.message


@pytest.mark.parametrize("payload", [
    pytest.param(lambda: {"vectorizer": os.system}, id="function"),
    pytest.param(lambda: {"vectorizer": _SneakyDict(a=1)}, id="ordereddict-subclass"),
])
def test_model_with_disallowed_type_is_refused(model_copy, codebook, payload):
    sio.dump(payload(), model_copy / "model.skops")
    _fix_hash(model_copy)  # the hash matches: only the allow-list stands in the way
    with pytest.raises(PipelineError) as exc:
        load_model(model_copy, codebook)
    p = exc.value.problem
    assert p.code == "E204" and "allow-list" in p.message and p.fix


class _SneakyDict(collections.OrderedDict):
    """A type no model trained by this tool contains."""


def test_model_json_invalid(model_copy, codebook):
    meta = model_copy / "model.json"
    lines = meta.read_text().splitlines()
    lines[2] = lines[2].rstrip(",") + " oops,"
    meta.write_text("\n".join(lines) + "\n")
    with pytest.raises(PipelineError) as exc:
        load_model(model_copy, codebook)
    p = exc.value.problem
    assert p.code == "E208" and "damaged" in p.message and p.file == str(meta) and p.line == 3 and p.fix
    assert f"{meta}:3" in str(exc.value)


def test_not_a_model_directory(tmp_path, codebook):
    with pytest.raises(PipelineError) as exc:
        load_model(tmp_path, codebook)
    assert exc.value.problem.code == "E208"


def test_unreadable_model_skops_is_refused(model_copy, codebook):
    (model_copy / "model.skops").write_bytes(b"not a zip archive")
    _fix_hash(model_copy)
    with pytest.raises(PipelineError) as exc:
        load_model(model_copy, codebook)
    assert exc.value.problem.code == "E208" and "damaged" in exc.value.problem.message
