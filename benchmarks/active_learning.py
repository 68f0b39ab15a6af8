"""Active learning, measured: does coding the units the model is least sure of help more than
coding units at random?

    python benchmarks/active_learning.py [--fractions 0 0.1 0.25 0.5] [--random-seeds 3]

Simulation on the five seed threads with the gold labels (corpora/probation_blog/labels.jsonl):
for each thread in turn, the combined recipe (``SupervisedCoder``, as ``pipeline.runs.train_model``
trains it) is trained on the other four; then k units of the held-out thread (a fraction of it: the threads hold 15 to 64 units) are "coded" (their gold
labels added to the training set) and the model retrained, the k units chosen

* ``uncertainty``: in batches of 5, the units the current model is least sure of
  (``pipeline.explore.uncertainty``, the app's "most uncertain first" queue), retraining after
  each batch;
* ``random``: at random (nested: the first 5 of the 10, ...), over several seeds.

Two scores, pooled over the five held-out threads: kappa (mean over themes, and stance_tr) of the
model on the held-out units **not** coded (the "rest": note the uncertainty strategy removes the
hardest units from it, which flatters it), and of the **whole** thread as the researcher ends up
with it (the k coded units carry their hand codes, the rest the model's).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline import store  # noqa: E402
from pipeline.evaluate import agreement, align, make_coder  # noqa: E402
from pipeline.explore import uncertainty  # noqa: E402

try:  # the training code may live in pipeline.train
    from pipeline.train import training_data  # type: ignore  # noqa: E402
except ImportError:
    from pipeline.runs import training_data  # noqa: E402
from pipeline.classify import Targets, decide  # noqa: E402

LABELS = REPO / "corpora" / "probation_blog" / "labels.jsonl"
BATCH = 5


def _sub(y: Targets, idx: np.ndarray) -> Targets:
    return Targets(y.themes[idx], y.stance_tr[idx], y.reply_stance[idx], y.groups[idx])


def _fit_predict(codebook, feats, parents, y, train: np.ndarray, test: np.ndarray, units) -> pd.DataFrame:
    coder = make_coder("combined", codebook, 0).fit([feats[i] for i in train], [parents[i] for i in train],
                                                    _sub(y, train))
    probs = coder.predict_proba([feats[i] for i in test], [parents[i] for i in test])
    decisions = decide(codebook, probs, coder.thresholds_, getattr(coder, "priors_", None))
    rows = []
    for k, i in enumerate(test):
        row = {"unit_id": units.at[i, "unit_id"], **decisions[k]}
        row.update({f"p_{c}": float(probs[c][k]) for c in codebook.all_labels})
        rows.append(row)
    return pd.DataFrame(rows), coder.thresholds_


def _gold_rows(codebook, y, idx, units) -> pd.DataFrame:
    return pd.DataFrame({"unit_id": units["unit_id"].to_numpy()[idx],
                         "themes": [[t for j, t in enumerate(codebook.theme_names) if y.themes[i, j]] for i in idx],
                         "stance_tr": y.stance_tr[idx], "reply_stance": y.reply_stance[idx]})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.0, 0.1, 0.25, 0.5])
    ap.add_argument("--random-seeds", type=int, default=3)
    args = ap.parse_args()
    t0 = time.perf_counter()
    codebook, units, feats, parents, y = training_data(LABELS)
    gold = _gold_rows(codebook, y, np.arange(len(units)), units)
    threads = sorted(set(y.groups.tolist()))
    strategies = ["uncertainty"] + [f"random{s}" for s in range(args.random_seeds)]
    # (strategy, fraction) -> list of (rest predictions, whole-thread labels) over the held-out threads
    results: dict[tuple[str, int], list[tuple[pd.DataFrame, pd.DataFrame]]] = {}
    for g in threads:
        base = np.flatnonzero(y.groups != g)
        pool = np.flatnonzero(y.groups == g)
        for strategy in strategies:
            chosen: list[int] = []
            order = np.random.default_rng(int(strategy[6:]) if strategy.startswith("random") else 0).permutation(pool)
            for frac in args.fractions:
                k = int(round(frac * len(pool)))
                if strategy == "uncertainty":
                    while len(chosen) < k:  # pick the next batch with the model trained so far
                        left = np.array([i for i in pool if i not in set(chosen)])
                        preds, thr = _fit_predict(codebook, feats, parents, y, np.r_[base, chosen].astype(int),
                                                  left, units)
                        u = uncertainty(preds, codebook, thr).to_numpy()
                        chosen += [int(left[j]) for j in np.argsort(-u, kind="stable")[:min(BATCH, k - len(chosen))]]
                else:
                    chosen = [int(i) for i in order[:k]]
                rest = np.array([i for i in pool if i not in set(chosen)])
                preds, _ = _fit_predict(codebook, feats, parents, y, np.r_[base, chosen].astype(int), rest, units)
                whole = pd.concat([preds[["unit_id", "themes", "stance_tr", "reply_stance"]],
                                   _gold_rows(codebook, y, np.array(chosen, dtype=int), units)], ignore_index=True)
                results.setdefault((strategy, frac), []).append((preds, whole))
        print(f"thread {g} done ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    rows = []
    for (strategy, frac), parts in results.items():
        out = {"strategy": strategy.rstrip("0123456789"), "seed": strategy, "fraction": frac,
               "k": sum(len(w) - len(p) for p, w in parts)}
        for name, frame in (("rest", pd.concat([p for p, _ in parts])), ("whole", pd.concat([w for _, w in parts]))):
            a = agreement(align(gold, frame)[0], codebook)
            out[f"{name}_theme_kappa"] = a["themes_all"]["mean_kappa"]
            out[f"{name}_stance_tr_kappa"] = a["stance_tr"]["kappa"]
            out[f"{name}_n"] = a["n_units"]
        rows.append(out)
    table = pd.DataFrame(rows).groupby(["strategy", "fraction"], as_index=False).mean(numeric_only=True)
    print(f"{len(threads)} held-out threads, {args.random_seeds} random seeds, batches of {BATCH}; "
          f"{time.perf_counter() - t0:.0f}s")
    print("| share of each held-out thread coded | units coded (5 threads) | strategy | kappa themes (rest) | kappa stance_tr (rest) | kappa themes (whole) | "
          "kappa stance_tr (whole) | units scored (rest) |")
    print("|---|---|---|---|---|---|---|---|")
    for _, r in table.sort_values(["fraction", "strategy"]).iterrows():
        print(f"| {r['fraction']:.0%} | {int(r['k'])} | {r['strategy']} | {r['rest_theme_kappa']:.3f} | {r['rest_stance_tr_kappa']:.3f} | "
              f"{r['whole_theme_kappa']:.3f} | {r['whole_stance_tr_kappa']:.3f} | {int(r['rest_n'])} |")
    out_dir = REPO / "benchmarks" / "out"
    out_dir.mkdir(exist_ok=True)
    store.write_json({"batch": BATCH, "random_seeds": args.random_seeds, "rows": rows,
                      "mean": table.to_dict("records")}, out_dir / "active_learning.json")


if __name__ == "__main__":
    main()
