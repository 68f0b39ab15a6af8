"""Units with their labels as a flat table, and that table as CSV, Parquet or JSONL bytes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import store
from ..codebook import Codebook
from ..errors import Code, PipelineError
from ..rundir import RunDir
from ..schema import SCHEMES, theme_col
from .data import read_column, themes_from_matrix
from .pseudonyms import Pseudonymiser, run_pseudonymiser
from .refiqda import refi_qda_project

FORMATS = ("csv", "parquet", "jsonl", "qdpx")
# List and JSON columns left out of the app's table (slow to decode) and read for exports only.
EXPORT_EXTRAS = (("units", "quoted_text"), ("units", "mentions"), ("units", "urls"), ("labels", "evidence"))


EXPORT_COLUMNS = ("unit_id", "thread_id", "title", "kind", "parent_id", "depth", "position", "author", "timestamp",
                  "date", "word_count", "confidence", "confidence_note", "text", "own_text")


def export_frame(df: pd.DataFrame, codebook: Codebook, *, extra: dict[str, pd.Series] | None = None,
                 pseudonymiser: Pseudonymiser | None = None, source: str = "model") -> pd.DataFrame:
    """The units with their labels as a flat table: themes as a list, one column per theme,
    stances, probabilities, evidence (if given in ``extra``) and ``label_source``."""
    out = df[[c for c in EXPORT_COLUMNS if c in df]].copy()
    if "date" in out:
        out["date"] = out["date"].dt.strftime("%Y-%m-%d").where(out["date"].notna(), None)
    out["themes"] = themes_from_matrix(df, codebook.theme_names)
    for c in codebook.theme_names:
        out[c] = df[theme_col(c)].to_numpy(dtype=bool)
    for s in SCHEMES:
        out[s] = df[s].to_numpy(dtype=object)
    for code in codebook.all_labels:
        if f"p_{code}" in df:
            out[f"p_{code}"] = df[f"p_{code}"].to_numpy()
    for name, series in (extra or {}).items():
        out[name] = series.reindex(out["unit_id"]).to_numpy() if isinstance(series, pd.Series) else series
    out["label_source"] = source
    if pseudonymiser:
        out = pseudonymiser.frame(out)
    return out.reset_index(drop=True)


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """Formula-safe CSV (:func:`pipeline.store.csv_bytes`); list cells (also numpy arrays) ' | '-joined."""
    flat = df.copy()
    for col in flat.columns:
        if flat[col].dtype == object:
            flat[col] = flat[col].map(lambda v: v.tolist() if isinstance(v, np.ndarray) else v)
    return store.csv_bytes(flat)


def to_parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def to_jsonl_bytes(df: pd.DataFrame) -> bytes:
    lines = []
    cols = list(df.columns)
    for rec in df.itertuples(index=False, name=None):
        lines.append(json.dumps({k: _jsonable(v) for k, v in zip(cols, rec)}, ensure_ascii=False, default=str))
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")


def export_bytes(run: Path | str, df: pd.DataFrame, codebook: Codebook, fmt: str, *,
                 pseudonymiser: Pseudonymiser | None = None, source: str = "model", coder: str | None = None) -> bytes:
    """The units in ``df`` (rows of the app's flat table) exported as ``fmt`` (one of :data:`FORMATS`).

    The Export page and ``python -m pipeline export`` both call this, so a file downloaded from
    the app and one written by the command are the same bytes for the same choices.  ``coder``:
    who the codes are from (the model's name, 'gold' or an annotator), recorded as the
    REFI-QDA user; the project is stamped with the run's creation time, not the export time.
    """
    run = RunDir(run)
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    pseudo = pseudonymiser if pseudonymiser else None
    if fmt == "qdpx":
        segments = None
        if source == "model" and (run.path / "labels.parquet").exists():  # human labels carry no segments
            from ..classify.segments import segments_for

            segments = segments_for(run.path)
        return refi_qda_project(df, codebook, project_name=f"Probation TR: {run.name}", source=source,
                                pseudonymiser=pseudo, created=run.created(), user=coder or source, segments=segments)
    ids = df["unit_id"].tolist()
    extra = {}
    for table, col in EXPORT_EXTRAS:
        values = read_column(run.path, table, col, ids)
        if len(values):
            extra[col] = values
    out = export_frame(df, codebook, extra=extra, pseudonymiser=pseudo, source=source)
    return {"csv": to_csv_bytes, "parquet": to_parquet_bytes, "jsonl": to_jsonl_bytes}[fmt](out)


def coder_labels(codebook: Codebook, coder: str, labels_files: list[Path | str]) -> pd.DataFrame:
    """The latest labels of ``coder`` ('gold' or an annotator) from the first of ``labels_files`` that
    has any: a labels JSONL (read_labels) or the app's annotations file (the latest label per unit)."""
    from ..labels import read_labels
    from ..store import AnnotationStore

    seen = []
    for path in map(Path, labels_files):
        if not path.exists():
            continue
        seen.append(str(path))
        try:
            table, _ = read_labels(path, codebook, strict=False)
        except PipelineError:
            table = AnnotationStore(path).latest()
        mine = table[table["annotator"] == coder] if len(table) else table
        if len(mine):
            return mine
    raise PipelineError(Code.E202, f"no labels by annotator {coder!r} in {', '.join(seen) or 'no existing file'}.",
                        file=str(labels_files[0]) if labels_files else "",
                        fix="Check the name (--labels model|gold|<annotator>) or point --labels-file at the "
                            "file holding that coder's labels.")


def export_run(run: Path | str, out: Path | str, fmt: str, codebook: Codebook, *, labels: str = "model",
               labels_files: list[Path | str] = (), pseudonymise: bool = False) -> dict:
    """``python -m pipeline export``: read the run as the app does, pick whose codes to export, write
    ``out`` atomically with :func:`export_bytes` (the Export page's function) and say what was written."""
    from .data import coder_view, read_run

    run = RunDir(run)
    if not run.exists():
        raise PipelineError(Code.E205, "not a run directory (units.parquet is missing).", file=str(run.path),
                            fix="Give a folder written by `python -m pipeline run` or `parse`.")
    if fmt not in FORMATS:
        raise PipelineError(Code.E205, f"unknown export format {fmt!r}.", file=str(out),
                            fix=f"Use --format {' | '.join(FORMATS)}.")
    if labels == "model" and not run.has_labels():
        raise PipelineError(Code.E205, "the run has no labels.parquet: there are no model codes to export.",
                            file=str(run.path), fix=f"Code it first: python -m pipeline classify {run.path}")
    table = read_run(run.path, codebook)["units"]
    if labels != "model":
        table = coder_view(table, coder_labels(codebook, labels, list(labels_files)), labels, codebook)
    pseudo = None
    if pseudonymise:
        pseudo = run_pseudonymiser(run.path)
    coder = labels if labels != "model" else (
        Path(str(table["model"].iloc[0])).name if "model" in table and len(table) else "model")
    data = export_bytes(run.path, table, codebook, fmt, pseudonymiser=pseudo,
                        source="model" if labels == "model" else labels, coder=coder)
    store.write_bytes(data, out)
    return {"out": str(out), "format": fmt, "units": int(len(table)), "labels": labels, "coder": coder,
            "pseudonymised": bool(pseudonymise), "bytes": len(data)}
