"""The annotation queue: which unit to label next (in random order, thread by thread, or most uncertain first).

Random order is the default: simulated on the seed threads (README, "Active learning, measured"),
choosing the units the model is least sure of never beat a random choice for themes and only tied
it for stance, and a random sample keeps the labels usable as an unbiased check of the model."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from ..codebook import Codebook
from ..schema import SCHEMES


def uncertainty(df: pd.DataFrame, codebook: Codebook, thresholds: dict[str, float] | None = None) -> pd.Series:
    """How unsure the model is about a unit, 0 (sure) to 1 (on a decision boundary).

    Themes: closeness of p to the theme's threshold (0.5 without one); stances: 1 minus the
    margin between the two most probable values.  The unit's score is the maximum.
    """
    thresholds = thresholds or {}
    scores = []
    for c in codebook.theme_names:
        p = df[f"p_{c}"].fillna(0).to_numpy(dtype=float)
        t = float(thresholds.get(c, 0.5))
        scores.append(1 - np.abs(p - t) / max(t, 1 - t))
    for s in SCHEMES:
        cols = [f"p_{v}" for v in codebook.values(s) if f"p_{v}" in df]
        if len(cols) >= 2:
            P = np.sort(df[cols].fillna(0).to_numpy(dtype=float), axis=1)
            scores.append(1 - (P[:, -1] - P[:, -2]))
    u = np.max(np.vstack(scores), axis=0) if scores else np.zeros(len(df))
    return pd.Series(np.clip(u, 0, 1), index=df.index, name="uncertainty")


QUEUE_ORDERS = ("random", "thread", "uncertain")


def annotation_queue(df: pd.DataFrame, codebook: Codebook, *, done: Iterable[str] = (), order: str = "random",
                     thread: str | None = None, include_done: bool = False,
                     thresholds: dict[str, float] | None = None, seed: int = 0) -> list[str]:
    """Unit ids to label next: in a random order fixed by ``seed`` (the same on every visit),
    thread by thread in reading order, or most uncertain first.

    Units already labelled by the annotator (``done``) are left out unless ``include_done``,
    so reopening the app resumes where the annotator stopped.
    """
    sub = df if thread is None else df[df["thread_id"] == thread]
    if not include_done:
        sub = sub[~sub["unit_id"].isin(set(done))]
    if order == "uncertain":
        u = uncertainty(sub, codebook, thresholds)
        sub = sub.assign(_u=u.to_numpy()).sort_values(["_u", "thread_id", "position"], ascending=[False, True, True],
                                                    kind="stable")
    elif order == "random":
        ids = np.sort(sub["unit_id"].to_numpy(dtype=str))  # the order depends on the ids, not on the table's
        return np.random.default_rng(seed).permutation(ids).tolist()
    else:
        sub = sub.sort_values(["thread_id", "position"], kind="stable")
    return sub["unit_id"].tolist()
