"""Thread: one thread as a tree of posts, comments and replies with their codes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pipeline import explore as ex

from ..state import Ctx, _s
from ..widgets import show_html

def render(ctx: Ctx) -> None:
    st.header("Thread")
    threads = ctx.threads.copy()
    if not len(threads):
        st.info("This run has no threads.")
        return
    titles = threads.set_index("thread_id")["title"].to_dict() if "title" in threads else {}
    dates = threads.set_index("thread_id")["post_date"].to_dict() if "post_date" in threads else {}
    ids = threads["thread_id"].tolist()
    if st.session_state.get("thread_pick") not in ids:
        st.session_state["thread_pick"] = ids[0]
    tid = st.selectbox("Thread", ids, key="thread_pick",
                       format_func=lambda t: f"{t} · {(_s(titles.get(t)) or 'untitled')[:70]} · "
                                             f"{_s(dates.get(t)) or 'no date'}")
    meta = threads[threads["thread_id"] == tid].iloc[0]
    units = ex.thread_units(ctx.model_df, tid)
    c = st.columns(5)
    c[0].metric("Units", len(units))
    c[1].metric("Comments and replies", int(units["kind"].isin(["comment", "reply"]).sum()))
    declared = meta.get("declared_comments")
    c[2].metric("Declared comments", "n/a" if pd.isna(declared) else int(declared))
    c[3].metric("Low-confidence units", int((units["confidence"] == "low").sum()))
    c[4].metric("Units with a theme", int((units["n_themes"] > 0).sum()))
    st.text(f"Title: {_s(meta.get('title')) or 'untitled'}\n"
            f"Date: {_s(meta.get('post_date')) or 'unknown'}    Layout: {_s(meta.get('layout')) or '?'}\n"
            f"Source: {_s(meta.get('source_file')) or '?'}"
            + (f"\nURL: {meta.get('url')}" if _s(meta.get("url")) else ""))
    only = st.checkbox("Only units with a theme or a TR stance (and their parents)", key="thread_only_coded")
    if only:
        keep = (units["n_themes"] > 0) | units["stance_tr"].isin([v for v in ctx.codebook.values("stance_tr")
                                                                   if v != ctx.codebook.stances["stance_tr"].default])
        parents = set(units.loc[keep, "parent_id"].dropna())
        units = units[keep | units["unit_id"].isin(parents)]
    limit = 300
    if len(units) > limit:
        st.caption(f"Showing the first {limit} of {len(units)} units.")
        units = units.iloc[:limit]
    show_html(ex.thread_tree_html(units, ctx.codebook, pseudonymiser=ctx.pseudo))

