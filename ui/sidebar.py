"""The sidebar: page, run, uploads, label source, pseudonyms and the annotator."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from pipeline.paths import RUNS_ROOT, default_annotations, default_labels, default_run

from .build import discover_runs
from .state import UPLOAD_TYPES


def set_run(path: str) -> None:
    st.session_state["run_dir"] = path


def _on_run_choice() -> None:
    set_run(st.session_state["run_choice"])


def _on_run_other() -> None:
    value = (st.session_state.get("run_other") or "").strip()
    if value:
        set_run(value)


def _on_page_change() -> None:
    st.query_params["page"] = st.session_state["page"]
    if "unit" in st.query_params:
        del st.query_params["unit"]


def sidebar_ui(pages: tuple[str, ...]) -> dict:
    """Page, run, uploads and the view options; returns the choices."""
    sb = st.sidebar
    sb.title("Probation TR explorer")
    sb.caption("Practitioners' blog comments on Transforming Rehabilitation, coded by theme and stance.")
    if "page" not in st.session_state:
        qp = st.query_params.get("page")
        st.session_state["page"] = qp if qp in pages else pages[0]
    page = sb.radio("Page", pages, key="page", on_change=_on_page_change)

    sb.subheader("Data")
    if "run_dir" not in st.session_state:
        st.session_state["run_dir"] = str(default_run())
    current = st.session_state["run_dir"]
    runs_root = Path(current).parent
    known = discover_runs(runs_root, RUNS_ROOT)
    if current not in known:
        known = [current] + known
    st.session_state["run_choice"] = current
    sb.selectbox("Run", known, key="run_choice", on_change=_on_run_choice,
                 # the folder too: runs with the same name in two places must stay distinguishable
                 format_func=lambda p: f"{Path(p).name} ({Path(p).parent})" if Path(p).name else p,
                 help="Run directories next to the current one.")
    sb.text_input("...or open a run directory", key="run_other", on_change=_on_run_other,
                  placeholder="/path/to/run", help="A folder written by `python -m pipeline run`.")
    with sb.expander("Upload thread files"):
        files = st.file_uploader("HTML, text, Atom, CSV or JSONL", type=UPLOAD_TYPES, accept_multiple_files=True,
                                 key="uploads")
        go = st.button("Parse and code", key="upload_go", disabled=not files)
    sb.subheader("View")
    source = sb.radio("Labels shown", ["model", "gold"], key="source", horizontal=True,
                      format_func=lambda s: {"model": "Model predictions", "gold": "Gold labels"}[s],
                      help="Gold: only the units with adjudicated labels (annotator 'gold').")
    pseudo = sb.toggle("Pseudonymise commenter names", key="pseudo",
                       help="Authors and names mentioned in comments become 'Commenter N' in every view and export.")
    sb.subheader("Annotation")
    if "annotator" not in st.session_state:
        st.session_state["annotator"] = os.environ.get("USER") or "coder_1"
    annotator = sb.text_input("Annotator", key="annotator").strip() or "coder_1"
    if "annotations_path" not in st.session_state:
        st.session_state["annotations_path"] = str(default_annotations())
    ann_path = sb.text_input("Annotations file", key="annotations_path")
    if "labels_path" not in st.session_state:
        st.session_state["labels_path"] = str(default_labels())
    labels_path = sb.text_input("Gold labels file", key="labels_path")
    return {"page": page, "run": Path(st.session_state["run_dir"]), "files": files, "upload": go, "source": source,
            "pseudonymise": pseudo, "annotator": annotator, "annotations_path": Path(ann_path),
            "labels_path": Path(labels_path)}

