"""Batch runs at scale: chunked, parallel, restartable, and optionally on a Dask cluster.

A chunked run writes each table as a Parquet *dataset* (a folder of parts), which every
reader in this project (``store.read_parquet``, pandas, pyarrow, Dask, DuckDB) opens
like a single file::

    <run>/threads.parquet/part-00000.parquet ...
    <run>/units.parquet/part-00000.parquet ...
    <run>/labels.parquet/part-00000.parquet ...
    <run>/manifest.json        one entry per finished chunk: its input files and their fingerprint

Input files are grouped into chunks of about ``chunk_mb`` MB; each chunk is parsed and
classified as a whole and its parts are written atomically, so memory stays bounded by
the chunk size times the number of workers.  A chunk whose parts exist and whose inputs
are unchanged is skipped: an interrupted run resumes where it stopped and never leaves a
half-written table.

``classify_dask`` runs the classify stage over the partitions of ``units.parquet`` with
Dask (a ``LocalCluster`` by default, or any scheduler address) and gives exactly the same
labels as the local engine.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Iterable

import pandas as pd

from . import store
from .errors import Code, PipelineError
from .parse import iter_input_files, parse_paths, to_frames
from .rundir import RunDir

# One classify path and one cached coder loader (pipeline/classify/): chunk workers and Dask
# partitions call them by these names.
from .classify.loader import check_coder
from .classify.tables import classify_frame


def coder_fingerprints(model_dir: Path | str, codebook_path: Path | str) -> dict:
    """What a chunk's labels depend on besides its input: the model's recorded hash (it changes
    when the model is retrained in place) and the codebook file's content."""
    model_fp = "rules"
    if str(model_dir) != "rules":
        meta_path = Path(model_dir) / "model.json"
        model_fp = hashlib.sha256(meta_path.read_bytes()).hexdigest()[:20] if meta_path.exists() else "missing"
    cb = Path(codebook_path)
    codebook_fp = hashlib.sha256(cb.read_bytes()).hexdigest()[:20] if cb.exists() else "missing"
    return {"model_fingerprint": model_fp, "codebook_fingerprint": codebook_fp}


def _fingerprint(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def plan_chunks(inputs: Iterable[Path | str], chunk_mb: float = 16.0) -> list[list[Path]]:
    """Group input files (in sorted order) into chunks of about ``chunk_mb`` MB."""
    chunks: list[list[Path]] = [[]]
    size = 0
    limit = chunk_mb * 1_000_000
    for path in iter_input_files(inputs):
        n = path.stat().st_size if path.exists() else 0
        if chunks[-1] and size + n > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(path)
        size += n
    return [c for c in chunks if c]


_watchdog_started = False


def _exit_with_parent(parent_pid: int) -> None:
    """Workers end with the run that started them: a SIGKILLed ``run`` must not leave two
    400 MB processes writing parts into its folder.  A daemon thread polls the parent and
    exits this process at once when it is gone (its parent id changes when it is reparented)."""
    global _watchdog_started
    if _watchdog_started or parent_pid == os.getpid():
        return
    _watchdog_started = True
    original_ppid = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(parent_pid, 0)
                alive = os.getppid() == original_ppid
            except ProcessLookupError:
                alive = False
            except PermissionError:
                alive = True
            if not alive:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _process_chunk(index: int, files: list[str], out: str, model_dir: str, codebook_path: str,
                   classify: bool, parent_pid: int | None = None, parse_options: dict | None = None) -> dict:
    if parent_pid:
        _exit_with_parent(parent_pid)
    out_dir = Path(out)
    t0 = time.perf_counter()
    result = parse_paths(files, **(parse_options or {}))
    threads, units = to_frames(result.threads)
    part = f"part-{index:05d}.parquet"
    tables = {out_dir / "threads.parquet" / part: threads, out_dir / "units.parquet" / part: units}
    n_labels = 0
    if classify and len(units):
        from .classify.segments import chunk_segments

        labels = classify_frame(units, model_dir, codebook_path)
        tables[out_dir / "labels.parquet" / part] = labels
        tables[out_dir / "segments.parquet" / part] = chunk_segments(units, labels, codebook_path)
        n_labels = len(labels)
    store.write_tables(tables)  # the chunk's parts appear together or not at all
    import resource

    return {"chunk": index, "files": files, "threads": len(threads), "units": len(units), "labels": n_labels,
            "warnings": [p.to_dict() for p in result.warnings], "skipped": [p.to_dict() for p in result.skipped],
            "seconds": round(time.perf_counter() - t0, 3),
            "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_chunked(inputs: Iterable[Path | str], out: Path | str, *, model_dir: Path | str, codebook_path: Path | str,
                chunk_mb: float = 16.0, workers: int = 2, classify: bool = True,
                progress=None, parse_options: dict | None = None) -> dict:
    """Parse (+ classify) in chunks, in parallel, resuming from ``manifest.json``.  ``parse_options``
    go to :func:`pipeline.parse.parse_paths` (``tz``, ``include_pages``)."""
    out = Path(out)
    if classify:
        check_coder(model_dir, codebook_path)  # E201/E203/E204 before any earlier output is replaced
    with store.run_lock(out):
        return _run_chunked(inputs, out, model_dir=model_dir, codebook_path=codebook_path, chunk_mb=chunk_mb,
                            workers=workers, classify=classify, progress=progress, parse_options=parse_options)


def _run_chunked(inputs, out: Path, *, model_dir, codebook_path, chunk_mb, workers, classify, progress,
                 parse_options) -> dict:
    from joblib import Parallel, delayed

    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"chunks": {}}
    settings = {"model": str(model_dir), "codebook": str(codebook_path), "chunk_mb": chunk_mb, "classify": classify,
                **({"parse": parse_options} if parse_options else {})}  # other parse options: start afresh
    if manifest.get("settings") not in (None, settings):
        manifest = {"chunks": {}}  # different model or chunking: start afresh
    for legacy in ("threads.parquet", "units.parquet", "labels.parquet", "segments.parquet"):
        if (out / legacy).is_file():  # a single-file table from an unchunked run
            (out / legacy).unlink()
    chunks = plan_chunks(inputs, chunk_mb)
    # A chunk is done only if its inputs, model and codebook are all the ones it was made with:
    # a model retrained in place, or an edited codebook, redoes it.
    coder_fps = coder_fingerprints(model_dir, codebook_path) if classify else {}
    todo = []
    for i, files in enumerate(chunks):
        entry = manifest["chunks"].get(str(i))
        fp = _fingerprint(files)
        part = f"part-{i:05d}.parquet"
        done = (entry and entry.get("fingerprint") == fp and (out / "units.parquet" / part).exists()
                and all(entry.get(k) == v for k, v in coder_fps.items())
                and (not classify or entry.get("labels", 0) == 0 or (out / "labels.parquet" / part).exists()))
        if not done:
            todo.append((i, [str(f) for f in files], fp))
    # parts left over from a previous, larger plan would be read as data: remove them
    for table in ("threads.parquet", "units.parquet", "labels.parquet", "segments.parquet"):
        for stale in sorted((out / table).glob("part-*.parquet")) if (out / table).is_dir() else []:
            if int(stale.stem.split("-")[1]) >= len(chunks):
                stale.unlink()
    t0 = time.perf_counter()
    results = []
    runner = Parallel(n_jobs=workers, return_as="generator", backend="loky") if workers > 1 and len(todo) > 1 else None
    jobs = (delayed(_process_chunk)(i, files, str(out), str(model_dir), str(codebook_path), classify, os.getpid(),
                                    parse_options)
            for i, files, _ in todo)
    iterator = runner(jobs) if runner else (_process_chunk(i, f, str(out), str(model_dir), str(codebook_path), classify,
                                                           parse_options=parse_options)
                                           for i, f, _ in todo)
    fingerprints = {i: fp for i, _, fp in todo}
    for res in iterator:
        res["fingerprint"] = fingerprints[res["chunk"]]
        res.update(coder_fps)
        manifest["chunks"][str(res["chunk"])] = res
        manifest["settings"] = settings
        store.write_json(manifest, manifest_path)  # after every chunk: an interruption loses at most the chunks in flight
        results.append(res)
        if progress:
            progress(res)
    entries = [manifest["chunks"][str(i)] for i in range(len(chunks)) if str(i) in manifest["chunks"]]
    summary = {"stage": "run", "engine": "local", "chunks": len(chunks), "chunks_done_now": len(results),
               "chunks_resumed": len(chunks) - len(results), "threads": sum(e["threads"] for e in entries),
               "units": sum(e["units"] for e in entries), "seconds": round(time.perf_counter() - t0, 3),
               "warnings": [w for e in entries for w in e["warnings"]],
               "skipped": [s for e in entries for s in e["skipped"]],
               "peak_rss_mb": max([e.get("worker_peak_rss_mb", 0) for e in entries] or [0])}
    summary["warnings"] += _duplicate_id_warnings(out)
    RunDir(out).write_report({k: v for k, v in summary.items()})
    if summary["threads"] == 0:
        raise PipelineError(Code.E205, "nothing could be parsed.", file=str(out), fix="See report.json for skipped files.")
    return summary


def _duplicate_id_warnings(out: Path) -> list[dict]:
    """Thread ids are made unique within a chunk; two chunks can still hold files with the same id
    (``000_aaaa.txt`` and ``000_ffff.txt``).  Say so rather than let unit ids collide silently."""
    import pyarrow.parquet as pq

    path = out / "units.parquet"
    if not path.exists():
        return []
    ids = pq.read_table(path, columns=["unit_id", "thread_id"]).to_pandas()
    dup_threads = sorted(ids.loc[ids["unit_id"].duplicated(keep=False), "thread_id"].unique())
    if not dup_threads:
        return []
    from .errors import Problem

    return [Problem(Code.W104.value, str(out), f"{len(dup_threads)} thread ids occur in more than one input file "
                    f"across chunks (e.g. {', '.join(dup_threads[:3])}), so their unit ids are not unique.",
                    "Give every thread file a distinct name (the id is the file name without a trailing hash), "
                    "or parse them in one chunk (--chunk-mb).").to_dict()]


def _thread_slices(units_path: Path, n: int) -> list[tuple[str, int, int]]:
    """``(path, start, stop)`` row ranges of about equal size, each holding whole threads."""
    import pyarrow.parquet as pq

    tids = pq.read_table(units_path, columns=["thread_id"]).column("thread_id").to_pylist()
    starts = [i for i in range(1, len(tids)) if tids[i] != tids[i - 1]]
    cuts = sorted({min(starts, key=lambda s: abs(s - k * len(tids) / n)) for k in range(1, n)} if starts else set())
    bounds = [0, *cuts, len(tids)]
    return [(str(units_path), a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def _units_rows(spec: tuple[str, int, int]) -> pd.DataFrame:
    path, start, stop = spec
    return store.read_parquet(path).iloc[start:stop].reset_index(drop=True)


def classify_dask(run: Path | str, *, model_dir: Path | str, codebook_path: Path | str,
                  scheduler: str | None = None, n_workers: int = 2) -> dict:
    """Classify ``<run>/units.parquet`` partition by partition on a Dask cluster.

    ``scheduler``: the address of an existing scheduler (``tcp://10.0.0.5:8786``); by
    default a ``LocalCluster`` with ``n_workers`` worker processes is started and closed.
    Every worker needs this package installed and the model directory at the same path
    (a shared file system), as with any Dask deployment.
    """
    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster

    run = Path(run)
    units_path = run / "units.parquet"
    if not units_path.exists():
        raise PipelineError(Code.E205, "units.parquet is missing.", file=str(run), fix="Run `parse` first.")
    check_coder(model_dir, codebook_path)  # a bad model or codebook fails here, not on every worker
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    t0 = time.perf_counter()
    try:
        units = dd.read_parquet(str(units_path))
        if units.npartitions < n_workers:
            # Split along thread boundaries: a reply's features include its parent's, so a partition
            # cut inside a thread (as ``repartition`` does) would change its labels.
            slices = _thread_slices(units_path, n_workers)
            if len(slices) > 1:
                units = dd.from_map(_units_rows, slices, meta=units._meta)
        # Dask's meta: the labels of no units (``_meta`` is always empty) have the labels table's columns.
        meta = classify_frame(units._meta, str(model_dir), str(codebook_path))
        labels = units.map_partitions(classify_frame, str(model_dir), str(codebook_path), meta=meta)
        frame = labels.compute()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    # Same table as the local engine: sorted into the units' order, written atomically.
    order = {u: i for i, u in enumerate(store.read_parquet(units_path)["unit_id"])}
    frame = frame.sort_values("unit_id", key=lambda s: s.map(order)).reset_index(drop=True)
    # A partitioned labels.parquet from a local run is replaced only once the new file is complete
    # (store.atomic_path), so a failure here leaves the old labels in place.
    target = run / "labels.parquet"
    store.write_parquet(frame, target)
    return {"stage": "classify", "engine": "dask", "units": len(frame), "seconds": round(time.perf_counter() - t0, 3),
            "scheduler": scheduler or f"LocalCluster({n_workers} workers)"}


def peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


__all__ = ["run_chunked", "classify_dask", "classify_frame", "check_coder", "plan_chunks", "peak_rss_mb"]
