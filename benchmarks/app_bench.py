"""Speed of the Streamlit explorer on a big run.

Builds (once, cached in benchmarks/out/) a synthetic run of 100,000 units with
``benchmarks/synth.py``'s ``write_synth_run`` and a synthetic labels table (themes from
codebook cue words in the text plus noise, probabilities, evidence), then drives app.py
with ``streamlit.testing.v1.AppTest`` in this process and times:

* first render: a new AppTest's first run (cold caches: reads and prepares the run, draws
  the Overview with its charts) -- target < 3 s;
* a filter change on the Comments page (theme filter, then text search, then stance) --
  target < 0.5 s each;
* page switches, for information.

Usage::

    python benchmarks/app_bench.py [--units 100000] [--repeat 3] [--out benchmarks/out/app_bench.json]

Prints the figures and writes them as JSON.  Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TARGET_FIRST = 3.0
TARGET_FILTER = 0.5


def synth_labels(units: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """A labels table in the classify stage's shape, made without running the classifier."""
    from pipeline.codebook import load_codebook
    from pipeline.paths import CODEBOOK_PATH

    cb = load_codebook(CODEBOOK_PATH)
    rng = np.random.default_rng(seed)
    n = len(units)
    text = units["own_text"].fillna("").str.lower()
    out = pd.DataFrame({"unit_id": units["unit_id"].to_numpy()})
    themes = [[] for _ in range(n)]
    for code, theme in cb.themes.items():
        words = [p for p in theme.phrases if " " not in p][:8] or [code]
        hit = text.str.contains("|".join(words), regex=True).to_numpy() & (rng.random(n) < 0.8)
        hit |= rng.random(n) < 0.02
        p = np.where(hit, rng.uniform(0.55, 0.99, n), rng.uniform(0.0, 0.45, n))
        out[f"p_{code}"] = p.round(4)
        for i in np.flatnonzero(hit):
            themes[i].append(code)
    out.insert(1, "themes", themes)
    for scheme in ("stance_tr", "reply_stance"):
        values = cb.values(scheme)
        probs = rng.dirichlet(np.ones(len(values)) * 0.6, n)
        choice = probs.argmax(axis=1)
        out[scheme] = np.array(values, dtype=object)[choice]
        for j, v in enumerate(values):
            out[f"p_{v}"] = probs[:, j].round(4)
    own = units["own_text"].fillna("").tolist()
    evidence = []
    for i in range(n):
        ev = {}
        end = min(len(own[i]), 120)
        for code in themes[i]:
            ev[code] = [{"sentence": own[i][:end].strip(), "start": 0, "end": end, "cues": [], "model_weight": 0.5}]
        evidence.append(json.dumps(ev))
    out["evidence"] = evidence
    out["model"] = "synthetic"
    out["codebook_version"] = cb.version
    return out


def build_run(run: Path, n_units: int, seed: int = 0) -> Path:
    from synth import write_synth_run

    from pipeline import store

    marker = run / ".bench.json"
    if marker.exists() and json.loads(marker.read_text()) == {"units": n_units, "seed": seed}:
        return run
    t0 = time.perf_counter()
    write_synth_run(run, n_units, seed)
    units = pd.read_parquet(run / "units.parquet", columns=["unit_id", "own_text"])
    store.write_parquet(synth_labels(units, seed), run / "labels.parquet")
    store.write_json({"stage": "parse", "warnings": [], "skipped": []}, run / "report.json")
    marker.write_text(json.dumps({"units": n_units, "seed": seed}))
    print(f"built synthetic run of {n_units:,} units in {time.perf_counter() - t0:.1f}s -> {run}")
    return run


def timed(at) -> float:
    t0 = time.perf_counter()
    at.run()
    dt = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError([e.value for e in at.exception])
    return dt


def bench_once(run: Path, annotations: Path) -> dict:
    from streamlit.testing.v1 import AppTest

    os.environ["PROBATION_TR_RUN"] = str(run)
    os.environ["PROBATION_TR_ANNOTATIONS"] = str(annotations)
    os.environ["PROBATION_TR_LABELS"] = str(run / "no_gold_labels.jsonl")
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    r = {"first_render": timed(at)}
    r["rerun_overview"] = timed(at)
    at.sidebar.radio(key="page").set_value("Comments")
    r["switch_to_comments"] = timed(at)
    at.multiselect(key="f_themes").set_value(["workload"])
    r["filter_theme"] = timed(at)
    at.text_input(key="f_text").set_value("caseload")
    r["filter_text"] = timed(at)
    at.multiselect(key="f_stance_tr").set_value(["against"])
    r["filter_stance"] = timed(at)
    at.multiselect(key="f_themes").set_value([])
    r["filter_clear_theme"] = timed(at)
    at.sidebar.radio(key="page").set_value("Thread")
    r["switch_to_thread"] = timed(at)
    at.sidebar.radio(key="page").set_value("Overview")
    r["switch_to_overview"] = timed(at)
    return r


def clear_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3, help="cold-cache repetitions (median reported)")
    ap.add_argument("--run", type=Path, default=None, help="where to build the synthetic run (cached)")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "out" / "app_bench.json")
    args = ap.parse_args(argv)
    run = build_run(args.run or REPO_ROOT / "benchmarks" / "out" / f"app_synth_{args.units}", args.units)
    import streamlit.testing.v1  # noqa: F401  - the test harness's import is not the app's cost

    results = []
    for i in range(args.repeat):
        clear_caches()
        results.append(bench_once(run, run / f"annotations_{i}.jsonl"))
    keys = list(results[0])
    summary = {k: round(statistics.median(r[k] for r in results), 3) for k in keys}
    worst = {k: round(max(r[k] for r in results), 3) for k in keys}
    n_units = len(pd.read_parquet(run / "units.parquet", columns=["unit_id"]))
    filters = [k for k in keys if k.startswith("filter_")]
    report = {"units": n_units, "repeat": args.repeat, "median_s": summary, "max_s": worst,
              "targets": {"first_render": TARGET_FIRST, "filter_change": TARGET_FILTER},
              "ok": summary["first_render"] < TARGET_FIRST and all(summary[k] < TARGET_FILTER for k in filters)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"App benchmark on {n_units:,} units ({args.repeat} cold-cache runs; median / max seconds):")
    for k in keys:
        target = TARGET_FIRST if k == "first_render" else TARGET_FILTER if k in filters else None
        flag = "" if target is None else ("  ok" if summary[k] < target else f"  SLOW (target < {target}s)")
        print(f"  {k:<22} {summary[k]:7.3f}  {worst[k]:7.3f}{flag}")
    print(f"-> {args.out}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
