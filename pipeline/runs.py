"""A run directory: what each stage reads from it and writes into it.

::

    <run>/threads.parquet   one row per thread            (parse)
    <run>/units.parquet     one row per post/comment      (parse)
    <run>/report.json       warnings and skipped files    (parse, classify)
    <run>/labels.parquet    predicted codes + evidence    (classify)
    <run>/evaluation/       evaluation.json, report.md, PNGs (evaluate)

These functions do the I/O around the stage functions so that the CLI and the
app stay thin.  Every file is written atomically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from . import store
from .errors import Code, PipelineError
from .parse import parse_paths, to_frames
from .parse.source import DEFAULT_MAX_BYTES

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CORPUS = REPO_ROOT / "corpora" / "probation_blog"
BUNDLED_MODEL = REPO_ROOT / "models" / "default"
CODEBOOK_PATH = REPO_ROOT / "models" / "codebook.yaml"


@dataclass
class ParseSummary:
    out: Path
    files_seen: int
    threads: int
    units_by_kind: dict[str, int]
    warnings: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def units(self) -> int:
        return sum(self.units_by_kind.values())


def parse_to_run(inputs: Iterable[Path | str], out: Path | str, *, csv: bool = False,
                 max_bytes: int = DEFAULT_MAX_BYTES, on_file: Callable[[Path], None] | None = None) -> ParseSummary:
    """Parse inputs into ``out``; earlier outputs are replaced only once the new ones are complete."""
    out = Path(out)
    t0 = time.perf_counter()
    result = parse_paths(inputs, max_bytes=max_bytes, on_file=on_file)
    threads_df, units_df = to_frames(result.threads)
    summary = ParseSummary(
        out=out, files_seen=result.files_seen, threads=len(threads_df),
        units_by_kind={k: int((units_df["kind"] == k).sum()) for k in ("post", "contribution", "comment", "reply")},
        warnings=[p.to_dict() for p in result.warnings], skipped=[p.to_dict() for p in result.skipped])
    if len(threads_df):
        out.mkdir(parents=True, exist_ok=True)
        store.write_parquet(threads_df, out / "threads.parquet")
        store.write_parquet(units_df, out / "units.parquet")
        if csv:
            store.write_csv(threads_df, out / "threads.csv")
            store.write_csv(units_df, out / "units.csv")
    summary.seconds = round(time.perf_counter() - t0, 3)
    if out.exists():
        store.write_json({"stage": "parse", "files_seen": summary.files_seen, "threads": summary.threads,
                          "units_by_kind": summary.units_by_kind, "warnings": summary.warnings,
                          "skipped": summary.skipped}, out / "report.json")
    return summary


def load_run(run: Path | str, *, need_labels: bool = False) -> dict[str, pd.DataFrame]:
    run = Path(run)
    tables = {}
    needed = ["threads", "units"] + (["labels"] if need_labels else [])
    for name in needed + ([] if need_labels else ["labels"]):
        path = run / f"{name}.parquet"
        if path.exists():
            tables[name] = store.read_parquet(path)
        elif name in needed:
            raise PipelineError(Code.E205, f"{path.name} is missing.", file=str(run),
                                fix=f"Run `python -m pipeline {'classify' if name == 'labels' else 'parse'}` "
                                    "on this run directory first.")
    return tables
