"""Does the corrected prevalence recover the truth?  The seed corpus, coded by the bundled model,
validated on blind samples "coded" by the gold labels (the annotator ``gold`` of
corpora/probation_blog/labels.jsonl), over several seeds.

    python benchmarks/validation_seeds.py --run /tmp/val_run --n 80 --seeds 20

The run is made by ``python -m pipeline run corpora/probation_blog/raw --out /tmp/val_run``.
For every theme and stance_tr value: the true share (gold over all units), the model's raw share,
how often the 95% interval of the corrected share contained the truth, and the mean absolute
error of the raw and corrected shares.  These are in-sample for the model (the bundled model was
trained on these threads) but the sampling and the estimator are what is being checked.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline import store  # noqa: E402
from pipeline.codebook import load_codebook  # noqa: E402
from pipeline.labels import read_labels  # noqa: E402
from pipeline.runs import CODEBOOK_PATH, load_run  # noqa: E402
from pipeline.validate import score_validation, write_sample  # noqa: E402

GOLD = REPO / "corpora" / "probation_blog" / "labels.jsonl"


def gold_coded_sheet(sheet: Path, gold, out: Path, annotator: str = "researcher") -> None:
    """The sheet "coded" by the gold labels: what a perfect blind coder would have written."""
    lines = []
    for rec in (json.loads(x) for x in sheet.read_text(encoding="utf-8").splitlines()):
        g = gold.loc[rec["unit_id"]]
        lines.append({"unit_id": rec["unit_id"], "annotator": annotator, "themes": list(g["themes"]),
                      "stance_tr": g["stance_tr"], "reply_stance": g["reply_stance"],
                      "fingerprint": rec.get("fingerprint")})
    store.write_jsonl(lines, out)


def truth(tables, gold, codebook) -> dict:
    ids = tables["units"]["unit_id"]
    g = gold.reindex(ids)
    out = {t: float(g["themes"].map(lambda ts, t=t: t in set(ts)).mean()) for t in codebook.theme_names}
    out.update({f"stance_tr={v}": float((g["stance_tr"].fillna("none") == v).mean())
                for v in codebook.values("stance_tr")})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="/tmp/val_run")
    ap.add_argument("--n", type=int, default=80)
    ap.add_argument("--seeds", type=int, default=20)
    args = ap.parse_args()
    codebook = load_codebook(CODEBOOK_PATH)
    tables = load_run(args.run, need_labels=True)
    gold, _ = read_labels(GOLD, codebook)
    gold = gold[gold["annotator"] == "gold"].set_index("unit_id")
    true = truth(tables, gold, codebook)
    rows = {k: {"covered": 0, "err_raw": [], "err_corr": [], "width": []} for k in true}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            sheet = Path(tmp) / f"sheet{seed}.jsonl"
            write_sample(args.run, sheet, args.n, seed=seed, codebook=codebook)
            coded = Path(tmp) / f"sheet{seed}.coded.jsonl"
            gold_coded_sheet(sheet, gold, coded)
            res = score_validation(args.run, coded, Path(tmp) / f"out{seed}", design=sheet.with_name(
                f"sheet{seed}.design.json"), codebook=codebook, seed=seed, n_boot=200)
            for key, t in true.items():
                e = (res["themes"][key] if "=" not in key else res["stance_tr"][key.split("=")[1]])["prevalence"]
                r = rows[key]
                r["covered"] += e["ci"][0] <= t <= e["ci"][1]
                r["err_raw"].append(abs(e["model"] - t))
                r["err_corr"].append(abs(e["corrected"] - t))
                r["width"].append(e["ci"][1] - e["ci"][0])
    print(f"n = {args.n}, {args.seeds} seeds (0..{args.seeds - 1}); run {args.run}")
    print("| code | true share | model share | CI covers truth | mean abs error raw | mean abs error corrected | mean CI width |")
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for key, r in rows.items():
        raw = tables["labels"]
        print(f"| {key} | {true[key]:.3f} | "
              f"{_raw_share(raw, key):.3f} | {r['covered']}/{args.seeds} | {np.mean(r['err_raw']):.3f} | "
              f"{np.mean(r['err_corr']):.3f} | {np.mean(r['width']):.3f} |")
        summary[key] = {"true": true[key], "covered": r["covered"], "mae_raw": float(np.mean(r["err_raw"])),
                        "mae_corrected": float(np.mean(r["err_corr"]))}
    themes = codebook.theme_names
    print(f"themes: mean abs error raw {np.mean([summary[t]['mae_raw'] for t in themes]):.4f}, corrected "
          f"{np.mean([summary[t]['mae_corrected'] for t in themes]):.4f}; intervals covering the truth "
          f"{sum(summary[t]['covered'] for t in themes)}/{len(themes) * args.seeds}")
    out = REPO / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    store.write_json({"n": args.n, "seeds": args.seeds, "codes": summary}, out / "validation_seeds.json")


def _raw_share(labels, key: str) -> float:
    if "=" in key:
        return float((labels["stance_tr"].fillna("none") == key.split("=")[1]).mean())
    return float(labels["themes"].map(lambda ts: key in set(ts)).mean())


if __name__ == "__main__":
    main()
