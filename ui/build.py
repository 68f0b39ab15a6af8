"""Building a run from the app: the bundled corpus on first start, or uploaded thread files.

Calls the library (``pipeline.runs.run_all``), never the command line."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import streamlit as st

from pipeline.errors import PipelineError

from .state import md


def build_run_ui(run: Path, inputs: list[Path], model: str, label: str) -> bool:
    """Parse and code ``inputs`` into ``run`` with a progress bar; False (and an error) on failure."""
    from pipeline.parse import iter_input_files
    from pipeline.runs import run_all

    files = list(iter_input_files(inputs))
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0, text=f"Parsing {len(files)} files...")
        seen = [0]

        def on_chunk(chunk: dict) -> None:  # called as each chunk of files is parsed and coded
            seen[0] += len(chunk["files"])
            bar.progress(min(seen[0] / max(len(files), 1), 1.0), text=f"Parsed and coded {seen[0]} of {len(files)} files")

        st.write(f"Coding with model `{Path(model).name if model != 'rules' else 'rules'}` once parsed...")
        t0 = time.perf_counter()
        try:
            result = run_all(inputs, run, model_dir=model, workers=1, progress=on_chunk)
        except PipelineError as exc:
            status.update(label="Could not build the run", state="error")
            st.error(md(exc))
            return False
        bar.progress(1.0, text="Done")
        p = result["parse"]
        status.update(label=f"Built {run.name}: {p['threads']} threads, {p['units']} units in "
                            f"{time.perf_counter() - t0:.1f}s", state="complete", expanded=False)
    return True


def upload_run(files, runs_root: Path, model: str) -> Path | None:
    """Save uploaded thread files in a new run directory, then parse and code them there."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.getvalue() + b"\0")
    run = runs_root / f"upload_{digest.hexdigest()[:10]}"
    raw = run / "uploads"
    raw.mkdir(parents=True, exist_ok=True)
    for f in files:
        safe = re.sub(r"[^\w.-]+", "_", Path(f.name).name).lstrip(".") or "upload.txt"
        (raw / safe).write_bytes(f.getvalue())
    ok = build_run_ui(run, [raw], model, f"Parsing and coding {len(files)} uploaded file(s)...")
    return run if ok else None


def discover_runs(*roots: Path) -> list[str]:
    found = []
    for root in roots:
        if root.is_dir():
            found += [str(p) for p in sorted(root.iterdir()) if (p / "units.parquet").exists()]
    return list(dict.fromkeys(found))

