"""Reading and writing stage outputs, always atomically.

Every file is written to a temporary sibling and then renamed over the target
(``os.replace`` is atomic on POSIX), so a crash mid-write never leaves a
half-written table next to good results.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


_ENV_FIXES = {
    errno.ENOSPC: "The disk is full: free some space or write to another folder (--out).",
    errno.EDQUOT: "Your disk quota is used up: free some space or write to another folder (--out).",
    errno.EROFS: "The folder is on a read-only file system: write to another folder (--out).",
    errno.EACCES: "You may not write there: check the folder's permissions or write to another folder (--out).",
    errno.EPERM: "You may not write there: check the folder's permissions or write to another folder (--out).",
}


def environment_error(exc: OSError, path: Path | str | None = None):
    """An OSError from the machine (not from the data) as a coded E301 error naming the path."""
    from .errors import Code, PipelineError

    where = path or exc.filename or ""
    return PipelineError(Code.E301, f"cannot write: {exc.strerror or exc}.", file=str(where),
                         fix=_ENV_FIXES.get(exc.errno, "Check the folder exists and can be written, then rerun; "
                                            "earlier results were left as they were."))


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it over the target on success.

    A refusal by the machine (disk full, read-only, permission denied) becomes E301 naming the
    target; the target is then left exactly as it was."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise environment_error(exc, target) from exc
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the permissions a normal write would
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
        except OSError as exc:
            if exc.errno in _ENV_FIXES:
                raise environment_error(exc, target) from exc
            raise
        if target.is_dir():  # a partitioned dataset being replaced by a single file:
            import shutil  # move it aside first, so a crash leaves the old table, not none

            aside = target.with_name(f".{target.name}.old")
            shutil.rmtree(aside, ignore_errors=True)
            os.replace(target, aside)
            os.replace(tmp_path, target)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


_held_run_locks: dict[str, int] = {}


@contextlib.contextmanager
def run_lock(run_dir: Path | str) -> Iterator[None]:
    """Hold ``<run>/.run.lock`` for a run or classify: a second process writing into the same
    folder stops at once (E207) instead of mixing its tables with ours.  Re-entrant within a
    process; the OS drops the lock when a process dies, so a killed run never blocks the next."""
    from filelock import FileLock, Timeout

    from .errors import Code, PipelineError

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    key = str(run_dir.resolve())
    if _held_run_locks.get(key):
        _held_run_locks[key] += 1
        try:
            yield
        finally:
            _held_run_locks[key] -= 1
        return
    lock = FileLock(str(run_dir / ".run.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise PipelineError(Code.E207, "another run is writing into this folder right now.", file=str(run_dir),
                            fix="Wait for it to finish, or write to another --out folder.") from None
    _held_run_locks[key] = 1
    try:
        yield
    finally:
        _held_run_locks.pop(key, None)
        lock.release()


def _write_parquet_file(df: pd.DataFrame, path: Path, schema: pa.Schema | None = None) -> None:
    table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
    # Drop pandas metadata so identical data gives byte-identical files.
    table = table.replace_schema_metadata(None)
    pq.write_table(table, path, compression="zstd")


def write_parquet(df: pd.DataFrame, target: Path | str, *, schema: pa.Schema | None = None) -> Path:
    with atomic_path(target) as tmp:
        _write_parquet_file(df, tmp, schema)
    return Path(target)


def write_tables(tables: dict[Path | str, pd.DataFrame]) -> list[Path]:
    """Write a set of Parquet tables that belong together (``threads`` and ``units`` of one run or
    chunk): every file is written to a temporary first and the set is renamed into place only when
    all were written, so a full disk never leaves new threads beside old or missing units."""
    with contextlib.ExitStack() as stack:
        temps = {Path(t): stack.enter_context(atomic_path(t)) for t in tables}
        for target, tmp in temps.items():
            try:
                _write_parquet_file(tables[target if target in tables else str(target)], tmp)
            except OSError as exc:
                raise environment_error(exc, target) from exc
    return list(temps)


def read_parquet(path: Path | str) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def write_json(obj: Any, target: Path | str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False, default=str) + "\n",
                       encoding="utf-8")
    return Path(target)


def write_text(text: str, target: Path | str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_bytes(data: bytes, target: Path | str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy fit for spreadsheets: list columns become ' | '-joined strings, and every text cell
    that a spreadsheet would run as a formula is prefixed with ``'`` (OWASP's advice).  Numbers
    stay numbers: only string cells are touched, so ``-0.5`` in a float column is kept."""
    flat = df.copy()
    for col in flat.columns:
        if flat[col].dtype != object and not pd.api.types.is_string_dtype(flat[col]):
            continue
        values = flat[col].map(lambda v: " | ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
        flat[col] = values.map(_defuse)
    return flat


def csv_bytes(df: pd.DataFrame) -> bytes:
    """:func:`csv_safe` as UTF-8 CSV bytes (for downloads)."""
    return csv_safe(df).to_csv(index=False).encode("utf-8")


def write_csv(df: pd.DataFrame, target: Path | str) -> Path:
    """CSV for spreadsheets and QDA tools, formula-safe (:func:`csv_safe`)."""
    flat = csv_safe(df)
    with atomic_path(target) as tmp:
        flat.to_csv(tmp, index=False)
    return Path(target)


def write_jsonl(records: list[dict], target: Path | str) -> Path:
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
    return Path(target)


# --- Annotation store -----------------------------------------------------------------------
# Labels are the most expensive thing this tool holds, so they are kept in an append-only
# JSONL file: each label is one line, written under a file lock and fsynced before the call
# returns.  Two annotators saving at once serialise on the lock; a process killed mid-write
# leaves at most a partial last line, which readers skip (and the next writer repairs) without
# touching any earlier label.  The latest line for a (unit_id, annotator) pair wins.

LABEL_FIELDS = ("unit_id", "annotator", "themes", "stance_tr", "reply_stance", "note", "fingerprint")


class AnnotationStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def _lock(self):
        from filelock import FileLock

        self.path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.path) + ".lock", timeout=30)

    def add(self, label: dict) -> dict:
        """Append one label (``unit_id`` and ``annotator`` required) durably; return it as stored."""
        import datetime as _dt

        if not label.get("unit_id") or not label.get("annotator"):
            raise ValueError("a label needs unit_id and annotator")
        record = {k: label.get(k) for k in LABEL_FIELDS if k != "fingerprint" or label.get(k)}
        record["themes"] = sorted(set(record.get("themes") or []))
        record["saved_at"] = label.get("saved_at") or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock():
            with open(self.path, "ab+") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() > 0:  # repair a partial last line left by a killed writer
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        fh.write(b"\n")
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        return record

    def records(self) -> list[dict]:
        """Every complete line, oldest first; partial or corrupt lines are skipped."""
        if not self.path.exists():
            return []
        out = []
        with open(self.path, "rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # partial last line from an interrupted write
                try:
                    rec = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue
                if isinstance(rec, dict) and rec.get("unit_id") and rec.get("annotator"):
                    out.append(rec)
        return out

    def latest(self, annotator: str | None = None) -> pd.DataFrame:
        """One row per (unit_id, annotator): the most recent label."""
        recs = self.records()
        if annotator is not None:
            recs = [r for r in recs if r["annotator"] == annotator]
        cols = list(LABEL_FIELDS) + ["saved_at"]
        if not recs:
            return pd.DataFrame(columns=cols)
        df = pd.DataFrame(recs)
        for c in cols:
            if c not in df:
                df[c] = None
        return df[cols].drop_duplicates(["unit_id", "annotator"], keep="last").reset_index(drop=True)
