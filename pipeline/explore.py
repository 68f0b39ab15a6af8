"""Data functions behind the Streamlit explorer (``app.py``): pure, vectorised and tested.

Nothing here imports Streamlit.  The app reads a run directory into one flat table
(:func:`read_run`), then every page asks this module for what it shows:

* filters (:class:`Filters`, :func:`filter_mask`) and the summary tables of the overview
  (:func:`theme_prevalence`, :func:`stance_by_theme`, :func:`cooccurrence`, :func:`time_series`);
* evidence highlighting (:func:`evidence_spans`, :func:`highlight_html`): comment text is
  untrusted, so every piece of it is ``html.escape``-d before any tag is put around it;
* pseudonymisation of commenter names (:class:`Pseudonymiser`);
* keyword in context (:func:`kwic`) and distinctive terms by the log-odds ratio with an
  informative Dirichlet prior (:func:`log_odds_dirichlet`, Monroe, Colaresi & Quinn 2008);
* the annotation queue (:func:`uncertainty`, :func:`annotation_queue`);
* exports: flat tables (:func:`export_frame`), PNG charts, and a REFI-QDA project
  (:func:`refi_qda_project`, a ``.qdpx`` zip).

Theme codes always come from the codebook; each theme is a boolean column ``th__<code>``.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .codebook import Codebook

# The three dates of Transforming Rehabilitation marked on every time chart.
MILESTONES: tuple[tuple[str, str], ...] = (
    ("2014-06-01", "TR split (Jun 2014)"),
    ("2015-02-01", "CRCs sold (Feb 2015)"),
    ("2018-07-01", "CRC contracts ended early (Jul 2018)"),
)
THEME_PREFIX = "th__"
SCHEMES = ("stance_tr", "reply_stance")
# Columns read from units.parquet for the main table; list columns are slow to decode and are
# read on demand (mentions for pseudonyms, quoted_text/urls for exports).
UNIT_COLUMNS = ("unit_id", "thread_id", "kind", "parent_id", "depth", "position", "author", "timestamp", "text",
                "own_text", "word_count", "confidence", "confidence_note", "link_only")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f")
STANCE_COLOURS = {"against": "#c0392b", "favour": "#27ae60", "none": "#7f8c8d", "support": "#2980b9",
                  "deny": "#d35400", "query": "#8e44ad", "comment": "#7f8c8d"}


def theme_col(code: str) -> str:
    return THEME_PREFIX + code


def theme_colour(codebook: Codebook, code: str) -> str:
    names = codebook.theme_names
    return PALETTE[names.index(code) % len(PALETTE)] if code in names else "#555555"


def stance_colour(value: str) -> str:
    return STANCE_COLOURS.get(value, "#34495e")


# --- Reading a run ---------------------------------------------------------------------------

def _existing_columns(path: Path, wanted: Iterable[str]) -> list[str]:
    names = set(_schema_names(path))
    return [c for c in wanted if c in names]


def theme_matrix(themes: pa.ChunkedArray | pa.Array | Sequence, codes: Sequence[str]) -> np.ndarray:
    """Boolean (n_units, n_codes) matrix from a list-of-codes column, without a Python loop per row."""
    arr = themes if isinstance(themes, (pa.Array, pa.ChunkedArray)) else pa.array(
        [list(t) if t is not None and not (isinstance(t, float) and np.isnan(t)) else [] for t in themes],
        type=pa.list_(pa.string()))
    n = len(arr)
    out = np.zeros((n, len(codes)), dtype=bool)
    if n == 0 or not len(codes):
        return out
    flat = pc.list_flatten(arr)
    parents = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
    flat_np = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=object)
    for j, code in enumerate(codes):
        out[parents[flat_np == code], j] = True
    return out


def themes_from_matrix(df: pd.DataFrame, codes: Sequence[str]) -> list[list[str]]:
    """The list-of-codes column back from the ``th__`` columns (for exports)."""
    if not len(df):
        return []
    m = (np.column_stack([df[theme_col(c)].to_numpy(dtype=bool) for c in codes]) if codes
         else np.zeros((len(df), 0), bool))
    codes_arr = np.array(codes, dtype=object)
    return [codes_arr[row].tolist() for row in m]


def thread_dates(threads: pd.DataFrame, units: pd.DataFrame) -> pd.Series:
    """thread_id -> date: the post date, else the thread's earliest comment timestamp."""
    post = pd.to_datetime(threads.set_index("thread_id")["post_date"], errors="coerce", format="mixed")
    ts = pd.to_datetime(units["timestamp"], errors="coerce", format="mixed")
    earliest = ts.groupby(units["thread_id"]).min()
    return post.fillna(earliest.reindex(post.index)).dt.normalize()


def _schema_names(path: Path) -> list[str]:
    """Column names of a Parquet file or of a partitioned dataset (a folder of parts, as chunked runs write)."""
    import pyarrow.dataset as pads

    return pads.dataset(str(path), format="parquet").schema.names


def read_run(run: Path | str, codebook: Codebook) -> dict:
    """The run as one flat table (units + labels + thread title and date) and the threads table.

    Returns ``{"units": df, "threads": threads, "has_labels": bool, "report": dict}``.  The
    ``evidence`` JSON and the list columns are left out (see :func:`read_column`).
    """
    run = Path(run)
    upath, tpath, lpath = run / "units.parquet", run / "threads.parquet", run / "labels.parquet"
    units_tbl = pq.read_table(upath, columns=_existing_columns(upath, UNIT_COLUMNS))
    units = units_tbl.to_pandas()
    threads = pq.read_table(tpath).to_pandas() if tpath.exists() else pd.DataFrame(
        {"thread_id": units["thread_id"].unique(), "title": None, "post_date": None})
    codes = codebook.theme_names
    has_labels = lpath.exists()
    if has_labels:
        cols = [c for c in _schema_names(lpath) if c != "evidence"]
        ltbl = pq.read_table(lpath, columns=cols)
        m = theme_matrix(ltbl.column("themes"), codes)
        labels = ltbl.drop(["themes"]).to_pandas()
        for j, c in enumerate(codes):
            labels[theme_col(c)] = m[:, j]
        same_order = len(labels) == len(units) and bool(
            (labels["unit_id"].to_numpy() == units["unit_id"].to_numpy()).all())
        if same_order:
            df = pd.concat([units, labels.drop(columns=["unit_id"])], axis=1)
        else:
            df = units.merge(labels, on="unit_id", how="left")
            for c in codes:
                df[theme_col(c)] = df[theme_col(c)].fillna(False).astype(bool)
    else:
        df = units.copy()
        for c in codes:
            df[theme_col(c)] = False
        for s in SCHEMES:
            df[s] = None
    for s in SCHEMES:
        if s not in df:
            df[s] = None
    for code in codebook.all_labels:
        if f"p_{code}" not in df:
            df[f"p_{code}"] = np.nan
    th = np.column_stack([df[theme_col(c)].to_numpy(dtype=bool) for c in codes]) if codes else np.zeros((len(df), 0))
    df["n_themes"] = th.sum(axis=1).astype("int64")
    df["themes_str"] = themes_string(th, codes)
    df["p_theme_max"] = df[[f"p_{c}" for c in codes]].max(axis=1) if codes else 0.0
    dates = thread_dates(threads, units)
    df["date"] = df["thread_id"].map(dates)
    titles = threads.set_index("thread_id")["title"] if "title" in threads else pd.Series(dtype=str)
    df["title"] = df["thread_id"].map(titles)
    report_path = run / "report.json"
    try:
        report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else {}
    except (OSError, json.JSONDecodeError):
        report = {}
    return {"units": df, "threads": threads, "has_labels": has_labels, "report": report}


def themes_string(matrix: np.ndarray, codes: Sequence[str], sep: str = ", ") -> np.ndarray:
    """Comma-joined theme codes for each row of a boolean matrix (vectorised over rows)."""
    n = matrix.shape[0]
    out = np.full(n, "", dtype=object)
    for j, code in enumerate(codes):
        hit = matrix[:, j]
        if not hit.any():
            continue
        has = out[hit] != ""
        out[hit] = np.where(has, out[hit] + sep + code, code)
    return out


def read_column(run: Path | str, table: str, column: str, unit_ids: Sequence[str] | None = None) -> pd.Series:
    """One column of a run table as a Series indexed by unit_id (optionally only some units)."""
    path = Path(run) / f"{table}.parquet"
    if not path.exists() or column not in _schema_names(path):
        return pd.Series(dtype=object)
    tbl = pq.read_table(path, columns=["unit_id", column])
    if unit_ids is not None:
        tbl = tbl.filter(pc.is_in(tbl.column("unit_id"), value_set=pa.array(list(unit_ids), type=pa.string())))
    return pd.Series(tbl.column(column).to_pylist(), index=tbl.column("unit_id").to_pylist(), dtype=object)


def run_signature(run: Path | str) -> tuple:
    """Changes whenever a table of the run is rewritten: a cache key."""
    run = Path(run)
    sig = [str(run.resolve())]
    for name in ("units.parquet", "labels.parquet", "threads.parquet", "report.json", "evaluation/evaluation.json"):
        p = run / name
        if p.exists():
            st = p.stat()
            sig.append((name, st.st_mtime_ns, st.st_size))
    return tuple(sig)


# --- Gold labels --------------------------------------------------------------------------------

def gold_view(df: pd.DataFrame, gold: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """The units that have gold labels, with the gold codes in place of the predictions.

    ``gold`` has columns unit_id, themes (list), stance_tr, reply_stance (one row per unit).
    Probabilities stay the model's; ``pred__`` columns keep the predictions for comparison.
    """
    codes = codebook.theme_names
    if gold is None or not len(gold):
        return df.iloc[0:0].copy()
    g = gold.drop_duplicates("unit_id", keep="last").set_index("unit_id")
    out = df[df["unit_id"].isin(g.index)].copy()
    gg = g.reindex(out["unit_id"])
    m = theme_matrix(pa.array([list(t) if isinstance(t, (list, tuple, np.ndarray)) else [] for t in gg["themes"]],
                              type=pa.list_(pa.string())), codes)
    for j, c in enumerate(codes):
        out["pred__" + theme_col(c)] = out[theme_col(c)]
        out[theme_col(c)] = m[:, j]
    for s in SCHEMES:
        out["pred__" + s] = out[s]
        out[s] = gg[s].to_numpy()
    out["n_themes"] = m.sum(axis=1)
    out["themes_str"] = themes_string(m, codes)
    return out


# --- Filters ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """What the Comments page asks for.  Empty tuples mean 'any'."""

    themes: tuple[str, ...] = ()
    theme_mode: str = "any"  # "any" or "all" of the chosen themes
    min_prob: float | None = None  # None: predicted codes; else p_<theme> >= min_prob
    no_theme: bool = False  # only units without any theme
    stance_tr: tuple[str, ...] = ()
    reply_stance: tuple[str, ...] = ()
    threads: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    text: str = ""
    regex: bool = False
    low_confidence_only: bool = False

    def describe(self) -> str:
        parts = []
        if self.themes:
            rule = f"p >= {self.min_prob:.2f}" if self.min_prob is not None else "predicted"
            parts.append(f"{self.theme_mode} of themes {', '.join(self.themes)} ({rule})")
        if self.no_theme:
            parts.append("no theme")
        for name in ("stance_tr", "reply_stance", "threads", "kinds", "authors"):
            v = getattr(self, name)
            if v:
                parts.append(f"{name} in {', '.join(v)}")
        if self.text:
            parts.append(f"text contains {self.text!r}")
        if self.low_confidence_only:
            parts.append("low-confidence structure")
        return "; ".join(parts) or "all units"


def filter_mask(df: pd.DataFrame, f: Filters) -> np.ndarray:
    """Boolean mask of the rows matching ``f`` (vectorised; no per-row Python)."""
    n = len(df)
    mask = np.ones(n, dtype=bool)
    if f.themes:
        hits = []
        for code in f.themes:
            if f.min_prob is not None and f"p_{code}" in df:
                hits.append(df[f"p_{code}"].fillna(0).to_numpy() >= f.min_prob)
            elif theme_col(code) in df:
                hits.append(df[theme_col(code)].to_numpy(dtype=bool))
            else:
                hits.append(np.zeros(n, dtype=bool))
        stacked = np.vstack(hits)
        mask &= stacked.all(axis=0) if f.theme_mode == "all" else stacked.any(axis=0)
    if f.no_theme:
        mask &= df["n_themes"].to_numpy() == 0
    for col, values in (("stance_tr", f.stance_tr), ("reply_stance", f.reply_stance), ("thread_id", f.threads),
                        ("kind", f.kinds), ("author", f.authors)):
        if values:
            mask &= df[col].isin(list(values)).to_numpy(dtype=bool)
    if f.text:
        try:
            hit = df["text"].str.contains(f.text, case=False, regex=f.regex, na=False)
        except (re.error, ValueError):  # an unfinished regular expression matches nothing
            hit = pd.Series(False, index=df.index)
        mask &= hit.to_numpy(dtype=bool)
    if f.low_confidence_only:
        mask &= (df["confidence"] == "low").to_numpy(dtype=bool)
    return mask


def filter_units(df: pd.DataFrame, f: Filters) -> pd.DataFrame:
    return df[filter_mask(df, f)]


SORTS = {
    "reading order": (["thread_id", "position"], [True, True]),
    "highest theme probability": (["p_theme_max", "thread_id", "position"], [False, True, True]),
    "most themes": (["n_themes", "thread_id", "position"], [False, True, True]),
    "longest": (["word_count", "thread_id", "position"], [False, True, True]),
}


def sort_units(df: pd.DataFrame, how: str = "reading order", prob_col: str | None = None) -> pd.DataFrame:
    if how == "highest probability of the chosen theme" and prob_col and prob_col in df:
        return df.sort_values([prob_col, "thread_id", "position"], ascending=[False, True, True], kind="stable")
    cols, asc = SORTS.get(how, SORTS["reading order"])
    return df.sort_values(cols, ascending=asc, kind="stable")


def page_slice(df: pd.DataFrame, page: int, size: int) -> pd.DataFrame:
    """Rows of page ``page`` (1-based); out-of-range pages are clamped."""
    n_pages = max(1, -(-len(df) // size))
    page = min(max(1, page), n_pages)
    return df.iloc[(page - 1) * size: page * size]


# --- Overview tables -----------------------------------------------------------------------------

def theme_prevalence(df: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    n = len(df)
    rows = []
    for code in codebook.theme_names:
        k = int(df[theme_col(code)].sum()) if n else 0
        rows.append({"theme": code, "label": codebook.themes[code].label, "units": k, "share": k / n if n else 0.0})
    k0 = int((df["n_themes"] == 0).sum()) if n else 0
    rows.append({"theme": "(none)", "label": "No theme", "units": k0, "share": k0 / n if n else 0.0})
    return pd.DataFrame(rows)


def stance_by_theme(df: pd.DataFrame, codebook: Codebook, scheme: str = "stance_tr") -> pd.DataFrame:
    """For each theme (and all units), how its units divide over the values of ``scheme``."""
    values = codebook.values(scheme)
    rows = []
    groups = [(c, df[theme_col(c)].to_numpy(dtype=bool)) for c in codebook.theme_names]
    groups.append(("(all units)", np.ones(len(df), dtype=bool)))
    stance = df[scheme].to_numpy(dtype=object)
    for name, m in groups:
        sub = stance[m]
        total = int(m.sum())
        for v in values:
            k = int((sub == v).sum())
            rows.append({"theme": name, "value": v, "units": k, "share": k / total if total else 0.0, "total": total})
    return pd.DataFrame(rows)


def cooccurrence(df: pd.DataFrame, codebook: Codebook, measure: str = "count") -> pd.DataFrame:
    """Square theme x theme table: units carrying both (diagonal: units carrying the theme).

    ``measure``: ``count``, ``jaccard`` (|A and B| / |A or B|) or ``conditional``
    (row theme given column theme: |A and B| / |B|).
    """
    codes = codebook.theme_names
    m = (np.column_stack([df[theme_col(c)].to_numpy(dtype=float) for c in codes]) if len(codes)
         else np.zeros((len(df), 0)))
    both = m.T @ m
    if measure == "jaccard":
        diag = np.diag(both)
        union = diag[:, None] + diag[None, :] - both
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = np.where(union > 0, both / union, 0.0)
    elif measure == "conditional":
        diag = np.diag(both)
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = np.where(diag[None, :] > 0, both / diag[None, :], 0.0)
    else:
        vals = both.astype(int)
    return pd.DataFrame(vals, index=codes, columns=codes)


def cooccurrence_long(matrix: pd.DataFrame) -> pd.DataFrame:
    out = matrix.rename_axis("row").reset_index().melt(id_vars="row", var_name="column", value_name="value")
    return out


def time_series(df: pd.DataFrame, codebook: Codebook, freq: str = "Q", what: str = "themes") -> pd.DataFrame:
    """Long table (period, series, units, total, share) by the thread date.

    ``what``: ``themes`` (one series per theme) or a stance scheme (one series per value).
    Units without a date are left out (the app says how many).
    """
    dated = df[df["date"].notna()]
    if not len(dated):
        return pd.DataFrame(columns=["period", "series", "units", "total", "share"])
    period = dated["date"].dt.to_period(freq).dt.start_time
    total = period.value_counts().sort_index()
    if what == "themes":
        series = {c: dated[theme_col(c)].to_numpy(dtype=bool) for c in codebook.theme_names}
    else:
        vals = dated[what].to_numpy(dtype=object)
        series = {v: vals == v for v in codebook.values(what)}
    frames = []
    for name, hit in series.items():
        counts = pd.Series(hit.astype(int), index=period.index).groupby(period.to_numpy()).sum()
        counts = counts.reindex(total.index, fill_value=0)
        frames.append(pd.DataFrame({"period": total.index, "series": name, "units": counts.to_numpy(),
                                    "total": total.to_numpy()}))
    out = pd.concat(frames, ignore_index=True)
    out["share"] = out["units"] / out["total"].where(out["total"] > 0, 1)
    return out


def milestones_frame() -> pd.DataFrame:
    return pd.DataFrame({"date": pd.to_datetime([d for d, _ in MILESTONES]), "event": [e for _, e in MILESTONES]})


def summary_counts(df: pd.DataFrame, threads: pd.DataFrame) -> dict:
    kinds = df["kind"].value_counts()
    return {"threads": int(df["thread_id"].nunique()), "units": int(len(df)),
            "posts": int(kinds.get("post", 0) + kinds.get("contribution", 0)),
            "comments": int(kinds.get("comment", 0)), "replies": int(kinds.get("reply", 0)),
            "coded": int((df["n_themes"] > 0).sum()), "low_confidence": int((df["confidence"] == "low").sum()),
            "dated": int(df["date"].notna().sum())}


# --- Evidence and safe HTML ------------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    start: int
    end: int
    code: str
    cues: tuple[str, ...] = ()


def parse_evidence(evidence: str | dict | None) -> dict[str, list[dict]]:
    if isinstance(evidence, dict):
        return evidence
    if not evidence or not isinstance(evidence, str):
        return {}
    try:
        data = json.loads(evidence)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def evidence_spans(text: str, own_text: str | None, evidence: str | dict | None) -> list[Span]:
    """Evidence sentences located in ``text``.

    Evidence offsets are character offsets in ``own_text`` (quotations removed).  When the
    unit has no quotations they index ``text`` directly; otherwise the sentence is looked up
    in ``text`` (first occurrence at or after the previous hit); a sentence not found is skipped.
    """
    text = text or ""
    own = own_text if isinstance(own_text, str) else text
    spans: list[Span] = []
    for code, items in parse_evidence(evidence).items():
        if not isinstance(items, list):
            continue
        for it in items:
            if not isinstance(it, dict):
                continue
            sent = str(it.get("sentence") or "").strip()
            start, end = it.get("start"), it.get("end")
            cues = tuple(str(c) for c in it.get("cues") or [])
            if own == text and isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
                seg = text[start:end]
                lead = len(seg) - len(seg.lstrip())
                trail = len(seg) - len(seg.rstrip())
                if seg.strip() and (not sent or seg.strip() == sent):
                    spans.append(Span(start + lead, end - trail, str(code), cues))
                    continue
            if not sent:
                continue
            pos = text.find(sent)
            if pos >= 0:
                spans.append(Span(pos, pos + len(sent), str(code), cues))
    return sorted(spans, key=lambda s: (s.start, s.end, s.code))


def _segments(length: int, spans: Sequence[Span]) -> list[tuple[int, int, list[Span]]]:
    """Cut [0, length) at every span boundary; each piece lists the spans covering it."""
    cuts = {0, length}
    for s in spans:
        cuts.update((max(0, min(length, s.start)), max(0, min(length, s.end))))
    points = sorted(cuts)
    out = []
    for a, b in zip(points, points[1:]):
        if a < b:
            out.append((a, b, [s for s in spans if s.start <= a and b <= s.end]))
    return out


def highlight_html(text: str, spans: Sequence[Span] = (), *, colours: dict[str, str] | None = None,
                   pseudonymiser: "Pseudonymiser | None" = None, max_chars: int | None = None) -> str:
    """The text as safe HTML with evidence spans wrapped in ``<mark>``.

    The text is cut at span boundaries and every piece is escaped with ``html.escape``
    before a tag is put around it, so nothing from the text can become markup; the
    result is wrapped in a ``pre-wrap`` block (no Markdown is involved at all).
    """
    text = text or ""
    if pseudonymiser is not None and pseudonymiser:
        text, remap = pseudonymiser.text_and_offsets(text)
        spans = [Span(remap(s.start), remap(s.end), s.code, s.cues) for s in spans]
    truncated = False
    if max_chars is not None and len(text) > max_chars:
        text, truncated = text[:max_chars], True
        spans = [Span(s.start, min(s.end, max_chars), s.code, s.cues) for s in spans if s.start < max_chars]
    colours = colours or {}
    parts = []
    for a, b, covering in _segments(len(text), spans):
        piece = html.escape(text[a:b], quote=True)
        if covering:
            codes = sorted({s.code for s in covering})
            cues = sorted({c for s in covering for c in s.cues})
            colour = colours.get(codes[0], "#f6d155")
            title = html.escape(", ".join(codes) + (f" (cues: {', '.join(cues)})" if cues else ""), quote=True)
            piece = (f'<mark title="{title}" style="background:{_tint(colour)};border-bottom:2px solid {colour};'
                     f'padding:0 1px">{piece}</mark>')
        parts.append(piece)
    if truncated:
        parts.append(" &hellip;")
    return '<div class="unit-text" style="white-space:pre-wrap;line-height:1.5">' + "".join(parts) + "</div>"


def _tint(hex_colour: str, alpha: str = "33") -> str:
    return hex_colour + alpha if re.fullmatch(r"#[0-9a-fA-F]{6}", hex_colour) else "#f6d15555"


def chip_html(label: str, colour: str) -> str:
    return (f'<span style="display:inline-block;border-radius:0.8em;padding:0 0.6em;margin:0 0.25em 0.2em 0;'
            f'font-size:0.8em;background:{_tint(colour, "22")};border:1px solid {colour};color:#222">'
            f'{html.escape(label)}</span>')


def badge_html(label: str, colour: str) -> str:
    return (f'<span style="display:inline-block;border-radius:0.25em;padding:0 0.45em;margin:0 0.25em 0.2em 0;'
            f'font-size:0.78em;background:{colour};color:#fff">{html.escape(label)}</span>')


def labels_html(row: pd.Series | dict, codebook: Codebook) -> str:
    """Theme chips and stance badges of one unit (codes only: no user text)."""
    parts = [chip_html(codebook.themes[c].label, theme_colour(codebook, c)) for c in codebook.theme_names
             if bool(row.get(theme_col(c), False))]
    for s in SCHEMES:
        v = row.get(s)
        if isinstance(v, str) and v:
            parts.append(badge_html(f"{'TR' if s == 'stance_tr' else 'reply'}: {v}", stance_colour(v)))
    return "".join(parts)


def md_escape(text: str) -> str:
    """Escape Markdown (and HTML) in trusted-but-literal text shown through ``st.markdown``."""
    text = html.escape(str(text), quote=False)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|>~:])", r"\\\1", text)


# --- Pseudonyms -------------------------------------------------------------------------------------

ANONYMOUS = {"", "anonymous", "anon", "unknown", "annon"}


def is_name_mention(mention: str) -> bool:
    """A mention by name ('Jim'), not by time ('Anon 10:20', '18:33')."""
    return bool(mention) and not any(ch.isdigit() for ch in mention) and any(ch.isalpha() for ch in mention)


def collect_names(authors: Iterable, mentions: Iterable | None = None) -> list[str]:
    """Commenter names in order of first appearance: authors, then names mentioned in text."""
    seen: dict[str, None] = {}
    for a in authors:
        if isinstance(a, str) and a.strip() and a.strip().lower() not in ANONYMOUS:
            seen.setdefault(a.strip(), None)
    for ms in (() if mentions is None else mentions):
        if ms is None or isinstance(ms, float):
            continue
        for m in ms:
            if isinstance(m, str) and is_name_mention(m) and m.strip().lower() not in ANONYMOUS:
                seen.setdefault(m.strip(), None)
    return list(seen)


def trie_regex(words: Iterable[str]) -> str:
    """One regular expression matching any of ``words``, built as a trie so that matching
    costs the length of the text, not the number of words (a corpus may name thousands of
    commenters); at each position the longest word wins."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = True

    def build(node: dict) -> str:
        end = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch != ""]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if end else body

    return "(?:" + build(trie) + ")"


class Pseudonymiser:
    """Replaces commenter names by stable pseudonyms ('Commenter 3') in names and texts.

    Matching is case-sensitive on whole words (as the parser finds mentions).  Offsets
    into a text can be carried through the replacement (:meth:`text_and_offsets`).
    """

    def __init__(self, names: Sequence[str], prefix: str = "Commenter") -> None:
        self.mapping = {name: f"{prefix} {i}" for i, name in enumerate(names, 1)}
        self.pattern = re.compile(r"(?<!\w)" + trie_regex(self.mapping) + r"(?!\w)") if self.mapping else None

    def __bool__(self) -> bool:
        return self.pattern is not None

    def name(self, value):
        if not isinstance(value, str):
            return value
        return self.mapping.get(value.strip(), value)

    def text(self, value):
        if not isinstance(value, str) or self.pattern is None:
            return value
        return self.pattern.sub(lambda m: self.mapping[m.group(0)], value)

    def text_and_offsets(self, value: str) -> tuple[str, Callable[[int], int]]:
        """The pseudonymised text and a function taking an old offset to the new one."""
        if not value or self.pattern is None:
            return value, lambda i: i
        pieces, edits, last, shift = [], [], 0, 0
        for m in self.pattern.finditer(value):
            rep = self.mapping[m.group(0)]
            pieces.append(value[last:m.start()])
            pieces.append(rep)
            edits.append((m.start(), m.end(), m.start() + shift, len(rep)))
            shift += len(rep) - (m.end() - m.start())
            last = m.end()
        pieces.append(value[last:])
        starts = np.array([e[0] for e in edits], dtype=np.int64)

        def remap(i: int) -> int:
            k = int(np.searchsorted(starts, i, side="right")) - 1
            if k < 0:
                return i
            s, e, new_s, rep_len = edits[k]
            if i >= e:
                return new_s + rep_len + (i - e)
            return new_s if i == s else new_s + rep_len  # inside a name: snap to its ends
        return "".join(pieces), remap

    def series(self, s: pd.Series) -> pd.Series:
        if self.pattern is None or not len(s):
            return s
        return s.map(self.text)

    def list_series(self, s: pd.Series) -> pd.Series:
        return s.map(lambda v: [self.text(x) for x in v] if isinstance(v, (list, tuple, np.ndarray)) else v)

    def evidence(self, evidence: str | None, own_text: str | None) -> str | None:
        """Evidence JSON with names replaced and offsets moved to the pseudonymised own_text."""
        data = parse_evidence(evidence)
        if not data or self.pattern is None:
            return evidence
        _, remap = self.text_and_offsets(own_text or "")
        out = {}
        for code, items in data.items():
            new_items = []
            for it in items if isinstance(items, list) else []:
                it = dict(it)
                it["sentence"] = self.text(it.get("sentence"))
                if isinstance(it.get("start"), int) and isinstance(it.get("end"), int):
                    it["start"], it["end"] = remap(it["start"]), remap(it["end"])
                it["cues"] = [self.text(c) for c in it.get("cues") or []]
                new_items.append(it)
            out[code] = new_items
        return json.dumps(out, ensure_ascii=False)

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``df`` with names replaced in every name and text column present."""
        if self.pattern is None:
            return df
        out = df.copy()
        if "evidence" in out and "own_text" in out:
            out["evidence"] = [self.evidence(e, o) for e, o in zip(out["evidence"], out["own_text"])]
        for col in ("author",):
            if col in out:
                out[col] = out[col].map(self.name)
        for col in ("text", "own_text", "snippet", "left", "keyword", "right"):
            if col in out:
                out[col] = self.series(out[col])
        for col in ("quoted_text", "mentions"):
            if col in out:
                out[col] = self.list_series(out[col])
        return out


# --- Threads -----------------------------------------------------------------------------------------

def thread_units(df: pd.DataFrame, thread_id: str) -> pd.DataFrame:
    """The thread's units in reading order, each reply after its parent (depth-first)."""
    t = df[df["thread_id"] == thread_id].sort_values("position", kind="stable")
    children: dict[str | None, list[int]] = {}
    ids = set(t["unit_id"])
    for i, (uid, parent) in enumerate(zip(t["unit_id"], t["parent_id"])):
        key = parent if isinstance(parent, str) and parent in ids else None
        children.setdefault(key, []).append(i)
    order: list[int] = []
    stack = list(reversed(children.get(None, [])))
    uids = t["unit_id"].tolist()
    while stack:
        i = stack.pop()
        order.append(i)
        stack.extend(reversed(children.get(uids[i], [])))
    return t.iloc[order]


def thread_tree_html(units: pd.DataFrame, codebook: Codebook, *, pseudonymiser: Pseudonymiser | None = None,
                     max_chars: int = 1200) -> str:
    """The thread as nested boxes: each unit with its chips, badges and escaped text."""
    out = ['<div class="thread-tree">']
    for row in units.to_dict("records"):
        depth = int(row.get("depth") or 0)
        author = row.get("author") if isinstance(row.get("author"), str) else "Anonymous"
        if pseudonymiser:
            author = pseudonymiser.name(author)
        stamp = row.get("timestamp") if isinstance(row.get("timestamp"), str) else ""
        head = (f'<b>{html.escape(str(row["unit_id"]))}</b> &middot; {html.escape(str(row.get("kind") or ""))} '
                f'&middot; {html.escape(author)}' + (f' &middot; {html.escape(stamp)}' if stamp else ""))
        if row.get("confidence") == "low":
            head += ' &middot; <span style="color:#b9770e">low-confidence structure</span>'
        body = highlight_html(row.get("text") or "", (), pseudonymiser=pseudonymiser, max_chars=max_chars)
        out.append(f'<div style="margin:0 0 0.5em {min(depth, 8) * 1.6}em;padding:0.4em 0.6em;'
                   f'border-left:3px solid {"#34495e" if depth == 0 else "#aab7b8"};background:#fafafa">'
                   f'<div style="font-size:0.85em;color:#555">{head}</div>'
                   f'<div>{labels_html(row, codebook)}</div>{body}</div>')
    out.append("</div>")
    return "".join(out)


# --- Words: tokens, lemmas, KWIC, log-odds -------------------------------------------------------

TOKEN_RE = re.compile(r"[^\W\d_](?:[\w'’-]*[^\W_])?", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return [t.lower().replace("’", "'") for t in TOKEN_RE.findall(text or "")]


@lru_cache(maxsize=1)
def lemma_lookup() -> dict[str, str]:
    """spaCy's English lookup lemmas (word form -> lemma), the table the preprocess stage uses."""
    try:
        import spacy_lookups_data

        path = Path(spacy_lookups_data.en["lemma_lookup"])
        for candidate in (path, path.with_suffix(".json.gz")):
            if candidate.exists():
                raw = candidate.read_bytes()
                if raw[:2] == b"\x1f\x8b":
                    raw = gzip.decompress(raw)
                return json.loads(raw)
    except Exception:  # noqa: BLE001 - without the table, lemma mode falls back to the word itself
        pass
    return {}


def lemma_of(word: str, table: dict[str, str] | None = None) -> str:
    table = lemma_lookup() if table is None else table
    w = word.lower()
    return table.get(w, w)


def lemma_forms(lemma: str, table: dict[str, str] | None = None) -> set[str]:
    """Every word form whose lemma is ``lemma`` (the lemma itself included)."""
    table = lemma_lookup() if table is None else table
    target = lemma_of(lemma, table)
    forms = {target, lemma.lower()}
    forms.update(form for form, lem in table.items() if lem == target)
    return forms


def kwic(texts: pd.Series, query: str, *, lemma: bool = False, window: int = 60, max_lines: int = 500,
         table: dict[str, str] | None = None) -> pd.DataFrame:
    """Keyword in context: every occurrence of ``query`` (a word or phrase; with ``lemma``,
    any form of the word's lemma) with ``window`` characters either side.

    ``texts`` is indexed by unit id.  Returns columns unit_id, left, keyword, right, start.
    """
    query = (query or "").strip()
    cols = ["unit_id", "left", "keyword", "right", "start"]
    if not query or not len(texts):
        return pd.DataFrame(columns=cols)
    if lemma and " " not in query:
        forms = sorted(lemma_forms(query, table), key=len, reverse=True)
        core = "|".join(re.escape(f) for f in forms)
        literals = forms
    else:
        core = r"\s+".join(re.escape(w) for w in query.split())
        literals = [query.split()[0]]
    pattern = re.compile(rf"(?<!\w)(?:{core})(?!\w)", re.IGNORECASE)
    # Pre-filter with vectorised, case-insensitive substring search (fast, in C), then run the
    # exact pattern in Python on the candidate texts only.
    hit = np.zeros(len(texts), dtype=bool)
    for lit in literals:
        hit |= texts.str.contains(lit, case=False, regex=False, na=False).to_numpy(dtype=bool)
    rows = []
    for uid, text in texts[hit].items():
        for m in pattern.finditer(text):
            left = text[max(0, m.start() - window):m.start()]
            right = text[m.end():m.end() + window]
            rows.append({"unit_id": uid, "left": " ".join(left.split()), "keyword": m.group(0),
                         "right": " ".join(right.split()), "start": m.start()})
            if len(rows) >= max_lines:
                return pd.DataFrame(rows, columns=cols)
    return pd.DataFrame(rows, columns=cols)


def term_counts(texts: Iterable[str], *, lemmas: bool = False, min_count: int = 2,
                stop_words: Iterable[str] = ()) -> tuple["scipy.sparse.csr_matrix", np.ndarray]:  # noqa: F821
    """Document-term counts (sparse, documents x terms) and the vocabulary, lower-cased."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer

    table = lemma_lookup() if lemmas else None
    stop = set(stop_words)

    def analyzer(text: str) -> list[str]:
        toks = tokenize(text)
        if table is not None:
            toks = [table.get(t, t) for t in toks]
        return [t for t in toks if t not in stop] if stop else toks

    vec = CountVectorizer(analyzer=analyzer)
    X = vec.fit_transform(texts)
    vocab = vec.get_feature_names_out()
    if min_count > 1 and X.shape[1]:
        keep = np.flatnonzero(np.asarray(X.sum(axis=0)).ravel() >= min_count)
        X, vocab = X[:, keep], vocab[keep]
    return sp.csr_matrix(X), np.asarray(vocab, dtype=object)


def log_odds_dirichlet(y_i: np.ndarray, y_j: np.ndarray, prior: np.ndarray | None = None,
                       alpha0: float = 500.0) -> tuple[np.ndarray, np.ndarray]:
    """Log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008, eq. 22).

    ``y_i``, ``y_j``: word counts in the two groups (same vocabulary).  ``prior``: background
    counts (default ``y_i + y_j``), scaled so the prior sums to ``alpha0``.  Returns
    ``(delta, z)``: the estimated log-odds difference of each word between group i and j,
    and its z-score ``delta / sqrt(1/(y_i+a_w) + 1/(y_j+a_w))``.  Positive = more typical of i.
    """
    y_i = np.asarray(y_i, dtype=float)
    y_j = np.asarray(y_j, dtype=float)
    prior = y_i + y_j if prior is None else np.asarray(prior, dtype=float)
    total = prior.sum()
    if total <= 0 or not len(y_i):
        return np.zeros_like(y_i), np.zeros_like(y_i)
    a_w = alpha0 * prior / total
    a_w = np.where(a_w > 0, a_w, 1e-9)
    a_0 = a_w.sum()
    n_i, n_j = y_i.sum(), y_j.sum()
    delta = (np.log((y_i + a_w) / (n_i + a_0 - y_i - a_w))
             - np.log((y_j + a_w) / (n_j + a_0 - y_j - a_w)))
    var = 1.0 / (y_i + a_w) + 1.0 / (y_j + a_w)
    return delta, delta / np.sqrt(var)


def distinctive_terms(X, vocab: np.ndarray, mask: np.ndarray, *, alpha0: float = 500.0, top: int = 25,
                      min_group_count: int = 1) -> pd.DataFrame:
    """Terms most typical of the units in ``mask`` against the rest (z >= 0), and of the rest (z < 0).

    Returns columns term, group_count, rest_count, delta, z, side ('group' / 'rest'), top
    ``top`` of each side by |z|.
    """
    mask = np.asarray(mask, dtype=bool)
    cols = ["term", "group_count", "rest_count", "delta", "z", "side"]
    if X.shape[1] == 0 or not mask.any() or mask.all():
        return pd.DataFrame(columns=cols)
    y_i = np.asarray(X[mask].sum(axis=0)).ravel()
    y_j = np.asarray(X[~mask].sum(axis=0)).ravel()
    delta, z = log_odds_dirichlet(y_i, y_j, alpha0=alpha0)
    df = pd.DataFrame({"term": vocab, "group_count": y_i.astype(int), "rest_count": y_j.astype(int),
                       "delta": delta, "z": z})
    group = df[(df["z"] > 0) & (df["group_count"] >= min_group_count)].nlargest(top, "z").assign(side="group")
    rest = df[df["z"] < 0].nsmallest(top, "z").assign(side="rest")
    return pd.concat([group, rest], ignore_index=True)[cols]


# --- Annotation queue --------------------------------------------------------------------------

def uncertainty(df: pd.DataFrame, codebook: Codebook, thresholds: dict[str, float] | None = None) -> pd.Series:
    """How unsure the model is about a unit, 0 (sure) to 1 (on a decision boundary).

    Themes: closeness of p to the theme's threshold (0.5 without one); stances: 1 minus the
    margin between the two most probable values.  The unit's score is the maximum.
    """
    thresholds = thresholds or {}
    scores = []
    for c in codebook.theme_names:
        p = df[f"p_{c}"].fillna(0).to_numpy(dtype=float)
        t = float(thresholds.get(c, 0.5))
        scores.append(1 - np.abs(p - t) / max(t, 1 - t))
    for s in SCHEMES:
        cols = [f"p_{v}" for v in codebook.values(s) if f"p_{v}" in df]
        if len(cols) >= 2:
            P = np.sort(df[cols].fillna(0).to_numpy(dtype=float), axis=1)
            scores.append(1 - (P[:, -1] - P[:, -2]))
    u = np.max(np.vstack(scores), axis=0) if scores else np.zeros(len(df))
    return pd.Series(np.clip(u, 0, 1), index=df.index, name="uncertainty")


def annotation_queue(df: pd.DataFrame, codebook: Codebook, *, done: Iterable[str] = (), order: str = "uncertain",
                     thread: str | None = None, include_done: bool = False,
                     thresholds: dict[str, float] | None = None) -> list[str]:
    """Unit ids to label next: most uncertain first, or thread by thread in reading order.

    Units already labelled by the annotator (``done``) are left out unless ``include_done``,
    so reopening the app resumes where the annotator stopped.
    """
    sub = df if thread is None else df[df["thread_id"] == thread]
    if not include_done:
        sub = sub[~sub["unit_id"].isin(set(done))]
    if order == "uncertain":
        u = uncertainty(sub, codebook, thresholds)
        sub = sub.assign(_u=u.to_numpy()).sort_values(["_u", "thread_id", "position"], ascending=[False, True, True],
                                                    kind="stable")
    else:
        sub = sub.sort_values(["thread_id", "position"], kind="stable")
    return sub["unit_id"].tolist()


# --- Exports -----------------------------------------------------------------------------------------

EXPORT_COLUMNS = ("unit_id", "thread_id", "title", "kind", "parent_id", "depth", "position", "author", "timestamp",
                  "date", "word_count", "confidence", "confidence_note", "text", "own_text")


def export_frame(df: pd.DataFrame, codebook: Codebook, *, extra: dict[str, pd.Series] | None = None,
                 pseudonymiser: Pseudonymiser | None = None, source: str = "model") -> pd.DataFrame:
    """The units with their labels as a flat table: themes as a list, one column per theme,
    stances, probabilities, evidence (if given in ``extra``) and ``label_source``."""
    out = df[[c for c in EXPORT_COLUMNS if c in df]].copy()
    if "date" in out:
        out["date"] = out["date"].dt.strftime("%Y-%m-%d").where(out["date"].notna(), None)
    out["themes"] = themes_from_matrix(df, codebook.theme_names)
    for c in codebook.theme_names:
        out[c] = df[theme_col(c)].to_numpy(dtype=bool)
    for s in SCHEMES:
        out[s] = df[s].to_numpy(dtype=object)
    for code in codebook.all_labels:
        if f"p_{code}" in df:
            out[f"p_{code}"] = df[f"p_{code}"].to_numpy()
    for name, series in (extra or {}).items():
        out[name] = series.reindex(out["unit_id"]).to_numpy() if isinstance(series, pd.Series) else series
    out["label_source"] = source
    if pseudonymiser:
        out = pseudonymiser.frame(out)
    return out.reset_index(drop=True)


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    flat = df.copy()
    for col in flat.columns:
        if flat[col].dtype == object and flat[col].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
            flat[col] = flat[col].map(
                lambda v: " | ".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else v)
    return flat.to_csv(index=False).encode("utf-8")


def to_parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def to_jsonl_bytes(df: pd.DataFrame) -> bytes:
    lines = []
    cols = list(df.columns)
    for rec in df.itertuples(index=False, name=None):
        lines.append(json.dumps({k: _jsonable(v) for k, v in zip(cols, rec)}, ensure_ascii=False, default=str))
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")


# --- REFI-QDA -----------------------------------------------------------------------------------

QDA_NS = "urn:QDA-XML:project:1.0"
GUID_NAMESPACE = uuid.UUID("6f1c3c4e-2b57-5c8a-9d0e-7a1b2c3d4e5f")
_XML_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def qda_guid(*parts: str) -> str:
    """Deterministic GUID (uuid5) for a project object, e.g. ``qda_guid('code', 'workload')``."""
    return str(uuid.uuid5(GUID_NAMESPACE, "\x1f".join(parts)))


def _xml_text(s: str | None) -> str:
    return _XML_BAD.sub("", s or "")


def qda_source_text(units: pd.DataFrame) -> tuple[str, list[tuple[str, int, int]]]:
    """One thread's plain text for a QDA tool: a header line and the text of each unit.

    Returns the text and (unit_id, start, end) of each unit's text in it (character offsets).
    """
    parts: list[str] = []
    spans: list[tuple[str, int, int]] = []
    pos = 0
    for row in units.to_dict("records"):
        author = row.get("author") if isinstance(row.get("author"), str) and row.get("author") else "Anonymous"
        stamp = row.get("timestamp") if isinstance(row.get("timestamp"), str) else ""
        header = f"[{row['unit_id']}] {row.get('kind') or ''} | {author}" + (f" | {stamp}" if stamp else "") + "\n"
        body = _xml_text(row.get("text") or "")
        parts.append(header)
        pos += len(header)
        spans.append((str(row["unit_id"]), pos, pos + len(body)))
        parts.append(body + "\n\n")
        pos += len(body) + 2
    return "".join(parts), spans


def refi_qda_project(df: pd.DataFrame, codebook: Codebook, *, project_name: str = "Probation TR coding",
                     source: str = "model", pseudonymiser: Pseudonymiser | None = None,
                     created: str | None = None, user: str = "probation_tr") -> bytes:
    """A REFI-QDA 1.5 project (``.qdpx``: a zip holding ``project.qde`` and ``sources/*.txt``).

    * CodeBook: one codable Code per theme; one non-codable parent Code per stance scheme with a
      codable child per value.  Descriptions are the codebook definitions.
    * Sources: one TextSource per thread (``plainTextPath="internal://<guid>.txt"``, the file in
      ``sources/``), holding the chosen units in reading order.
    * One PlainTextSelection per unit (startPosition/endPosition: character offsets of the unit's
      text in the source), with a Coding/CodeRef for each of its themes and stance values.

    GUIDs are uuid5 of the codebook, thread and unit ids, so the same data gives the same
    project; with ``created`` unset no timestamps are written and the bytes are identical.
    """
    ET.register_namespace("", QDA_NS)
    q = lambda tag: f"{{{QDA_NS}}}{tag}"  # noqa: E731
    pseudo = pseudonymiser if pseudonymiser else None
    if pseudo:
        df = df.assign(text=pseudo.series(df["text"]), author=df["author"].map(pseudo.name))
    user_guid = qda_guid("user", user)
    attrs = {"name": project_name, "origin": "probation-tr explorer", "creatingUserGUID": user_guid}
    if created:
        attrs["creationDateTime"] = created
    root = ET.Element(q("Project"), attrs)
    users = ET.SubElement(root, q("Users"))
    ET.SubElement(users, q("User"), {"guid": user_guid, "name": user})
    codes_el = ET.SubElement(ET.SubElement(root, q("CodeBook")), q("Codes"))
    code_guid: dict[tuple[str, str], str] = {}
    for name, theme in codebook.themes.items():
        g = code_guid[("theme", name)] = qda_guid("code", codebook.name, "theme", name)
        el = ET.SubElement(codes_el, q("Code"), {"guid": g, "name": theme.label, "isCodable": "true",
                                                "color": theme_colour(codebook, name)})
        ET.SubElement(el, q("Description")).text = _xml_text(f"[{name}] {theme.definition}")
    for scheme_name, scheme in codebook.stances.items():
        parent = ET.SubElement(codes_el, q("Code"), {"guid": qda_guid("code", codebook.name, "scheme", scheme_name),
                                                    "name": scheme_name, "isCodable": "false"})
        ET.SubElement(parent, q("Description")).text = _xml_text(scheme.definition)
        for vname, value in scheme.values.items():
            g = code_guid[(scheme_name, vname)] = qda_guid("code", codebook.name, scheme_name, vname)
            child = ET.SubElement(parent, q("Code"), {"guid": g, "name": f"{scheme_name}: {vname}", "isCodable": "true",
                                                     "color": stance_colour(vname)})
            ET.SubElement(child, q("Description")).text = _xml_text(value.definition)
    files: dict[str, str] = {}
    if len(df):
        sources_el = ET.SubElement(root, q("Sources"))
        ordered = df.sort_values(["thread_id", "position"], kind="stable")
        for tid, units in ordered.groupby("thread_id", sort=True):
            text, spans = qda_source_text(units)
            sg = qda_guid("source", str(tid))
            files[f"sources/{sg}.txt"] = text
            title = units["title"].iloc[0] if "title" in units and isinstance(units["title"].iloc[0], str) else ""
            src = ET.SubElement(sources_el, q("TextSource"), {"guid": sg, "name": _xml_text(f"{tid} {title}".strip()),
                                                             "plainTextPath": f"internal://{sg}.txt",
                                                             "creatingUser": user_guid})
            ET.SubElement(src, q("Description")).text = f"Thread {tid}; codes from {source} labels."
            recs = units.to_dict("records")
            for (uid, start, end), row in zip(spans, recs):
                sel = ET.SubElement(src, q("PlainTextSelection"), {
                    "guid": qda_guid("selection", uid), "name": uid, "startPosition": str(start),
                    "endPosition": str(end), "creatingUser": user_guid})
                probs = ", ".join(f"p_{c}={row[f'p_{c}']:.2f}" for c in codebook.all_labels
                                  if isinstance(row.get(f"p_{c}"), float) and not np.isnan(row[f"p_{c}"]))
                ET.SubElement(sel, q("Description")).text = _xml_text(
                    f"{row.get('kind')} {uid}; {source} labels" + (f"; {probs}" if probs else ""))
                applied = [("theme", c) for c in codebook.theme_names if bool(row.get(theme_col(c)))]
                applied += [(s, row.get(s)) for s in SCHEMES
                            if isinstance(row.get(s), str) and (s, row.get(s)) in code_guid]
                for key in applied:
                    coding = ET.SubElement(sel, q("Coding"), {"guid": qda_guid("coding", uid, *key),
                                                             "creatingUser": user_guid})
                    ET.SubElement(coding, q("CodeRef"), {"targetGUID": code_guid[key]})
    ET.indent(root)
    xml = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode").encode("utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
        add("project.qde", xml)
        for name in sorted(files):
            add(name, files[name].encode("utf-8"))
    return buf.getvalue()


# --- Charts as PNG (matplotlib) ----------------------------------------------------------------

def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _figure(w: float = 7, h: float = 3.6):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(w, h))


def png_prevalence(prev: pd.DataFrame, title: str = "Theme prevalence") -> bytes:
    fig, ax = _figure()
    ax.barh(prev["label"][::-1], prev["share"][::-1] * 100, color="#1f77b4")
    for y, (share, n) in enumerate(zip(prev["share"][::-1], prev["units"][::-1])):
        ax.text(share * 100, y, f" {n}", va="center", fontsize=8)
    ax.set_xlabel("% of units")
    ax.set_title(title)
    return _png(fig)


def png_stance_by_theme(tab: pd.DataFrame, title: str = "Stance toward TR by theme") -> bytes:
    fig, ax = _figure()
    wide = tab.pivot(index="theme", columns="value", values="share").fillna(0)
    wide = wide.reindex(list(dict.fromkeys(tab["theme"])))
    left = np.zeros(len(wide))
    for v in wide.columns:
        ax.barh(wide.index, wide[v] * 100, left=left, label=v, color=stance_colour(v))
        left += wide[v].to_numpy() * 100
    ax.invert_yaxis()
    ax.set_xlabel("% of the theme's units")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title)
    return _png(fig)


def png_cooccurrence(matrix: pd.DataFrame, title: str = "Theme co-occurrence") -> bytes:
    fig, ax = _figure(5.5, 4.5)
    vals = matrix.to_numpy(dtype=float)
    ax.imshow(vals, cmap="Blues")
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(matrix.index)), matrix.index, fontsize=8)
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            ax.text(j, i, f"{vals[i, j]:.2g}" if vals[i, j] % 1 else f"{int(vals[i, j])}", ha="center", va="center",
                    fontsize=8)
    ax.set_title(title)
    return _png(fig)


def png_time_series(ts: pd.DataFrame, title: str = "Share of units over time") -> bytes:
    fig, ax = _figure(8, 3.8)
    for name, g in ts.groupby("series", sort=False):
        colour = STANCE_COLOURS.get(str(name))
        ax.plot(g["period"], g["share"] * 100, marker="o", label=str(name), color=colour)
    for d, label in MILESTONES:
        ax.axvline(pd.Timestamp(d), color="#888", linestyle="--", linewidth=1)
        ax.text(pd.Timestamp(d), ax.get_ylim()[1] if len(ts) else 1, " " + label, rotation=90, va="top", fontsize=7,
                color="#555")
    ax.set_ylabel("% of units")
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _png(fig)

