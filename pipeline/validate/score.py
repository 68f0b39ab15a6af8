"""Score the model on a hand-coded blind sample and correct its prevalence.

Reads the coded sheet (labels JSONL), keeps one hand code per sampled unit
(:func:`pipeline.validate.agree.resolve`), and for every theme and every ``stance_tr`` value
writes, in ``validation.json`` and ``report.md``:

* ``prevalence``: ``model`` (the raw share the model gave in the whole run), ``corrected`` (the
  stratified estimate of the true share, :func:`~pipeline.validate.estimate.stratified_share`)
  and its 95% ``ci``;
* precision, recall, F1 and Cohen's kappa of the model as population estimates (each coded unit
  weighted by ``N_h / n_h``), with 95% intervals from a bootstrap that resamples within strata.

Sampled units that nobody has coded yet are left out (each stratum's ``n_h`` shrinks; this
assumes they are missing at random within the stratum) and counted in ``uncoded``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import store
from ..codebook import Codebook
from ..errors import Code, PipelineError
from .agree import pairwise_agreement, resolve
from .estimate import percentile_ci, stratified_bootstrap, stratified_share, weighted_scores, design_weights
from .sample import design_path, predictions_sha256

N_BOOT = 1000
METHOD = ("Stratified estimator of a proportion with finite population correction (Cochran 1977); "
          "95% interval: finite-population posterior with a Jeffreys prior per stratum (Ericson 1969); "
          "P/R/F1/kappa weighted by N_h/n_h, intervals from 1000 bootstrap resamples within strata.")


def read_coded(path: Path | str, codebook: Codebook, units: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Read a coded sheet: labels JSONL in the project's format.  Sheet lines nobody has coded yet
    (no ``annotator``, no codes) are skipped; any other bad line is an E202 error naming it."""
    from ..labels import read_labels

    path = Path(path)
    df, problems = read_labels(path, codebook, units=units, strict=False)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    warnings = []
    for p in problems:
        if p.severity != "error":
            warnings.append(p.to_dict())
            continue
        try:
            rec = json.loads(lines[p.line - 1]) if p.line else None
        except json.JSONDecodeError:
            rec = None
        blank = isinstance(rec, dict) and rec.get("unit_id") and not rec.get("annotator") and not any(
            rec.get(f) for f in ("themes", "stance_tr", "reply_stance"))
        if not blank:
            raise PipelineError(p.code, p.message, file=p.file, line=p.line, fix=p.fix)
    return df, warnings


def _load_design(path: Path) -> dict:
    try:
        design = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PipelineError(Code.E205, f"the sample's design cannot be read ({exc}).", file=str(path),
                            fix="Keep the .design.json written by `validate sample` beside the sheet, "
                                "or pass --design.") from None
    if design.get("kind") != "validation_design":
        raise PipelineError(Code.E205, "not a validation design file.", file=str(path),
                            fix="Pass the .design.json written by `validate sample`.")
    return design


def score_sample(tables: dict[str, pd.DataFrame], design: dict, hand: pd.DataFrame, codebook: Codebook, *,
                 seed: int = 0, n_boot: int = N_BOOT) -> dict:
    """The figures of ``validation.json`` from a run's tables, the design and one hand code per unit."""
    labels = tables["labels"]
    if predictions_sha256(labels) != design["predictions_sha256"] or len(tables["units"]) != design["N"]:
        raise PipelineError(Code.E203, "the run's codes are not the ones the sample was drawn from "
                            "(it was re-parsed or re-classified since).", file=design.get("run", ""),
                            fix="Score against the run the sample was drawn from, or draw a new sample.")
    if design.get("codebook_fingerprint") not in (None, codebook.fingerprint):
        raise PipelineError(Code.E203, "the sample was drawn under another codebook.", file=design.get("run", ""),
                            fix="Use the codebook of the run, or draw a new sample.")
    N_h = {s["name"]: s["N"] for s in design["strata"]}
    stratum_of = design["units"]
    hand = hand[hand["unit_id"].isin(stratum_of)].drop_duplicates("unit_id", keep="last").set_index("unit_id")
    coded = sorted(hand.index)
    strata = np.array([stratum_of[u] for u in coded])
    empty = [h for h in N_h if h not in set(strata)]
    if not coded or empty:
        raise PipelineError(Code.E206, f"no coded unit in stratum {empty[0] if empty else '(any)'}.",
                            file=design.get("run", ""), fix="Code at least one unit of every stratum of the sheet.")
    model = labels.set_index("unit_id").loc[coded]
    w = design_weights(strata, N_h)
    W = stratified_bootstrap(strata, N_h, n_boot=n_boot, seed=seed)

    def entry(y: np.ndarray, p: np.ndarray, raw: float) -> dict:
        share = stratified_share(y, strata, N_h, seed=seed)
        point, boot = weighted_scores(y, p, w), weighted_scores(y, p, W)
        out = {"prevalence": {"model": round(raw, 4), "corrected": round(share["estimate"], 4), "ci": share["ci"],
                              "se": round(share["se"], 4)}}
        for k in ("precision", "recall", "f1", "kappa"):
            v = float(point[k][0])
            out[k] = None if np.isnan(v) else round(v, 3)
            out[f"{k}_ci"] = percentile_ci(boot[k])
        out["sample"] = {"tp": int((y & p).sum()), "fp": int((~y & p).sum()), "fn": int((y & ~p).sum()),
                         "tn": int((~y & ~p).sum())}
        return out

    all_themes = tables["labels"]["themes"]
    result = {"themes": {}, "stance_tr": {}}
    for t in codebook.theme_names:
        y = np.array([t in set(hand.at[u, "themes"] or []) for u in coded])
        p = np.array([t in set(ts) for ts in model["themes"]])
        result["themes"][t] = entry(y, p, float(all_themes.map(lambda ts, t=t: t in set(ts)).mean()))
    default = codebook.stances["stance_tr"].default
    gold_st = np.array([hand.at[u, "stance_tr"] or default for u in coded])
    pred_st = model["stance_tr"].fillna(default).to_numpy()
    for v in codebook.values("stance_tr"):
        raw = float((labels["stance_tr"].fillna(default) == v).mean())
        result["stance_tr"][v] = entry(gold_st == v, pred_st == v, raw)
    sampled = len(stratum_of)
    return {"kind": "validation", "n": len(coded), "n_sample": sampled, "uncoded": sampled - len(coded),
            "N": int(design["N"]), "model": design.get("model", ""), "seed": design.get("seed"),
            "method": METHOD,
            "strata": [{**s, "coded": int((strata == s["name"]).sum())} for s in design["strata"]], **result}


def score_validation(run: Path | str, labels_path: Path | str, out: Path | str, *, annotator: str | None = None,
                     design: Path | str | None = None, codebook: Codebook | None = None, seed: int = 0,
                     n_boot: int = N_BOOT) -> dict:
    """Read a run, the coded sheet and its design; write ``validation.json`` and ``report.md`` to ``out``."""
    from ..codebook import load_codebook
    from ..runs import CODEBOOK_PATH, load_run

    codebook = codebook or load_codebook(CODEBOOK_PATH)
    tables = load_run(run, need_labels=True)
    design_file = Path(design) if design else design_path(labels_path)
    if not design_file.exists() and not design:  # e.g. sheet.coded.jsonl beside sheet.design.json
        name = Path(labels_path).name
        found = [p for p in Path(labels_path).parent.glob("*.design.json")
                 if name.startswith(p.name.removesuffix(".design.json"))]
        design_file = max(found, key=lambda p: len(p.name)) if found else design_file
    plan = _load_design(design_file)
    hand_all, warnings = read_coded(labels_path, codebook, tables["units"])
    if annotator is not None and annotator not in set(hand_all["annotator"]):
        raise PipelineError(Code.E206, f"no labels by annotator {annotator!r}.", file=str(labels_path),
                            fix=f"Use one of: {', '.join(sorted(hand_all['annotator'].unique())) or 'none yet'}.")
    hand, unresolved = resolve(hand_all, annotator)
    if unresolved:
        raise PipelineError(Code.E206, f"{len(unresolved)} units where the coders disagree have no adjudicated "
                            f"label (e.g. {', '.join(unresolved[:3])}).", file=str(labels_path),
                            fix="Adjudicate them (app: Validate > Adjudicate, or `python -m pipeline validate "
                                "agree`), or score one coder with --annotator.")
    result = score_sample(tables, plan, hand, codebook, seed=seed, n_boot=n_boot)
    result.update({"run": str(run), "labels": str(labels_path), "design": str(design_file),
                   "annotator": annotator or ("adjudicated" if "gold" in set(hand_all["annotator"]) else
                                              ",".join(sorted(hand_all["annotator"].unique()))),
                   "agreement": pairwise_agreement(hand_all, codebook), "warnings": warnings})
    out = Path(out)
    store.write_json(result, out / "validation.json")
    store.write_text(markdown(result, codebook), out / "report.md")
    return result


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _ci(ci, pct: bool = False) -> str:
    if not ci:
        return "n/a"
    return f"{_pct(ci[0])}-{_pct(ci[1])}" if pct else f"{ci[0]:.2f}-{ci[1]:.2f}"


def markdown(result: dict, codebook: Codebook) -> str:
    n = result["n"]
    lines = [f"# Validation on a blind sample of {n} units", "",
             f"Run: `{result.get('run', '')}` ({result['N']} units, model `{result['model']}`); coded sheet "
             f"`{result.get('labels', '')}`, hand codes: {result.get('annotator', '')}. "
             f"{result['uncoded']} sampled units not coded yet.", "",
             f"Method: {result['method']}", "",
             "These are **validation-sample** figures: the sample was drawn at random and coded blind, "
             "so they estimate the model's quality on this whole run.", "",
             "| code | model share | corrected share [95% CI] | precision [CI] | recall [CI] | F1 [CI] | kappa [CI] |",
             "|---|---|---|---|---|---|---|"]
    for scheme in ("themes", "stance_tr"):
        for code, e in result[scheme].items():
            pv = e["prevalence"]
            name = code if scheme == "themes" else f"stance_tr={code}"
            cells = [f"{e[k]:.2f} [{_ci(e[k + '_ci'])}]" if e[k] is not None else "n/a"
                     for k in ("precision", "recall", "f1", "kappa")]
            lines.append(f"| {name} | {_pct(pv['model'])} | {_pct(pv['corrected'])} [{_ci(pv['ci'], True)}] | "
                         + " | ".join(cells) + " |")
    lines += ["", "For a methods section, e.g.: " + "; ".join(
        f"{_pct(e['prevalence']['corrected'])} of units raise {t} (95% CI {_ci(e['prevalence']['ci'], True)})"
        for t, e in result["themes"].items()) + f", validated on a blind sample of {n}.", "",
        "| stratum | N_h | n_h | coded | inclusion probability |", "|---|---|---|---|---|"]
    lines += [f"| {s['name']} | {s['N']} | {s['n']} | {s['coded']} | {s['inclusion_probability']:.3f} |"
              for s in result["strata"]]
    for a in result.get("agreement") or []:
        kappas = ", ".join(f"{t} {v['kappa']}" for t, v in a["themes"].items())
        lines += ["", f"Agreement {a['pair']} ({a['n_units']} units): kappa {kappas}; alpha themes "
                      f"{a['themes_all']['alpha']}, stance_tr {a['stance_tr']['alpha']}, "
                      f"reply_stance {a['reply_stance']['alpha']}."]
    return "\n".join(lines) + "\n"
