"""Stage 1, parse: thread files -> the ``threads`` and ``units`` tables.

``parse_paths`` takes files or folders, picks a reader per file (plain-text Blogger
copies in three layouts, saved Blogger HTML, Blogger Atom comment feeds, CSV or
JSONL of already-segmented comments), and never lets one bad file lose the
others: a file that cannot be read is skipped with a :class:`~pipeline.errors.Problem`
naming the file, the line and the fix.
"""

from __future__ import annotations

import contextlib
import gc
import io
import re
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from ..anchor import fingerprint
from ..errors import Code, PipelineError, Problem
from ..schema import THREADS_SCHEMA, UNITS_SCHEMA  # the table layouts, defined once in pipeline/schema.py
from .dates import DEFAULT_TZ, zone
from .model import KINDS, ParsedThread, Unit, finish
from .source import DEFAULT_MAX_BYTES, MANIFEST, read_text
from .tabular import parse_csv, parse_jsonl
from .text import detect_layout, parse_text

__all__ = ["parse_paths", "parse_file", "parse_string", "to_frames", "ParseResult", "ParsedThread", "Unit",
           "KINDS", "THREADS_SCHEMA", "UNITS_SCHEMA", "thread_id_for", "detect_layout"]

SUFFIXES = {".txt": "text", ".text": "text", ".html": "html", ".htm": "html", ".xml": "atom", ".atom": "atom",
            ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_HASH_SUFFIX_RE = re.compile(r"_[0-9a-f]{8,}$")


# The HTML, Atom and export readers need BeautifulSoup and lxml (0.1 s to import); they are imported
# when a file needs them, so a run over text, CSV or JSONL files never loads them.
_LAZY = {"parse_atom": ".atom", "parse_html": ".markup", "is_export": ".export", "parse_collected": ".export",
         "parse_export": ".export"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def parse_string(text: str, *, kind: str = "text", thread_id: str = "t", source_file: str = "<string>",
                 tz: str = DEFAULT_TZ) -> list[ParsedThread]:
    """Parse text already in memory (used by the app's upload and by tests).

    ``tz``: the blog's time zone; times read from visible text are wall times in it (README, 'Output schema').
    """
    if kind == "text":
        threads = [parse_text(text, thread_id=thread_id, source_file=source_file, tz=tz)]
    elif kind == "html":
        from .markup import parse_html

        threads = [parse_html(text, thread_id=thread_id, source_file=source_file, tz=tz)]
    elif kind == "atom":
        from .atom import parse_atom
        from .export import is_export, parse_export

        if is_export(text[:65536].encode("utf-8", "replace")):  # an uploaded export
            threads = parse_export(io.BytesIO(text.encode("utf-8", "surrogatepass")), source_file=source_file, tz=tz)
        else:
            threads = [parse_atom(text, thread_id=thread_id, source_file=source_file, tz=tz)]
    elif kind == "csv":
        threads = parse_csv(text, source_file=source_file, tz=tz)
    elif kind == "jsonl":
        threads = parse_jsonl(text, source_file=source_file, tz=tz)
    else:
        raise PipelineError(Code.E009, f"unknown input kind {kind!r}.", file=source_file,
                            fix=f"Use one of {sorted(set(SUFFIXES.values()))}.")
    return [finish(t) for t in threads]


def parse_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, tz: str = DEFAULT_TZ,
               include_pages: bool = False) -> tuple[list[ParsedThread], list[Problem]]:
    if path.name == MANIFEST or (path.suffix.lower() in (".xml", ".atom") and _sniff_export(path)):
        # a whole blog: streamed from the file (an export can be tens of MB), never read whole
        from .export import parse_collected, parse_export

        reader = parse_collected if path.name == MANIFEST else parse_export
        threads = [finish(t) for t in reader(path, include_pages=include_pages, tz=tz)]
        return threads, [p for t in threads for p in t.problems]
    text, problems = read_text(path, max_bytes=max_bytes)
    if not text.strip():
        raise PipelineError(Code.E001, "the file holds only whitespace.", file=str(path),
                            fix="Re-save the page or remove the file from the input.")
    threads = parse_string(text, kind=_kind_of(path, text[:1000]), thread_id=thread_id_for(path),
                           source_file=str(path), tz=tz)
    for t in threads:
        problems.extend(t.problems)
    return threads, problems


def _sniff_export(path: Path) -> bool:
    from .export import is_export

    try:
        with path.open("rb") as f:
            return is_export(f.read(65536))
    except OSError:
        return False  # read_text reports it


def iter_input_files(inputs: Iterable[Path | str]) -> Iterator[Path]:
    """Files under the inputs; a folder ``collect`` wrote is one input, its ``collect.json``."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            collected = [p.parent for p in files if p.name == MANIFEST]
            for p in files:
                if not collected or p.name == MANIFEST or not any(p.is_relative_to(c) for c in collected):
                    yield p
        else:
            yield path


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (speed only).

    Parsing keeps hundreds of thousands of small records alive, and each automatic collection
    walks all of them again: on a 100 MB corpus that was a third of the run.  The records hold
    no reference cycles, so nothing is left uncollected; the previous setting is restored.

    On the way out, the objects made meanwhile (the records, which live on) are moved to the oldest
    generation, as if they had survived the young ones' collections, rather than walked again by
    them at the next allocations (``gc.freeze()`` then ``gc.unfreeze()``; skipped when something
    else has frozen objects).  Nothing becomes uncollectable: full collections still see them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def parse_paths(inputs: Iterable[Path | str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                on_file: Callable[[Path], None] | None = None, tz: str = DEFAULT_TZ,
                include_pages: bool = False) -> ParseResult:
    """Parse every file; a file that fails is recorded and skipped, the rest go on.

    ``tz``: the blog's time zone (IANA name) for times shown without one; ``include_pages``: read
    the pages of a Blogger export as threads too.
    """
    zone(tz)  # an unknown zone is an error before any file is read
    with _gc_paused():
        return _parse_paths(inputs, max_bytes=max_bytes, on_file=on_file, tz=tz, include_pages=include_pages)


def _parse_paths(inputs: Iterable[Path | str], *, max_bytes: int,
                 on_file: Callable[[Path], None] | None, tz: str = DEFAULT_TZ,
                 include_pages: bool = False) -> ParseResult:
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
            threads, problems = parse_file(path, max_bytes=max_bytes, tz=tz, include_pages=include_pages)
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


# Unit attribute behind each UNITS_SCHEMA column, in schema order.
_UNIT_ATTRS = {"source_line": "line"}
_MAX_INT32 = 2**31 - 1


def _string_array(values: list) -> pa.Array:
    """``pa.array(values, pa.string())``, built from the UTF-8 bytes directly (several times faster on long texts)."""
    data = bytearray()
    ends = [0]
    try:
        for v in values:
            data += v.encode("utf-8")
            ends.append(len(data))
    except (AttributeError, UnicodeEncodeError):  # None, a non-string or a lone surrogate: pyarrow's own handling
        return pa.array(values, type=pa.string())
    if len(data) > _MAX_INT32:  # pragma: no cover - over 2 GB of text in one column
        return pa.array(values, type=pa.string())
    return pa.Array.from_buffers(pa.string(), len(values),
                                 [None, pa.py_buffer(np.array(ends, dtype=np.int32)), pa.py_buffer(data)])


def _units_table(threads: list[ParsedThread]) -> pa.Table:
    """Column by column: the same table as ``pa.Table.from_pylist`` of one dict per unit, several times faster."""
    units = [u for t in threads for u in t.units]
    names = [f.name for f in UNITS_SCHEMA if f.name != "fingerprint"]
    # one pass over the units gives a tuple per unit; zip(*rows) turns them into columns
    rows = list(map(attrgetter(*(_UNIT_ATTRS.get(n, n) for n in names)), units))
    columns = dict(zip(names, map(list, zip(*rows)))) if rows else {n: [] for n in names}
    # content hash that labels are anchored to (pipeline/anchor.py)
    columns["fingerprint"] = list(map(fingerprint, columns["text"], columns["author"], columns["timestamp"]))
    arrays = [_string_array(columns[f.name]) if f.name in ("text", "own_text") else pa.array(columns[f.name], type=f.type)
              for f in UNITS_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=UNITS_SCHEMA)


def to_frames(threads: Iterable[ParsedThread]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``threads`` and ``units`` tables (columns documented in README.md)."""
    threads = list(threads)
    trows = [{"thread_id": t.thread_id, "source_file": t.source_file, "title": t.title,
              "post_date": t.post_date, "url": t.url, "layout": t.layout,
              "declared_comments": t.declared_comments, "parsed_comments": t.parsed_comments,
              "n_units": len(t.units), "n_low_confidence": sum(u.confidence == "low" for u in t.units),
              "labels": t.labels, "status": t.status}
             for t in threads]
    with _gc_paused():
        threads_df = pa.Table.from_pylist(trows, schema=THREADS_SCHEMA).to_pandas()
        units_df = _units_table(threads).to_pandas()
    return threads_df, units_df
