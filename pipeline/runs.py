"""A run directory: what each stage reads from it and writes into it.

::

    <run>/threads.parquet   one row per thread            (parse)
    <run>/units.parquet     one row per post/comment      (parse)
    <run>/report.json       warnings and skipped files    (parse, classify)
    <run>/labels.parquet    predicted codes + evidence    (classify)
    <run>/segments.parquet  coded segments: offsets, code, score, what decided it (classify)
    <run>/evaluation/       evaluation.json, report.md, PNGs (evaluate)

These functions do the I/O around the stage functions so that the CLI and the
app stay thin.  Every file is written atomically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from . import store
from .errors import Code, PipelineError
from .parse import parse_paths, to_frames
from .parse.source import DEFAULT_MAX_BYTES
from .paths import BUNDLED_CORPUS, BUNDLED_MODEL, CODEBOOK_PATH, REPO_ROOT  # noqa: F401 (defined in paths.py)
from .rundir import RunDir


@dataclass
class ParseSummary:
    out: Path
    files_seen: int
    threads: int
    units_by_kind: dict[str, int]
    warnings: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def units(self) -> int:
        return sum(self.units_by_kind.values())


def parse_to_run(inputs: Iterable[Path | str], out: Path | str, *, csv: bool = False,
                 max_bytes: int = DEFAULT_MAX_BYTES, on_file: Callable[[Path], None] | None = None,
                 **parse_options) -> ParseSummary:
    """Parse inputs into ``out``; earlier outputs are replaced only once the new ones are complete.

    ``parse_options`` go to :func:`pipeline.parse.parse_paths` (``tz``, ``include_pages``).
    """
    out = Path(out)
    t0 = time.perf_counter()
    result = parse_paths(inputs, max_bytes=max_bytes, on_file=on_file, **parse_options)
    threads_df, units_df = to_frames(result.threads)
    summary = ParseSummary(
        out=out, files_seen=result.files_seen, threads=len(threads_df),
        units_by_kind={k: int((units_df["kind"] == k).sum()) for k in ("post", "contribution", "comment", "reply")},
        warnings=[p.to_dict() for p in result.warnings], skipped=[p.to_dict() for p in result.skipped])
    if len(threads_df):
        out.mkdir(parents=True, exist_ok=True)
        store.write_tables({out / "threads.parquet": threads_df, out / "units.parquet": units_df})
        if csv:
            store.write_csv(threads_df, out / "threads.csv")
            store.write_csv(units_df, out / "units.csv")
    summary.seconds = round(time.perf_counter() - t0, 3)
    if out.exists():
        RunDir(out).write_report({"stage": "parse", "files_seen": summary.files_seen, "threads": summary.threads,
                                  "units_by_kind": summary.units_by_kind, "warnings": summary.warnings,
                                  "skipped": summary.skipped})
    return summary


def load_run(run: Path | str, *, need_labels: bool = False) -> dict[str, pd.DataFrame]:
    run = Path(run)
    tables = {}
    needed = ["threads", "units"] + (["labels"] if need_labels else [])
    for name in needed + ([] if need_labels else ["labels"]):
        path = run / f"{name}.parquet"
        if path.exists():
            tables[name] = store.read_parquet(path)
        elif name in needed:
            raise PipelineError(Code.E205, f"{path.name} is missing.", file=str(run),
                                fix=f"Run `python -m pipeline {'classify' if name == 'labels' else 'parse'}` "
                                    "on this run directory first.")
    return tables


# --- classification ---------------------------------------------------------------------------

# Features and the labels table belong to the classify package, training to pipeline.train; these
# names stay importable from here (lazily: the CLI imports this module for every command).
_MOVED = {"featurize": "classify.features", "labels_frame": "classify.tables", "train_model": "train",
          "training_data": "train", "write_segments": "classify.segments"}


def __getattr__(name: str):
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(f".{_MOVED[name]}", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def classify_units(units: pd.DataFrame, model_dir: Path | str = BUNDLED_MODEL, *,
                   codebook_path: Path | str = CODEBOOK_PATH) -> pd.DataFrame:
    """The labels table for a units table (``model_dir='rules'``: the codebook rules alone)."""
    from .classify.tables import classify_frame

    return classify_frame(units, str(model_dir), str(codebook_path))


def classify_run(run: Path | str, model_dir: Path | str = BUNDLED_MODEL, *,
                 codebook_path: Path | str = CODEBOOK_PATH, engine: str = "local", scheduler: str | None = None,
                 workers: int = 2) -> dict:
    from .classify.segments import write_segments

    run = Path(run)
    if engine == "dask":
        from .scale import classify_dask

        load_run(run)  # clear error if the run is incomplete
        summary = classify_dask(run, model_dir=model_dir, codebook_path=codebook_path, scheduler=scheduler,
                                n_workers=workers)
        summary.update(_label_counts(store.read_parquet(run / "labels.parquet")))
        summary["segments"] = write_segments(run, codebook_path)
        return summary
    units = load_run(run)["units"]
    t0 = time.perf_counter()
    labels = classify_units(units, model_dir, codebook_path=codebook_path)
    store.write_parquet(labels, run / "labels.parquet")
    n_segments = write_segments(run, codebook_path)
    seconds = time.perf_counter() - t0
    summary = {"stage": "classify", "model": str(model_dir), "seconds": round(seconds, 3), **_label_counts(labels),
               "segments": n_segments}
    RunDir(run).update_report("classify", summary)
    return summary


def run_all(inputs: Iterable[Path | str], out: Path | str, *, model_dir: Path | str = BUNDLED_MODEL,
            codebook_path: Path | str = CODEBOOK_PATH, csv: bool = False, engine: str = "local",
            chunk_mb: float = 16.0, workers: int = 2, scheduler: str | None = None, progress=None,
            parse_options: dict | None = None) -> dict:
    """parse + classify into one run directory, chunked and restartable (see pipeline.scale);
    ``parse_options`` (``tz``, ``include_pages``) as for ``parse``."""
    from .scale import check_coder, classify_dask, run_chunked

    out = Path(out)
    if engine not in ("local", "dask"):  # before parsing anything
        raise PipelineError(Code.E205, f"unknown engine {engine!r}.", fix="Use --engine local or --engine dask.")
    if engine == "dask":
        check_coder(model_dir, codebook_path)  # a bad model fails before the run directory is touched
    summary = run_chunked(inputs, out, model_dir=model_dir, codebook_path=codebook_path, chunk_mb=chunk_mb,
                          workers=workers, classify=engine == "local", progress=progress,
                          parse_options=parse_options)
    if engine == "dask":
        classified = classify_dask(out, model_dir=model_dir, codebook_path=codebook_path, scheduler=scheduler,
                                   n_workers=workers)
    elif engine == "local":
        classified = {"stage": "classify", "engine": "local", "units": summary["units"]}
    else:
        raise PipelineError(Code.E205, f"unknown engine {engine!r}.", fix="Use --engine local or --engine dask.")
    import pyarrow.parquet as pq

    # the counts need three columns; the evidence JSON of a large run would not fit in memory twice
    labels = pq.read_table(out / "labels.parquet", columns=["themes", "stance_tr", "reply_stance"]).to_pandas()
    classified.update(_label_counts(labels))
    if engine == "dask":  # the local engine wrote each chunk's segments beside its labels
        from .classify.segments import write_segments

        classified["segments"] = write_segments(out, codebook_path)
    else:
        classified["segments"] = pq.ParquetDataset(out / "segments.parquet").read(columns=["code"]).num_rows
    classified.setdefault("seconds", summary["seconds"])
    if csv:
        tables = load_run(out, need_labels=True)
        for name, df in tables.items():
            store.write_csv(df, out / f"{name}.csv")
    RunDir(out).update_report("classify", classified)
    return {"parse": summary, "classify": classified}


def _label_counts(labels: pd.DataFrame) -> dict:
    themes = sorted({t for ts in labels["themes"] for t in ts})
    return {"units": len(labels), "themes": {t: int(labels["themes"].map(lambda ts, t=t: t in ts).sum()) for t in themes},
            "stance_tr": labels["stance_tr"].value_counts().to_dict(),
            "reply_stance": labels["reply_stance"].value_counts().to_dict()}


# --- evaluation ---------------------------------------------------------------------------------

def _coder_agreements(labels: pd.DataFrame, codebook, extra: dict[str, pd.DataFrame] | None = None) -> list[dict]:
    """Agreement of every pair of label sets: coders with each other, each with gold, models with gold."""
    from itertools import combinations

    from .evaluate import agreement, align

    sets = {a: labels[labels["annotator"] == a] for a in sorted(labels["annotator"].unique())}
    sets.update(extra or {})
    rows = []
    for a, b in combinations(sets, 2):
        if a != "gold" and b == "gold":
            a, b = b, a
        joined, _ = align(sets[a], sets[b])
        if len(joined):
            rows.append({"pair": f"{a} vs {b}", **agreement(joined, codebook)})
    return rows


def evaluate_predictions(gold_path: Path | str, pred: Path | str, out: Path | str | None = None, *,
                         gold_annotator: str = "gold", pred_annotator: str | None = None,
                         codebook_path: Path | str = CODEBOOK_PATH, command: str = "") -> dict:
    """Score a run's labels.parquet (or another labels JSONL) against gold labels."""
    from .codebook import load_codebook
    from .evaluate import align, agreement, error_analysis, score, write_report
    from .labels import read_labels

    codebook = load_codebook(codebook_path)
    pred = Path(pred)
    gold_units = pred_units = probs = None
    corpus = Path(gold_path).parent / "raw"
    if corpus.exists():
        gold_units = to_frames(parse_paths([corpus]).threads)[1]
    gold_all, label_problems = read_labels(gold_path, codebook, units=gold_units)
    gold = gold_all[gold_all["annotator"] == gold_annotator]
    if gold.empty:
        raise PipelineError(Code.E206, f"no labels by annotator {gold_annotator!r}.", file=str(gold_path),
                            fix="Pass --gold-annotator with a name present in the file.")
    if pred.is_dir():
        tables = load_run(pred, need_labels=True)
        pred_labels, pred_units, probs = tables["labels"], tables["units"], tables["labels"]
        out = Path(out) if out else pred / "evaluation"
    else:
        pl, _ = read_labels(pred, codebook, strict=False)
        pred_labels = pl[pl["annotator"] == pred_annotator] if pred_annotator else pl
        pred_units = gold_units
        out = Path(out) if out else Path("runs") / "evaluation"
    joined, report = align(gold, pred_labels, gold_units=gold_units, pred_units=pred_units)
    units = gold_units if gold_units is not None else pred_units
    thread_of = dict(zip(units["unit_id"], units["thread_id"])) if units is not None else {}
    groups = joined["unit_id"].map(lambda u: thread_of.get(u, u.split("/")[0])).to_numpy()
    main = score(joined, codebook, groups=groups)
    result = {"title": f"{pred} against {gold_annotator} labels", "description":
              f"Predictions in {pred} scored against annotator '{gold_annotator}' in {gold_path}.",
              "theme_names": codebook.theme_names, "main": main, "alignment": report,
              "labels_anchor": gold_all.attrs["anchor"].to_dict() if "anchor" in gold_all.attrs else None,
              "label_problems": [p.to_dict() for p in label_problems],
              "agreement": [{"pair": f"{pred_annotator or 'predictions'} vs {gold_annotator}",
                             **agreement(joined, codebook)}],
              "errors": error_analysis(joined, probs, units if units is not None else pd.DataFrame(
                  {"unit_id": [], "text": []}), codebook), "command": command}
    write_report(result, out)
    return {"out": str(out), **result}


def evaluate_model_cv(gold_path: Path | str, out: Path | str, *, corpus: Path | str | None = None,
                      recipes: Iterable[str] = ("majority", "rules", "supervised", "combined"), main_recipe: str = "combined",
                      gold_annotator: str = "gold", learning_curve: bool = True,
                      codebook_path: Path | str = CODEBOOK_PATH, command: str = "",
                      test_threads: Iterable[str] = ()) -> dict:
    """Leave-one-thread-out evaluation of training recipes, baselines side by side, and coder agreement.
    With ``test_threads``: train on the other threads once and score only these (the frozen-test
    threads held out from pattern development)."""
    from .evaluate import align, calibration, cross_validate, error_analysis, learning_curve as lc, score, write_report
    from .labels import read_labels

    from .train import training_data

    codebook, units, feats, parents, y = training_data(gold_path, corpus, annotator=gold_annotator,
                                                       codebook_path=codebook_path)
    corpus_units = to_frames(parse_paths([Path(corpus) if corpus else Path(gold_path).parent / "raw"]).threads)[1]
    all_labels, _ = read_labels(gold_path, codebook, units=corpus_units)
    test_threads = sorted(set(test_threads))
    if test_threads:
        unknown = sorted(set(test_threads) - set(y.groups.tolist()))
        if unknown or len(test_threads) == len(set(y.groups.tolist())):
            raise PipelineError(Code.E206, f"--test-thread {', '.join(unknown or test_threads)}: "
                                f"{'not a labelled thread' if unknown else 'nothing left to train on'}.",
                                file=str(gold_path), fix="Name one or more of the labelled threads, not all of them.")
        tested = set(units.loc[units["thread_id"].isin(test_threads), "unit_id"])
        all_labels = all_labels[all_labels["unit_id"].isin(tested)]
        learning_curve = False
    gold = all_labels[all_labels["annotator"] == gold_annotator]
    thread_of = dict(zip(units["unit_id"], units["thread_id"]))
    baselines, preds_by_recipe = {}, {}
    for recipe in dict.fromkeys([*recipes, main_recipe]):  # the main recipe beside the baselines
        preds = cross_validate(codebook, units, feats, parents, y, recipe, test_groups=test_threads or None)
        preds_by_recipe[recipe] = preds
        joined, _ = align(gold, preds)
        baselines[recipe] = score(joined, codebook, groups=joined["unit_id"].map(thread_of).to_numpy())["summary"]
    preds = preds_by_recipe[main_recipe]
    joined, report = align(gold, preds)
    main = score(joined, codebook, groups=joined["unit_id"].map(thread_of).to_numpy())
    extra = {f"model:{main_recipe} (held-out)": preds.assign(annotator=f"model:{main_recipe}")}
    title, description = (f"leave-one-thread-out cross-validation of '{main_recipe}'",
                          f"Each of the {len(set(y.groups))} threads is predicted by a model trained on the others "
                          f"({len(units)} units labelled by '{gold_annotator}').")
    if test_threads:
        title = f"'{main_recipe}' on held-out threads {', '.join(test_threads)}"
        description = (f"Threads {', '.join(test_threads)} ({len(preds)} units) are predicted by a model trained "
                       f"on the other threads only ({len(units) - len(preds)} units labelled by '{gold_annotator}').")
    result = {
        "title": title,
        "description": description + " Intervals: 1000 bootstrap resamples of units and, separately, of threads.",
        "test_threads": test_threads,
        "theme_names": codebook.theme_names, "main": main, "baselines": baselines, "alignment": report,
        "labels_anchor": units.attrs.get("labels_anchor"), "label_problems": units.attrs.get("label_problems", []),
        "agreement": _coder_agreements(all_labels, codebook, extra),
        "errors": error_analysis(joined, preds, units, codebook),
        "calibration": calibration(gold, preds, codebook),
        "learning_curve": lc(codebook, units, feats, parents, y, gold, main_recipe, full_preds=preds)
        if learning_curve else [],
        "command": command,
    }
    write_report(result, out)
    return {"out": str(out), **result}
