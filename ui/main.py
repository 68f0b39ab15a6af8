"""The explorer's one run of the script: sidebar, context, then the chosen page's ``render(ctx)``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pipeline import explore as ex
from pipeline.errors import PipelineError
from pipeline.paths import BUNDLED_MODEL, default_codebook, default_corpus, default_model, default_run

from . import pages
from .build import build_run_ui, upload_run
from .loaders import get_anchored_labels, get_codebook, get_pseudonymiser, get_run
from .sidebar import set_run, sidebar_ui
from .state import Ctx, _mtime, keep_widget_state, md


def _open_run(run) -> None:
    """Stop with a message unless ``run`` is a run directory (the default run is built on first start)."""
    if (run / "units.parquet").exists():
        return
    if run.resolve() == default_run().resolve():
        if not build_run_ui(run, [default_corpus()], default_model(),
                            f"First start: parsing and coding the bundled corpus into {run}..."):
            st.stop()
        return
    st.error(f"{md(run)} is not a run directory (units.parquet is missing). Build one with "
             "`python -m pipeline run <thread files> --out <run>` or pick another run.")
    st.stop()


def _offer_recode(run, model_df) -> None:
    if not (len(model_df) and "model" in model_df and model_df["model"].iloc[0] == "rules"
            and (BUNDLED_MODEL / "model.json").exists()):
        return
    st.sidebar.info("This run was coded with the codebook rules; a trained model is now in models/default.")
    if st.sidebar.button("Re-code with the trained model", key="recode_bundled"):
        from pipeline.runs import classify_run

        with st.spinner("Re-coding..."):
            classify_run(run, BUNDLED_MODEL)
        st.cache_resource.clear()
        st.cache_data.clear()
        st.rerun()


def _anchor_notice(labels_path: Path, anchor: dict | None) -> None:
    """Say when labels followed their text to new ids, or were left out because their text changed."""
    if not anchor:
        return
    counts = anchor["counts"]
    lost = sorted(set(anchor["changed"]) | set(anchor["orphaned"]))
    if lost:
        st.sidebar.warning(f"{counts['changed'] + counts['orphaned']} labels in {md(labels_path.name)} were made on "
                           f"text this run no longer holds and are not shown: {md(', '.join(lost[:8]))}"
                           f"{' ...' if len(lost) > 8 else ''}. `python -m pipeline labels check` lists them.")
    if counts["moved"]:
        st.sidebar.info(f"{counts['moved']} labels followed their text to new unit ids.")


def main() -> None:
    st.set_page_config(page_title="Probation TR explorer", layout="wide")
    keep_widget_state()
    titles = pages.available()
    choices = sidebar_ui(titles)
    codebook_path = default_codebook()
    codebook_mtime = _mtime(codebook_path)
    try:
        codebook = get_codebook(str(codebook_path), codebook_mtime)
    except PipelineError as exc:
        st.error(md(exc))
        st.stop()
    if choices["upload"] and choices["files"]:
        run = upload_run(choices["files"], default_run().parent, default_model())
        if run is not None:
            set_run(str(run))
            st.rerun()
    run = choices["run"]
    _open_run(run)
    sig = ex.run_signature(run)
    data = get_run(sig, str(run), str(codebook_path), codebook_mtime)
    model_df = data["units"]
    labels_path = choices["labels_path"]
    labels_all, anchor = get_anchored_labels(sig, str(labels_path), _mtime(labels_path), str(codebook_path),
                                             codebook_mtime, model_df)
    _anchor_notice(labels_path, anchor)
    gold = None
    if labels_all is not None and len(labels_all):
        g = labels_all[labels_all["annotator"] == "gold"]
        # The run's index looks the few gold ids up in its (cached) hash table: g.isin(index) would
        # walk all 100,000 run ids in Python on every rerun (0.5 s).
        index = data["index"]
        known = index.get_indexer(g["unit_id"]) >= 0 if index.is_unique else g["unit_id"].isin(index).to_numpy()
        gold = g[known] if len(g) else None
    source = choices["source"]
    if source == "gold" and (gold is None or not len(gold)):
        st.sidebar.warning("No gold labels for this run's units: showing model predictions.")
        source = "model"
    if not data["has_labels"]:
        st.warning("This run has no labels.parquet yet: units are shown without codes. Code it with "
                   "`python -m pipeline classify <run>`.")
    df = ex.gold_view(model_df, gold, codebook) if source == "gold" else model_df
    pseudo = get_pseudonymiser(sig, str(run)) if choices["pseudonymise"] else None
    ctx = Ctx(run_dir=run, sig=sig, codebook=codebook, codebook_path=codebook_path, model_df=model_df, df=df,
              index=data["index"], threads=data["threads"], report=data["report"], has_labels=data["has_labels"],
              labels_all=labels_all, gold=gold, source=source, pseudo=pseudo, annotator=choices["annotator"],
              annotations_path=choices["annotations_path"], labels_path=labels_path)
    if data["has_labels"]:
        _offer_recode(run, model_df)
    st.sidebar.caption(f"Run: {md(run)} · {len(model_df):,} units · "
                       + (f"{len(gold):,} gold-labelled" if gold is not None else "no gold labels"))
    page = choices["page"] if choices["page"] in titles else titles[0]
    try:
        module = pages.load(page)
    except Exception as exc:  # noqa: BLE001 - one broken page must not take the others down
        st.error(f"The {page} page could not be loaded: {md(type(exc).__name__)}: {md(exc)}")
        return
    module.render(ctx)
