"""One cached loader of a coder (codebook, model, spaCy pipeline) per process.

Local runs, every chunk worker and every Dask worker get their coder here; it is loaded once
and reloaded when the model's ``model.json`` or the codebook file changes (the app retrains
into the same directory).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


def _stamp(path: str) -> int:
    p = Path(path)
    target = p / "model.json" if p.is_dir() else p
    return target.stat().st_mtime_ns if target.exists() else 0


def coder(model_dir: str, codebook_path: str):
    """``(codebook, model, meta, nlp)`` for a model directory (or 'rules') and a codebook file."""
    return cached_coder(str(model_dir), str(codebook_path), _stamp(str(model_dir)), _stamp(str(codebook_path)))


@lru_cache(maxsize=4)
def cached_coder(model_dir: str, codebook_path: str, _model_stamp: int, _codebook_stamp: int):
    from ..codebook import load_codebook
    from ..model_io import load_model
    from ..preprocess import build_nlp
    from .coders import RuleCoder

    codebook = load_codebook(codebook_path)
    if model_dir == "rules":
        model, meta = RuleCoder(codebook).fit(), {"recipe": "rules"}
    else:
        model, meta = load_model(model_dir, codebook)
    # Glossary entities are not classifier inputs; skipping the ruler saves about 15% here.
    return codebook, model, meta, build_nlp(codebook, glossary=False)


def check_coder(model_dir: Path | str, codebook_path: Path | str) -> None:
    """Load the codebook and model once, so that a bad one fails before a run directory is touched."""
    from ..codebook import load_codebook
    from ..model_io import load_model

    codebook = load_codebook(codebook_path)
    if str(model_dir) != "rules":
        load_model(model_dir, codebook)
