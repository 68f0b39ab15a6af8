"""Retrain and re-evaluate from the Annotate page, through the library (never the command line)."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from pipeline.errors import PipelineError
from pipeline.paths import default_corpus

from .state import Ctx, md

def retrain_ui(ctx: Ctx) -> None:
    with st.expander("Retrain and re-evaluate the model"):
        st.caption("Trains the combined coder on the chosen labels (as `python -m pipeline train`), evaluates the "
                   "recipe by leave-one-thread-out cross-validation (as `python -m pipeline evaluate --model ... "
                   "--cv thread`) "
                   "and can re-code this run with the new model.")
        src = st.radio("Train on", ["annotations", "gold"], key="rt_src", horizontal=True,
                       format_func=lambda s: md(
                           {"annotations": f"{ctx.annotator}'s labels in {ctx.annotations_path.name}",
                            "gold": f"annotator 'gold' in {ctx.labels_path.name}"}[s]))
        labels = ctx.annotations_path if src == "annotations" else ctx.labels_path
        annotator = ctx.annotator if src == "annotations" else "gold"
        safe = re.sub(r"\W+", "_", annotator)
        out = st.text_input("Model directory to write", key=f"rt_out_{src}_{safe}",
                            value=str(ctx.run_dir.parent / "models" / f"app_{safe}"))
        corpus = st.text_input("Thread files the labels refer to", key="rt_corpus", value=str(default_corpus()))
        recode = st.checkbox("Re-code this run with the new model", key="rt_recode", value=True)
        baselines = st.checkbox("Also cross-validate the baseline recipes (majority, rules, supervised)",
                                key="rt_baselines", value=False, help="Slower: several minutes on ~200 units.")
        if st.button("Retrain and re-evaluate", key="rt_go", type="primary"):
            if not labels.exists():
                st.error(f"{md(labels)} does not exist yet: label some units first.")
                return
            if not retrain(ctx, labels, annotator, Path(out), Path(corpus), baselines=baselines):
                return
            if recode:
                from pipeline.runs import classify_run

                with st.spinner("Re-coding this run..."):
                    try:
                        classify_run(ctx.run_dir, out)
                    except PipelineError as exc:
                        st.error(md(exc))
                        return
                st.cache_resource.clear()
                st.cache_data.clear()
            st.success(f"Model written to {md(out)}" + (" and this run re-coded with it" if recode else "")
                       + f". The Evaluation page shows {md(Path(out) / 'evaluation')}.")


def _library():
    """train_model and evaluate_model_cv, wherever the library keeps them (training is moving from
    pipeline.runs to pipeline.train; evaluation to the pipeline.evaluate package)."""
    try:
        from pipeline.train import train_model
    except ImportError:
        from pipeline.runs import train_model
    try:
        from pipeline.evaluate import evaluate_model_cv
    except ImportError:
        from pipeline.runs import evaluate_model_cv
    return train_model, evaluate_model_cv


def retrain(ctx: Ctx, labels: Path, annotator: str, out: Path, corpus: Path, *, baselines: bool = False) -> bool:
    """Train on ``labels`` and evaluate the recipe by leave-one-thread-out cross-validation.

    The library functions run in this process (as `python -m pipeline train` and `evaluate --model
    ... --cv thread` do), so errors arrive as coded PipelineErrors, not as a child's exit code.
    """
    train_model, evaluate_model_cv = _library()
    with st.status(md(f"Training on {annotator}'s labels in {labels.name}..."), expanded=True) as status:
        try:
            info = train_model(labels, out, corpus=corpus, annotator=annotator)
        except PipelineError as exc:
            st.code(str(exc), language=None)
            status.update(label="Training failed", state="error")
            return False
        st.code(f"Trained on {info['n_units']} units from {info['n_threads']} threads -> {out}\n"
                "Theme thresholds: " + ", ".join(f"{k} {v:.2f}" for k, v in info["thresholds"].items()), language=None)
        status.update(label="Training done", state="complete")
    with st.status("Evaluating the recipe (leave one thread out)...", expanded=True) as status:
        try:
            recipes = ("majority", "rules", "supervised", "combined") if baselines else ("combined",)
            result = evaluate_model_cv(labels, out / "evaluation", corpus=corpus, gold_annotator=annotator,
                                       recipes=recipes, main_recipe="combined", learning_curve=False,
                                       command="app: retrain and re-evaluate")
        except PipelineError as exc:
            st.code(str(exc), language=None)
            status.update(label="Evaluation failed", state="error")
            return False
        summary = (result.get("main") or {}).get("summary") or {}
        themes = summary.get("themes") or {}
        st.code(f"Theme macro F1 {themes.get('macro_f1')}, micro F1 {themes.get('micro_f1')}; "
                f"stance_tr macro F1 {(summary.get('stance_tr') or {}).get('macro_f1')}; reply_stance macro F1 "
                f"{(summary.get('reply_stance') or {}).get('macro_f1')} -> {out / 'evaluation'}", language=None)
        status.update(label="Evaluation done", state="complete")
    return True

