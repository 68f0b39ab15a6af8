"""Reading a run directory into the one flat table the app shows, and views of it (gold labels, threads)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..codebook import Codebook
from ..rundir import RunDir
from ..schema import SCHEMES, theme_col

# Columns read from units.parquet for the main table; list columns are slow to decode and are
# read on demand (mentions for pseudonyms, quoted_text/urls for exports).
UNIT_COLUMNS = ("unit_id", "thread_id", "kind", "parent_id", "depth", "position", "author", "timestamp", "text",
                "own_text", "word_count", "confidence", "confidence_note", "link_only", "fingerprint")

def _existing_columns(path: Path, wanted: Iterable[str]) -> list[str]:
    names = set(_schema_names(path))
    return [c for c in wanted if c in names]


def theme_matrix(themes: pa.ChunkedArray | pa.Array | Sequence, codes: Sequence[str]) -> np.ndarray:
    """Boolean (n_units, n_codes) matrix from a list-of-codes column, without a Python loop per row."""
    arr = themes if isinstance(themes, (pa.Array, pa.ChunkedArray)) else pa.array(
        [list(t) if t is not None and not (isinstance(t, float) and np.isnan(t)) else [] for t in themes],
        type=pa.list_(pa.string()))
    n = len(arr)
    out = np.zeros((n, len(codes)), dtype=bool)
    if n == 0 or not len(codes):
        return out
    flat = pc.list_flatten(arr)
    parents = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
    flat_np = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=object)
    for j, code in enumerate(codes):
        out[parents[flat_np == code], j] = True
    return out


def themes_from_matrix(df: pd.DataFrame, codes: Sequence[str]) -> list[list[str]]:
    """The list-of-codes column back from the ``th__`` columns (for exports)."""
    if not len(df):
        return []
    m = (np.column_stack([df[theme_col(c)].to_numpy(dtype=bool) for c in codes]) if codes
         else np.zeros((len(df), 0), bool))
    codes_arr = np.array(codes, dtype=object)
    return [codes_arr[row].tolist() for row in m]


def unit_timestamps(units: pd.DataFrame) -> pd.Series:
    """Each unit's own timestamp (NaT when the page shows none), naive UTC.  ISO 8601 is parsed
    vectorised (``format="mixed"`` parses row by row: seconds on 100,000 units)."""
    ts = pd.to_datetime(units["timestamp"], errors="coerce", format="ISO8601", utc=True)
    return ts.dt.tz_localize(None)


def thread_dates(threads: pd.DataFrame, units: pd.DataFrame, own: pd.Series | None = None) -> pd.Series:
    """thread_id -> date: the post date, else the thread's earliest comment timestamp."""
    post = pd.to_datetime(threads.set_index("thread_id")["post_date"], errors="coerce", format="ISO8601")
    ts = unit_timestamps(units) if own is None else own
    earliest = ts.groupby(units["thread_id"].to_numpy()).min()
    return post.fillna(earliest.reindex(post.index)).dt.normalize()


def _schema_names(path: Path) -> list[str]:
    """Column names of a Parquet file or of a partitioned dataset (a folder of parts, as chunked runs write)."""
    import pyarrow.dataset as pads

    return pads.dataset(str(path), format="parquet").schema.names


def read_run(run: Path | str, codebook: Codebook) -> dict:
    """The run as one flat table (units + labels + thread title and date) and the threads table.

    Returns ``{"units": df, "threads": threads, "has_labels": bool, "report": dict}``.  The
    ``evidence`` JSON and the list columns are left out (see :func:`read_column`).
    """
    run = Path(run)
    upath, tpath, lpath = run / "units.parquet", run / "threads.parquet", run / "labels.parquet"
    units_tbl = pq.read_table(upath, columns=_existing_columns(upath, UNIT_COLUMNS))
    units = units_tbl.to_pandas()
    threads = pq.read_table(tpath).to_pandas() if tpath.exists() else pd.DataFrame(
        {"thread_id": units["thread_id"].unique(), "title": None, "post_date": None})
    codes = codebook.theme_names
    has_labels = lpath.exists()
    if has_labels:
        cols = [c for c in _schema_names(lpath) if c != "evidence"]
        ltbl = pq.read_table(lpath, columns=cols)
        m = theme_matrix(ltbl.column("themes"), codes)
        labels = ltbl.drop(["themes"]).to_pandas()
        for j, c in enumerate(codes):
            labels[theme_col(c)] = m[:, j]
        same_order = len(labels) == len(units) and bool(
            (labels["unit_id"].to_numpy() == units["unit_id"].to_numpy()).all())
        if same_order:
            df = pd.concat([units, labels.drop(columns=["unit_id"])], axis=1)
        else:
            df = units.merge(labels, on="unit_id", how="left")
            for c in codes:
                df[theme_col(c)] = df[theme_col(c)].fillna(False).astype(bool)
    else:
        df = units.copy()
        for c in codes:
            df[theme_col(c)] = False
        for s in SCHEMES:
            df[s] = None
    for s in SCHEMES:
        if s not in df:
            df[s] = None
    for code in codebook.all_labels:
        if f"p_{code}" not in df:
            df[f"p_{code}"] = np.nan
    th = np.column_stack([df[theme_col(c)].to_numpy(dtype=bool) for c in codes]) if codes else np.zeros((len(df), 0))
    df["n_themes"] = th.sum(axis=1).astype("int64")
    df["themes_str"] = themes_string(th, codes)
    df["p_theme_max"] = df[[f"p_{c}" for c in codes]].max(axis=1) if codes else 0.0
    own = unit_timestamps(units)
    df["date"] = df["thread_id"].map(thread_dates(threads, units, own))  # the thread's date (tables, exports)
    # The date a unit is placed at on time charts: its own timestamp (a comment's month), else
    # its thread's date; date_source says which, so charts can say how many were placed how.
    has_own = own.notna().to_numpy()
    df["unit_date"] = np.where(has_own, own.dt.normalize().to_numpy(), df["date"].to_numpy())
    df["unit_date"] = pd.to_datetime(df["unit_date"])
    df["date_source"] = np.where(has_own, "own", np.where(df["date"].notna().to_numpy(), "thread", "none"))
    titles = threads.set_index("thread_id")["title"] if "title" in threads else pd.Series(dtype=str)
    df["title"] = df["thread_id"].map(titles)
    return {"units": df, "threads": threads, "has_labels": has_labels, "report": RunDir(run).report()}


def themes_string(matrix: np.ndarray, codes: Sequence[str], sep: str = ", ") -> np.ndarray:
    """Comma-joined theme codes for each row of a boolean matrix (vectorised over rows)."""
    n = matrix.shape[0]
    out = np.full(n, "", dtype=object)
    for j, code in enumerate(codes):
        hit = matrix[:, j]
        if not hit.any():
            continue
        has = out[hit] != ""
        out[hit] = np.where(has, out[hit] + sep + code, code)
    return out


def read_column(run: Path | str, table: str, column: str, unit_ids: Sequence[str] | None = None) -> pd.Series:
    """One column of a run table as a Series indexed by unit_id (optionally only some units)."""
    path = Path(run) / f"{table}.parquet"
    if not path.exists() or column not in _schema_names(path):
        return pd.Series(dtype=object)
    tbl = pq.read_table(path, columns=["unit_id", column])
    if unit_ids is not None:
        tbl = tbl.filter(pc.is_in(tbl.column("unit_id"), value_set=pa.array(list(unit_ids), type=pa.string())))
    return pd.Series(tbl.column(column).to_pylist(), index=tbl.column("unit_id").to_pylist(), dtype=object)


def run_signature(run: Path | str) -> tuple:
    """Changes whenever a table of the run is rewritten: a cache key."""
    run = Path(run)
    sig = [str(run.resolve())]
    for name in ("units.parquet", "labels.parquet", "threads.parquet", "report.json", "evaluation/evaluation.json"):
        p = run / name
        if p.exists():
            st = p.stat()
            sig.append((name, st.st_mtime_ns, st.st_size))
    return tuple(sig)


# --- Gold labels --------------------------------------------------------------------------------

def coder_view(df: pd.DataFrame, labels: pd.DataFrame | None, annotator: str, codebook: Codebook) -> pd.DataFrame:
    """The units one coder labelled ('gold' or an annotator), with that coder's codes: :func:`gold_view`
    for any annotator in a labels table (columns unit_id, annotator, themes, stance_tr, reply_stance)."""
    if labels is None or not len(labels):
        return gold_view(df, None, codebook)
    return gold_view(df, labels[labels["annotator"] == annotator], codebook)


def gold_view(df: pd.DataFrame, gold: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """The units that have gold labels, with the gold codes in place of the predictions.

    ``gold`` has columns unit_id, themes (list), stance_tr, reply_stance (one row per unit).
    Probabilities stay the model's; ``pred__`` columns keep the predictions for comparison.
    """
    codes = codebook.theme_names
    if gold is None or not len(gold):
        return df.iloc[0:0].copy()
    g = gold.drop_duplicates("unit_id", keep="last").set_index("unit_id")
    out = df[df["unit_id"].isin(g.index)].copy()
    gg = g.reindex(out["unit_id"])
    m = theme_matrix(pa.array([list(t) if isinstance(t, (list, tuple, np.ndarray)) else [] for t in gg["themes"]],
                              type=pa.list_(pa.string())), codes)
    for j, c in enumerate(codes):
        out["pred__" + theme_col(c)] = out[theme_col(c)]
        out[theme_col(c)] = m[:, j]
    for s in SCHEMES:
        out["pred__" + s] = out[s]
        out[s] = gg[s].to_numpy()
    out["n_themes"] = m.sum(axis=1)
    out["themes_str"] = themes_string(m, codes)
    return out


def summary_counts(df: pd.DataFrame, threads: pd.DataFrame) -> dict:
    kinds = df["kind"].value_counts()
    return {"threads": int(df["thread_id"].nunique()), "units": int(len(df)),
            "posts": int(kinds.get("post", 0) + kinds.get("contribution", 0)),
            "comments": int(kinds.get("comment", 0)), "replies": int(kinds.get("reply", 0)),
            "coded": int((df["n_themes"] > 0).sum()), "low_confidence": int((df["confidence"] == "low").sum()),
            "dated": int(df["date"].notna().sum())}



def thread_units(df: pd.DataFrame, thread_id: str) -> pd.DataFrame:
    """The thread's units in reading order, each reply after its parent (depth-first)."""
    t = df[df["thread_id"] == thread_id].sort_values("position", kind="stable")
    children: dict[str | None, list[int]] = {}
    ids = set(t["unit_id"])
    for i, (uid, parent) in enumerate(zip(t["unit_id"], t["parent_id"])):
        key = parent if isinstance(parent, str) and parent in ids else None
        children.setdefault(key, []).append(i)
    order: list[int] = []
    stack = list(reversed(children.get(None, [])))
    uids = t["unit_id"].tolist()
    while stack:
        i = stack.pop()
        order.append(i)
        stack.extend(reversed(children.get(uids[i], [])))
    return t.iloc[order]
