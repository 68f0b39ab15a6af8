"""Evaluation: every evaluation of the run, held-out first, each labelled with what it is and its n."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pipeline import explore as ex
from pipeline.paths import BUNDLED_MODEL
from pipeline.schema import SCHEMES

from ..charts import heatmap_spec, vl_chart
from ..loaders import get_evaluation
from ..state import Ctx, _mtime, md
from ..widgets import unit_detail_ui
from . import available

def evaluations(ctx: Ctx) -> list[ex.Evaluation]:
    """The run's evaluations and validation samples, plus the bundled model's and app-trained models'
    own cross-validation (they evaluate recipes, not this run's codes: the label says held-out)."""
    extra = [BUNDLED_MODEL / "evaluation"]
    models = ctx.run_dir.parent / "models"
    if models.is_dir():
        extra += sorted(p / "evaluation" for p in models.iterdir() if p.is_dir())
    return ex.list_evaluations(ctx.run_dir, extra)


KIND_NOTES = {
    "held-out": "Held-out: every unit was coded by a model that never saw its thread (leave-one-thread-out "
                "cross-validation). These are the figures to report.",
    "validation sample": "Validation sample: a random sample of this run's units coded by hand after the fact; "
                         "estimates for the whole run.",
    "in-sample": "In-sample: the model scored on labels it may have been trained on. Not an estimate of quality.",
}


def _section(data: dict, key: str):
    if key in data:
        return data[key]
    main = data.get("main")
    return main.get(key) if isinstance(main, dict) else None


def render(ctx: Ctx) -> None:
    st.header("Evaluation")
    found = evaluations(ctx)
    if not found:
        st.info(f"No evaluation yet (looked for {md(ctx.run_dir / 'evaluation*' / 'evaluation.json')} and "
                f"{md(ctx.run_dir / 'validation*' / 'validation.json')}). Run "
                "`python -m pipeline evaluate --gold corpora/probation_blog/labels.jsonl --pred <run>` or use "
                "'Retrain and re-evaluate' on the Annotate page.")
        return
    st.dataframe(pd.DataFrame([{"kind": e.kind, "n": e.n, "what": e.title, "file": str(e.path)} for e in found]),
                 hide_index=True, width="stretch",
                 column_config={"what": st.column_config.TextColumn(width="large")})
    labels = {e.label: e for e in found}  # labels name the folder, so they are unique
    chosen = labels[st.selectbox("Evaluation", list(labels), key="ev_pick")]
    where = chosen.path.parent
    st.caption(KIND_NOTES[chosen.kind])
    data = get_evaluation(str(chosen.path), _mtime(chosen.path))
    if data is None:
        st.error(f"{md(chosen.path)} could not be read.")
        return
    if chosen.kind == "validation sample":
        flat = {k: str(v) for k, v in data.items() if not isinstance(v, (dict, list))}
        st.dataframe(pd.DataFrame([flat]).T.rename(columns={0: "value"}), width="stretch")
        if "Validate" in available():
            st.caption("Estimates with their intervals: the Validate page.")
    if data.get("title"):
        st.subheader(str(data["title"]))
    if data.get("description"):
        st.caption(str(data["description"]))
    if data.get("command"):
        st.code(str(data["command"]), language="bash")
    summary = _section(data, "summary")
    if isinstance(summary, dict):
        flat = {f"{k}.{kk}": vv for k, v in summary.items() if isinstance(v, dict) for kk, vv in v.items()
                if not isinstance(vv, (list, dict))}
        if flat:
            st.dataframe(pd.DataFrame([flat]).T.rename(columns={0: "value"}), width="stretch")
    per_label = _section(data, "per_label")
    if isinstance(per_label, list) and per_label:
        st.subheader("Per label")
        tab = pd.DataFrame(per_label)
        for col in tab.columns:
            if tab[col].map(lambda v: isinstance(v, (list, tuple))).any():
                tab[col] = tab[col].map(lambda v: f"[{v[0]}, {v[1]}]" if isinstance(v, (list, tuple)) and len(v) == 2
                                        else v)
        st.dataframe(tab, hide_index=True, width="stretch")
    baselines = data.get("baselines")
    if isinstance(baselines, dict) and baselines:
        st.subheader("Baselines and recipes")
        rows = []
        for name, s in baselines.items():
            if isinstance(s, dict):
                rows.append({"recipe": name, **{f"{k}.{kk}": vv for k, v in s.items() if isinstance(v, dict)
                                                for kk, vv in v.items() if not isinstance(vv, (list, dict))}})
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    confusion = _section(data, "confusion")
    if isinstance(confusion, dict) and confusion:
        st.subheader("Confusion matrices (rows gold, columns predicted)")
        cols = st.columns(max(len(confusion), 1))
        for col, (scheme, cm) in zip(cols, confusion.items()):
            try:
                labels = list(cm["labels"])
                m = np.array(cm["matrix"])
                long = pd.DataFrame([{"gold": labels[i], "predicted": labels[j], "n": int(m[i, j])}
                                     for i in range(len(labels)) for j in range(len(labels))])
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            with col:
                vl_chart(long, heatmap_spec("predicted", "gold", "n", labels, "d", title=str(scheme),
                                            dark_above=float(long["n"].max()) * 0.6))
    agreement = data.get("agreement")
    if isinstance(agreement, list) and agreement:
        st.subheader("Agreement")
        rows = []
        for a in agreement:
            if not isinstance(a, dict):
                continue
            row = {"pair": a.get("pair"), "n_units": a.get("n_units")}
            for t, v in (a.get("themes") or {}).items():
                if isinstance(v, dict):
                    row[f"{t} kappa"] = v.get("kappa")
            for s in SCHEMES:
                if isinstance(a.get(s), dict):
                    row[f"{s} kappa"] = a[s].get("kappa")
                    row[f"{s} alpha"] = a[s].get("alpha")
            if isinstance(a.get("themes_all"), dict):
                row["themes alpha"] = a["themes_all"].get("alpha")
            rows.append(row)
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        st.subheader("Errors")
        err = pd.DataFrame([e for e in errors if isinstance(e, dict)])
        if "text" in err:
            err["text"] = err["text"].map(lambda t: ctx.text(str(t))[:300])
        if "unit_id" in err:
            err["open"] = err["unit_id"].map(lambda u: f"?page=Comments&unit={u}")
        st.dataframe(err, hide_index=True, width="stretch",
                     column_config={"open": st.column_config.LinkColumn("open", display_text="open unit")})
        ids = [u for u in dict.fromkeys(err.get("unit_id", pd.Series(dtype=str)).tolist()) if isinstance(u, str)]
        ids = [u for u in ids if ctx.row(u) is not None]
        if ids:
            uid = st.selectbox("Read an error's unit here", ids, key="ev_unit")
            unit_detail_ui(ctx, uid, key="evaluation")
    pngs = sorted(where.glob("*.png"))
    if pngs:
        st.subheader("Plots")
        cols = st.columns(2)
        for i, p in enumerate(pngs):
            cols[i % 2].image(str(p), caption=p.name)
    report = where / "report.md"
    if report.exists():
        with st.expander("report.md (as text)"):
            st.code(report.read_text(encoding="utf-8", errors="replace"), language="markdown")

