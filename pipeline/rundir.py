"""A run directory: where its tables are, how to read them, and the one writer of ``report.json``.

A run is what ``python -m pipeline parse|run|classify`` write and what the app and the
``export`` command read::

    <run>/threads.parquet   one row per thread                 (parse)
    <run>/units.parquet     one row per unit (or a folder of   (parse; chunked runs write parts)
                            part-*.parquet)
    <run>/labels.parquet    codes, p_<code>, evidence          (classify)
    <run>/report.json       what each stage recorded           (every stage, through RunDir.update_report)
    <run>/manifest.json     chunks done, for restarts          (batch runs)
    <run>/evaluation*/      evaluation.json, report.md, PNGs   (evaluate)
    <run>/validation*/      validation.json                    (validate)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import store


@dataclass(frozen=True)
class RunDir:
    path: Path

    def __init__(self, path: Path | str) -> None:
        object.__setattr__(self, "path", Path(path))

    # --- where things are -------------------------------------------------------------------
    @property
    def units(self) -> Path:
        return self.path / "units.parquet"

    @property
    def threads(self) -> Path:
        return self.path / "threads.parquet"

    @property
    def labels(self) -> Path:
        return self.path / "labels.parquet"

    @property
    def report_path(self) -> Path:
        return self.path / "report.json"

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def name(self) -> str:
        return self.path.name

    def exists(self) -> bool:
        return self.units.exists()

    def has_labels(self) -> bool:
        return self.labels.exists()

    # --- report.json ------------------------------------------------------------------------
    def report(self) -> dict:
        """The run's report (``{}`` when missing or unreadable: the app must still open the run)."""
        return _read_json(self.report_path)

    def manifest(self) -> dict:
        return _read_json(self.manifest_path)

    def write_report(self, report: dict) -> Path:
        """Replace report.json atomically."""
        return store.write_json(report, self.report_path)

    def update_report(self, section: str, value) -> Path:
        """Set one stage's section of report.json, keeping the others (parse warnings survive classify)."""
        report = self.report()
        report[section] = value
        return self.write_report(report)

    # --- provenance -------------------------------------------------------------------------
    def created(self) -> str:
        """When the run was made, as ISO 8601 UTC: the report's or manifest's ``created`` when a
        stage recorded one, else the modification time of units.parquet.  Deterministic for a
        given run (exports stamp it instead of 'now', so the same run exports the same bytes)."""
        for data in (self.report(), self.manifest()):
            value = data.get("created") if isinstance(data, dict) else None
            if isinstance(value, str) and value:
                return value
        try:
            mtime = self.units.stat().st_mtime
        except OSError:
            return "1970-01-01T00:00:00Z"
        return datetime.fromtimestamp(int(mtime), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
