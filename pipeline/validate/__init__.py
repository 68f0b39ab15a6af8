"""Validation on the researcher's own corpus: a stratified blind sample, agreement between
coders, and prevalence corrected for the model's errors with design-based intervals.

* :mod:`.sample`: draw the blind sheet and its design (``validate sample``);
* :mod:`.estimate`: the stratified estimators and intervals;
* :mod:`.agree`: agreement between coders, disagreements, adjudication into ``gold``;
* :mod:`.score`: the model scored on the sample, ``validation.json`` + ``report.md`` (``validate score``).
"""

from __future__ import annotations

import json
from pathlib import Path

from .agree import adjudicate, disagreements, pairwise_agreement, resolve
from .sample import design_path, draw_sample, write_sample
from .score import read_coded, score_sample, score_validation

__all__ = ["adjudicate", "design_path", "disagreements", "draw_sample", "latest_validation", "pairwise_agreement",
           "read_coded", "resolve", "score_sample", "score_validation", "write_sample"]


def latest_validation(run_dir: Path | str) -> dict | None:
    """The most recent ``validation.json`` written for a run (under ``<run>/validation*/``), with its
    ``path``; None when the run has none."""
    run_dir = Path(run_dir)
    found = []
    for path in list(run_dir.glob("validation*/validation.json")) + list(run_dir.glob("validation*/*/validation.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and data.get("kind") == "validation":
            found.append((path.stat().st_mtime, str(path), data))
    if not found:
        return None
    _, path, data = max(found)
    return {**data, "path": path}


def corrected_prevalence(validation: dict, codebook) -> "pd.DataFrame":
    """One row per theme of a validation: the model's raw share beside the corrected share and its 95%
    interval, for the Overview (shares in 0-1)."""
    import pandas as pd

    rows = []
    for code in codebook.theme_names:
        pv = ((validation.get("themes") or {}).get(code) or {}).get("prevalence")
        if pv:
            lo, hi = pv.get("ci") or (None, None)
            rows.append({"code": code, "label": codebook.themes[code].label, "model share": pv.get("model"),
                         "corrected share": pv.get("corrected"), "95% CI low": lo, "95% CI high": hi})
    return pd.DataFrame(rows, columns=["code", "label", "model share", "corrected share", "95% CI low",
                                       "95% CI high"])

