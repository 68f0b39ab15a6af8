"""Export: the units (filtered or all) as CSV, Parquet, JSONL or REFI-QDA, and the charts as PNG.

The same library function as ``python -m pipeline export`` (:func:`pipeline.explore.export_bytes`)."""

from __future__ import annotations

import re

import streamlit as st

from pipeline import explore as ex

from ..loaders import chart_png, export_bytes, get_filtered_ids
from ..state import Ctx, current_filters, md
from ..widgets import labels_caption

def render(ctx: Ctx) -> None:
    st.header("Export")
    f = current_filters(ctx)
    n_filtered = len(get_filtered_ids(ctx.key, ctx.df, f))
    scope = st.radio("Units", ["filtered", "all"], key="exp_scope", horizontal=True,
                     format_func=lambda s: {"filtered": f"matching the Comments filters ({n_filtered:,})",
                                            "all": f"all units ({len(ctx.df):,})"}[s])
    filters = f if scope == "filtered" else None
    st.caption(f"Filters: {md(f.describe(ctx.name))}. Labels: {md(labels_caption(ctx))} "
               + ("Commenter names are pseudonymised." if ctx.pseudo else "Names are not pseudonymised "
                  "(switch it on in the sidebar before sharing exports)."))
    pseudo_on = ctx.pseudo is not None
    stem = re.sub(r"\W+", "_", f"{ctx.run_dir.name}_{scope}_{ctx.source}") + ("_pseudonymised" if pseudo_on else "")
    key = ctx.key
    st.subheader("Units with labels")
    c = st.columns(3)
    for col, (fmt, mime) in zip(c, [("csv", "text/csv"), ("parquet", "application/octet-stream"),
                                    ("jsonl", "application/x-ndjson")]):
        col.download_button(f"{fmt.upper()}", data=lambda fmt=fmt: export_bytes(key, fmt, filters, pseudo_on, ctx),
                            file_name=f"{stem}.{fmt}", mime=mime, key=f"dl_{fmt}", on_click="ignore")
    st.caption("The same files for all units from the command line:")
    st.code(f"python -m pipeline export {ctx.run_dir} --format csv --labels {ctx.source}"
            + (" --pseudonymise" if pseudo_on else "") + f" --out {stem}.csv", language="bash")
    st.subheader("Charts (PNG)")
    st.caption("Each chart's title says which units it shows (the filters above and the label source).")
    c = st.columns(5)
    short = {"prevalence": "Theme prevalence", "stance": "Stance by theme", "cooccurrence": "Co-occurrence",
             "themes_time": "Themes over time", "stance_time": "Stance over time"}  # button labels that fit
    for col, name in zip(c, ex.CHARTS):
        label = short.get(name, name)
        col.download_button(label, help=ex.CHARTS[name],
                            data=lambda name=name: chart_png(key, name, filters, pseudo_on, ctx),
                            file_name=f"{stem}_{name}.png", mime="image/png", key=f"dl_png_{name}", on_click="ignore")
    st.subheader("REFI-QDA project")
    st.caption("A .qdpx file for ATLAS.ti, MAXQDA, NVivo, QualCoder and other REFI-QDA tools: one text source per "
               "thread, one coded selection per unit (themes and stance values as codes).")
    st.download_button("REFI-QDA project (.qdpx)", data=lambda: export_bytes(key, "qdpx", filters, pseudo_on, ctx),
                       file_name=f"{stem}.qdpx", mime="application/zip", key="dl_qdpx", on_click="ignore")

