"""Names of the coding schemes and of the label columns, defined once for every stage.

The codebook says which themes and stance values exist; this module says how they are laid
out in tables: a run's ``labels.parquet`` has ``themes`` (a list of codes), one column per
stance scheme and one ``p_<code>`` probability per code; the app's flat table adds one
boolean ``th__<code>`` column per theme.
"""

from __future__ import annotations

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
