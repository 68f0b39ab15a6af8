"""Draw a stratified blind sample of a run's units for hand coding, and save its design.

Strata come from the model's own codes, so that rare codes get enough units to be checked:

* a unit the model gave one or more themes goes to ``theme:<t>``, ``t`` being the rarest of its
  themes in the run (ties: codebook order), so every theme the model uses has its own stratum;
* a unit without themes goes to ``stance_tr:<value>`` by the model's stance, so the rare
  ``favour`` gets its own stratum too, and the large uncoded remainder is where the model's
  misses (false negatives) are looked for.

Allocation of ``n`` (a compromise between equal and proportional allocation, e.g. Cochran 1977,
5.5-5.9, Bankier 1988): half of the sample is shared equally between strata, half in proportion
to stratum size; no stratum gets more units than it has, or fewer than 2 (so its variance can
be estimated) unless it has fewer; what a full stratum cannot take goes to the others in
proportion to their remaining units; rounding is by largest remainder.  Units are drawn by
simple random sampling without replacement within each stratum (inclusion probability
``n_h / N_h``) with ``numpy.random.default_rng(seed)``, and the sheet is shuffled, so neither
the order nor the content of the sheet reveals the model's codes.  Same run, ``n`` and seed:
the same sheet, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import store
from ..codebook import Codebook
from ..errors import Code, PipelineError

PARENT_CHARS = 2000  # enough context to read a reply; long posts are cut with a visible mark
MIN_PER_STRATUM = 2


def design_path(sheet: Path | str) -> Path:
    """Where the design of a sheet lives: ``<sheet>.design.json`` beside it."""
    sheet = Path(sheet)
    return sheet.with_name(sheet.name.removesuffix(".jsonl") + ".design.json")


def strata_of(labels: pd.DataFrame, codebook: Codebook) -> pd.Series:
    """The stratum of every unit (indexed like ``labels``), from the model's codes."""
    counts = {t: int(labels["themes"].map(lambda ts, t=t: t in set(ts)).sum()) for t in codebook.theme_names}
    order = sorted(codebook.theme_names, key=lambda t: (counts[t], codebook.theme_names.index(t)))
    rank = {t: i for i, t in enumerate(order)}
    default = codebook.stances["stance_tr"].default

    def one(themes, stance) -> str:
        themes = [t for t in themes if t in rank]
        if themes:
            return "theme:" + min(themes, key=rank.get)
        return f"stance_tr:{stance or default}"

    return pd.Series([one(list(ts), s) for ts, s in zip(labels["themes"], labels["stance_tr"])],
                     index=labels.index, name="stratum")


def allocate(N_h: dict[str, int], n: int) -> dict[str, int]:
    """Half equal, half proportional allocation, capped at N_h, at least 2 per stratum (see module doc)."""
    N_h = {h: int(v) for h, v in N_h.items() if v > 0}
    total = sum(N_h.values())
    floor = {h: min(MIN_PER_STRATUM, v) for h, v in N_h.items()}
    if n >= total:
        return dict(N_h)
    if n < sum(floor.values()):
        raise PipelineError(Code.E206, f"a sample of {n} cannot give each of the {len(N_h)} strata "
                            f"{MIN_PER_STRATUM} units.", fix=f"Use --n {sum(floor.values())} or more.")
    target = {h: n / 2 / len(N_h) + n / 2 * v / total for h, v in N_h.items()}
    for _ in range(len(N_h)):  # water-filling: give what full strata cannot take to the others
        capped = {h: min(max(t, floor[h]), N_h[h]) for h, t in target.items()}
        spare = n - sum(capped.values())
        open_ = [h for h in N_h if capped[h] < N_h[h]]
        if abs(spare) < 1e-9 or not open_:
            break
        room = sum(N_h[h] - capped[h] for h in open_) if spare > 0 else sum(capped[h] - floor[h] for h in open_)
        for h in open_:
            share = (N_h[h] - capped[h]) if spare > 0 else (capped[h] - floor[h])
            capped[h] += spare * share / room if room else 0
        target = capped
    base = {h: int(np.floor(t)) for h, t in target.items()}
    left = n - sum(base.values())
    for h in sorted(N_h, key=lambda h: (-(target[h] - base[h]), h)):  # largest remainder, then name
        if left <= 0:
            break
        if base[h] < N_h[h]:
            base[h] += 1
            left -= 1
    return base


def predictions_sha256(labels: pd.DataFrame) -> str:
    """Hash of the model's decisions: the design is only valid for the predictions it was drawn from."""
    rows = sorted((u, sorted(ts), s or "") for u, ts, s in zip(labels["unit_id"], labels["themes"], labels["stance_tr"]))
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def draw_sample(tables: dict[str, pd.DataFrame], codebook: Codebook, n: int, *, seed: int = 0) -> tuple[list[dict], dict]:
    """The blind sheet (one dict per sampled unit) and its design, from a run's tables."""
    units, labels = tables["units"], tables["labels"]
    labels = labels.set_index("unit_id").reindex(units["unit_id"]).reset_index()
    if labels["themes"].isna().any():
        raise PipelineError(Code.E205, "labels.parquet does not cover every unit of units.parquet.",
                            fix="Classify the run again: `python -m pipeline classify <run>`.")
    strata = strata_of(labels, codebook)
    N_h = strata.value_counts().sort_index().to_dict()
    n_h = allocate(N_h, n)
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for h in sorted(n_h):
        ids = sorted(units["unit_id"][strata.to_numpy() == h])
        chosen += [ids[i] for i in sorted(rng.choice(len(ids), n_h[h], replace=False))]
    chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    by_id = units.set_index("unit_id")
    titles = dict(zip(tables["threads"]["thread_id"], tables["threads"]["title"]))
    sheet = []
    for uid in chosen:
        u = by_id.loc[uid]
        parent = u["parent_id"] if isinstance(u["parent_id"], str) and u["parent_id"] in by_id.index else None
        parent_text = str(by_id.at[parent, "text"]) if parent else ""
        if len(parent_text) > PARENT_CHARS:
            parent_text = parent_text[:PARENT_CHARS] + " [...]"
        title = titles.get(u["thread_id"])
        row = {"unit_id": uid, "thread_id": u["thread_id"], "thread_title": title if isinstance(title, str) else "",
               "kind": u["kind"], "author": u["author"] if isinstance(u["author"], str) else "",
               "parent_id": parent or "", "parent_text": parent_text, "text": str(u["text"])}
        if "fingerprint" in by_id.columns:  # labels coded on the sheet then carry the unit's content hash
            row["fingerprint"] = by_id.at[uid, "fingerprint"]
        sheet.append(row)
    stratum_of = dict(zip(units["unit_id"], strata))
    design = {
        "kind": "validation_design", "n": len(chosen), "N": int(len(units)), "seed": int(seed),
        "allocation": "half equal, half proportional to N_h; capped at N_h; at least 2 per stratum; "
                      "largest remainder (pipeline/validate/sample.py)",
        "strata": [{"name": h, "N": int(N_h[h]), "n": int(n_h[h]), "inclusion_probability": round(n_h[h] / N_h[h], 6)}
                   for h in sorted(N_h)],
        "model": str(labels["model"].iloc[0]) if "model" in labels and len(labels) else "",
        "predictions_sha256": predictions_sha256(labels),
        "codebook_fingerprint": codebook.fingerprint, "codebook_version": codebook.version,
        "units": {uid: stratum_of[uid] for uid in sorted(chosen)},
    }
    return sheet, design


def write_sample(run: Path | str, out: Path | str, n: int, *, seed: int = 0, codebook: Codebook | None = None) -> dict:
    """Draw the sample of a run and write the sheet (JSONL) and its design (JSON) atomically."""
    from ..runs import CODEBOOK_PATH, load_run
    from ..codebook import load_codebook

    codebook = codebook or load_codebook(CODEBOOK_PATH)
    tables = load_run(run, need_labels=True)
    try:
        sheet, design = draw_sample(tables, codebook, n, seed=seed)
    except PipelineError as exc:  # name the run the sample was drawn from
        p = exc.problem
        raise PipelineError(p.code, p.message, file=p.file or str(run), line=p.line, fix=p.fix) from None
    design["run"] = str(run)
    store.write_json(design, design_path(out))
    store.write_jsonl(sheet, out)
    return design
