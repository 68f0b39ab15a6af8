"""Summary tables of the Overview page: prevalence, stance by theme, co-occurrence, time series."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..codebook import Codebook
from ..schema import theme_col

# The three dates of Transforming Rehabilitation marked on every time chart.
MILESTONES: tuple[tuple[str, str], ...] = (
    ("2014-06-01", "TR split (Jun 2014)"),
    ("2015-02-01", "CRCs sold (Feb 2015)"),
    ("2018-07-01", "CRC contracts ended early (Jul 2018)"),
)

def theme_prevalence(df: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    n = len(df)
    rows = []
    for code in codebook.theme_names:
        k = int(df[theme_col(code)].sum()) if n else 0
        rows.append({"theme": code, "label": codebook.themes[code].label, "units": k, "share": k / n if n else 0.0})
    k0 = int((df["n_themes"] == 0).sum()) if n else 0
    rows.append({"theme": "(none)", "label": "No theme", "units": k0, "share": k0 / n if n else 0.0})
    return pd.DataFrame(rows)


def stance_by_theme(df: pd.DataFrame, codebook: Codebook, scheme: str = "stance_tr") -> pd.DataFrame:
    """For each theme (and all units), how its units divide over the values of ``scheme``."""
    values = codebook.values(scheme)
    rows = []
    groups = [(c, df[theme_col(c)].to_numpy(dtype=bool)) for c in codebook.theme_names]
    groups.append(("(all units)", np.ones(len(df), dtype=bool)))
    stance = df[scheme].to_numpy(dtype=object)
    for name, m in groups:
        sub = stance[m]
        total = int(m.sum())
        for v in values:
            k = int((sub == v).sum())
            rows.append({"theme": name, "value": v, "units": k, "share": k / total if total else 0.0, "total": total})
    return pd.DataFrame(rows)


def cooccurrence(df: pd.DataFrame, codebook: Codebook, measure: str = "count") -> pd.DataFrame:
    """Square theme x theme table: units carrying both (diagonal: units carrying the theme).

    ``measure``: ``count``, ``jaccard`` (|A and B| / |A or B|) or ``conditional``
    (row theme given column theme: |A and B| / |B|).
    """
    codes = codebook.theme_names
    m = (np.column_stack([df[theme_col(c)].to_numpy(dtype=float) for c in codes]) if len(codes)
         else np.zeros((len(df), 0)))
    both = m.T @ m
    if measure == "jaccard":
        diag = np.diag(both)
        union = diag[:, None] + diag[None, :] - both
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = np.where(union > 0, both / union, 0.0)
    elif measure == "conditional":
        diag = np.diag(both)
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = np.where(diag[None, :] > 0, both / diag[None, :], 0.0)
    else:
        vals = both.astype(int)
    return pd.DataFrame(vals, index=codes, columns=codes)


def cooccurrence_long(matrix: pd.DataFrame) -> pd.DataFrame:
    out = matrix.rename_axis("row").reset_index().melt(id_vars="row", var_name="column", value_name="value")
    return out


FREQ_NAMES = {"M": "month", "Q": "quarter", "Y": "year"}


def time_series(df: pd.DataFrame, codebook: Codebook, freq: str = "M", what: str = "themes") -> pd.DataFrame:
    """Long table (period, series, units, total, share, segment), one row per non-empty period.

    Units are placed by ``unit_date`` (a comment's own timestamp, else its thread's date; the
    thread date ``date`` for tables without it).  ``what``: ``themes`` (one series per theme) or
    a stance scheme (one series per value).  Periods with no units are absent, and ``segment``
    numbers the runs of consecutive periods, so a chart joins points only within a run and
    never draws a line across empty months or years.  Undated units are left out
    (:func:`date_basis` counts them for the caption).
    """
    cols = ["period", "series", "units", "total", "share", "segment"]
    col = "unit_date" if "unit_date" in df else "date"
    dated = df[df[col].notna()]
    if not len(dated):
        return pd.DataFrame(columns=cols)
    per = dated[col].dt.to_period(freq)
    ordinal = pd.Series(per.array.asi8, index=dated.index)
    total = ordinal.value_counts().sort_index()
    # A new segment wherever the previous non-empty period is not the one just before.
    segment = np.cumsum(np.r_[1, np.diff(total.index.to_numpy()) > 1]).astype(int)
    starts = pd.PeriodIndex.from_ordinals(total.index.to_numpy(), freq=per.dt.freq).start_time
    if what == "themes":
        series = {c: dated[theme_col(c)].to_numpy(dtype=bool) for c in codebook.theme_names}
    else:
        vals = dated[what].to_numpy(dtype=object)
        series = {v: vals == v for v in codebook.values(what)}
    frames = []
    for name, hit in series.items():
        counts = pd.Series(hit.astype(int), index=dated.index).groupby(ordinal.to_numpy()).sum()
        counts = counts.reindex(total.index, fill_value=0)
        frames.append(pd.DataFrame({"period": starts, "series": name, "units": counts.to_numpy(),
                                    "total": total.to_numpy(), "segment": segment}))
    out = pd.concat(frames, ignore_index=True)
    out["share"] = out["units"] / out["total"].where(out["total"] > 0, 1)
    return out[cols]


def date_basis(df: pd.DataFrame) -> dict[str, int]:
    """How the units of ``df`` are placed in time: by their own timestamp, by their thread's date,
    or not at all (undated)."""
    if "date_source" in df:
        counts = df["date_source"].value_counts()
        return {k: int(counts.get(k, 0)) for k in ("own", "thread", "none")}
    dated = int(df["date"].notna().sum()) if "date" in df else 0
    return {"own": 0, "thread": dated, "none": len(df) - dated}


def date_caption(df: pd.DataFrame, interactive: bool = True) -> str:
    """The sentence under every time chart: what the points are and what was left out."""
    b = date_basis(df)
    how = "hover for n" if interactive else "n under each period"
    return (f"Each point is one period's share of the units placed in it; its size is the number of units "
            f"({how}). {b['own']:,} units are placed by their own timestamp, {b['thread']:,} by their "
            f"thread's date; {b['none']:,} undated units are not shown. Lines join consecutive periods only.")


def milestones_frame() -> pd.DataFrame:
    return pd.DataFrame({"date": pd.to_datetime([d for d, _ in MILESTONES]), "event": [e for _, e in MILESTONES]})
