"""Speed of the explorer in a real browser: `streamlit run app.py` driven by headless Chromium.

For each run (the bundled corpus's run, and a synthetic run of 100,000 units built once by
benchmarks/app_bench.py's ``build_run``) it starts a fresh server and times, from navigation
start (or the key press) to the page's last DOM change before a quiet spell
(benchmarks/chromium.py's ``wait_settled``):

* ``first_visit``: the very first session of the server (cold caches: reads the run);
* ``new_session``: a new session's first settled render of the Overview (warm server caches,
  as every visitor after the first sees it) -- targets < 1.5 s (bundled), < 3 s (100,000 units);
* ``filter``: a text filter typed into the Comments page -- targets < 0.5 s and < 1 s.

Usage::

    python benchmarks/browser_bench.py [--run runs/probation_blog] [--units 100000] [--repeat 5]
        [--screenshots docs/screenshots] [--out benchmarks/out/browser_bench.json]

``--screenshots`` also saves one screenshot per page of the bundled run (README's pictures).
Prints the figures and writes them as JSON; exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import chromium  # noqa: E402

TARGETS = {"bundled": {"new_session": 1.5, "filter": 0.5}, "synthetic": {"new_session": 3.0, "filter": 1.0}}
FILTERS = ("caseload", "probation", "staff", "risk", "court", "office", "union")
# What the screenshots show on pages that start empty: (text input label, value, text to wait for).
SHOW = {"Words": ("Word or phrase", "caseload", ["occurrences"])}
OVERVIEW = ["Theme prevalence", "Theme co-occurrence", "Themes over time", "Stance toward TR over time"]


def bundled_run(run: Path) -> Path:
    """The bundled corpus's run, built (parse + classify with the bundled model) when missing."""
    if not (run / "labels.parquet").exists():
        from pipeline.paths import BUNDLED_CORPUS, default_model
        from pipeline.runs import run_all

        run_all([BUNDLED_CORPUS / "raw"], run, model_dir=default_model(), workers=1)
    return run


def measure(run: Path, repeat: int, log: Path, shots: Path | None = None) -> dict:
    env = {"PROBATION_TR_RUN": str(run), "PROBATION_TR_ANNOTATIONS": str(log.parent / "annotations.jsonl")}
    with chromium.StreamlitServer(env, log) as srv:
        driver = chromium.new_driver()
        try:
            _, first = chromium.load(driver, srv.url + "/", OVERVIEW, timeout=600)
            sessions = [chromium.load(driver, srv.url + "/?page=Overview", OVERVIEW)[1] for _ in range(repeat)]
            chromium.load(driver, srv.url + "/?page=Comments", ["units match"])
            filters = [chromium.set_text(driver, "Text contains", q, [f"text contains '{q}'"])[1]
                       for q in (FILTERS * 3)[:repeat]]
            pages = {}
            if shots is not None:
                from ui.pages import available

                for page in available():
                    pages[page] = round(chromium.load(driver, f"{srv.url}/?page={page}", [page])[1], 3)
                    if page in SHOW:  # something worth a picture on pages that open empty
                        chromium.set_text(driver, *SHOW[page])
                    chromium.screenshot(driver, shots / f"{page.lower()}.png")
        finally:
            driver.quit()
    return {"first_visit": round(first, 3), "new_session": round(statistics.median(sessions), 3),
            "new_session_all": [round(s, 3) for s in sessions], "filter": round(statistics.median(filters), 3),
            "filter_all": [round(f, 3) for f in filters], **({"pages": pages} if pages else {})}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, default=REPO_ROOT / "runs" / "probation_blog", help="The bundled run.")
    ap.add_argument("--units", type=int, default=100_000, help="Units of the synthetic run (0: skip it).")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--screenshots", type=Path, default=None, help="Save a screenshot of every page here.")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "out" / "browser_bench.json")
    args = ap.parse_args(argv)
    browser, driver = chromium.find_chromium()
    if browser is None or driver is None:
        print("chromium and chromium-driver are needed: apt-get install -y chromium chromium-driver", file=sys.stderr)
        return 2
    work = args.out.parent
    report = {"chromium": browser, "repeat": args.repeat, "runs": {}}
    report["runs"]["bundled"] = measure(bundled_run(args.run), args.repeat, work / "browser_bundled.log",
                                        args.screenshots)
    if args.units:
        from app_bench import build_run

        synth = build_run(work / f"app_synth_{args.units}", args.units)
        report["runs"]["synthetic"] = {"units": args.units,
                                       **measure(synth, args.repeat, work / "browser_synth.log")}
    ok = True
    for name, figures in report["runs"].items():
        for key, target in TARGETS[name].items():
            met = figures[key] < target
            ok &= met
            print(f"{name:>9} {key:<12} {figures[key]:6.2f} s (median of {args.repeat}; target < {target} s) "
                  f"{'ok' if met else 'MISSED'}   first visit {figures['first_visit']:.2f} s" if key == "new_session"
                  else f"{name:>9} {key:<12} {figures[key]:6.2f} s (median of {args.repeat}; target < {target} s) "
                       f"{'ok' if met else 'MISSED'}")
    report["ok"] = ok
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
