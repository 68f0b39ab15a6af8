"""Stage 1, parse: thread files -> the ``threads`` and ``units`` tables.

``parse_paths`` takes files or folders, picks a reader per file (plain-text Blogger
copies in three layouts, saved Blogger HTML, Blogger Atom comment feeds, CSV or
JSONL of already-segmented comments), and never lets one bad file lose the
others: a file that cannot be read is skipped with a :class:`~pipeline.errors.Problem`
naming the file, the line and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pandas as pd
import pyarrow as pa

from ..errors import Code, PipelineError, Problem
from .markup import parse_atom, parse_html
from .model import KINDS, ParsedThread, Unit, finish
from .source import DEFAULT_MAX_BYTES, read_text
from .tabular import parse_csv, parse_jsonl
from .text import detect_layout, parse_text

__all__ = ["parse_paths", "parse_file", "parse_string", "to_frames", "ParseResult", "ParsedThread", "Unit",
           "KINDS", "THREADS_SCHEMA", "UNITS_SCHEMA", "thread_id_for", "detect_layout"]

SUFFIXES = {".txt": "text", ".text": "text", ".html": "html", ".htm": "html", ".xml": "atom", ".atom": "atom",
            ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_HASH_SUFFIX_RE = re.compile(r"_[0-9a-f]{8,}$")

THREADS_SCHEMA = pa.schema([
    ("thread_id", pa.string()), ("source_file", pa.string()), ("title", pa.string()),
    ("post_date", pa.string()), ("url", pa.string()), ("layout", pa.string()),
    ("declared_comments", pa.int64()), ("parsed_comments", pa.int64()), ("n_units", pa.int64()),
    ("n_low_confidence", pa.int64()),
])
UNITS_SCHEMA = pa.schema([
    ("unit_id", pa.string()), ("thread_id", pa.string()), ("kind", pa.string()), ("parent_id", pa.string()),
    ("depth", pa.int64()), ("position", pa.int64()), ("author", pa.string()), ("timestamp", pa.string()),
    ("text", pa.string()), ("own_text", pa.string()), ("quoted_text", pa.list_(pa.string())),
    ("urls", pa.list_(pa.string())), ("link_only", pa.bool_()), ("mentions", pa.list_(pa.string())),
    ("word_count", pa.int64()), ("confidence", pa.string()), ("confidence_note", pa.string()),
    ("source_line", pa.int64()),
])


@dataclass
class ParseResult:
    threads: list[ParsedThread] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # warnings and skipped files, in input order
    files_seen: int = 0

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "error"]


def thread_id_for(path: Path) -> str:
    """The file name without extension, minus a trailing content hash (``000_9e97da0c...`` -> ``000``)."""
    return _HASH_SUFFIX_RE.sub("", path.stem) or path.stem


def _kind_of(path: Path, head: str) -> str:
    if path.suffix.lower() in SUFFIXES:
        return SUFFIXES[path.suffix.lower()]
    probe = head.lstrip()[:500].lower()
    if probe.startswith("<?xml") and "<feed" in probe:
        return "atom"
    if probe.startswith("<!doctype html") or probe.startswith("<html"):
        return "html"
    return "text"


def parse_string(text: str, *, kind: str = "text", thread_id: str = "t", source_file: str = "<string>") -> list[ParsedThread]:
    """Parse text already in memory (used by the app's upload and by tests)."""
    if kind == "text":
        threads = [parse_text(text, thread_id=thread_id, source_file=source_file)]
    elif kind == "html":
        threads = [parse_html(text, thread_id=thread_id, source_file=source_file)]
    elif kind == "atom":
        threads = [parse_atom(text, thread_id=thread_id, source_file=source_file)]
    elif kind == "csv":
        threads = parse_csv(text, source_file=source_file)
    elif kind == "jsonl":
        threads = parse_jsonl(text, source_file=source_file)
    else:
        raise PipelineError(Code.E009, f"unknown input kind {kind!r}.", file=source_file,
                            fix=f"Use one of {sorted(set(SUFFIXES.values()))}.")
    return [finish(t) for t in threads]


def parse_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[list[ParsedThread], list[Problem]]:
    text, problems = read_text(path, max_bytes=max_bytes)
    if not text.strip():
        raise PipelineError(Code.E001, "the file holds only whitespace.", file=str(path),
                            fix="Re-save the page or remove the file from the input.")
    threads = parse_string(text, kind=_kind_of(path, text[:1000]), thread_id=thread_id_for(path),
                           source_file=str(path))
    for t in threads:
        problems.extend(t.problems)
    return threads, problems


def iter_input_files(inputs: Iterable[Path | str]) -> Iterator[Path]:
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


def parse_paths(inputs: Iterable[Path | str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                on_file: Callable[[Path], None] | None = None) -> ParseResult:
    """Parse every file; a file that fails is recorded and skipped, the rest go on."""
    result = ParseResult()
    seen_ids: dict[str, str] = {}
    for path in iter_input_files(inputs):
        result.files_seen += 1
        if on_file:
            on_file(path)
        if not path.exists():
            result.problems.append(Problem(Code.E008.value, str(path), "no such file or folder.",
                                           "Check the path.", severity="error"))
            continue
        try:
            threads, problems = parse_file(path, max_bytes=max_bytes)
        except PipelineError as exc:
            result.problems.append(exc.problem)
            continue
        result.problems.extend(problems)
        for t in threads:
            if t.thread_id in seen_ids:
                new_id = path.stem if path.stem not in seen_ids else f"{path.stem}_{len(seen_ids)}"
                result.problems.append(Problem(
                    Code.W104.value, str(path), f"thread id {t.thread_id!r} is already used by "
                    f"{seen_ids[t.thread_id]}; this thread was renamed {new_id!r}.",
                    "Give every thread file a distinct name so unit ids stay stable."))
                _rename_thread(t, new_id)
            seen_ids[t.thread_id] = str(path)
            result.threads.append(t)
    return result


def _rename_thread(thread: ParsedThread, new_id: str) -> None:
    old = thread.thread_id
    thread.thread_id = new_id
    for u in thread.units:
        u.thread_id = new_id
        u.unit_id = new_id + u.unit_id[len(old):]
        if u.parent_id:
            u.parent_id = new_id + u.parent_id[len(old):]


def to_frames(threads: Iterable[ParsedThread]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``threads`` and ``units`` tables (columns documented in README.md)."""
    trows, urows = [], []
    for t in threads:
        trows.append({"thread_id": t.thread_id, "source_file": t.source_file, "title": t.title,
                      "post_date": t.post_date, "url": t.url, "layout": t.layout,
                      "declared_comments": t.declared_comments, "parsed_comments": t.parsed_comments,
                      "n_units": len(t.units), "n_low_confidence": sum(u.confidence == "low" for u in t.units)})
        for u in t.units:
            urows.append({"unit_id": u.unit_id, "thread_id": u.thread_id, "kind": u.kind,
                          "parent_id": u.parent_id, "depth": u.depth, "position": u.position,
                          "author": u.author, "timestamp": u.timestamp, "text": u.text, "own_text": u.own_text,
                          "quoted_text": u.quoted_text, "urls": u.urls, "link_only": u.link_only,
                          "mentions": u.mentions, "word_count": u.word_count, "confidence": u.confidence,
                          "confidence_note": u.confidence_note, "source_line": u.line})
    threads_df = pa.Table.from_pylist(trows, schema=THREADS_SCHEMA).to_pandas()
    units_df = pa.Table.from_pylist(urows, schema=UNITS_SCHEMA).to_pandas()
    return threads_df, units_df
