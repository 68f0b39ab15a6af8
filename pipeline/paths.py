"""Where things are by default: the bundled corpus, model, codebook and run, defined once.

Every default can be moved by an environment variable (the app's tests and the browser
benchmark point the explorer at temporary files this way); the command line takes options.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CORPUS = REPO_ROOT / "corpora" / "probation_blog"
BUNDLED_MODEL = REPO_ROOT / "models" / "default"
CODEBOOK_PATH = REPO_ROOT / "models" / "codebook.yaml"
RUNS_ROOT = REPO_ROOT / "runs"

ENV_RUN = "PROBATION_TR_RUN"
ENV_ANNOTATIONS = "PROBATION_TR_ANNOTATIONS"
ENV_LABELS = "PROBATION_TR_LABELS"
ENV_MODEL = "PROBATION_TR_MODEL"
ENV_CORPUS = "PROBATION_TR_CORPUS"
ENV_CODEBOOK = "PROBATION_TR_CODEBOOK"


def _env_path(name: str, default: Path) -> Path:
    return Path(os.environ.get(name) or default)


def default_run() -> Path:
    """The run the explorer opens first (built from the bundled corpus when missing)."""
    return _env_path(ENV_RUN, RUNS_ROOT / "probation_blog")


def default_annotations() -> Path:
    """The append-only labels file the Annotate page writes."""
    return _env_path(ENV_ANNOTATIONS, BUNDLED_CORPUS / "annotations.jsonl")


def default_labels() -> Path:
    """Gold (and second-coder) labels of the bundled corpus."""
    return _env_path(ENV_LABELS, BUNDLED_CORPUS / "labels.jsonl")


def default_corpus() -> Path:
    """Thread files of the bundled corpus."""
    return _env_path(ENV_CORPUS, BUNDLED_CORPUS / "raw")


def default_codebook() -> Path:
    """The codebook the explorer reads the codes from."""
    return _env_path(ENV_CODEBOOK, CODEBOOK_PATH)


def default_model() -> str:
    """The bundled model when it has been trained, else the codebook rules alone."""
    env = os.environ.get(ENV_MODEL)
    if env:
        return env
    return str(BUNDLED_MODEL) if (BUNDLED_MODEL / "model.json").exists() else "rules"
