"""Overview: counts, theme prevalence, stance by theme, co-occurrence and honest time charts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pipeline import explore as ex
from pipeline.schema import SCHEMES

from ..charts import bar_labels, heatmap_spec, time_chart, vl_chart, _scale
from ..loaders import overview_tables
from ..state import SCHEME_TITLES, Ctx, md
from ..widgets import labels_caption

def render(ctx: Ctx) -> None:
    st.header("Overview")
    st.caption(md(labels_caption(ctx)))
    df = ctx.df
    if ctx.source == "gold" and not len(df):
        st.info("No gold labels for units of this run: switch 'Labels shown' back to model predictions.")
        return
    counts = ex.summary_counts(df, ctx.threads)
    cols = st.columns(6)
    for col, (label, key) in zip(cols, [("Threads", "threads"), ("Units", "units"), ("Posts and blocks", "posts"),
                                        ("Comments", "comments"), ("Replies", "replies"), ("With a theme", "coded")]):
        col.metric(label, f"{counts[key]:,}")
    if counts["low_confidence"]:
        st.caption(f"{counts['low_confidence']} units have low-confidence structure (flat layout boundaries).")
    validated_prevalence(ctx)
    charts(ctx)
    warnings = (ctx.report or {}).get("warnings") or []
    skipped = (ctx.report or {}).get("skipped") or []
    if warnings or skipped:
        with st.expander(f"Parse warnings ({len(warnings)}) and skipped files ({len(skipped)})"):
            st.dataframe(pd.DataFrame(warnings + skipped), hide_index=True, width="stretch")


def validated_prevalence(ctx: Ctx) -> None:
    """The run's latest validation: each theme's share corrected for the model's errors, with its interval."""
    from pipeline.validate import corrected_prevalence, latest_validation

    validation = latest_validation(ctx.run_dir)
    if not validation:
        return
    table = corrected_prevalence(validation, ctx.codebook)
    if not len(table):
        return
    st.subheader("Theme prevalence, validated")
    st.caption(f"Corrected for the model's errors on a blind sample of {validation.get('n')} hand-coded units "
               f"(stratified estimator, 95% intervals; validation {md(validation['path'])}). The charts below show "
               "the model's raw codes" + (" of the filtered units." if ctx.source == "model" else "."))
    st.dataframe(table.drop(columns=["code"]), hide_index=True, column_config={
        c: st.column_config.NumberColumn(c, format="percent") for c in table.columns if c not in ("code", "label")})


@st.fragment
def charts(ctx: Ctx) -> None:
    """The charts and their options: a fragment, so changing an option redraws only the charts."""
    df = ctx.df
    c1, c2, c3 = st.columns(3)
    scheme = c1.selectbox("Stance scheme", SCHEMES, key="ov_scheme", format_func=SCHEME_TITLES.get)
    measure = c2.selectbox("Co-occurrence measure", ["count", "jaccard", "conditional"], key="ov_measure",
                           help="count: units with both themes; jaccard: both / either; conditional: row given column.")
    freq = c3.selectbox("Time unit", list(ex.FREQ_NAMES), key="ov_freq", format_func=ex.FREQ_NAMES.get,
                        help="Comments are placed by their own timestamp where the page shows one, "
                             "otherwise by their thread's date.")
    tabs = overview_tables(ctx.key, df, ctx.codebook, scheme, measure, freq)
    labels = {c: ctx.codebook.themes[c].label for c in ctx.codebook.theme_names}

    theme_domain = [labels[c] for c in ctx.codebook.theme_names]
    theme_colours = [ex.theme_colour(ctx.codebook, c) for c in ctx.codebook.theme_names]
    left, right = st.columns(2)
    with left:
        st.subheader("Theme prevalence")
        prev = tabs["prevalence"]
        vl_chart(prev, {"mark": "bar", "encoding": {
            "x": {"field": "share", "type": "quantitative", "axis": {"format": "%"}, "title": "share of units"},
            "y": bar_labels("label"),
            "color": {"field": "label", "type": "nominal", "legend": None,
                      "scale": _scale(theme_domain + ["No theme"], theme_colours + ["#bbbbbb"])},
            "tooltip": [{"field": "label", "type": "nominal"}, {"field": "units", "type": "quantitative"},
                        {"field": "share", "type": "quantitative", "format": ".1%"}]}})
    with right:
        st.subheader(SCHEME_TITLES[scheme] + " by theme")
        stance = tabs["stance"].assign(label=lambda d: d["theme"].map(lambda t: labels.get(t, t)))
        values = ctx.codebook.values(scheme)
        vl_chart(stance, {"mark": "bar", "encoding": {
            "x": {"field": "share", "type": "quantitative", "stack": "normalize", "axis": {"format": "%"},
                  "title": "share of the theme's units"},
            "y": bar_labels("label"),
            "color": {"field": "value", "type": "nominal", "title": scheme,
                      "scale": _scale(values, [ex.stance_colour(v) for v in values])},
            "order": {"field": "value", "type": "nominal"},
            "tooltip": [{"field": "label", "type": "nominal"}, {"field": "value", "type": "nominal"},
                        {"field": "units", "type": "quantitative"}, {"field": "total", "type": "quantitative"},
                        {"field": "share", "type": "quantitative", "format": ".1%"}]}})

    left, right = st.columns([2, 3])
    with left:
        st.subheader("Theme co-occurrence")
        long = ex.cooccurrence_long(tabs["cooc"])
        long["row"] = long["row"].map(labels)
        long["column"] = long["column"].map(labels)
        vl_chart(long, heatmap_spec("column", "row", "value", theme_domain, "d" if measure == "count" else ".2f",
                                    dark_above=float(long["value"].max()) * 0.6))
    with right:
        st.subheader("Themes over time")
        ts = tabs["ts_themes"]
        if not len(ts):
            st.info("No dated threads in this selection.")
        else:
            ts = ts.assign(theme=ts["series"].map(lambda t: labels.get(t, t)))
            vl_chart(*time_chart(ts, "theme", "theme", theme_domain, theme_colours))
    st.subheader("Stance toward TR over time")
    ts = tabs["ts_stance"]
    if len(ts):
        values = ctx.codebook.values("stance_tr")
        vl_chart(*time_chart(ts.rename(columns={"series": "stance_tr"}), "stance_tr", "stance_tr", values,
                             [ex.stance_colour(v) for v in values]))
    st.caption(md(ex.date_caption(df)) + " Dashed lines: "
               + "; ".join(f"{d[:7]} {md(e)}" for d, e in ex.MILESTONES) + ".")
