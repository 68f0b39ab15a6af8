"""Annotate: label units one by one (random order by default) into the append-only annotations file."""

from __future__ import annotations

import zlib

import pandas as pd
import streamlit as st

from pipeline import explore as ex
from pipeline.store import AnnotationStore

from ..loaders import model_thresholds
from ..retrain import retrain_ui
from ..state import Ctx, md
from ..widgets import show_html, unit_header_html, unit_text_html

def _annotation_defaults(ctx: Ctx, row: pd.Series, existing: dict | None, prefill: bool) -> dict:
    cb = ctx.codebook
    if existing:
        themes = [t for t in (existing.get("themes") or []) if t in cb.theme_names]
        return {"themes": themes, "stance_tr": existing.get("stance_tr"), "reply_stance": existing.get("reply_stance"),
                "note": existing.get("note") or ""}
    if prefill:
        return {"themes": [c for c in cb.theme_names if bool(row.get(ex.theme_col(c)))],
                "stance_tr": row.get("stance_tr"), "reply_stance": row.get("reply_stance"), "note": ""}
    return {"themes": [], "stance_tr": cb.stances["stance_tr"].default,
            "reply_stance": cb.stances["reply_stance"].default, "note": ""}


def render(ctx: Ctx) -> None:
    st.header("Annotate")
    cb = ctx.codebook
    store = AnnotationStore(ctx.annotations_path)
    mine = store.latest(ctx.annotator)
    done = set(mine["unit_id"]) if len(mine) else set()
    st.caption(f"Annotator **{ex.md_escape(ctx.annotator)}** · labels saved to `{ctx.annotations_path}` "
               f"as soon as you press Save · {len(done)} units labelled so far.")
    c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
    order = c1.radio("Queue", list(ex.QUEUE_ORDERS), key="ann_order", horizontal=True,
                     format_func={"random": "random", "uncertain": "most uncertain first", "thread": "by thread"}.get,
                     help="Random by default: on the seed threads, picking the most uncertain units never beat a "
                          "random pick (README, 'Active learning, measured').")
    thread = None
    if order == "thread":
        ids = ctx.threads["thread_id"].tolist()
        thread = c2.selectbox("Thread", ids, key="ann_thread")
    include_done = c3.checkbox("Include units I labelled", key="ann_include_done")
    prefill = c4.checkbox("Start from the model's codes", key="ann_prefill",
                          help="Off by default to avoid anchoring on the model.")
    queue = ex.annotation_queue(ctx.model_df, cb, done=done, order=order, thread=thread, include_done=include_done,
                                thresholds=model_thresholds(str(ctx.run_dir), ctx.sig),
                                seed=zlib.crc32(ctx.annotator.encode()))  # each annotator's own fixed order
    skipped = [u for u in st.session_state.get("ann_skipped", []) if u in set(queue)]
    queue = [u for u in queue if u not in set(skipped)] + skipped
    current = st.session_state.get("ann_current")
    if current is None or ctx.row(current) is None:
        current = queue[0] if queue else None
    total = len(queue) + (0 if include_done else len(done & set(ctx.model_df["unit_id"])))
    st.progress(min(len(done) / max(total, 1), 1.0), text=f"{len(queue)} units left in this queue")
    if current is None:
        st.success("Nothing left to label in this queue.")
        retrain_ui(ctx)
        return
    row = ctx.row(current)
    existing = mine[mine["unit_id"] == current].iloc[-1].to_dict() if current in done else None
    left, right = st.columns([3, 2])
    with left:
        st.subheader(f"Unit {md(current)}")
        show_html(unit_header_html(ctx, row) + unit_text_html(ctx, row, with_evidence=False))
        parent_id = row.get("parent_id")
        parent = ctx.row(parent_id) if isinstance(parent_id, str) else None
        if parent is not None:
            with st.expander(f"Parent ({md(parent_id)}): read it before coding reply_stance", expanded=True):
                show_html(unit_header_html(ctx, parent) + unit_text_html(ctx, parent, with_evidence=False,
                                                                          max_chars=3000))
    with right:
        st.caption("Model suggestion")
        show_html(ex.labels_html(row, cb) or "<i>no theme</i>")
        defaults = _annotation_defaults(ctx, row, existing, prefill)
        if existing:
            st.info("You labelled this unit before; saving again replaces that label.")
        with st.form(key=f"ann_form_{current}"):
            themes = st.multiselect("Themes", cb.theme_names, default=defaults["themes"], key=f"ann_themes_{current}",
                                    format_func=lambda c: cb.themes[c].label)
            values_tr = cb.values("stance_tr")
            s_tr = st.radio("Stance toward TR", values_tr, horizontal=True, key=f"ann_tr_{current}",
                            index=(values_tr.index(defaults["stance_tr"]) if defaults["stance_tr"] in values_tr
                                   else None))
            values_rs = cb.values("reply_stance")
            s_rs = st.radio("Stance toward the parent", values_rs, horizontal=True, key=f"ann_rs_{current}",
                            index=(values_rs.index(defaults["reply_stance"]) if defaults["reply_stance"] in values_rs
                                   else None))
            note = st.text_area("Note", value=defaults["note"], key=f"ann_note_{current}", height=68)
            saved = st.form_submit_button("Save label", type="primary")
        if saved:
            rec = store.add({"unit_id": current, "annotator": ctx.annotator, "themes": themes, "stance_tr": s_tr,
                             "reply_stance": s_rs, "note": note.strip() or None,
                             "fingerprint": row.get("fingerprint")})  # the text this label was made on
            st.session_state["ann_last"] = rec["unit_id"]
            st.session_state.pop("ann_current", None)
            st.toast(f"Saved {md(current)}")
            st.rerun()
        b1, b2 = st.columns(2)
        if b1.button("Skip", key="ann_skip"):
            skipped_before = [u for u in st.session_state.get("ann_skipped", []) if u != current]
            st.session_state["ann_skipped"] = skipped_before + [current]
            st.session_state.pop("ann_current", None)
            st.rerun()
        last = st.session_state.get("ann_last") or (mine["unit_id"].iloc[-1] if len(mine) else None)
        if b2.button("Back to the last saved", key="ann_back", disabled=last is None):
            st.session_state["ann_current"] = last
            st.rerun()
        with st.expander("Codebook definitions"):
            for c in cb.theme_names:
                st.markdown(f"**{ex.md_escape(cb.themes[c].label)}**: {ex.md_escape(cb.themes[c].definition)}")
    retrain_ui(ctx)

