"""Comments: filter the units, page through them in a table, read one in full."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pipeline import explore as ex

from ..loaders import get_filtered_ids
from ..state import Ctx, md
from ..widgets import filters_ui, labels_caption, unit_detail_ui

def table_frame(ctx: Ctx, page: pd.DataFrame) -> pd.DataFrame:
    snippet = page["text"].fillna("").str.slice(0, 220).str.replace(r"\s+", " ", regex=True)
    if ctx.pseudo:
        snippet = ctx.pseudo.series(snippet)
    # The text second, so it is on screen without scrolling sideways; ids and metadata after it.
    return pd.DataFrame({
        "unit": page["unit_id"].to_numpy(), "text": snippet.to_numpy(), "themes": page["themes_str"].to_numpy(),
        "TR stance": page["stance_tr"].to_numpy(), "reply stance": page["reply_stance"].to_numpy(),
        "max theme p": page["p_theme_max"].to_numpy(), "author": [ctx.name(a) for a in page["author"]],
        "date": page["date"].dt.strftime("%Y-%m-%d").to_numpy(), "thread": page["thread_id"].to_numpy(),
        "kind": page["kind"].to_numpy()})


def _on_table_select() -> None:
    state = st.session_state.get("units_table")
    ids = st.session_state.get("_page_ids") or []
    try:
        rows = state.selection.rows if state is not None else []
    except AttributeError:
        rows = (state or {}).get("selection", {}).get("rows", [])
    if rows and rows[0] < len(ids):
        st.session_state["open_unit"] = ids[rows[0]]
        if "unit" in st.query_params:
            del st.query_params["unit"]


def render(ctx: Ctx) -> None:
    st.header("Comments")
    st.caption(md(labels_caption(ctx)))
    browse(ctx)


@st.fragment
def browse(ctx: Ctx) -> None:
    """Filters, table and the open unit.  A fragment: changing a filter reruns (and redraws) only
    this part, not the sidebar and the run loading above it."""
    f = filters_ui(ctx)
    idx = get_filtered_ids(ctx.key, ctx.df, f)  # positions only: the page's rows are taken at the end
    st.markdown(f"**{len(idx):,}** of {len(ctx.df):,} units match: {ex.md_escape(f.describe(ctx.name))}")
    c1, c2, c3 = st.columns([2, 1, 3])
    sorts = list(ex.SORTS) + (["highest probability of the chosen theme"] if f.themes else [])
    if st.session_state.get("c_sort") not in sorts:
        st.session_state["c_sort"] = "reading order"
    how = c1.selectbox("Sort by", sorts, key="c_sort")
    size = c2.selectbox("Rows per page", [25, 50, 100, 200], key="c_page_size")
    n_pages = max(1, -(-len(idx) // size))
    if len(idx) > size:
        with c3:
            page_no = st.pagination(n_pages, key=f"c_page_{hash((f, how, size)) & 0xFFFF}")
    else:
        page_no = 1
    ordered = idx if how == "reading order" else ex.sorted_positions(ctx.df, idx, how,
                                                                      f"p_{f.themes[0]}" if f.themes else None)
    page_no = min(max(1, int(page_no or 1)), n_pages)
    page = ctx.df.iloc[ordered[(page_no - 1) * size: page_no * size]]
    page_ids = page["unit_id"].tolist()
    st.session_state["_page_ids"] = page_ids
    st.dataframe(table_frame(ctx, page), hide_index=True, width="stretch", key="units_table",
                 on_select=_on_table_select, selection_mode="single-row", height=min(38 + 35 * max(len(page), 1), 420),
                 column_config={"max theme p": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0,
                                                                               format="%.2f"),
                                "unit": st.column_config.TextColumn(pinned=True),
                                "themes": st.column_config.TextColumn(width="medium"),
                                "text": st.column_config.TextColumn(width="large")})
    st.caption(f"Page {page_no} of {n_pages}. Select a row (or pick below) to read the unit in full.")
    linked = st.query_params.get("unit")
    if linked and ctx.row(linked) is not None:
        c1, c2 = st.columns([4, 1])
        c1.info(f"Showing unit {md(linked)} from a link.")
        if c2.button("Close", key="close_linked"):
            del st.query_params["unit"]
            st.rerun()
        unit_detail_ui(ctx, linked, key="linked")
        return
    if not page_ids:
        return
    if st.session_state.get("open_unit") not in page_ids:
        st.session_state["open_unit"] = page_ids[0]
    uid = st.selectbox("Open unit", page_ids, key="open_unit")
    unit_detail_ui(ctx, uid, key="comments")

