"""Stage 3, evaluate: how good the coding is, against what, with what uncertainty, and where it fails.

* ``score``: per-theme precision/recall/F1/support, micro and macro F1; for each stance
  scheme a confusion matrix, macro F1 and F_avg (mean F1 of favour and against, the
  SemEval-2016 stance measure); 95% bootstrap intervals resampling units and, separately,
  threads.
* ``agreement``: any two label sets on the same scale: Cohen's kappa per theme,
  Krippendorff's alpha per scheme, raw agreement.
* ``cross_validate``: leave-one-thread-out predictions for a recipe (majority, rules,
  supervised, combined), with a learning curve.
* ``error_analysis``: the most confident false positives and negatives per code.
* ``write_report``: evaluation.json, report.md and PNG plots.
"""

from __future__ import annotations

import re
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score, precision_recall_fscore_support

from . import store
from .classify.recipes import make_coder  # the recipe registry: majority, rules, supervised, combined
from .codebook import Codebook

from .schema import SCHEMES  # noqa: E402 (defined once, in schema.py)
N_BOOT = 1000
_NORM_RE = re.compile(r"\W+")


# --- aligning two label sets -----------------------------------------------------------------

def normalise(text: str) -> str:
    return _NORM_RE.sub(" ", str(text or "").lower()).strip()


def align(gold: pd.DataFrame, pred: pd.DataFrame, *, gold_units: pd.DataFrame | None = None,
          pred_units: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict]:
    """Join two label tables on unit_id; ids that do not match are matched by normalised text
    when both unit tables are given.  Returns (joined, report of what could not be matched)."""
    pred = pred.copy()
    matched_by_text = 0
    missing = set(gold["unit_id"]) - set(pred["unit_id"])
    if missing and gold_units is not None and pred_units is not None:
        text_to_gold = {normalise(t): u for u, t in zip(gold_units["unit_id"], gold_units["text"]) if u in missing}
        remap = {}
        for u, t in zip(pred_units["unit_id"], pred_units["text"]):
            g = text_to_gold.get(normalise(t))
            if g is not None and u not in set(gold["unit_id"]):
                remap[u] = g
        matched_by_text = len(remap)
        pred["unit_id"] = pred["unit_id"].map(lambda u: remap.get(u, u))
    joined = gold.merge(pred, on="unit_id", suffixes=("_gold", "_pred"), how="inner")
    report = {"gold_units": int(len(gold)), "pred_units": int(len(pred)), "matched": int(len(joined)),
              "matched_by_text": matched_by_text,
              "unmatched_gold": sorted(set(gold["unit_id"]) - set(joined["unit_id"]))[:50],
              "unmatched_pred": sorted(set(pred["unit_id"]) - set(joined["unit_id"]))[:50]}
    return joined, report


def theme_matrix(themes: pd.Series, names: list[str]) -> np.ndarray:
    return np.array([[int(t in set(ts if ts is not None else [])) for t in names] for ts in themes]).reshape(-1, len(names))


# --- metrics ------------------------------------------------------------------------------

def _theme_scores(G: np.ndarray, P: np.ndarray) -> dict:
    return {"micro_f1": float(f1_score(G, P, average="micro", zero_division=0)),
            "macro_f1": float(f1_score(G, P, average="macro", zero_division=0))}


def _stance_scores(g: np.ndarray, p: np.ndarray, values: list[str]) -> dict:
    f1s = f1_score(g, p, labels=values, average=None, zero_division=0)
    out = {"macro_f1": float(np.mean(f1s)), "accuracy": float(np.mean(g == p))}
    if "favour" in values and "against" in values:
        out["f_avg"] = float((f1s[values.index("favour")] + f1s[values.index("against")]) / 2)
    return out


def _resample_weights(n: int, groups: np.ndarray | None, seed: int, batch: int = 100):
    """Bootstrap resamples as weight matrices (how often each unit is drawn), ``batch`` at a time.

    Resampling units draws n units with replacement; resampling threads draws whole threads
    with replacement (the cluster bootstrap), so within-thread dependence is respected.
    """
    rng = np.random.default_rng(seed)
    if groups is not None:
        uniq, inverse = np.unique(groups, return_inverse=True)
        membership = np.zeros((len(uniq), n))
        membership[inverse, np.arange(n)] = 1.0
    for start in range(0, N_BOOT, batch):
        b = min(batch, N_BOOT - start)
        if groups is None:
            draws = rng.integers(0, n, (b, n))
            W = np.zeros((b, n))
            np.add.at(W, (np.repeat(np.arange(b), n), draws.ravel()), 1.0)
        else:
            picks = rng.integers(0, len(uniq), (b, len(uniq)))
            counts = np.zeros((b, len(uniq)))
            np.add.at(counts, (np.repeat(np.arange(b), len(uniq)), picks.ravel()), 1.0)
            W = counts @ membership
        yield W


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 from counts; NaN where a resample holds neither gold nor predicted examples of the label
    (such a resample says nothing about the label, so it must not count as F1 = 0)."""
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), np.nan)


def _ci(values: np.ndarray) -> tuple[float, float] | None:
    values = values[~np.isnan(values)]
    if not len(values):
        return None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return round(float(lo), 3), round(float(hi), 3)


def _boot_f1(gold: np.ndarray, pred: np.ndarray, n: int, groups: np.ndarray | None, seed: int) -> np.ndarray:
    """Per-label F1 over N_BOOT resamples: (N_BOOT, labels) from binary (n, labels) matrices, plus micro F1."""
    tp_m, fp_m, fn_m = (gold & pred).astype(float), (~gold & pred).astype(float), (gold & ~pred).astype(float)
    per, micro = [], []
    for W in _resample_weights(n, groups, seed):
        tp, fp, fn = W @ tp_m, W @ fp_m, W @ fn_m
        per.append(_f1(tp, fp, fn))
        micro.append(_f1(tp.sum(1), fp.sum(1), fn.sum(1)))
    return np.vstack(per), np.concatenate(micro)


def _nanmean_rows(m: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        counts = (~np.isnan(m)).sum(1)
        return np.where(counts > 0, np.nansum(m, 1) / np.maximum(counts, 1), np.nan)


def score(joined: pd.DataFrame, codebook: Codebook, *, groups: np.ndarray | None = None, seed: int = 0) -> dict:
    """Metrics of predictions (``*_pred``) against gold (``*_gold``) on aligned rows, with 95%
    bootstrap intervals (resampling units, and separately threads when ``groups`` is given)."""
    names = codebook.theme_names
    G = theme_matrix(joined["themes_gold"], names).astype(bool)
    P = theme_matrix(joined["themes_pred"], names).astype(bool)
    n = len(joined)
    resamplings = {"units": None} if groups is None else {"units": None, "threads": np.asarray(groups)}
    boot = {k: _boot_f1(G, P, n, g, seed) for k, g in resamplings.items()}
    prec, rec, f1, sup = precision_recall_fscore_support(G, P, average=None, zero_division=0, labels=range(len(names)))
    per_label = []
    for j, t in enumerate(names):
        row = {"scheme": "themes", "label": t, "precision": round(float(prec[j]), 3), "recall": round(float(rec[j]), 3),
               "f1": round(float(f1[j]), 3), "support": int(sup[j]), "predicted": int(P[:, j].sum())}
        for k, (per, _) in boot.items():
            row[f"f1_ci_{k}"] = _ci(per[:, j])
        per_label.append(row)
    summary = {"n_units": n, "themes": {k: round(v, 3) for k, v in _theme_scores(G, P).items()}}
    for k, (per, micro) in boot.items():
        summary["themes"][f"macro_f1_ci_{k}"] = _ci(_nanmean_rows(per))
        summary["themes"][f"micro_f1_ci_{k}"] = _ci(micro)
    confusion = {}
    for scheme in SCHEMES:
        values = codebook.values(scheme)
        g = joined[f"{scheme}_gold"].fillna(codebook.stances[scheme].default).to_numpy()
        p = joined[f"{scheme}_pred"].fillna(codebook.stances[scheme].default).to_numpy()
        s = {k: round(v, 3) for k, v in _stance_scores(g, p, values).items()}
        gm = np.column_stack([g == v for v in values])
        pm = np.column_stack([p == v for v in values])
        value_cis: dict[str, dict] = {v: {} for v in values}
        for k, grp in resamplings.items():
            per, _ = _boot_f1(gm, pm, n, grp, seed)
            for j, v in enumerate(values):
                value_cis[v][f"f1_ci_{k}"] = _ci(per[:, j])
            s[f"macro_f1_ci_{k}"] = _ci(_nanmean_rows(per))
            if "f_avg" in s:
                s[f"f_avg_ci_{k}"] = _ci(_nanmean_rows(per[:, [values.index("favour"), values.index("against")]]))
        summary[scheme] = s
        prec, rec, f1, sup = precision_recall_fscore_support(g, p, labels=values, average=None, zero_division=0)
        for j, v in enumerate(values):
            per_label.append({"scheme": scheme, "label": v, "precision": round(float(prec[j]), 3),
                              "recall": round(float(rec[j]), 3), "f1": round(float(f1[j]), 3),
                              "support": int(sup[j]), "predicted": int((p == v).sum()), **value_cis[v]})
        confusion[scheme] = {"labels": values, "matrix": confusion_matrix(g, p, labels=values).tolist(),
                             "rows": "gold", "columns": "predicted"}
    return {"summary": summary, "per_label": per_label, "confusion": confusion}


def agreement(joined: pd.DataFrame, codebook: Codebook) -> dict:
    """Agreement of two label sets (``*_gold`` and ``*_pred`` columns), chance-corrected."""
    names = codebook.theme_names
    A = theme_matrix(joined["themes_gold"], names)
    B = theme_matrix(joined["themes_pred"], names)
    out = {"n_units": int(len(joined)), "themes": {}}
    for j, t in enumerate(names):
        kappa = cohen_kappa_score(A[:, j], B[:, j]) if len(set(A[:, j]) | set(B[:, j])) > 1 else float("nan")
        alpha = _alpha(A[:, j], B[:, j])
        out["themes"][t] = {"kappa": _r(kappa), "alpha": _r(alpha), "raw": _r(np.mean(A[:, j] == B[:, j])),
                            "n_a": int(A[:, j].sum()), "n_b": int(B[:, j].sum())}
    # the theme scheme as a whole: alpha over every (unit, theme) decision
    out["themes_all"] = {"alpha": _r(_alpha(A.ravel(), B.ravel())),
                         "raw_exact_set": _r(np.mean((A == B).all(axis=1))),
                         "mean_kappa": _r(np.nanmean([v["kappa"] for v in out["themes"].values()
                                                      if v["kappa"] is not None]))}
    for scheme in SCHEMES:
        values = codebook.values(scheme)
        a = joined[f"{scheme}_gold"].fillna(codebook.stances[scheme].default)
        b = joined[f"{scheme}_pred"].fillna(codebook.stances[scheme].default)
        codes = {v: i for i, v in enumerate(values)}
        out[scheme] = {"kappa": _r(cohen_kappa_score(a, b, labels=values)),
                       "alpha": _r(_alpha(a.map(codes).to_numpy(), b.map(codes).to_numpy())),
                       "raw": _r(np.mean(a.to_numpy() == b.to_numpy()))}
    return out


def _alpha(a: np.ndarray, b: np.ndarray) -> float:
    data = np.vstack([a, b]).astype(float)
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def _r(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else round(x, 3)


def error_analysis(joined: pd.DataFrame, probs: pd.DataFrame | None, units: pd.DataFrame, codebook: Codebook,
                   *, k: int = 5) -> list[dict]:
    """The most confident mistakes per code (by the model's probability when known)."""
    text = dict(zip(units["unit_id"], units["text"]))
    p = probs.set_index("unit_id") if probs is not None else None
    errors = []
    codes = [(t, "themes") for t in codebook.theme_names] + [(v, s) for s in SCHEMES for v in codebook.values(s)]
    for code, scheme in codes:
        if scheme == "themes":
            g = joined["themes_gold"].map(lambda ts, c=code: c in set(ts if ts is not None else []))
            q = joined["themes_pred"].map(lambda ts, c=code: c in set(ts if ts is not None else []))
        else:
            g, q = joined[f"{scheme}_gold"] == code, joined[f"{scheme}_pred"] == code
        for kind, mask in (("false_positive", q & ~g), ("false_negative", g & ~q)):
            rows = joined[mask]
            if rows.empty:
                continue
            conf = rows["unit_id"].map(lambda u, c=code: float(p.at[u, f"p_{c}"]) if p is not None and u in p.index
                                       and f"p_{c}" in p.columns else np.nan)
            order = conf.sort_values(ascending=(kind == "false_negative"), na_position="last").index
            for idx in order[:k]:
                uid = joined.at[idx, "unit_id"]
                errors.append({"label": code, "scheme": scheme, "type": kind, "unit_id": uid,
                               "p": None if np.isnan(conf[idx]) else round(conf[idx], 3),
                               "text": str(text.get(uid, ""))[:400]})
    return errors


def calibration(gold: pd.DataFrame, preds: pd.DataFrame, codebook: Codebook, bins: int = 10) -> dict:
    """Brier score and expected calibration error of held-out theme probabilities."""
    from sklearn.metrics import brier_score_loss

    joined = gold.merge(preds, on="unit_id", suffixes=("_gold", "_pred"))
    out = {}
    for t in codebook.theme_names:
        if f"p_{t}" not in joined:
            continue
        y = joined["themes_gold"].map(lambda ts, t=t: t in set(ts if ts is not None else [])).to_numpy().astype(int)
        p = joined[f"p_{t}"].to_numpy(dtype=float)
        edges = np.linspace(0, 1, bins + 1)
        which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
        ece = sum(abs(p[which == b].mean() - y[which == b].mean()) * (which == b).mean() for b in range(bins)
                  if (which == b).any())
        out[t] = {"brier": round(float(brier_score_loss(y, p)), 4), "ece": round(float(ece), 4),
                  "mean_p": round(float(p.mean()), 4), "base_rate": round(float(y.mean()), 4)}
    return out


# --- cross-validation by thread ------------------------------------------------------------

def cross_validate(codebook: Codebook, units: pd.DataFrame, feats: list, parents: list, y, recipe: str,
                   *, train_fraction: float = 1.0, seed: int = 0, test_groups=None) -> pd.DataFrame:
    """Leave-one-thread-out predictions: train on the other threads, predict the held-out one.
    With ``test_groups`` (e.g. the codebook's frozen-test threads): one split, trained on all
    other threads, predicting only those."""
    from .classify.decisions import decide
    from .classify.features import Targets

    rows = []
    rng = np.random.default_rng(seed)
    folds = [[g] for g in sorted(set(y.groups.tolist()))] if not test_groups else [sorted(test_groups)]
    for fold in folds:
        g = "+".join(fold)
        test = np.flatnonzero(np.isin(y.groups, fold))
        train = np.flatnonzero(~np.isin(y.groups, fold))
        if train_fraction < 1.0:
            train = np.sort(rng.choice(train, max(10, int(len(train) * train_fraction)), replace=False))
        sub = Targets(y.themes[train], y.stance_tr[train], y.reply_stance[train], y.groups[train])
        coder = make_coder(recipe, codebook, seed).fit([feats[i] for i in train], [parents[i] for i in train], sub)
        probs = coder.predict_proba([feats[i] for i in test], [parents[i] for i in test])
        decisions = decide(codebook, probs, coder.thresholds_, getattr(coder, "priors_", None))
        for k, i in enumerate(test):
            row = {"unit_id": units.at[i, "unit_id"], "thread_id": g, **decisions[k]}
            row.update({f"p_{c}": float(probs[c][k]) for c in codebook.all_labels})
            rows.append(row)
    return pd.DataFrame(rows)


def learning_curve(codebook: Codebook, units, feats, parents, y, gold: pd.DataFrame, recipe: str = "combined",
                   fractions=(0.25, 0.5, 0.75, 1.0), seed: int = 0, full_preds: pd.DataFrame | None = None) -> list[dict]:
    """Held-out scores when each training fold keeps only a fraction of its units (seeded subsample)."""
    points = []
    for frac in fractions:
        if frac == 1.0 and full_preds is not None:  # the full cross-validation was already run
            preds = full_preds
        else:
            preds = cross_validate(codebook, units, feats, parents, y, recipe, train_fraction=frac, seed=seed)
        joined, _ = align(gold, preds)
        s = score(joined, codebook, seed=seed)["summary"]
        n_train = int(np.mean([(y.groups != g).sum() * frac for g in set(y.groups.tolist())]))
        points.append({"fraction": frac, "n_train_units": n_train, "theme_macro_f1": s["themes"]["macro_f1"],
                       "stance_tr_f_avg": s["stance_tr"].get("f_avg"), "reply_stance_macro_f1":
                           s["reply_stance"]["macro_f1"]})
    return points


# --- the report ----------------------------------------------------------------------------

def write_report(result: dict, out: Path | str) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store.write_json(result, out / "evaluation.json")
    plots = _plots(result, out)
    store.write_text(markdown_report(result, plots), out / "report.md")
    return out


def _fmt_ci(ci) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""


def markdown_report(result: dict, plots: list[str] | None = None) -> str:
    lines = [f"# Evaluation: {result.get('title', '')}", "", result.get("description", ""), ""]
    main = result.get("main")
    if main:
        s = main["summary"]
        lines += ["## Summary", "", "| measure | value | 95% CI (units) | 95% CI (threads) |", "|---|---|---|---|",
                  f"| theme macro F1 | {s['themes']['macro_f1']:.3f} | {_fmt_ci(s['themes'].get('macro_f1_ci_units'))} "
                  f"| {_fmt_ci(s['themes'].get('macro_f1_ci_threads'))} |",
                  f"| theme micro F1 | {s['themes']['micro_f1']:.3f} | {_fmt_ci(s['themes'].get('micro_f1_ci_units'))} "
                  f"| {_fmt_ci(s['themes'].get('micro_f1_ci_threads'))} |"]
        for scheme in SCHEMES:
            sc = s[scheme]
            lines.append(f"| {scheme} macro F1 | {sc['macro_f1']:.3f} | {_fmt_ci(sc.get('macro_f1_ci_units'))} | "
                         f"{_fmt_ci(sc.get('macro_f1_ci_threads'))} |")
            if "f_avg" in sc:
                lines.append(f"| {scheme} F_avg (favour, against) | {sc['f_avg']:.3f} | "
                             f"{_fmt_ci(sc.get('f_avg_ci_units'))} | {_fmt_ci(sc.get('f_avg_ci_threads'))} |")
        lines += ["", "## Per label", "", "| scheme | label | precision | recall | F1 | support | predicted | F1 95% CI (units) |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in main["per_label"]:
            lines.append(f"| {r['scheme']} | {r['label']} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} | "
                         f"{r['support']} | {r['predicted']} | {_fmt_ci(r.get('f1_ci_units'))} |")
        for scheme, cm in main["confusion"].items():
            lines += ["", f"### Confusion matrix: {scheme} (rows gold, columns predicted)", "",
                      "| gold \\ pred | " + " | ".join(cm["labels"]) + " |", "|---" * (len(cm["labels"]) + 1) + "|"]
            for lab, row in zip(cm["labels"], cm["matrix"]):
                lines.append(f"| {lab} | " + " | ".join(map(str, row)) + " |")
    if result.get("baselines"):
        lines += ["", "## Baselines side by side (leave one thread out)", "",
                  "| recipe | theme macro F1 | theme micro F1 | stance_tr F_avg | stance_tr macro F1 | reply_stance macro F1 |",
                  "|---|---|---|---|---|---|"]
        for name, s in result["baselines"].items():
            lines.append(f"| {name} | {s['themes']['macro_f1']:.3f} | {s['themes']['micro_f1']:.3f} | "
                         f"{s['stance_tr'].get('f_avg', float('nan')):.3f} | {s['stance_tr']['macro_f1']:.3f} | "
                         f"{s['reply_stance']['macro_f1']:.3f} |")
    if result.get("agreement"):
        lines += ["", "## Agreement (same scale for coders and models)", "",
                  "| pair | " + " | ".join(f"kappa {t}" for t in result["theme_names"]) +
                  " | alpha themes | alpha stance_tr | alpha reply_stance | raw stance_tr |",
                  "|---" * (len(result["theme_names"]) + 5) + "|"]
        for a in result["agreement"]:
            kap = " | ".join(_num(a["themes"][t]["kappa"]) for t in result["theme_names"])
            lines.append(f"| {a['pair']} | {kap} | {_num(a['themes_all']['alpha'])} | {_num(a['stance_tr']['alpha'])} | "
                         f"{_num(a['reply_stance']['alpha'])} | {_num(a['stance_tr']['raw'])} |")
    if result.get("calibration"):
        lines += ["", "## Calibration of held-out theme probabilities", "", "| theme | Brier | ECE (10 bins) | mean p | base rate |",
                  "|---|---|---|---|---|"]
        for t, c in result["calibration"].items():
            lines.append(f"| {t} | {c['brier']:.3f} | {c['ece']:.3f} | {c['mean_p']:.3f} | {c['base_rate']:.3f} |")
    if result.get("learning_curve"):
        lines += ["", "## Learning curve", "", "| training units | theme macro F1 | stance_tr F_avg | reply_stance macro F1 |",
                  "|---|---|---|---|"]
        for p in result["learning_curve"]:
            lines.append(f"| {p['n_train_units']} | {p['theme_macro_f1']:.3f} | {_num(p['stance_tr_f_avg'])} | "
                         f"{p['reply_stance_macro_f1']:.3f} |")
    if result.get("errors"):
        lines += ["", "## Most confident errors", "", "| label | type | unit | p | text |", "|---|---|---|---|---|"]
        for e in result["errors"]:
            snippet = _md_escape(e["text"][:160])
            lines.append(f"| {e['label']} | {e['type']} | {e['unit_id']} | {_num(e['p'])} | {snippet} |")
    if result.get("alignment"):
        al = result["alignment"]
        lines += ["", "## Matching", "", f"{al['matched']} units matched ({al['matched_by_text']} by normalised text); "
                  f"{len(al['unmatched_gold'])} gold and {len(al['unmatched_pred'])} predicted units unmatched."]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    lines += ["", f"Reproduce: `{result.get('command', '')}`", ""]
    return "\n".join(lines)


def _num(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.3f}"


def _md_escape(text: str) -> str:
    """Comment text is untrusted: neutralise Markdown/HTML before it goes into a report table."""
    import html

    text = html.escape(text.replace("\n", " "), quote=False)  # quotes stay literal: no "&\#x27;" debris
    return re.sub(r"([\\`*_{}\[\]()#+!|~>-])", r"\\\1", text)


def _plots(result: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    main = result.get("main")
    if main:
        for scheme, cm in main["confusion"].items():
            fig, ax = plt.subplots(figsize=(4, 3.4))
            m = np.array(cm["matrix"])
            ax.imshow(m, cmap="Blues")
            ax.set_xticks(range(len(cm["labels"])), cm["labels"], rotation=30)
            ax.set_yticks(range(len(cm["labels"])), cm["labels"])
            for (i, j), v in np.ndenumerate(m):
                ax.text(j, i, str(v), ha="center", va="center", color="black")
            ax.set_xlabel("predicted")
            ax.set_ylabel("gold")
            ax.set_title(scheme)
            fig.tight_layout()
            name = f"confusion_{scheme}.png"
            _save(fig, out / name)
            made.append(name)
        rows = main["per_label"]
        fig, ax = plt.subplots(figsize=(7, 3.6))
        labels = [f"{r['label']}" for r in rows]
        f1 = [r["f1"] for r in rows]
        ci = [r.get("f1_ci_threads") or r.get("f1_ci_units") for r in rows]
        err = np.array([[f - c[0] if c else 0 for f, c in zip(f1, ci)], [c[1] - f if c else 0 for f, c in zip(f1, ci)]])
        ax.bar(range(len(rows)), f1, yerr=np.clip(err, 0, None), capsize=3, color="#4477aa")
        ax.set_xticks(range(len(rows)), labels, rotation=40, ha="right")
        ax.set_ylim(0, 1)
        ax.set_ylabel("F1 (95% CI)")
        ax.set_title("Per-label F1")
        fig.tight_layout()
        _save(fig, out / "per_label_f1.png")
        made.append("per_label_f1.png")
    if result.get("learning_curve"):
        lc = result["learning_curve"]
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        ax.plot([p["n_train_units"] for p in lc], [p["theme_macro_f1"] for p in lc], marker="o", label="theme macro F1")
        ax.plot([p["n_train_units"] for p in lc], [p["reply_stance_macro_f1"] for p in lc], marker="s",
                label="reply_stance macro F1")
        ax.set_xlabel("training units")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
        ax.set_title("Learning curve (leave one thread out)")
        fig.tight_layout()
        _save(fig, out / "learning_curve.png")
        made.append("learning_curve.png")
    return made


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with store.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
