"""Shared fixtures.  The seed threads are parsed once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipeline.parse import ParsedThread, parse_paths, to_frames

ROOT = Path(__file__).resolve().parents[1]
# The synthetic-corpus generator lives with the benchmarks; tests import it as `synth`.
sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    """The five seed threads (000..004) shipped with the repository."""
    return ROOT / "corpora" / "probation_blog" / "raw"


@pytest.fixture(scope="session")
def seed_result(seed_dir):
    return parse_paths([seed_dir])


@pytest.fixture(scope="session")
def seed_threads(seed_result) -> dict[str, ParsedThread]:
    """thread_id -> ParsedThread for every seed thread."""
    return {t.thread_id: t for t in seed_result.threads}


@pytest.fixture(scope="session")
def seed_units(seed_result):
    """The ``units`` table of the seed threads (one row per post, contribution, comment, reply)."""
    return to_frames(seed_result.threads)[1]


# ---------------------------------------------------------------- coding, models, evaluation
# (shared by test_codebook, test_preprocess, test_classify, test_model_io, test_labels_eval,
# test_cli_e2e; the trained coders are fitted once per session to keep the suite fast)

LABELS_PATH = ROOT / "corpora" / "probation_blog" / "labels.jsonl"


@pytest.fixture(scope="session")
def labels_path() -> Path:
    """The seed labels (annotators coder_a, coder_b and gold)."""
    return LABELS_PATH


@pytest.fixture(scope="session")
def codebook():
    """The bundled codebook (models/codebook.yaml)."""
    from pipeline.codebook import load_codebook
    from pipeline.runs import CODEBOOK_PATH

    return load_codebook(CODEBOOK_PATH)


@pytest.fixture(scope="session")
def nlp(codebook):
    """The full preprocessing pipeline (with the glossary) under the bundled codebook."""
    from pipeline.preprocess import build_nlp

    return build_nlp(codebook)


@pytest.fixture(scope="session")
def gold_data(labels_path):
    """``(codebook, units, feats, parents, y)`` of the seed gold labels (runs.training_data)."""
    from pipeline.runs import training_data

    return training_data(labels_path)


@pytest.fixture(scope="session")
def fitted_coder(gold_data):
    """The combined recipe (SupervisedCoder, use_cues=True) fitted on all seed gold labels."""
    from pipeline.classify import SupervisedCoder

    codebook, _, feats, parents, y = gold_data
    return SupervisedCoder(codebook, use_cues=True, random_state=0).fit(feats, parents, y)


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, labels_path):
    """A model directory written by runs.train_model (thread 004 left out, to keep it quick).

    Returns ``(model_dir, coder, info)`` where ``coder`` is the very object that was saved
    (captured on its way into model_io.save_model), so round trips can be compared exactly.
    Tests that damage a model must copy ``model_dir`` first.
    """
    import pipeline.model_io as model_io
    from pipeline.runs import train_model

    out = tmp_path_factory.mktemp("trained") / "model"
    saved = {}
    real_save = model_io.save_model

    def capture(model, *args, **kwargs):
        saved["coder"] = model
        return real_save(model, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model_io, "save_model", capture)
        info = train_model(labels_path, out, exclude_threads=["004"])
    return out, saved["coder"], info


@pytest.fixture
def fast_bootstrap(monkeypatch):
    """Fewer bootstrap resamples (20 instead of 1000) for tests of evaluation *behaviour*."""
    import pipeline.evaluate

    monkeypatch.setattr(pipeline.evaluate, "N_BOOT", 20)
    return 20
