"""Cached data: st.cache_resource for the run table, codebook, pseudonymiser and term counts
(objects read by every session and too big to copy), st.cache_data for small results.

The unit table of a big run is cached with cache_resource: cache_data would pickle and copy
it (hundreds of MB for 100,000 units) on every rerun.  It is treated as read-only.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from pipeline import explore as ex
from pipeline.codebook import Codebook, load_codebook
from pipeline.errors import PipelineError
from pipeline.rundir import RunDir

from .state import Ctx

@st.cache_resource(show_spinner=False)
def get_codebook(path: str, mtime: int) -> Codebook:
    return load_codebook(path)


@st.cache_resource(show_spinner="Loading the run...", max_entries=3)
def get_run(sig: tuple, run: str, codebook_path: str, codebook_mtime: int) -> dict:
    codebook = get_codebook(codebook_path, codebook_mtime)
    data = ex.read_run(run, codebook)
    data["index"] = pd.Index(data["units"]["unit_id"])
    return data


@st.cache_resource(show_spinner=False, max_entries=3)
def get_pseudonymiser(sig: tuple, run: str) -> ex.Pseudonymiser:
    return ex.run_pseudonymiser(run)


@st.cache_data(show_spinner=False, max_entries=256)
def get_evidence(sig: tuple, run: str, unit_id: str) -> str | None:
    s = ex.read_column(run, "labels", "evidence", [unit_id])
    return s.iloc[0] if len(s) else None


@st.cache_data(show_spinner=False, max_entries=8)
def get_labels_file(path: str, mtime: int, codebook_path: str, codebook_mtime: int) -> pd.DataFrame | None:
    """Every coder's labels from a labels JSONL (None when the file is absent or unreadable)."""
    from pipeline.labels import read_labels

    p = Path(path)
    if not p.is_file():
        return None
    try:
        df, _ = read_labels(p, get_codebook(codebook_path, codebook_mtime), strict=False)
    except PipelineError:
        return None
    return df


@st.cache_data(show_spinner=False, max_entries=8)
def get_anchored_labels(sig: tuple, path: str, mtime: int, codebook_path: str, codebook_mtime: int,
                        _units: pd.DataFrame) -> tuple[pd.DataFrame | None, dict | None]:
    """The labels file's labels on the run's units by content (pipeline/anchor.py): labels whose text
    moved follow it, labels whose text changed or is gone are left out and reported."""
    from pipeline.anchor import anchor_labels

    labels = get_labels_file(path, mtime, codebook_path, codebook_mtime)
    if labels is None or "fingerprint" not in _units:
        return labels, None
    anchored, report = anchor_labels(labels, _units[["unit_id", "fingerprint"]])
    return anchored, report.to_dict()


@st.cache_data(show_spinner=False, max_entries=8)
def get_evaluation(path: str, mtime: int) -> dict | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


@st.cache_data(show_spinner=False, max_entries=32)
def overview_tables(key: tuple, _df: pd.DataFrame, _codebook: Codebook, scheme: str, measure: str, freq: str) -> dict:
    return {"prevalence": ex.theme_prevalence(_df, _codebook),
            "stance": ex.stance_by_theme(_df, _codebook, scheme),
            "cooc": ex.cooccurrence(_df, _codebook, measure),
            "ts_themes": ex.time_series(_df, _codebook, freq, "themes"),
            "ts_stance": ex.time_series(_df, _codebook, freq, "stance_tr")}


@st.cache_resource(show_spinner="Counting words...", max_entries=4)
def get_term_counts(sig: tuple, run: str, lemmas: bool, drop_stop: bool, pseudonymised: bool, _texts: pd.Series):
    stop = ()
    if drop_stop:
        from spacy.lang.en.stop_words import STOP_WORDS

        stop = STOP_WORDS
    return ex.term_counts(_texts.fillna("").tolist(), lemmas=lemmas, stop_words=stop)


@st.cache_resource(show_spinner="Preparing texts...", max_entries=4)
def get_word_texts(sig: tuple, run: str, column: str, pseudonymised: bool, _df: pd.DataFrame,
                   _pseudo: ex.Pseudonymiser | None) -> pd.Series:
    """A text column indexed by unit id, with commenter names replaced when asked (the Words
    page counts and searches these)."""
    texts = pd.Series(_df[column].fillna("").array, index=pd.Index(_df["unit_id"]))
    return _pseudo.series(texts) if pseudonymised and _pseudo else texts


def word_texts(ctx: Ctx, column: str) -> pd.Series:
    return get_word_texts(ctx.sig, str(ctx.run_dir), column, ctx.pseudo is not None, ctx.model_df, ctx.pseudo)


@st.cache_data(show_spinner=False, max_entries=64)
def get_filtered_ids(key: tuple, _df: pd.DataFrame, filters: ex.Filters) -> np.ndarray:
    return np.flatnonzero(ex.filter_mask(_df, filters))


@st.cache_data(show_spinner=False, max_entries=8)
def model_thresholds(run: str, sig: tuple) -> dict:
    """Theme thresholds of the model that coded the run (from its model card), if known."""
    model = (RunDir(run).report().get("classify") or {}).get("model")
    if not model or model == "rules":
        return {}
    # Read-only look at the model's metadata (pipeline.model_io has no reader without loading the model).
    try:
        meta = json.loads((Path(model) / "model.json").read_text(encoding="utf-8"))
        return {k: float(v) for k, v in (meta.get("thresholds") or {}).items()}
    except (OSError, json.JSONDecodeError, AttributeError, TypeError, ValueError):
        return {}


def filtered(ctx: Ctx, filters: ex.Filters | None) -> pd.DataFrame:
    """The rows of the shown table matching ``filters`` (all rows for None)."""
    return ctx.df if filters is None else ctx.df.iloc[get_filtered_ids(ctx.key, ctx.df, filters)]


@st.cache_data(show_spinner=False, max_entries=16)
def export_bytes(key: tuple, fmt: str, filters: ex.Filters | None, pseudonymise: bool, _ctx: Ctx) -> bytes:
    ctx = _ctx
    return ex.export_bytes(ctx.run_dir, filtered(ctx, filters), ctx.codebook, fmt,
                           pseudonymiser=ctx.pseudo if pseudonymise else None, source=ctx.source,
                           coder=ctx.coder)


@st.cache_data(show_spinner=False, max_entries=16)
def chart_png(key: tuple, name: str, filters: ex.Filters | None, pseudonymise: bool, _ctx: Ctx) -> bytes:
    ctx = _ctx
    where = (filters or replace(ex.Filters(), source=ctx.source)).describe(ctx.name)
    return ex.chart_png(name, filtered(ctx, filters), ctx.codebook, where=where, source=ctx.source)
