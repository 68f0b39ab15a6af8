"""Reading and writing stage outputs, always atomically.

Every file is written to a temporary sibling and then renamed over the target
(``os.replace`` is atomic on POSIX), so a crash mid-write never leaves a
half-written table next to good results.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it over the target on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_parquet(df: pd.DataFrame, target: Path | str, *, schema: pa.Schema | None = None) -> Path:
    table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
    # Drop pandas metadata so identical data gives byte-identical files.
    table = table.replace_schema_metadata(None)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return Path(target)


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


def write_csv(df: pd.DataFrame, target: Path | str) -> Path:
    """CSV for spreadsheets and QDA tools: list columns become ' | '-joined strings."""
    flat = df.copy()
    for col in flat.columns:
        if flat[col].map(lambda v: isinstance(v, (list, tuple))).any():
            flat[col] = flat[col].map(lambda v: " | ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
    with atomic_path(target) as tmp:
        flat.to_csv(tmp, index=False)
    return Path(target)


def write_jsonl(records: list[dict], target: Path | str) -> Path:
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
    return Path(target)
