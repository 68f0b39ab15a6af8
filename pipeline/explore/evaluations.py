"""Every evaluation of a run, labelled for what it can and cannot claim.

A run directory can hold several: ``evaluation*/evaluation.json`` written by ``evaluate``
(held-out when it holds leave-one-thread-out cross-validation, otherwise in-sample: the model
scored on labels it may have been trained on) and ``validation*/validation.json`` written by
the validation stage (a random validation sample, ``kind: "validation"`` with its ``n``).
Held-out figures come first: they are the ones a methods section may quote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

KIND_ORDER = {"held-out": 0, "validation sample": 1, "in-sample": 2}


@dataclass(frozen=True)
class Evaluation:
    path: Path  # the evaluation.json or validation.json
    kind: str  # "held-out", "validation sample" or "in-sample"
    n: int | None  # units scored
    title: str

    @property
    def label(self) -> str:
        n = f"n = {self.n:,}" if isinstance(self.n, int) else "n unknown"
        return f"{self.kind} ({n}): {self.title} [{self.path.parent}]"


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def is_held_out(data: dict) -> bool:
    """Cross-validation results: the evaluate stage writes baselines and a 'cross-validation' title only then."""
    return bool(data.get("baselines")) or "cross-validation" in str(data.get("title") or "").lower()


def _n(data: dict) -> int | None:
    for holder in (data, data.get("main") or {}, (data.get("main") or {}).get("summary") or {},
                   data.get("summary") or {}):
        if isinstance(holder, dict):
            for key in ("n", "n_units"):
                if isinstance(holder.get(key), int):
                    return int(holder[key])
    return None


def describe(path: Path | str) -> Evaluation | None:
    """What one evaluation.json / validation.json is (None when it cannot be read)."""
    path = Path(path)
    data = _read(path)
    if data is None:
        return None
    if path.name == "validation.json" or data.get("kind") == "validation":
        kind = "validation sample"
    else:
        kind = "held-out" if is_held_out(data) else "in-sample"
    return Evaluation(path=path, kind=kind, n=_n(data), title=str(data.get("title") or path.parent.name))


def list_evaluations(run_dir: Path | str, extra_dirs: Iterable[Path | str] = ()) -> list[Evaluation]:
    """Every evaluation of the run (and in ``extra_dirs``, e.g. a model's own evaluation folder),
    held-out first, then validation samples, then in-sample; by path within a kind."""
    run_dir = Path(run_dir)
    paths = sorted(run_dir.glob("evaluation*/evaluation.json")) + sorted(run_dir.glob("validation*/validation.json"))
    for d in extra_dirs:
        p = Path(d) / "evaluation.json"
        if p.exists():
            paths.append(p)
    seen, out = set(), []
    for p in paths:
        key = p.resolve()
        if key in seen:
            continue
        seen.add(key)
        ev = describe(p)
        if ev is not None:
            out.append(ev)
    return sorted(out, key=lambda e: (KIND_ORDER[e.kind], str(e.path)))
