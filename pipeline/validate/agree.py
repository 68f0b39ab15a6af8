"""Several researchers on one sheet: their agreement, the disagreements, and adjudication.

Agreement reuses :func:`pipeline.evaluate.agreement` (Cohen's kappa per theme, Krippendorff's
alpha per scheme) for every pair of coders.  :func:`resolve` turns the coded sheet into one
hand code per unit: the adjudicated ``gold`` label when there is one, else the coders'
label when they all agree; units where they disagree and nobody has adjudicated are returned
as unresolved, never silently decided.  :func:`adjudicate` appends the resolution as a
``gold`` label with a note to the same labels JSONL, through the annotation store.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pandas as pd

from ..codebook import Codebook
from ..evaluate import agreement, align
from ..store import AnnotationStore

GOLD = "gold"
CODE_FIELDS = ("themes", "stance_tr", "reply_stance")


def coders(labels: pd.DataFrame) -> list[str]:
    return sorted(a for a in labels["annotator"].unique() if a != GOLD)


def pairwise_agreement(labels: pd.DataFrame, codebook: Codebook) -> list[dict]:
    """Agreement of every pair of coders on the units both coded."""
    rows = []
    for a, b in combinations(coders(labels), 2):
        joined, _ = align(labels[labels["annotator"] == a], labels[labels["annotator"] == b])
        if len(joined):
            rows.append({"pair": f"{a} vs {b}", **agreement(joined, codebook)})
    return rows


def _key(row) -> tuple:
    return (tuple(sorted(row["themes"] or [])), row["stance_tr"] or None, row["reply_stance"] or None)


def disagreements(labels: pd.DataFrame) -> pd.DataFrame:
    """Units coded by two or more coders who differ and that have no gold label yet, side by side:
    one row per unit, ``<field>:<coder>`` columns."""
    done = set(labels.loc[labels["annotator"] == GOLD, "unit_id"])
    rows = []
    for uid, grp in labels[labels["annotator"] != GOLD].groupby("unit_id", sort=True):
        if uid in done or len(grp) < 2 or len({_key(r) for _, r in grp.iterrows()}) < 2:
            continue
        row = {"unit_id": uid}
        for _, r in grp.iterrows():
            for f in CODE_FIELDS:
                row[f"{f}:{r['annotator']}"] = r[f]
            row[f"note:{r['annotator']}"] = r.get("note")
        rows.append(row)
    return pd.DataFrame(rows, columns=["unit_id"] + sorted({k for r in rows for k in r if k != "unit_id"}))


def resolve(labels: pd.DataFrame, annotator: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """One hand code per unit.  With ``annotator``: that coder's labels.  Otherwise the gold label
    where there is one, else the coders' shared label; returns (labels, unresolved unit ids)."""
    if annotator is not None:
        return labels[labels["annotator"] == annotator].reset_index(drop=True), []
    out, unresolved = [], []
    for uid, grp in labels.groupby("unit_id", sort=True):
        gold = grp[grp["annotator"] == GOLD]
        if len(gold):
            out.append(gold.iloc[-1])
        elif len({_key(r) for _, r in grp.iterrows()}) == 1:
            out.append(grp.iloc[0])
        else:
            unresolved.append(uid)
    frame = pd.DataFrame(out, columns=labels.columns).reset_index(drop=True)
    return frame, unresolved


def adjudicate(labels_path: Path | str, unit_id: str, *, themes: list[str], stance_tr: str | None,
               reply_stance: str | None, note: str, fingerprint: str | None = None,
               codebook: Codebook | None = None) -> dict:
    """Record the resolution of a disagreement as a ``gold`` label (append-only, locked, fsynced)."""
    if codebook is not None:
        unknown = sorted(set(themes) - set(codebook.theme_names))
        if unknown:
            raise ValueError(f"unknown theme(s) {unknown}")
    if not (note or "").strip():
        raise ValueError("an adjudication needs a note saying why")
    return AnnotationStore(labels_path).add({"unit_id": unit_id, "annotator": GOLD, "themes": list(themes),
                                             "stance_tr": stance_tr, "reply_stance": reply_stance,
                                             "note": note.strip(), "fingerprint": fingerprint})
