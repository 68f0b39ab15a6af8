"""Pieces several pages draw: the label-source caption, a unit in full, the filters.

HTML goes only through :func:`show_html`, and only HTML built by :mod:`pipeline.explore.markup`
or here from ``html.escape``-d text: comment text is untrusted.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import streamlit as st

from pipeline import explore as ex
from pipeline.schema import SCHEMES
from pipeline.store import AnnotationStore

from .loaders import get_evidence
from .state import Ctx, _s, md, reset_filters


def labels_caption(ctx: Ctx) -> str:
    if ctx.source == "gold":
        return f"Gold labels: {len(ctx.df)} units with annotator 'gold' in {ctx.labels_path.name}."
    model = ctx.model_df["model"].iloc[0] if "model" in ctx.model_df and len(ctx.model_df) else "?"
    version = (ctx.model_df["codebook_version"].iloc[0]
               if "codebook_version" in ctx.model_df and len(ctx.model_df) else "?")
    return f"Model predictions ({model}, codebook v{version}) for all {len(ctx.df):,} units."


def show_html(body: str) -> None:
    """Every call site passes HTML built from escaped text only (see pipeline.explore)."""
    if body:
        st.html(body)


def unit_header_html(ctx: Ctx, row: pd.Series) -> str:
    title = row.get("title") if isinstance(row.get("title"), str) else ""
    stamp = row.get("timestamp") if isinstance(row.get("timestamp"), str) else ""
    parts = [f"<b>{html.escape(str(row['unit_id']))}</b>", html.escape(str(row.get("kind") or "")),
             html.escape(ctx.name(row.get("author")))]
    if stamp:
        parts.append(html.escape(stamp))
    if title:
        parts.append("thread: " + html.escape(title))
    parts.append(f"{int(row.get('word_count') or 0)} words")
    head = " &middot; ".join(parts)
    if row.get("confidence") == "low":
        note = row.get("confidence_note") if isinstance(row.get("confidence_note"), str) else ""
        head += (' &middot; <span style="color:#b9770e">low-confidence structure'
                 + (f": {html.escape(note)}" if note else "") + "</span>")
    return f'<div style="color:#444">{head}</div>'


def unit_text_html(ctx: Ctx, row: pd.Series, *, with_evidence: bool = True, max_chars: int | None = None) -> str:
    spans = []
    if with_evidence and ctx.has_labels:
        spans = ex.evidence_spans(row.get("text") or "", row.get("own_text"),
                                  get_evidence(ctx.sig, str(ctx.run_dir), row["unit_id"]))
    colours = {c: ex.theme_colour(ctx.codebook, c) for c in ctx.codebook.theme_names}
    colours.update({v: ex.stance_colour(v) for s in SCHEMES for v in ctx.codebook.values(s)})
    return ex.highlight_html(row.get("text") or "", spans, colours=colours, pseudonymiser=ctx.pseudo,
                             max_chars=max_chars)


def evidence_list_html(ctx: Ctx, row: pd.Series) -> str:
    ev = ex.parse_evidence(get_evidence(ctx.sig, str(ctx.run_dir), row["unit_id"]))
    items = []
    for code, entries in ev.items():
        for it in entries if isinstance(entries, list) else []:
            if not isinstance(it, dict):
                continue
            cues = ", ".join(ctx.text(str(c)) for c in it.get("cues") or [])
            weight = it.get("model_weight") or 0
            extra = [f"cues: {html.escape(cues)}"] if cues else []
            if weight:
                extra.append(f"model weight {float(weight):.2f}")
            sentence = html.escape(ctx.text(str(it.get("sentence") or "")))
            items.append(f"<li><b>{html.escape(str(code))}</b>: &ldquo;{sentence}"
                         f"&rdquo; <span style='color:#666'>({'; '.join(extra) or 'no cue'})</span></li>")
    return "<ul style='margin:0'>" + "".join(items) + "</ul>" if items else ""


def probabilities_frame(ctx: Ctx, row: pd.Series) -> pd.DataFrame:
    rows = []
    for c in ctx.codebook.theme_names:
        rows.append({"scheme": "theme", "code": c, "p": row.get(f"p_{c}"), "assigned": bool(row.get(ex.theme_col(c)))})
    for s in SCHEMES:
        for v in ctx.codebook.values(s):
            rows.append({"scheme": s, "code": v, "p": row.get(f"p_{v}"), "assigned": row.get(s) == v})
    return pd.DataFrame(rows)


def coder_labels(ctx: Ctx, unit_id: str) -> pd.DataFrame:
    frames = []
    if ctx.labels_all is not None and len(ctx.labels_all):
        frames.append(ctx.labels_all[ctx.labels_all["unit_id"] == unit_id].assign(source=ctx.labels_path.name))
    store = AnnotationStore(ctx.annotations_path)
    if store.path.exists():
        ann = store.latest()
        frames.append(ann[ann["unit_id"] == unit_id].assign(source=store.path.name))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    if not len(out):
        return out
    out["themes"] = out["themes"].map(lambda t: ", ".join(t) if isinstance(t, (list, tuple, np.ndarray)) else "")
    out["note"] = out["note"].map(ctx.text)
    return out[[c for c in ("annotator", "themes", "stance_tr", "reply_stance", "note", "source") if c in out]]


def unit_detail_ui(ctx: Ctx, unit_id: str, *, key: str) -> None:
    """A unit in full: text with evidence, labels and probabilities, parent, replies, coders' labels."""
    row = ctx.row(unit_id)
    if row is None:
        st.warning(f"Unit {md(unit_id)} is not in this run.")
        return
    with st.container(border=True):
        show_html(unit_header_html(ctx, row) + f"<div style='margin:0.3em 0'>{ex.labels_html(row, ctx.codebook)}</div>")
        show_html(unit_text_html(ctx, row))
        ev_html = evidence_list_html(ctx, row)
        left, right = st.columns([3, 2])
        with left:
            if ev_html:
                st.caption("Evidence (highlighted above; hover a highlight for its codes and cues)")
                show_html(ev_html)
            else:
                st.caption("No evidence sentences recorded for this unit's codes.")
            labels = coder_labels(ctx, unit_id)
            if len(labels):
                st.caption("Labels by coders (gold file and annotations)")
                st.dataframe(labels, hide_index=True, width="stretch")
            else:
                st.caption("No gold or coder labels for this unit.")
        with right:
            st.caption("Model probabilities")
            probs = probabilities_frame(ctx, row)
            st.dataframe(probs, hide_index=True, width="stretch", height=38 + 35 * len(probs),
                         column_config={"p": st.column_config.ProgressColumn("p", min_value=0.0, max_value=1.0,
                                                                             format="%.2f")})
        parent_id = row.get("parent_id")
        parent = ctx.row(parent_id) if isinstance(parent_id, str) else None
        if parent is not None:
            with st.expander(f"Parent: {md(parent_id)}", expanded=False):
                show_html(unit_header_html(ctx, parent) + ex.labels_html(parent, ctx.codebook)
                          + unit_text_html(ctx, parent, with_evidence=False, max_chars=4000))
        replies = ctx.model_df[ctx.model_df["parent_id"] == unit_id]
        if len(replies):
            with st.expander(f"Replies ({len(replies)})", expanded=False):
                show_html(ex.thread_tree_html(replies.sort_values("position"), ctx.codebook, pseudonymiser=ctx.pseudo,
                                              max_chars=1500))


def filters_ui(ctx: Ctx) -> ex.Filters:
    cb = ctx.codebook
    df = ctx.df
    with st.expander("Filters", expanded=True):
        st.button("Reset filters", key="f_reset", on_click=reset_filters, help="Back to all units.")
        c1, c2, c3 = st.columns([3, 2, 2])
        themes = c1.multiselect("Themes (gold codes)" if ctx.source == "gold" else "Themes (predicted codes)",
                                cb.theme_names, key="f_themes", format_func=lambda c: cb.themes[c].label)
        mode = c2.radio("Match", ["any", "all"], key="f_theme_mode", horizontal=True,
                        help="Units with any / all of the chosen themes.")
        no_theme = c2.checkbox("Only units without a theme", key="f_no_theme")
        use_prob = c3.checkbox("Match themes by probability", key="f_use_prob",
                               help="Instead of the predicted codes, keep units whose probability for a chosen "
                                    "theme is at least the threshold (lower it to see borderline units).")
        min_prob = c3.slider("Probability threshold", 0.0, 1.0, step=0.05, key="f_min_prob", disabled=not use_prob)
        c1, c2, c3 = st.columns(3)
        codes = "gold" if ctx.source == "gold" else "predicted"
        stance = c1.multiselect(f"Stance toward TR ({codes})", cb.values("stance_tr"), key="f_stance_tr")
        reply = c2.multiselect(f"Stance toward parent ({codes})", cb.values("reply_stance"), key="f_reply_stance")
        kinds = c3.multiselect("Kind", ["post", "contribution", "comment", "reply"], key="f_kinds")
        c1, c2, c3 = st.columns(3)
        titles = ctx.threads.set_index("thread_id")["title"].to_dict() if "title" in ctx.threads else {}
        thread_ids = sorted(df["thread_id"].dropna().unique().tolist())
        threads = c1.multiselect("Threads", thread_ids, key="f_threads",
                                 format_func=lambda t: f"{t} {_s(titles.get(t))}".strip()[:80])
        authors_all = df["author"].dropna().value_counts().index.tolist()[:500]
        authors = c2.multiselect("Authors", authors_all, key="f_authors", format_func=ctx.name)
        text = c3.text_input("Text contains", key="f_text", placeholder="e.g. caseload")
        c3a, c3b = c3.columns(2)
        regex = c3a.checkbox("Regular expression", key="f_regex")
        low = c3b.checkbox("Low-confidence only", key="f_low")
    f = ex.Filters(themes=tuple(themes), theme_mode=mode, min_prob=float(min_prob) if use_prob else None,
                   no_theme=no_theme, stance_tr=tuple(stance), reply_stance=tuple(reply), threads=tuple(threads),
                   kinds=tuple(kinds), authors=tuple(authors), text=text.strip(), regex=regex, low_confidence_only=low,
                   source=ctx.source)
    problem = f.regex_error()
    if problem:  # an unfinished pattern matches nothing: say so rather than show an empty table
        st.error(f"Not a valid regular expression: {md(problem)}. No unit matches until it is fixed "
                 "(or untick 'Regular expression' to search for the text as typed).")
    st.session_state["filters"] = f
    return f

