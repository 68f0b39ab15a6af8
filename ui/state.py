"""What every page shares: the page list, the widget keys that persist, and the context ``ctx``.

``ctx`` (:class:`Ctx`) is the contract between the entry point and the pages: each page module
has ``render(ctx)`` and reads the run, the codebook and the view options from it only.
Guaranteed fields for page authors: ``run_dir`` (Path), ``codebook``, ``codebook_path`` (Path).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from pipeline import explore as ex
from pipeline.codebook import Codebook

UPLOAD_TYPES = ["txt", "text", "html", "htm", "xml", "atom", "csv", "jsonl", "ndjson"]
# Filter widgets of the Comments page (the Words and Export pages use the same filters).
FILTER_KEYS = ("f_themes", "f_theme_mode", "f_use_prob", "f_min_prob", "f_no_theme", "f_stance_tr",
               "f_reply_stance", "f_threads", "f_kinds", "f_authors", "f_text", "f_regex", "f_low")
# Widget keys whose values must survive visits to other pages (Streamlit drops the state of
# widgets that were not drawn in a run; re-assigning them keeps it).
PERSISTENT_KEYS = FILTER_KEYS + ("c_sort", "c_page_size", "annotator", "ann_order", "ann_thread", "thread_pick")
# Initial values of those widgets (set through the session state, so no widget gets a default
# argument and a session-state value at once).
WIDGET_DEFAULTS = {"f_min_prob": 0.5, "c_page_size": 50}
SCHEME_TITLES = {"stance_tr": "Stance toward TR", "reply_stance": "Stance toward the parent"}


def keep_widget_state() -> None:
    for k in PERSISTENT_KEYS:
        if k in st.session_state:
            st.session_state[k] = st.session_state[k]
        elif k in WIDGET_DEFAULTS:
            st.session_state[k] = WIDGET_DEFAULTS[k]


def reset_filters() -> None:
    """Every filter back to 'all units' (a button callback: runs before the widgets are drawn)."""
    for k in FILTER_KEYS:
        st.session_state.pop(k, None)
    for k, v in WIDGET_DEFAULTS.items():
        if k in FILTER_KEYS:
            st.session_state[k] = v
    st.session_state.pop("filters", None)


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


# --- Context shared by the pages -----------------------------------------------------------------

@dataclass
class Ctx:
    run_dir: Path
    sig: tuple
    codebook: Codebook
    codebook_path: Path
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
    def coder(self) -> str:
        """Who made the codes shown: 'gold', or the model's name (recorded as the REFI-QDA user)."""
        if self.source == "gold":
            return "gold"
        model = self.model_df["model"].iloc[0] if "model" in self.model_df and len(self.model_df) else None
        return Path(str(model)).name if isinstance(model, str) and model else "model"

    @property
    def key(self) -> tuple:
        return self.sig + (self.source, _mtime(self.labels_path))


def current_filters(ctx: Ctx) -> ex.Filters:
    """The Comments page's filters (all units before it was opened), read against the labels shown now."""
    f = st.session_state.get("filters")
    return replace(f if isinstance(f, ex.Filters) else ex.Filters(), source=ctx.source)

