"""Names of the coding schemes and of the label columns, defined once for every stage.

The codebook says which themes and stance values exist; this module says how they are laid
out in tables: a run's ``labels.parquet`` has ``themes`` (a list of codes), one column per
stance scheme and one ``p_<code>`` probability per code; the app's flat table adds one
boolean ``th__<code>`` column per theme.
"""

from __future__ import annotations

import pyarrow as pa

# The two stance schemes, in the order every table and report shows them.
SCHEMES: tuple[str, ...] = ("stance_tr", "reply_stance")
# Prefix of the app's boolean theme columns (``th__workload``): a prefix no codebook code can
# clash with a stance or unit column.
THEME_PREFIX = "th__"


def theme_col(code: str) -> str:
    """The boolean column of a theme in the app's flat table."""
    return THEME_PREFIX + code


def prob_col(code: str) -> str:
    """The probability column of a theme or stance value in labels.parquet."""
    return f"p_{code}"


# threads.parquet and units.parquet as parse writes them (README, "Output schema").
THREADS_SCHEMA = pa.schema([
    ("thread_id", pa.string()), ("source_file", pa.string()), ("title", pa.string()),
    ("post_date", pa.string()), ("url", pa.string()), ("layout", pa.string()),
    ("declared_comments", pa.int64()), ("parsed_comments", pa.int64()), ("n_units", pa.int64()),
    ("n_low_confidence", pa.int64()), ("labels", pa.list_(pa.string())), ("status", pa.string()),
])
UNITS_SCHEMA = pa.schema([
    ("unit_id", pa.string()), ("thread_id", pa.string()), ("kind", pa.string()), ("parent_id", pa.string()),
    ("depth", pa.int64()), ("position", pa.int64()), ("author", pa.string()), ("timestamp", pa.string()),
    ("text", pa.string()), ("own_text", pa.string()), ("quoted_text", pa.list_(pa.string())),
    ("urls", pa.list_(pa.string())), ("link_only", pa.bool_()), ("mentions", pa.list_(pa.string())),
    ("word_count", pa.int64()), ("confidence", pa.string()), ("confidence_note", pa.string()),
    ("source_line", pa.int64()), ("fingerprint", pa.string()),
])
