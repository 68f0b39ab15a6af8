"""Validate: draw a blind sample of the run, code it (several researchers may), adjudicate their
disagreements, and read the model's quality and the corrected prevalence with 95% intervals.

Everything lives in ``<run>/validation/``: ``sheet.jsonl`` and ``sheet.design.json`` (written by
:func:`pipeline.validate.write_sample`), ``sheet.coded.jsonl`` (every coder's labels and the
adjudicated ``gold`` ones, through the append-only annotation store, so coding resumes where it
stopped) and ``validation.json`` + ``report.md``.  The coding form is blind: it never shows the
model's codes and starts with nothing chosen.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from pipeline.errors import PipelineError
from pipeline.store import AnnotationStore
from pipeline.validate import (adjudicate, design_path, disagreements, latest_validation, pairwise_agreement,
                               read_coded, score_validation, write_sample)

from ..state import md

STEPS = ("Sample", "Code", "Adjudicate", "Results")
NO_THEME = "(no theme applies)"


def paths(run_dir: Path) -> dict[str, Path]:
    folder = Path(run_dir) / "validation"
    sheet = folder / "sheet.jsonl"
    return {"folder": folder, "sheet": sheet, "design": design_path(sheet), "coded": folder / "sheet.coded.jsonl"}


def _sheet(p: dict) -> list[dict]:
    if not p["sheet"].exists():
        return []
    return [json.loads(x) for x in p["sheet"].read_text(encoding="utf-8").splitlines() if x.strip()]


def render(ctx) -> None:
    st.header("Validate")
    st.caption("Check the model on a random sample coded by hand, blind to its codes; the shares it reports "
               "are then corrected for its errors, with 95% intervals (see README, 'Validation').")
    p = paths(ctx.run_dir)
    step = st.radio("Step", STEPS, key="val_step", horizontal=True)
    {"Sample": _sample, "Code": _code, "Adjudicate": _adjudicate, "Results": _results}[step](ctx, p)


def _sample(ctx, p: dict) -> None:
    rows = _sheet(p)
    if rows:
        design = json.loads(p["design"].read_text(encoding="utf-8"))
        st.success(f"A sample of {design['n']} of {design['N']} units (seed {design['seed']}) is ready: "
                   "go to Code.")
        st.dataframe(pd.DataFrame(design["strata"]), hide_index=True)
        st.caption("Strata come from the model's codes so that rare codes are checked; the sheet itself "
                   f"shows no model code. Allocation: {md(design['allocation'])}.")
    n = st.number_input("Units to sample", min_value=10, max_value=5000, value=80, step=10, key="val_n")
    seed = st.number_input("Seed", min_value=0, value=0, step=1, key="val_seed")
    replace = True
    if rows:
        replace = st.checkbox("Replace the current sample (its coded labels are kept aside, not deleted)",
                              key="val_replace")
    if st.button("Draw the sample", key="val_draw", disabled=not replace):
        try:
            if p["coded"].exists():  # keep earlier coding, never overwrite it
                k = len(list(p["folder"].glob("sheet.coded.*.jsonl"))) + 1
                p["coded"].rename(p["folder"] / f"sheet.coded.{k}.jsonl")
            design = write_sample(ctx.run_dir, p["sheet"], int(n), seed=int(seed), codebook=ctx.codebook)
        except PipelineError as exc:
            st.error(md(exc))
            return
        st.success(f"Sampled {design['n']} units.")
        st.rerun()


def _code(ctx, p: dict) -> None:
    rows = _sheet(p)
    if not rows:
        st.info("Draw a sample first (step Sample).")
        return
    st.session_state.setdefault("val_coder", getattr(ctx, "annotator", "") or "")
    coder = st.text_input("Your name (each researcher codes under their own name)", key="val_coder").strip()
    if not coder or coder == "gold":
        st.warning("Enter your name to start coding ('gold' is reserved for adjudicated labels).")
        return
    store = AnnotationStore(p["coded"])
    mine = store.latest(coder)
    done = set(mine["unit_id"]) if len(mine) else set()
    st.progress(len(done & {r["unit_id"] for r in rows}) / len(rows),
                text=f"{len(done)} of {len(rows)} units coded by {coder}")
    todo = [(i, r) for i, r in enumerate(rows) if r["unit_id"] not in done]
    if not todo:
        st.success("You have coded the whole sample. Next: Adjudicate (if several of you coded it), then Results.")
        return
    i, r = todo[0]
    cb = ctx.codebook
    st.subheader(f"Unit {i + 1} of {len(rows)}")
    st.caption(f"{md(r.get('thread_title') or r.get('thread_id'))} · {md(r.get('kind', ''))} · "
               f"{md(r.get('author') or 'no name')} · {md(r['unit_id'])}")
    if r.get("parent_text"):
        with st.expander("What it answers", expanded=False):
            st.markdown(md(r["parent_text"]))
    st.markdown(md(r["text"]))
    uid = r["unit_id"]
    with st.form(f"val_form_{uid}"):
        themes = st.multiselect("Themes", cb.theme_names + [NO_THEME], default=[], key=f"val_themes_{uid}",
                                format_func=lambda t: cb.themes[t].label if t in cb.themes else t)
        stance = st.radio("Stance toward TR", cb.values("stance_tr"), index=None, key=f"val_st_{uid}", horizontal=True)
        reply = st.radio("Stance toward the unit it answers", cb.values("reply_stance"), index=None,
                         key=f"val_rs_{uid}", horizontal=True)
        note = st.text_input("Note (optional)", key=f"val_note_{uid}")
        saved = st.form_submit_button("Save and next")
    if saved:
        problem = _check(themes, stance, reply)
        if problem:
            st.error(problem)
            return
        store.add({"unit_id": uid, "annotator": coder, "themes": [t for t in themes if t != NO_THEME],
                   "stance_tr": stance, "reply_stance": reply, "note": note or None,
                   "fingerprint": r.get("fingerprint")})
        st.rerun()


def _check(themes: list[str], stance, reply) -> str | None:
    """Every decision is explicit: nothing is coded by leaving a field empty."""
    if not themes:
        return f"Choose the themes, or '{NO_THEME}'."
    if NO_THEME in themes and len(themes) > 1:
        return f"'{NO_THEME}' cannot go with a theme."
    if stance is None or reply is None:
        return "Choose both stances."
    return None


def _read(ctx, p: dict) -> pd.DataFrame | None:
    if not p["coded"].exists():
        return None
    try:
        labels, _ = read_coded(p["coded"], ctx.codebook)
    except PipelineError as exc:
        st.error(md(exc))
        return None
    return labels


def _adjudicate(ctx, p: dict) -> None:
    labels = _read(ctx, p)
    if labels is None or labels.empty:
        st.info("Nothing coded yet.")
        return
    agree = pairwise_agreement(labels, ctx.codebook)
    if not agree:
        st.info("One coder so far: a second researcher coding the same sheet gives the agreement figures.")
    else:
        st.subheader("Agreement between coders")
        st.dataframe(pd.DataFrame([{"pair": a["pair"], "units": a["n_units"],
                                    **{f"kappa {t}": v["kappa"] for t, v in a["themes"].items()},
                                    "alpha themes": a["themes_all"]["alpha"], "alpha stance_tr": a["stance_tr"]["alpha"],
                                    "alpha reply_stance": a["reply_stance"]["alpha"]} for a in agree]), hide_index=True)
    todo = disagreements(labels)
    st.subheader(f"Disagreements to adjudicate: {len(todo)}")
    if todo.empty:
        return
    row = todo.iloc[0]
    uid = row["unit_id"]
    unit = next((r for r in _sheet(p) if r["unit_id"] == uid), {})
    st.markdown(md(unit.get("text", "")))
    mine = labels[(labels["unit_id"] == uid) & (labels["annotator"] != "gold")]
    st.dataframe(pd.DataFrame({"coder": mine["annotator"], "themes": mine["themes"].map(", ".join),
                               "stance_tr": mine["stance_tr"], "reply_stance": mine["reply_stance"],
                               "note": mine["note"]}), hide_index=True)
    cb = ctx.codebook
    with st.form(f"val_adj_{uid}"):
        themes = st.multiselect("Themes", cb.theme_names + [NO_THEME], default=[], key=f"val_adj_themes_{uid}")
        stance = st.radio("Stance toward TR", cb.values("stance_tr"), index=None, key=f"val_adj_st_{uid}",
                          horizontal=True)
        reply = st.radio("Stance toward the unit it answers", cb.values("reply_stance"), index=None,
                         key=f"val_adj_rs_{uid}", horizontal=True)
        note = st.text_input("Why (required)", key=f"val_adj_note_{uid}")
        saved = st.form_submit_button("Save as gold")
    if saved:
        problem = _check(themes, stance, reply) or (None if note.strip() else "Say why in the note.")
        if problem:
            st.error(problem)
            return
        adjudicate(p["coded"], uid, themes=[t for t in themes if t != NO_THEME], stance_tr=stance,
                   reply_stance=reply, note=note, fingerprint=unit.get("fingerprint"), codebook=cb)
        st.rerun()


def _results(ctx, p: dict) -> None:
    if p["coded"].exists() and st.button("Score the sample", key="val_score"):
        try:
            score_validation(ctx.run_dir, p["coded"], p["folder"], codebook=ctx.codebook)
        except PipelineError as exc:
            st.error(md(exc))
    v = latest_validation(ctx.run_dir)
    if v is None:
        st.info("No validation yet: code the sample, then press 'Score the sample'.")
        return
    st.caption(f"Validation sample: {v['n']} units coded blind ({v['uncoded']} of the sample not coded yet), "
               f"hand codes: {md(v.get('annotator', ''))}. {md(v['method'])}")
    table = []
    for scheme in ("themes", "stance_tr"):
        for code, e in v[scheme].items():
            pv = e["prevalence"]
            table.append({"code": code if scheme == "themes" else f"stance_tr = {code}",
                          "model's share": pv["model"], "corrected share": pv["corrected"],
                          "95% CI": f"{pv['ci'][0]:.1%} - {pv['ci'][1]:.1%}", "precision": e["precision"],
                          "recall": e["recall"], "kappa": e["kappa"],
                          "kappa 95% CI": "n/a" if not e["kappa_ci"] else f"{e['kappa_ci'][0]:.2f} - {e['kappa_ci'][1]:.2f}"})
    st.dataframe(pd.DataFrame(table), hide_index=True,
                 column_config={c: st.column_config.NumberColumn(format="percent")
                                for c in ("model's share", "corrected share")})
    st.caption(f"Written to `{md(v['path'])}` (and report.md beside it).")
