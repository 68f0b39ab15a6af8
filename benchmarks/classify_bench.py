"""Classification throughput of the default model, and memory while streaming many units.

    python benchmarks/classify_bench.py [--units 20000] [--workers 2] [--chunk 20000] [--model models/default]
    python benchmarks/classify_bench.py --units 1000000 --chunk 20000   # bounded memory on 1M units

Units are synthetic (benchmarks/synth.py resamples the seed threads; median ~40-60 words).
Each worker process loads the model once and classifies chunks of ``--chunk`` units
(pipeline.classify.classify_frame, the one classify path of local, chunked and Dask runs: spaCy
features and codebook patterns, text models, calibrators, segment evidence).
Prints units/s and the peak resident memory of the parent and of the workers.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _work(args):
    start, n, seed, model, codebook = args
    from synth import synth_units_frame  # noqa: E402

    from pipeline.classify import classify_frame

    units = synth_units_frame(n, seed)  # each chunk generated on its own: nothing large held anywhere
    t0 = time.perf_counter()
    labels = classify_frame(units, model, codebook)
    return len(labels), time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=20000)
    ap.add_argument("--chunk", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default=str(ROOT / "models" / "default"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from joblib import Parallel, delayed

    from pipeline.classify import classify_frame
    from pipeline.runs import CODEBOOK_PATH

    # warm-up: load model and spaCy once in this process to report load time separately
    from synth import synth_units_frame
    t0 = time.perf_counter()
    classify_frame(synth_units_frame(50, args.seed), args.model, str(CODEBOOK_PATH))
    load_s = time.perf_counter() - t0

    jobs = [(0, min(args.chunk, args.units - s), args.seed + s, args.model, str(CODEBOOK_PATH))
            for s in range(0, args.units, args.chunk)]
    t0 = time.perf_counter()
    results = Parallel(n_jobs=args.workers, backend="loky", return_as="generator")(delayed(_work)(j) for j in jobs)
    results = list(results)
    wall = time.perf_counter() - t0
    n = sum(r[0] for r in results)
    busy = sum(r[1] for r in results)  # seconds spent classifying, summed over workers
    out = {"units": n, "workers": args.workers, "chunk": args.chunk, "wall_s": round(wall, 2),
           "units_per_s_wall": round(n / wall, 1),
           "classify_units_per_s_per_core": round(n / busy, 1),
           "classify_units_per_s_all_workers": round(n / busy * args.workers, 1),
           "model_load_s": round(load_s, 2),
           "worker_peak_rss_mb": round(max(r[2] for r in results), 1),
           "parent_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
           "note": "wall time also includes loading the model in each worker and generating the synthetic "
                   "units; classify_* rates count classification time only"}
    print(json.dumps(out, indent=2))
    (ROOT / "benchmarks" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks" / "out" / f"classify_bench_{n}.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
