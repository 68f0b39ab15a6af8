"""Explore coded blog threads about Transforming Rehabilitation (TR).

    streamlit run app.py            (or: python -m pipeline app)

Opens on the bundled corpus's run (``runs/probation_blog``, built on first start with
the bundled model, or the codebook rules when no trained model is there).  The sidebar
picks another run directory or parses and codes uploaded thread files.

Pages: Overview, Comments, Thread, Words, Annotate, Evaluation, Codebook, Export.

Environment variables (tests use them to point the app at temporary files):

``PROBATION_TR_RUN``          run directory opened at start (default runs/probation_blog)
``PROBATION_TR_ANNOTATIONS``  annotations JSONL written by the Annotate page
                              (default corpora/probation_blog/annotations.jsonl)
``PROBATION_TR_LABELS``       gold labels JSONL (default corpora/probation_blog/labels.jsonl)
``PROBATION_TR_MODEL``        model directory or ``rules`` for building runs (default models/default
                              when trained, else rules)
``PROBATION_TR_CORPUS``       thread files of the bundled corpus (default corpora/probation_blog/raw)

Comment text is untrusted: it is only ever shown as plain text (tables, ``st.text``,
``st.code``) or through ``st.html`` with HTML built by :mod:`pipeline.explore`, which
``html.escape``-s every piece of text before adding any tag (no Markdown is involved);
``unsafe_allow_html`` is never used.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline import explore as ex  # noqa: E402
from pipeline.codebook import Codebook, load_codebook  # noqa: E402
from pipeline.errors import PipelineError  # noqa: E402
from pipeline.store import AnnotationStore  # noqa: E402

# The same paths as pipeline.runs (imported lazily: it pulls in the parsers, which the
# explorer needs only to build runs).
REPO_ROOT = ROOT
BUNDLED_CORPUS = REPO_ROOT / "corpora" / "probation_blog"
BUNDLED_MODEL = REPO_ROOT / "models" / "default"
CODEBOOK_PATH = REPO_ROOT / "models" / "codebook.yaml"

ENV_RUN = "PROBATION_TR_RUN"
ENV_ANNOTATIONS = "PROBATION_TR_ANNOTATIONS"
ENV_LABELS = "PROBATION_TR_LABELS"
ENV_MODEL = "PROBATION_TR_MODEL"
ENV_CORPUS = "PROBATION_TR_CORPUS"

PAGES = ("Overview", "Comments", "Thread", "Words", "Annotate", "Evaluation", "Codebook", "Export")
UPLOAD_TYPES = ["txt", "text", "html", "htm", "xml", "atom", "csv", "jsonl", "ndjson"]
# Widget keys whose values must survive visits to other pages (Streamlit drops the state of
# widgets that were not drawn in a run; re-assigning them keeps it).
PERSISTENT_KEYS = ("f_themes", "f_theme_mode", "f_use_prob", "f_min_prob", "f_no_theme", "f_stance_tr",
                   "f_reply_stance", "f_threads", "f_kinds", "f_authors", "f_text", "f_regex", "f_low",
                   "c_sort", "c_page_size", "annotator", "ann_order", "ann_thread", "thread_pick")
# Initial values of those widgets (set through the session state, so no widget gets a default
# argument and a session-state value at once).
WIDGET_DEFAULTS = {"f_min_prob": 0.5, "c_page_size": 50}
SCHEME_TITLES = {"stance_tr": "Stance toward TR", "reply_stance": "Stance toward the parent"}


# --- Defaults --------------------------------------------------------------------------------

def default_run() -> Path:
    return Path(os.environ.get(ENV_RUN) or REPO_ROOT / "runs" / "probation_blog")


def default_annotations() -> Path:
    return Path(os.environ.get(ENV_ANNOTATIONS) or BUNDLED_CORPUS / "annotations.jsonl")


def default_labels() -> Path:
    return Path(os.environ.get(ENV_LABELS) or BUNDLED_CORPUS / "labels.jsonl")


def default_corpus() -> Path:
    return Path(os.environ.get(ENV_CORPUS) or BUNDLED_CORPUS / "raw")


def default_model() -> str:
    env = os.environ.get(ENV_MODEL)
    if env:
        return env
    return str(BUNDLED_MODEL) if (BUNDLED_MODEL / "model.json").exists() else "rules"


def md(value) -> str:
    """Text from data or files (ids, paths, messages) made literal for Markdown-rendering elements."""
    return ex.md_escape(str(value))


def _s(value) -> str:
    """A text field that may be null (NaN) as a string."""
    return value if isinstance(value, str) else ""


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


# --- Cached data ---------------------------------------------------------------------------------
# The unit table of a big run is cached with cache_resource: cache_data would pickle and copy
# it (hundreds of MB for 100,000 units) on every rerun.  It is treated as read-only.

@st.cache_resource(show_spinner=False)
def get_codebook(path: str, mtime: int) -> Codebook:
    return load_codebook(path)


@st.cache_resource(show_spinner="Loading the run...", max_entries=3)
def get_run(sig: tuple, run: str, codebook_path: str, codebook_mtime: int) -> dict:
    codebook = get_codebook(codebook_path, codebook_mtime)
    data = ex.read_run(run, codebook)
    data["index"] = pd.Index(data["units"]["unit_id"])
    return data


@st.cache_resource(show_spinner=False, max_entries=3)
def get_pseudonymiser(sig: tuple, run: str) -> ex.Pseudonymiser:
    """Pseudonyms for every author and name mentioned in the run, numbered by first appearance."""
    authors = ex.read_column(run, "units", "author")
    mentions = ex.read_column(run, "units", "mentions")
    return ex.Pseudonymiser(ex.collect_names(authors.to_numpy(), mentions.to_numpy()))


@st.cache_data(show_spinner=False, max_entries=256)
def get_evidence(sig: tuple, run: str, unit_id: str) -> str | None:
    s = ex.read_column(run, "labels", "evidence", [unit_id])
    return s.iloc[0] if len(s) else None


@st.cache_data(show_spinner=False, max_entries=8)
def get_labels_file(path: str, mtime: int, codebook_path: str, codebook_mtime: int) -> pd.DataFrame | None:
    """Every coder's labels from a labels JSONL (None when the file is absent or unreadable)."""
    from pipeline.labels import read_labels

    p = Path(path)
    if not p.exists():
        return None
    try:
        df, _ = read_labels(p, get_codebook(codebook_path, codebook_mtime), strict=False)
    except PipelineError:
        return None
    return df


@st.cache_data(show_spinner=False, max_entries=8)
def get_evaluation(path: str, mtime: int) -> dict | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


@st.cache_data(show_spinner=False, max_entries=32)
def overview_tables(key: tuple, _df: pd.DataFrame, _codebook: Codebook, scheme: str, measure: str, freq: str) -> dict:
    return {"prevalence": ex.theme_prevalence(_df, _codebook),
            "stance": ex.stance_by_theme(_df, _codebook, scheme),
            "cooc": ex.cooccurrence(_df, _codebook, measure),
            "ts_themes": ex.time_series(_df, _codebook, freq, "themes"),
            "ts_stance": ex.time_series(_df, _codebook, freq, "stance_tr")}


@st.cache_resource(show_spinner="Counting words...", max_entries=4)
def get_term_counts(sig: tuple, run: str, lemmas: bool, drop_stop: bool, pseudonymised: bool, _texts: pd.Series):
    stop = ()
    if drop_stop:
        from spacy.lang.en.stop_words import STOP_WORDS

        stop = STOP_WORDS
    return ex.term_counts(_texts.fillna("").tolist(), lemmas=lemmas, stop_words=stop)


@st.cache_resource(show_spinner="Preparing texts...", max_entries=4)
def get_word_texts(sig: tuple, run: str, column: str, pseudonymised: bool, _df: pd.DataFrame,
                   _pseudo: ex.Pseudonymiser | None) -> pd.Series:
    """A text column indexed by unit id, with commenter names replaced when asked (the Words
    page counts and searches these)."""
    texts = pd.Series(_df[column].fillna("").array, index=pd.Index(_df["unit_id"]))
    return _pseudo.series(texts) if pseudonymised and _pseudo else texts


def word_texts(ctx: "Ctx", column: str) -> pd.Series:
    return get_word_texts(ctx.sig, str(ctx.run), column, ctx.pseudo is not None, ctx.model_df, ctx.pseudo)


@st.cache_data(show_spinner=False, max_entries=64)
def get_filtered_ids(key: tuple, _df: pd.DataFrame, filters: ex.Filters) -> np.ndarray:
    return np.flatnonzero(ex.filter_mask(_df, filters))


@st.cache_data(show_spinner=False, max_entries=8)
def model_thresholds(run: str, sig: tuple) -> dict:
    """Theme thresholds of the model that coded the run (from its model.json), if known."""
    try:
        report = json.loads((Path(run) / "report.json").read_text(encoding="utf-8"))
        model = (report.get("classify") or {}).get("model")
        if model and model != "rules":
            meta = json.loads((Path(model) / "model.json").read_text(encoding="utf-8"))
            return {k: float(v) for k, v in (meta.get("thresholds") or {}).items()}
    except (OSError, json.JSONDecodeError, TypeError, ValueError):
        pass
    return {}


# --- Context shared by the pages -----------------------------------------------------------------

@dataclass
class Ctx:
    run: Path
    sig: tuple
    codebook: Codebook
    model_df: pd.DataFrame  # every unit, model predictions
    df: pd.DataFrame  # the label source chosen in the sidebar (model, or gold units with gold codes)
    index: pd.Index
    threads: pd.DataFrame
    report: dict
    has_labels: bool
    labels_all: pd.DataFrame | None  # every coder in the gold labels file
    gold: pd.DataFrame | None  # annotator 'gold', only units of this run
    source: str  # "model" or "gold"
    pseudo: ex.Pseudonymiser | None
    annotator: str
    annotations_path: Path
    labels_path: Path

    def row(self, unit_id: str) -> pd.Series | None:
        try:
            i = self.index.get_loc(unit_id)
        except KeyError:
            return None
        if not isinstance(i, (int, np.integer)):
            return None
        return self.model_df.iloc[int(i)]

    def name(self, value) -> str:
        if not isinstance(value, str) or not value:
            return "Anonymous"
        return self.pseudo.name(value) if self.pseudo else value

    def text(self, value) -> str:
        if not isinstance(value, str):
            return ""
        return self.pseudo.text(value) if self.pseudo else value

    @property
    def key(self) -> tuple:
        return self.sig + (self.source, _mtime(self.labels_path))


# --- Building runs ------------------------------------------------------------------------------

def build_run_ui(run: Path, inputs: list[Path], model: str, label: str) -> bool:
    """Parse and code ``inputs`` into ``run`` with a progress bar; False (and an error) on failure."""
    from pipeline.parse import iter_input_files
    from pipeline.runs import run_all

    files = list(iter_input_files(inputs))
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0, text=f"Parsing {len(files)} files...")
        seen = [0]

        def on_chunk(chunk: dict) -> None:  # called as each chunk of files is parsed and coded
            seen[0] += len(chunk["files"])
            bar.progress(min(seen[0] / max(len(files), 1), 1.0), text=f"Parsed and coded {seen[0]} of {len(files)} files")

        st.write(f"Coding with model `{Path(model).name if model != 'rules' else 'rules'}` once parsed...")
        t0 = time.perf_counter()
        try:
            result = run_all(inputs, run, model_dir=model, workers=1, progress=on_chunk)
        except PipelineError as exc:
            status.update(label="Could not build the run", state="error")
            st.error(md(exc))
            return False
        bar.progress(1.0, text="Done")
        p = result["parse"]
        status.update(label=f"Built {run.name}: {p['threads']} threads, {p['units']} units in "
                            f"{time.perf_counter() - t0:.1f}s", state="complete", expanded=False)
    return True


def upload_run(files, runs_root: Path, model: str) -> Path | None:
    """Save uploaded thread files in a new run directory, then parse and code them there."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.getvalue() + b"\0")
    run = runs_root / f"upload_{digest.hexdigest()[:10]}"
    raw = run / "uploads"
    raw.mkdir(parents=True, exist_ok=True)
    for f in files:
        safe = re.sub(r"[^\w.-]+", "_", Path(f.name).name).lstrip(".") or "upload.txt"
        (raw / safe).write_bytes(f.getvalue())
    ok = build_run_ui(run, [raw], model, f"Parsing and coding {len(files)} uploaded file(s)...")
    return run if ok else None


def discover_runs(*roots: Path) -> list[str]:
    found = []
    for root in roots:
        if root.is_dir():
            found += [str(p) for p in sorted(root.iterdir()) if (p / "units.parquet").exists()]
    return list(dict.fromkeys(found))


# --- Sidebar ------------------------------------------------------------------------------------

def _set_run(path: str) -> None:
    st.session_state["run_dir"] = path


def _on_run_choice() -> None:
    _set_run(st.session_state["run_choice"])


def _on_run_other() -> None:
    value = (st.session_state.get("run_other") or "").strip()
    if value:
        _set_run(value)


def _on_page_change() -> None:
    st.query_params["page"] = st.session_state["page"]
    if "unit" in st.query_params:
        del st.query_params["unit"]


def sidebar_ui() -> dict:
    """Page, run, uploads and the view options; returns the choices."""
    sb = st.sidebar
    sb.title("Probation TR explorer")
    sb.caption("Practitioners' blog comments on Transforming Rehabilitation, coded by theme and stance.")
    if "page" not in st.session_state:
        qp = st.query_params.get("page")
        st.session_state["page"] = qp if qp in PAGES else PAGES[0]
    page = sb.radio("Page", PAGES, key="page", on_change=_on_page_change)

    sb.subheader("Data")
    if "run_dir" not in st.session_state:
        st.session_state["run_dir"] = str(default_run())
    current = st.session_state["run_dir"]
    runs_root = Path(current).parent
    known = discover_runs(runs_root, REPO_ROOT / "runs")
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


# --- Shared pieces --------------------------------------------------------------------------------

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
                                  get_evidence(ctx.sig, str(ctx.run), row["unit_id"]))
    colours = {c: ex.theme_colour(ctx.codebook, c) for c in ctx.codebook.theme_names}
    colours.update({v: ex.stance_colour(v) for s in ex.SCHEMES for v in ctx.codebook.values(s)})
    return ex.highlight_html(row.get("text") or "", spans, colours=colours, pseudonymiser=ctx.pseudo,
                             max_chars=max_chars)


def evidence_list_html(ctx: Ctx, row: pd.Series) -> str:
    ev = ex.parse_evidence(get_evidence(ctx.sig, str(ctx.run), row["unit_id"]))
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
    for s in ex.SCHEMES:
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


# --- Overview ----------------------------------------------------------------------------------

def vl_chart(data: pd.DataFrame, spec: dict) -> None:
    """A Vega-Lite chart from a plain spec (no Altair: its import and validation cost ~1 s per page)."""
    st.vega_lite_chart(data, spec, width="stretch")


def _scale(domain: list, colours: list) -> dict:
    return {"domain": domain, "range": colours}


def milestone_layers() -> list[dict]:
    """Dashed rules and labels at the TR milestones, as Vega-Lite layers with their own data."""
    values = [{"date": d, "event": e} for d, e in ex.MILESTONES]
    return [{"data": {"values": values}, "mark": {"type": "rule", "strokeDash": [4, 4], "color": "#777"},
             "encoding": {"x": {"field": "date", "type": "temporal"},
                          "tooltip": [{"field": "event", "type": "nominal"}, {"field": "date", "type": "temporal"}]}},
            {"data": {"values": values},
             "mark": {"type": "text", "angle": 270, "align": "right", "baseline": "bottom", "dx": -4, "dy": -2,
                      "fontSize": 10, "color": "#555"},
             "encoding": {"x": {"field": "date", "type": "temporal"}, "y": {"value": 4},
                          "text": {"field": "event", "type": "nominal"}}}]


def time_chart(ts: pd.DataFrame, field: str, title: str, domain: list, colours: list) -> tuple[pd.DataFrame, dict]:
    data = ts.assign(period=ts["period"].dt.strftime("%Y-%m-%d"))
    line = {"mark": {"type": "line", "point": True},
            "encoding": {"x": {"field": "period", "type": "temporal", "title": "thread date"},
                         "y": {"field": "share", "type": "quantitative", "axis": {"format": "%"},
                               "title": "share of units"},
                         "color": {"field": field, "type": "nominal", "title": title, "scale": _scale(domain, colours)},
                         "tooltip": [{"field": field, "type": "nominal"},
                                     {"field": "period", "type": "temporal"},
                                     {"field": "units", "type": "quantitative"},
                                     {"field": "total", "type": "quantitative"},
                                     {"field": "share", "type": "quantitative", "format": ".1%"}]}}
    return data, {"layer": [line] + milestone_layers(), "height": 300}


def heatmap_spec(x: str, y: str, value: str, order: list, fmt: str, title: str | None = None,
                 dark_above: float | None = None) -> dict:
    enc = {"x": {"field": x, "type": "nominal", "sort": order, "title": None,
                 "axis": {"labelAngle": -30, "labelLimit": 160, "labelOverlap": False}},
           "y": {"field": y, "type": "nominal", "sort": order, "title": None, "axis": {"labelLimit": 200}}}
    spec = {"encoding": enc, "height": 240, "layer": [
        {"mark": "rect", "encoding": {"color": {"field": value, "type": "quantitative", "scale": {"scheme": "blues"},
                                                "title": value},
                                      "tooltip": [{"field": y, "type": "nominal"}, {"field": x, "type": "nominal"},
                                                  {"field": value, "type": "quantitative", "format": fmt}]}},
        {"mark": {"type": "text", "fontSize": 11},
         "encoding": {"text": {"field": value, "type": "quantitative", "format": fmt},
                      "color": ({"condition": {"test": f"datum['{value}'] > {dark_above}", "value": "white"},
                                 "value": "black"} if dark_above is not None else {"value": "black"})}}]}
    if title:
        spec["title"] = title
    return spec


def overview_page(ctx: Ctx) -> None:
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
        st.caption(f"{counts['low_confidence']} units have low-confidence structure (flat layout boundaries). "
                   f"{counts['units'] - counts['dated']} units belong to threads without a date.")
    c1, c2, c3 = st.columns(3)
    scheme = c1.selectbox("Stance scheme", ex.SCHEMES, key="ov_scheme", format_func=SCHEME_TITLES.get)
    measure = c2.selectbox("Co-occurrence measure", ["count", "jaccard", "conditional"], key="ov_measure",
                           help="count: units with both themes; jaccard: both / either; conditional: row given column.")
    freq = c3.selectbox("Time unit", ["Q", "M", "Y"], key="ov_freq",
                        format_func={"M": "month", "Q": "quarter", "Y": "year"}.get)
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
            "y": {"field": "label", "type": "nominal", "sort": None, "title": None, "axis": {"labelLimit": 220}},
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
            "y": {"field": "label", "type": "nominal", "sort": None, "title": None, "axis": {"labelLimit": 220}},
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
    st.caption("Dashed lines: " + "; ".join(f"{d[:7]} {e}" for d, e in ex.MILESTONES)
               + ". Dates are thread post dates.")
    warnings = (ctx.report or {}).get("warnings") or []
    skipped = (ctx.report or {}).get("skipped") or []
    if warnings or skipped:
        with st.expander(f"Parse warnings ({len(warnings)}) and skipped files ({len(skipped)})"):
            st.dataframe(pd.DataFrame(warnings + skipped), hide_index=True, width="stretch")


# --- Comments -----------------------------------------------------------------------------------

def filters_ui(ctx: Ctx) -> ex.Filters:
    cb = ctx.codebook
    df = ctx.df
    with st.expander("Filters", expanded=True):
        c1, c2, c3 = st.columns([3, 2, 2])
        themes = c1.multiselect("Themes", cb.theme_names, key="f_themes", format_func=lambda c: cb.themes[c].label)
        mode = c2.radio("Match", ["any", "all"], key="f_theme_mode", horizontal=True,
                        help="Units with any / all of the chosen themes.")
        no_theme = c2.checkbox("Only units without a theme", key="f_no_theme")
        use_prob = c3.checkbox("Match themes by probability", key="f_use_prob",
                               help="Instead of the predicted codes, keep units whose probability for a chosen "
                                    "theme is at least the threshold (lower it to see borderline units).")
        min_prob = c3.slider("Probability threshold", 0.0, 1.0, step=0.05, key="f_min_prob", disabled=not use_prob)
        c1, c2, c3 = st.columns(3)
        stance = c1.multiselect("Stance toward TR", cb.values("stance_tr"), key="f_stance_tr")
        reply = c2.multiselect("Stance toward parent", cb.values("reply_stance"), key="f_reply_stance")
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
                   kinds=tuple(kinds), authors=tuple(authors), text=text.strip(), regex=regex, low_confidence_only=low)
    st.session_state["filters"] = f
    return f


def current_filters() -> ex.Filters:
    f = st.session_state.get("filters")
    return f if isinstance(f, ex.Filters) else ex.Filters()


def table_frame(ctx: Ctx, page: pd.DataFrame) -> pd.DataFrame:
    snippet = page["text"].fillna("").str.slice(0, 220).str.replace(r"\s+", " ", regex=True)
    if ctx.pseudo:
        snippet = ctx.pseudo.series(snippet)
    return pd.DataFrame({
        "unit": page["unit_id"].to_numpy(), "thread": page["thread_id"].to_numpy(), "kind": page["kind"].to_numpy(),
        "author": [ctx.name(a) for a in page["author"]],
        "date": page["date"].dt.strftime("%Y-%m-%d").to_numpy(),
        "themes": page["themes_str"].to_numpy(), "TR stance": page["stance_tr"].to_numpy(),
        "reply stance": page["reply_stance"].to_numpy(), "max theme p": page["p_theme_max"].to_numpy(),
        "text": snippet.to_numpy()})


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


def comments_page(ctx: Ctx) -> None:
    st.header("Comments")
    st.caption(md(labels_caption(ctx)))
    f = filters_ui(ctx)
    idx = get_filtered_ids(ctx.key, ctx.df, f)
    sub = ctx.df.iloc[idx]
    st.markdown(f"**{len(sub):,}** of {len(ctx.df):,} units match: {ex.md_escape(f.describe())}")
    c1, c2, c3 = st.columns([2, 1, 3])
    sorts = list(ex.SORTS) + (["highest probability of the chosen theme"] if f.themes else [])
    if st.session_state.get("c_sort") not in sorts:
        st.session_state["c_sort"] = "reading order"
    how = c1.selectbox("Sort by", sorts, key="c_sort")
    size = c2.selectbox("Rows per page", [25, 50, 100, 200], key="c_page_size")
    n_pages = max(1, -(-len(sub) // size))
    if len(sub) > size:
        with c3:
            page_no = st.pagination(n_pages, key=f"c_page_{hash((f, how, size)) & 0xFFFF}")
    else:
        page_no = 1
    if len(sub):
        ordered = sub if how == "reading order" else ex.sort_units(sub, how, f"p_{f.themes[0]}" if f.themes else None)
        page = ex.page_slice(ordered, int(page_no or 1), size)
    else:
        page = sub
    page_ids = page["unit_id"].tolist()
    st.session_state["_page_ids"] = page_ids
    st.dataframe(table_frame(ctx, page), hide_index=True, width="stretch", key="units_table",
                 on_select=_on_table_select, selection_mode="single-row", height=min(38 + 35 * max(len(page), 1), 420),
                 column_config={"max theme p": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0,
                                                                               format="%.2f"),
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


# --- Thread ---------------------------------------------------------------------------------

def thread_page(ctx: Ctx) -> None:
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


# --- Words ----------------------------------------------------------------------------------------

def words_page(ctx: Ctx) -> None:
    st.header("Words")
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
                base = ctx.df if scope == "all" else ctx.df.iloc[get_filtered_ids(ctx.key, ctx.df, current_filters())]
                texts = texts.iloc[ctx.index.get_indexer(base["unit_id"])]
            lines = ex.kwic(texts, query, lemma=mode == "lemma", window=window, max_lines=1000)
            st.caption(f"{len(lines)} occurrences" + (" (first 1000)" if len(lines) >= 1000 else "")
                       + f" in {lines['unit_id'].nunique() if len(lines) else 0} units.")
            st.dataframe(lines[["unit_id", "left", "keyword", "right"]], hide_index=True, width="stretch",
                         column_config={"left": st.column_config.TextColumn(width="large"),
                                        "right": st.column_config.TextColumn(width="large")})
            ids = list(dict.fromkeys(lines["unit_id"].tolist()))
            if ids:
                uid = st.selectbox("Read a unit in full", ids, key="kwic_unit")
                unit_detail_ui(ctx, uid, key="words")
        else:
            st.caption("Type a word to see every occurrence with its context.")
    else:
        cb = ctx.codebook
        targets = [("theme", c) for c in cb.theme_names] + [(s, v) for s in ex.SCHEMES for v in cb.values(s)]
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
        X, vocab = get_term_counts(ctx.sig, str(ctx.run), lemmas, drop_stop, ctx.pseudo is not None,
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
        vl_chart(terms, {"mark": "bar", "height": max(200, 14 * len(terms)), "encoding": {
            "x": {"field": "z", "type": "quantitative", "title": "z-score (log-odds ratio)"},
            "y": {"field": "term", "type": "nominal", "sort": "-x", "title": None},
            "color": {"field": "side", "type": "nominal", "scale": _scale(["group", "rest"], ["#1f77b4", "#aaaaaa"])},
            "tooltip": [{"field": "term", "type": "nominal"}, {"field": "group_count", "type": "quantitative"},
                        {"field": "rest_count", "type": "quantitative"},
                        {"field": "delta", "type": "quantitative", "format": ".2f"},
                        {"field": "z", "type": "quantitative", "format": ".2f"}]}})
        st.dataframe(terms, hide_index=True, width="stretch")


# --- Annotate ---------------------------------------------------------------------------------

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


def retrain_ui(ctx: Ctx) -> None:
    with st.expander("Retrain and re-evaluate the model"):
        st.caption("Trains the combined coder on the chosen labels (as `python -m pipeline train`), evaluates the "
                   "recipe by leave-one-thread-out cross-validation (as `python -m pipeline evaluate --model ... "
                   "--cv thread`) "
                   "and can re-code this run with the new model.")
        src = st.radio("Train on", ["annotations", "gold"], key="rt_src", horizontal=True,
                       format_func=lambda s: md(
                           {"annotations": f"{ctx.annotator}'s labels in {ctx.annotations_path.name}",
                            "gold": f"annotator 'gold' in {ctx.labels_path.name}"}[s]))
        labels = ctx.annotations_path if src == "annotations" else ctx.labels_path
        annotator = ctx.annotator if src == "annotations" else "gold"
        safe = re.sub(r"\W+", "_", annotator)
        out = st.text_input("Model directory to write", key=f"rt_out_{src}_{safe}",
                            value=str(ctx.run.parent / "models" / f"app_{safe}"))
        corpus = st.text_input("Thread files the labels refer to", key="rt_corpus", value=str(default_corpus()))
        recode = st.checkbox("Re-code this run with the new model", key="rt_recode", value=True)
        baselines = st.checkbox("Also cross-validate the baseline recipes (majority, rules, supervised)",
                                key="rt_baselines", value=False, help="Slower: several minutes on ~200 units.")
        if st.button("Retrain and re-evaluate", key="rt_go", type="primary"):
            if not labels.exists():
                st.error(f"{md(labels)} does not exist yet: label some units first.")
                return
            if not retrain(ctx, labels, annotator, Path(out), Path(corpus), baselines=baselines):
                return
            if recode:
                from pipeline.runs import classify_run

                with st.spinner("Re-coding this run..."):
                    try:
                        classify_run(ctx.run, out)
                    except PipelineError as exc:
                        st.error(md(exc))
                        return
                st.cache_resource.clear()
                st.cache_data.clear()
            st.success(f"Model written to {md(out)}" + (" and this run re-coded with it" if recode else "")
                       + f". The Evaluation page shows {md(Path(out) / 'evaluation')}.")


def _run_cli(name: str, args: list[str]) -> bool:
    cmd = [sys.executable, "-m", "pipeline"] + args
    with st.status(md(f"{name}: python -m pipeline {' '.join(args)}"), expanded=True) as status:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO_ROOT))
        st.code((proc.stdout + proc.stderr).strip() or "(no output)", language=None)
        ok = proc.returncode == 0
        status.update(label=f"{name} {'done' if ok else f'failed (exit {proc.returncode})'}",
                      state="complete" if ok else "error")
    return ok


def retrain(ctx: Ctx, labels: Path, annotator: str, out: Path, corpus: Path, *, baselines: bool = False) -> bool:
    """Train on ``labels`` and evaluate the recipe by leave-one-thread-out cross-validation.

    Uses pipeline.runs.train_model / evaluate_model_cv in this process; if they are missing
    (or have another signature) falls back to `python -m pipeline train` / `evaluate`.
    """
    try:
        from pipeline.runs import evaluate_model_cv, train_model
    except ImportError:
        return (_run_cli("train", ["train", "--labels", str(labels), "--annotator", annotator, "--out", str(out),
                                   "--corpus", str(corpus)])
                and _run_cli("evaluate", ["evaluate", "--gold", str(labels), "--gold-annotator", annotator,
                                          "--model", str(out), "--cv", "thread", "--out", str(out / "evaluation"),
                                          "--no-learning-curve"]))
    with st.status(md(f"Training on {annotator}'s labels in {labels.name}..."), expanded=True) as status:
        try:
            info = train_model(labels, out, corpus=corpus, annotator=annotator)
        except PipelineError as exc:
            st.code(str(exc), language=None)
            status.update(label="Training failed", state="error")
            return False
        st.code(f"Trained on {info['n_units']} units from {info['n_threads']} threads -> {out}\n"
                "Theme thresholds: " + ", ".join(f"{k} {v:.2f}" for k, v in info["thresholds"].items()), language=None)
        status.update(label="Training done", state="complete")
    with st.status("Evaluating the recipe (leave one thread out)...", expanded=True) as status:
        try:
            recipes = ("majority", "rules", "supervised", "combined") if baselines else ("combined",)
            result = evaluate_model_cv(labels, out / "evaluation", corpus=corpus, gold_annotator=annotator,
                                       recipes=recipes, main_recipe="combined", learning_curve=False,
                                       command="app: retrain and re-evaluate")
        except TypeError:  # another signature: use the command line
            status.update(label="Evaluating with the command line", state="running")
            return _run_cli("evaluate", ["evaluate", "--gold", str(labels), "--gold-annotator", annotator, "--model",
                                         str(out), "--cv", "thread", "--out", str(out / "evaluation"),
                                         "--no-learning-curve"])
        except PipelineError as exc:
            st.code(str(exc), language=None)
            status.update(label="Evaluation failed", state="error")
            return False
        summary = (result.get("main") or {}).get("summary") or {}
        themes = summary.get("themes") or {}
        st.code(f"Theme macro F1 {themes.get('macro_f1')}, micro F1 {themes.get('micro_f1')}; "
                f"stance_tr macro F1 {(summary.get('stance_tr') or {}).get('macro_f1')}; reply_stance macro F1 "
                f"{(summary.get('reply_stance') or {}).get('macro_f1')} -> {out / 'evaluation'}", language=None)
        status.update(label="Evaluation done", state="complete")
    return True


def annotate_page(ctx: Ctx) -> None:
    st.header("Annotate")
    cb = ctx.codebook
    store = AnnotationStore(ctx.annotations_path)
    mine = store.latest(ctx.annotator)
    done = set(mine["unit_id"]) if len(mine) else set()
    st.caption(f"Annotator **{ex.md_escape(ctx.annotator)}** · labels saved to `{ctx.annotations_path}` "
               f"as soon as you press Save · {len(done)} units labelled so far.")
    c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
    order = c1.radio("Queue", ["uncertain", "thread"], key="ann_order", horizontal=True,
                     format_func={"uncertain": "most uncertain first", "thread": "by thread"}.get)
    thread = None
    if order == "thread":
        ids = ctx.threads["thread_id"].tolist()
        thread = c2.selectbox("Thread", ids, key="ann_thread")
    include_done = c3.checkbox("Include units I labelled", key="ann_include_done")
    prefill = c4.checkbox("Start from the model's codes", key="ann_prefill",
                          help="Off by default to avoid anchoring on the model.")
    queue = ex.annotation_queue(ctx.model_df, cb, done=done, order=order, thread=thread, include_done=include_done,
                                thresholds=model_thresholds(str(ctx.run), ctx.sig))
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
                             "reply_stance": s_rs, "note": note.strip() or None})
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


# --- Evaluation ---------------------------------------------------------------------------------

def evaluation_candidates(ctx: Ctx) -> list[Path]:
    cands = [ctx.run / "evaluation", BUNDLED_MODEL / "evaluation"]
    models = ctx.run.parent / "models"
    if models.is_dir():
        cands += sorted(p / "evaluation" for p in models.iterdir() if p.is_dir())
    return [p for p in dict.fromkeys(cands) if (p / "evaluation.json").exists()]


def _section(data: dict, key: str):
    if key in data:
        return data[key]
    main = data.get("main")
    return main.get(key) if isinstance(main, dict) else None


def evaluation_page(ctx: Ctx) -> None:
    st.header("Evaluation")
    cands = evaluation_candidates(ctx)
    if not cands:
        st.info(f"No evaluation yet (looked for {md(ctx.run / 'evaluation' / 'evaluation.json')}). Run "
                "`python -m pipeline evaluate --gold corpora/probation_blog/labels.jsonl --pred <run>` or use "
                "'Retrain and re-evaluate' on the Annotate page.")
        return
    where = st.selectbox("Evaluation", cands, key="ev_pick", format_func=lambda p: str(p))
    data = get_evaluation(str(where / "evaluation.json"), _mtime(where / "evaluation.json"))
    if data is None:
        st.error(f"{md(where / 'evaluation.json')} could not be read.")
        return
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
            for s in ex.SCHEMES:
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


# --- Codebook ---------------------------------------------------------------------------------

def codebook_page(ctx: Ctx) -> None:
    cb = ctx.codebook
    st.header("Codebook")
    st.markdown(f"**{ex.md_escape(cb.name)}** v{ex.md_escape(cb.version)} · {ex.md_escape(Path(cb.path).name)}")
    st.markdown(ex.md_escape(cb.description))
    examples = []
    for name, t in cb.themes.items():
        with st.expander(f"{t.label} ({name})", expanded=False):
            st.markdown("**Definition.** " + ex.md_escape(t.definition))
            if t.include:
                st.markdown("**Include**\n\n" + "\n".join(f"- {ex.md_escape(i)}" for i in t.include))
            if t.exclude:
                st.markdown("**Exclude**\n\n" + "\n".join(f"- {ex.md_escape(i)}" for i in t.exclude))
            cues = ", ".join(t.phrases)
            st.markdown("**Cue phrases (lemmas).** " + ex.md_escape(cues or "none"))
            if t.acronyms:
                st.markdown("**Acronyms.** " + ex.md_escape(", ".join(t.acronyms)))
            if t.veto:
                st.markdown("**Veto phrases.** " + ex.md_escape(", ".join(t.veto)))
            if t.examples:
                st.markdown("**Examples**\n\n" + "\n".join(
                    f"- **{ex.md_escape(e.get('unit_id'))}**: {ex.md_escape(e.get('why') or '')}" for e in t.examples))
                examples += [str(e.get("unit_id")) for e in t.examples]
    for scheme, s in cb.stances.items():
        with st.expander(f"{SCHEME_TITLES.get(scheme, scheme)} ({scheme}; default {s.default})"):
            st.markdown(ex.md_escape(s.definition))
            for v in s.values.values():
                st.markdown(f"- **{ex.md_escape(v.name)}**: {ex.md_escape(v.definition)}"
                            + (f"  \n  cues: {ex.md_escape(', '.join(v.cues))}" if v.cues else ""))
    present = [u for u in dict.fromkeys(examples) if ctx.row(u) is not None]
    if present:
        st.subheader("Read an example")
        uid = st.selectbox("Example unit", present, key="cb_example")
        unit_detail_ui(ctx, uid, key="codebook")


# --- Export ---------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=16)
def export_bytes(key: tuple, fmt: str, filters: ex.Filters | None, pseudonymise: bool, _ctx: Ctx) -> bytes:
    ctx = _ctx
    sub = ctx.df if filters is None else ctx.df.iloc[get_filtered_ids(ctx.key, ctx.df, filters)]
    pseudo = ctx.pseudo if pseudonymise else None
    if fmt == "qdpx":
        return ex.refi_qda_project(sub, ctx.codebook, project_name=f"Probation TR: {ctx.run.name}", source=ctx.source,
                                   pseudonymiser=pseudo)
    ids = sub["unit_id"].tolist()
    extra = {}
    for table, col in (("units", "quoted_text"), ("units", "mentions"), ("units", "urls"), ("labels", "evidence")):
        s = ex.read_column(ctx.run, table, col, ids)
        if len(s):
            extra[col] = s
    out = ex.export_frame(sub, ctx.codebook, extra=extra, pseudonymiser=pseudo, source=ctx.source)
    return {"csv": ex.to_csv_bytes, "parquet": ex.to_parquet_bytes, "jsonl": ex.to_jsonl_bytes}[fmt](out)


@st.cache_data(show_spinner=False, max_entries=16)
def chart_png(key: tuple, name: str, filters: ex.Filters | None, _ctx: Ctx) -> bytes:
    ctx = _ctx
    sub = ctx.df if filters is None else ctx.df.iloc[get_filtered_ids(ctx.key, ctx.df, filters)]
    cb = ctx.codebook
    if name == "prevalence":
        return ex.png_prevalence(ex.theme_prevalence(sub, cb))
    if name == "stance":
        return ex.png_stance_by_theme(ex.stance_by_theme(sub, cb, "stance_tr"))
    if name == "cooccurrence":
        return ex.png_cooccurrence(ex.cooccurrence(sub, cb))
    if name == "themes_time":
        return ex.png_time_series(ex.time_series(sub, cb, "Q", "themes"), "Themes over time (share of units)")
    return ex.png_time_series(ex.time_series(sub, cb, "Q", "stance_tr"), "Stance toward TR over time (share of units)")


def export_page(ctx: Ctx) -> None:
    st.header("Export")
    f = current_filters()
    n_filtered = len(get_filtered_ids(ctx.key, ctx.df, f))
    scope = st.radio("Units", ["filtered", "all"], key="exp_scope", horizontal=True,
                     format_func=lambda s: {"filtered": f"matching the Comments filters ({n_filtered:,})",
                                            "all": f"all units ({len(ctx.df):,})"}[s])
    filters = f if scope == "filtered" else None
    st.caption(f"Filters: {md(f.describe())}. Labels: {md(labels_caption(ctx))} "
               + ("Commenter names are pseudonymised." if ctx.pseudo else "Names are not pseudonymised "
                  "(switch it on in the sidebar before sharing exports)."))
    pseudo_on = ctx.pseudo is not None
    stem = re.sub(r"\W+", "_", f"{ctx.run.name}_{scope}_{ctx.source}") + ("_pseudonymised" if pseudo_on else "")
    key = ctx.key
    st.subheader("Units with labels")
    c = st.columns(3)
    for col, (fmt, mime) in zip(c, [("csv", "text/csv"), ("parquet", "application/octet-stream"),
                                    ("jsonl", "application/x-ndjson")]):
        col.download_button(f"{fmt.upper()}", data=lambda fmt=fmt: export_bytes(key, fmt, filters, pseudo_on, ctx),
                            file_name=f"{stem}.{fmt}", mime=mime, key=f"dl_{fmt}", on_click="ignore")
    st.subheader("Charts (PNG)")
    c = st.columns(5)
    for col, (name, label) in zip(c, [("prevalence", "Theme prevalence"), ("stance", "Stance by theme"),
                                      ("cooccurrence", "Co-occurrence"), ("themes_time", "Themes over time"),
                                      ("stance_time", "Stance over time")]):
        col.download_button(label, data=lambda name=name: chart_png(key, name, filters, ctx),
                            file_name=f"{stem}_{name}.png", mime="image/png", key=f"dl_png_{name}", on_click="ignore")
    st.subheader("REFI-QDA project")
    st.caption("A .qdpx file for ATLAS.ti, MAXQDA, NVivo, QualCoder and other REFI-QDA tools: one text source per "
               "thread, one coded selection per unit (themes and stance values as codes).")
    st.download_button("REFI-QDA project (.qdpx)", data=lambda: export_bytes(key, "qdpx", filters, pseudo_on, ctx),
                       file_name=f"{stem}.qdpx", mime="application/zip", key="dl_qdpx", on_click="ignore")


# --- main ----------------------------------------------------------------------------------------

PAGE_FUNCS = {"Overview": overview_page, "Comments": comments_page, "Thread": thread_page, "Words": words_page,
              "Annotate": annotate_page, "Evaluation": evaluation_page, "Codebook": codebook_page,
              "Export": export_page}


def main() -> None:
    st.set_page_config(page_title="Probation TR explorer", layout="wide")
    for k in PERSISTENT_KEYS:
        if k in st.session_state:
            st.session_state[k] = st.session_state[k]
        elif k in WIDGET_DEFAULTS:
            st.session_state[k] = WIDGET_DEFAULTS[k]
    choices = sidebar_ui()
    codebook_mtime = _mtime(CODEBOOK_PATH)
    try:
        codebook = get_codebook(str(CODEBOOK_PATH), codebook_mtime)
    except PipelineError as exc:
        st.error(md(exc))
        st.stop()
    if choices["upload"] and choices["files"]:
        run = upload_run(choices["files"], default_run().parent, default_model())
        if run is not None:
            _set_run(str(run))
            st.rerun()
    run = choices["run"]
    if not (run / "units.parquet").exists():
        if run.resolve() == default_run().resolve():
            if not build_run_ui(run, [default_corpus()], default_model(),
                                f"First start: parsing and coding the bundled corpus into {run}..."):
                st.stop()
        else:
            st.error(f"{md(run)} is not a run directory (units.parquet is missing). Build one with "
                     "`python -m pipeline run <thread files> --out <run>` or pick another run.")
            st.stop()
    sig = ex.run_signature(run)
    data = get_run(sig, str(run), str(CODEBOOK_PATH), codebook_mtime)
    model_df = data["units"]
    labels_path = choices["labels_path"]
    labels_all = get_labels_file(str(labels_path), _mtime(labels_path), str(CODEBOOK_PATH), codebook_mtime)
    gold = None
    if labels_all is not None and len(labels_all):
        g = labels_all[labels_all["annotator"] == "gold"]
        gold = g[g["unit_id"].isin(data["index"])] if len(g) else None
    source = choices["source"]
    if source == "gold" and (gold is None or not len(gold)):
        st.sidebar.warning("No gold labels for this run's units: showing model predictions.")
        source = "model"
    if not data["has_labels"]:
        st.warning("This run has no labels.parquet yet: units are shown without codes. Code it with "
                   "`python -m pipeline classify <run>`.")
    df = ex.gold_view(model_df, gold, codebook) if source == "gold" else model_df
    pseudo = get_pseudonymiser(sig, str(run)) if choices["pseudonymise"] else None
    ctx = Ctx(run=run, sig=sig, codebook=codebook, model_df=model_df, df=df, index=data["index"],
              threads=data["threads"], report=data["report"], has_labels=data["has_labels"], labels_all=labels_all,
              gold=gold, source=source, pseudo=pseudo, annotator=choices["annotator"],
              annotations_path=choices["annotations_path"], labels_path=labels_path)
    if (data["has_labels"] and len(model_df) and model_df["model"].iloc[0] == "rules"
            and (BUNDLED_MODEL / "model.json").exists()):
        st.sidebar.info("This run was coded with the codebook rules; a trained model is now in models/default.")
        if st.sidebar.button("Re-code with the trained model", key="recode_bundled"):
            from pipeline.runs import classify_run

            with st.spinner("Re-coding..."):
                classify_run(run, BUNDLED_MODEL)
            st.cache_resource.clear()
            st.cache_data.clear()
            st.rerun()
    st.sidebar.caption(f"Run: `{run}` · {len(model_df):,} units · "
                       + (f"{len(gold):,} gold-labelled" if gold is not None else "no gold labels"))
    PAGE_FUNCS[choices["page"]](ctx)


if __name__ == "__main__":
    main()
