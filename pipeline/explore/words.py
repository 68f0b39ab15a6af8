"""Words: tokens, lemmas, keyword in context and distinctive terms (log-odds with a Dirichlet prior)."""

from __future__ import annotations

import gzip
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd


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


def _whole_words(context: str, *, cut: bool, side: str) -> str:
    """A context window without the word the window cut in half (marked by an ellipsis), whitespace
    collapsed: 'stories ab' becomes 'stories ...' rather than ending mid-word."""
    if cut:
        if side == "left" and context and not context[0].isspace():
            parts = context.split(None, 1)
            context = "\u2026 " + (parts[1] if len(parts) > 1 else "")
        elif side == "right" and context and not context[-1].isspace():
            parts = context.rsplit(None, 1)
            context = (parts[0] if len(parts) > 1 else "") + " \u2026"
    return " ".join(context.split())


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
            left = _whole_words(text[max(0, m.start() - window):m.start()], cut=m.start() > window, side="left")
            right = _whole_words(text[m.end():m.end() + window], cut=m.end() + window < len(text), side="right")
            rows.append({"unit_id": uid, "left": left, "keyword": m.group(0), "right": right, "start": m.start()})
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
