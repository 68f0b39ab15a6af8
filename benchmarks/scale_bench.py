"""One machine, streaming: parse + classify N synthetic units with `python -m pipeline run`.

    python benchmarks/scale_bench.py [--units 1000000] [--workers 2] [--chunk-mb 16] [--model models/default]

Builds (once, cached in benchmarks/out/) a text corpus of about N units resampled from the seed
threads (benchmarks/synth.py), then times the whole `run` command as a subprocess: wall time,
units/s, and the peak resident memory of the largest process (parent or worker, from
getrusage(RUSAGE_CHILDREN), which reports the maximum over waited-for descendants).
Then it interrupts a second run part-way (SIGINT after --interrupt-after seconds) and resumes
it, to show that finished chunks are not redone.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk-mb", type=float, default=16.0)
    ap.add_argument("--model", default=str(ROOT / "models" / "default"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--interrupt-after", type=float, default=0, help="also test interrupt + resume")
    args = ap.parse_args()
    corpus = OUT / f"synth_{args.units}u_seed{args.seed}"
    if not (corpus / ".synth.json").exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "synth.py"), "--out", str(corpus), "--threads",
                        str(10**9), "--units", str(args.units), "--seed", str(args.seed)], check=True)
        print(f"generated corpus in {time.perf_counter() - t0:.1f}s")
    size_mb = sum(p.stat().st_size for p in corpus.iterdir() if p.is_file() and not p.name.startswith(".")) / 1e6
    run_dir = OUT / f"scale_run_{args.units}"
    shutil.rmtree(run_dir, ignore_errors=True)
    cmd = [sys.executable, "-m", "pipeline", "run", str(corpus), "--out", str(run_dir), "-q", "--workers",
           str(args.workers), "--chunk-mb", str(args.chunk_mb), "--model", args.model]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = json.loads((run_dir / "report.json").read_text())
    result = {"units": report["classify"]["units"], "corpus_mb": round(size_mb, 1), "workers": args.workers,
              "chunk_mb": args.chunk_mb, "wall_s": round(wall, 1),
              "units_per_s": round(report["classify"]["units"] / wall, 1), "peak_rss_mb": round(peak, 1)}
    if args.interrupt_after:
        shutil.rmtree(run_dir, ignore_errors=True)
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(args.interrupt_after)
        proc.send_signal(signal.SIGINT)
        proc.wait()
        done = len(json.loads((run_dir / "manifest.json").read_text())["chunks"]) if (run_dir / "manifest.json").exists() else 0
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        result["resume"] = {"chunks_done_before_interrupt": done, "resume_wall_s": round(time.perf_counter() - t0, 1),
                            "chunks_total": json.loads((run_dir / "report.json").read_text())["chunks"]}
    print(json.dumps(result, indent=2))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"scale_bench_{args.units}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
