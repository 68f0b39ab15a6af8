"""Words: keyword in context, and the terms most distinctive of a code (log-odds ratio)."""

from __future__ import annotations

import streamlit as st

from pipeline import explore as ex
from pipeline.schema import SCHEMES

from ..charts import _scale, bar_labels, vl_chart
from ..loaders import get_filtered_ids, get_term_counts, word_texts
from ..state import Ctx, current_filters
from ..widgets import unit_detail_ui

def render(ctx: Ctx) -> None:
    st.header("Words")
    tools(ctx)


@st.fragment
def tools(ctx: Ctx) -> None:
    """A fragment: typing a word reruns and redraws only this part of the page."""
    # A radio rather than st.tabs: tabs run both panes on every rerun, and the term counts of a
    # big run take seconds the first time.
    tool = st.radio("Tool", ["Keyword in context", "Distinctive terms"], key="words_tool", horizontal=True,
                    label_visibility="collapsed")
    if tool == "Keyword in context":
        c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
        query = c1.text_input("Word or phrase", key="kwic_q", placeholder="e.g. caseload")
        mode = c2.radio("Match", ["word", "lemma"], key="kwic_mode", horizontal=True,
                        help="lemma: every form of the word (caseload, caseloads).")
        window = c3.slider("Context (characters)", 20, 200, 70, 10, key="kwic_window")
        scope = c4.radio("Units", ["all", "filtered"], key="kwic_scope", horizontal=True,
                         help="filtered: the units matching the Comments page filters.")
        if query.strip():
            texts = word_texts(ctx, "text")  # pseudonymised when the option is on
            if ctx.source == "gold" or scope == "filtered":
                ids = ctx.df["unit_id"] if scope == "all" else \
                    ctx.df["unit_id"].iloc[get_filtered_ids(ctx.key, ctx.df, current_filters(ctx))]
                texts = texts.iloc[ctx.index.get_indexer(ids)]
            lines = ex.kwic(texts, query, lemma=mode == "lemma", window=window, max_lines=1000)
            st.caption(f"{len(lines)} occurrences" + (" (first 1000)" if len(lines) >= 1000 else "")
                       + f" in {lines['unit_id'].nunique() if len(lines) else 0} units.")
            # Left context right-aligned, so every keyword lines up in one column (a concordance).
            st.dataframe(lines[["left", "keyword", "right", "unit_id"]], hide_index=True, width="stretch",
                         column_config={"left": st.column_config.TextColumn(width="large", alignment="right"),
                                        "keyword": st.column_config.TextColumn(width="small", alignment="center"),
                                        "right": st.column_config.TextColumn(width="large", alignment="left")})
            ids = list(dict.fromkeys(lines["unit_id"].tolist()))
            if ids:
                uid = st.selectbox("Read a unit in full", ids, key="kwic_unit")
                unit_detail_ui(ctx, uid, key="words")
        else:
            st.caption("Type a word to see every occurrence with its context.")
    else:
        cb = ctx.codebook
        targets = [("theme", c) for c in cb.theme_names] + [(s, v) for s in SCHEMES for v in cb.values(s)]
        c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
        target = c1.selectbox("Units with", targets, key="lo_target",
                              format_func=lambda t: (f"theme: {cb.themes[t[1]].label}" if t[0] == "theme"
                                                     else f"{t[0]} = {t[1]}"))
        alpha0 = c2.select_slider("Prior strength (alpha0)", [10, 50, 100, 500, 1000, 5000, 10000], value=500,
                                  key="lo_alpha", help="Total weight of the informative Dirichlet prior (the corpus "
                                                       "word frequencies). Larger: more shrinkage of rare words.")
        lemmas = c3.checkbox("Lemmas", key="lo_lemmas", value=False)
        drop_stop = c3.checkbox("Drop stop words", key="lo_stop", value=True)
        top = c4.slider("Terms per side", 5, 50, 20, key="lo_top")
        df = ctx.df
        if not len(df):
            st.info("No units for this label source.")
            return
        X, vocab = get_term_counts(ctx.sig, str(ctx.run_dir), lemmas, drop_stop, ctx.pseudo is not None,
                                   word_texts(ctx, "own_text"))  # rows in the order of ctx.model_df
        if ctx.source == "gold":  # the counts are for all units: keep the rows of the gold units
            X = X[ctx.index.get_indexer(df["unit_id"])]
        mask = df[ex.theme_col(target[1])].to_numpy(dtype=bool) if target[0] == "theme" else \
            (df[target[0]] == target[1]).to_numpy(dtype=bool)
        terms = ex.distinctive_terms(X, vocab, mask, alpha0=float(alpha0), top=top)
        st.caption(f"{int(mask.sum()):,} units with the code vs {int((~mask).sum()):,} without. Log-odds ratio with "
                   "an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008); z > 1.96 is conventionally "
                   "distinctive.")
        if not len(terms):
            st.info("Nothing to compare: every unit or none has this code.")
            return
        vl_chart(terms, {"mark": "bar", "height": max(200, 16 * len(terms)), "encoding": {
            "x": {"field": "z", "type": "quantitative", "title": "z-score (log-odds ratio)"},
            "y": {**bar_labels("term"), "sort": "-x"},
            "color": {"field": "side", "type": "nominal", "scale": _scale(["group", "rest"], ["#1f77b4", "#aaaaaa"])},
            "tooltip": [{"field": "term", "type": "nominal"}, {"field": "group_count", "type": "quantitative"},
                        {"field": "rest_count", "type": "quantitative"},
                        {"field": "delta", "type": "quantitative", "format": ".2f"},
                        {"field": "z", "type": "quantitative", "format": ".2f"}]}})
        st.dataframe(terms, hide_index=True, width="stretch")

