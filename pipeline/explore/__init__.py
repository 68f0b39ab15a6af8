"""Data functions behind the Streamlit explorer (``app.py`` and ``ui/``): pure, vectorised, no Streamlit.

One module per job; the app reads a run directory into one flat table and asks these
modules for everything it shows:

==============  ====================================================================
``data``        a run as one flat table (:func:`read_run`), single columns, gold view
``filters``     :class:`Filters`, :func:`filter_mask`, sorting and paging
``stats``       prevalence, stance by theme, co-occurrence, honest time series
``evidence``    evidence sentences located in a unit's text
``markup``      safe HTML (every piece of comment text escaped before any tag)
``pseudonyms``  :class:`Pseudonymiser` for names in texts, evidence and tables
``words``       keyword in context and distinctive terms (log-odds, Dirichlet prior)
``queue``       the annotation queue (most uncertain first)
``exports``     flat tables and their CSV / Parquet / JSONL bytes
``refiqda``     a REFI-QDA project (``.qdpx``)
``charts``      PNG charts carrying the filter in their title
``evaluations`` every evaluation of a run (in-sample, held-out, validation sample)
==============  ====================================================================

The names below are re-exported so callers can write ``from pipeline import explore as ex``.
"""

from ..schema import SCHEMES, THEME_PREFIX, theme_col
from .charts import (CHARTS, chart_png, chart_title, png_cooccurrence, png_prevalence, png_stance_by_theme,
                     png_time_series)
from .colours import PALETTE, STANCE_COLOURS, stance_colour, theme_colour
from .data import (UNIT_COLUMNS, coder_view, gold_view, read_column, read_run, run_signature, summary_counts,
                   theme_matrix, themes_from_matrix, themes_string, thread_dates, thread_units)
from .evaluations import Evaluation, list_evaluations
from .evidence import Span, evidence_spans, parse_evidence
from .exports import (EXPORT_COLUMNS, FORMATS, export_bytes, export_frame, export_run, to_csv_bytes, to_jsonl_bytes,
                      to_parquet_bytes)
from .filters import SORTS, Filters, filter_mask, filter_units, page_slice, sort_units, sorted_positions
from .markup import badge_html, chip_html, highlight_html, labels_html, md_escape, thread_tree_html
from .pseudonyms import ANONYMOUS, Pseudonymiser, collect_names, is_name_mention, run_pseudonymiser, trie_regex
from .queue import QUEUE_ORDERS, annotation_queue, uncertainty
from .refiqda import qda_guid, qda_source_text, refi_qda_project
from .stats import (FREQ_NAMES, MILESTONES, cooccurrence, cooccurrence_long, date_basis, date_caption,
                    milestones_frame, stance_by_theme, theme_prevalence, time_series)
from .words import (distinctive_terms, kwic, lemma_forms, lemma_lookup, lemma_of, log_odds_dirichlet, term_counts,
                    tokenize)
