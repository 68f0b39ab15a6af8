"""Overview charts as PNG files (matplotlib), for the Export page and the export command."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from .colours import STANCE_COLOURS, stance_colour
from .stats import (MILESTONES, cooccurrence, date_caption, stance_by_theme, theme_prevalence,
                    time_series)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _figure(w: float = 7, h: float = 3.6):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(w, h))


def png_prevalence(prev: pd.DataFrame, title: str = "Theme prevalence") -> bytes:
    fig, ax = _figure()
    ax.barh(prev["label"][::-1], prev["share"][::-1] * 100, color="#1f77b4")
    for y, (share, n) in enumerate(zip(prev["share"][::-1], prev["units"][::-1])):
        ax.text(share * 100, y, f" {n}", va="center", fontsize=8)
    ax.set_xlabel("% of units")
    ax.set_title(title, fontsize=10)
    return _png(fig)


def png_stance_by_theme(tab: pd.DataFrame, title: str = "Stance toward TR by theme") -> bytes:
    fig, ax = _figure()
    wide = tab.pivot(index="theme", columns="value", values="share").fillna(0)
    wide = wide.reindex(list(dict.fromkeys(tab["theme"])))
    left = np.zeros(len(wide))
    for v in wide.columns:
        ax.barh(wide.index, wide[v] * 100, left=left, label=v, color=stance_colour(v))
        left += wide[v].to_numpy() * 100
    ax.invert_yaxis()
    ax.set_xlabel("% of the theme's units")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    return _png(fig)


def png_cooccurrence(matrix: pd.DataFrame, title: str = "Theme co-occurrence") -> bytes:
    fig, ax = _figure(5.5, 4.5)
    vals = matrix.to_numpy(dtype=float)
    ax.imshow(vals, cmap="Blues")
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(matrix.index)), matrix.index, fontsize=8)
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            ax.text(j, i, f"{vals[i, j]:.2g}" if vals[i, j] % 1 else f"{int(vals[i, j])}", ha="center", va="center",
                    fontsize=8)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def png_time_series(ts: pd.DataFrame, title: str = "Share of units over time", caption: str = "") -> bytes:
    """Points sized by the period's number of units, joined only within runs of consecutive periods."""
    fig, ax = _figure(8, 3.8)
    if len(ts):
        sizes = 15 + 185 * ts["total"] / max(float(ts["total"].max()), 1.0)
        for name, g in ts.groupby("series", sort=False):
            colour = STANCE_COLOURS.get(str(name))
            line = None
            for _, seg in g.groupby("segment", sort=True):
                line = ax.plot(seg["period"], seg["share"] * 100, color=colour if line is None else line[0].get_color(),
                               linewidth=1.2, alpha=0.7, label=str(name) if line is None else None)
            ax.scatter(g["period"], g["share"] * 100, s=sizes[g.index], color=line[0].get_color(), alpha=0.85)
        for d, label in MILESTONES:
            ax.axvline(pd.Timestamp(d), color="#888", linestyle="--", linewidth=1)
            ax.text(pd.Timestamp(d), ax.get_ylim()[1], " " + label, rotation=90, va="top", fontsize=7, color="#555")
        ax.legend(fontsize=8)
        periods = ts.drop_duplicates("period")
        for when, n in zip(periods["period"], periods["total"]):
            ax.annotate(f"n={n}", (when, 0), xytext=(0, -14), textcoords="offset points", ha="center", fontsize=7,
                        color="#333", annotation_clip=False)
    ax.set_ylabel("% of units")
    ax.set_title(title, fontsize=10)
    if caption:
        fig.text(0.01, -0.02, caption, fontsize=7, color="#444", wrap=True, va="top")
    return _png(fig)


CHARTS = {"prevalence": "Theme prevalence", "stance": "Stance toward TR by theme",
          "cooccurrence": "Theme co-occurrence", "themes_time": "Themes over time (share of units)",
          "stance_time": "Stance toward TR over time (share of units)"}


def chart_title(name: str, n: int, where: str, source: str) -> str:
    """The chart's name, then what it shows: a PNG travels without the app, so it carries the filter."""
    codes = "gold labels" if source == "gold" else "model predictions"
    return f"{CHARTS[name]}\n{n:,} units ({codes}): {where}"


def chart_png(name: str, df: pd.DataFrame, codebook, *, where: str = "all units", source: str = "model",
              freq: str = "M") -> bytes:
    """One of :data:`CHARTS` for the units in ``df`` as PNG bytes, titled with ``where`` (the filter)."""
    if name not in CHARTS:
        raise ValueError(f"unknown chart {name!r}; one of {', '.join(CHARTS)}")
    title = chart_title(name, len(df), where, source)
    if name == "prevalence":
        return png_prevalence(theme_prevalence(df, codebook), title)
    if name == "stance":
        return png_stance_by_theme(stance_by_theme(df, codebook, "stance_tr"), title)
    if name == "cooccurrence":
        return png_cooccurrence(cooccurrence(df, codebook), title)
    what = "themes" if name == "themes_time" else "stance_tr"
    return png_time_series(time_series(df, codebook, freq, what), title, date_caption(df, interactive=False))
