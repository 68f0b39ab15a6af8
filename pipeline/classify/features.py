"""What the coders read: features of units, the codebook's segment evidence, training targets.

``rule_evidence`` applies the codebook's segment rule (``segments:`` in models/codebook.yaml):
a code's evidence in a unit is the sum over its segments (sentences of the unit's own words) of
``min(segment_cap, weights of the code's unvetoed pattern matches in that segment)``; for the
reply_stance values the opening segment counts ``opening_weight`` times.  The rule coder gives a
code when the evidence reaches ``unit_threshold``; the trained coder reads it as a feature.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from ..codebook import Codebook
from ..preprocess import UnitFeatures

from ..schema import SCHEMES  # noqa: E402,F401 (defined once, in schema.py)


@dataclass
class Targets:
    """Training targets, aligned with the feature list."""

    themes: np.ndarray  # (n_units, n_themes) of 0/1
    stance_tr: np.ndarray  # (n_units,) of str
    reply_stance: np.ndarray
    groups: np.ndarray  # thread id of each unit, for cross-validation by thread


def featurize(units: pd.DataFrame, nlp) -> tuple[list, list]:
    """Features of every unit's own words, and of its parent (None for posts)."""
    from ..preprocess import features

    feats = list(features(nlp, units["own_text"].fillna("").tolist()))
    index = {uid: i for i, uid in enumerate(units["unit_id"])}
    parents = [feats[index[p]] if isinstance(p, str) and p in index else None for p in units["parent_id"]]
    return feats, parents


def _rule_config(codebook: Codebook) -> tuple[float, dict[str, float]]:
    opening = {v: s.opening_weight for s in codebook.stances.values() for v in s.values if s.opening_weight != 1.0}
    cap = codebook.segments.segment_cap if codebook.raw.get("segments") else math.inf  # v1 codebooks: plain counts
    return cap, opening


def segment_weights(f: UnitFeatures) -> dict[str, dict[int, float]]:
    """code -> {segment index: summed weight of its unvetoed matches} (cached on the features)."""
    w = f.__dict__.get("_segment_weights")
    if w is None:
        w = defaultdict(lambda: defaultdict(float))
        for cue in f.cues:
            w[cue[0]][cue[2]] += cue[4] if len(cue) > 4 else 1.0
        w = f.__dict__["_segment_weights"] = {c: dict(v) for c, v in w.items()}
    return w


def rule_evidence(f: UnitFeatures, codes: list[str], codebook: Codebook) -> np.ndarray:
    """The codebook's segment rule evidence of each code in one unit (see the module docstring)."""
    ev = f.__dict__.get("_rule_evidence")
    if ev is None:
        cap, opening = _rule_config(codebook)
        ev = {}
        for code, by_seg in segment_weights(f).items():
            first = opening.get(code, 1.0)
            ev[code] = sum(min(cap, w) * (first if si == 0 else 1.0) for si, w in by_seg.items())
        f.__dict__["_rule_evidence"] = ev
    return np.array([ev.get(c, 0.0) for c in codes], dtype=float)


def cue_counts(f: UnitFeatures, codes: list[str]) -> np.ndarray:
    """Number of unvetoed matches of each code (v1 semantics; used by tests and diagnostics)."""
    counts = Counter(c[0] for c in f.cues if (c[4] if len(c) > 4 else 1.0) > 0)
    return np.array([counts.get(c, 0) for c in codes], dtype=float)


def tfidf_transform(vectorizer: TfidfVectorizer, feats: list[UnitFeatures]) -> sp.csr_matrix:
    """``vectorizer.transform`` of the units' lemma strings, with the counting done here.

    The lemmas are already tokens, so scikit-learn's regex analyzer (which was two thirds of the
    prediction time) is not needed: unigrams and bigrams are looked up in the fitted vocabulary
    directly, then the fitted TF-IDF weighting is applied as is.  Same matrix, bit for bit
    (tests/test_classify.py checks it); only for vectorizers fitted with token_pattern=r"\\S+",
    no lowercasing and ngram_range=(1, 2), as this package makes them.
    """
    vocab = vectorizer.vocabulary_
    indptr, indices, data = [0], [], []
    for f in feats:
        toks = f.lemma_string.split()
        counts = Counter(vocab[g] for g in (*toks, *(a + " " + b for a, b in zip(toks, toks[1:]))) if g in vocab)
        indices.extend(counts.keys())
        data.extend(counts.values())
        indptr.append(len(indices))
    X = sp.csr_matrix((np.asarray(data, dtype=vectorizer.dtype), np.asarray(indices, dtype=np.int32),
                       np.asarray(indptr, dtype=np.int32)), shape=(len(feats), len(vocab)))
    X.sort_indices()
    return vectorizer._tfidf.transform(X, copy=False)


def asks_question(f: UnitFeatures) -> bool:
    q = f.__dict__.get("_asks_question")
    if q is None:
        q = f.__dict__["_asks_question"] = any(f.text[s:e].rstrip().endswith("?") for s, e in f.sents)
    return q


def n_questions(f: UnitFeatures) -> int:
    return sum(f.text[s:e].rstrip().endswith("?") for s, e in f.sents)


def content_overlap(f: UnitFeatures, parent: UnitFeatures | None) -> float:
    """Share of a reply's content lemmas (not stop words) that its parent also uses: replies that
    take up the parent's claim (to back or dispute it) reuse its words; tangents do not."""
    if parent is None:
        return 0.0
    from spacy.lang.en.stop_words import STOP_WORDS

    mine = {lem for lem in f.lemmas if lem not in STOP_WORDS and lem.isalpha()}
    if not mine:
        return 0.0
    theirs = parent.__dict__.get("_content_lemmas")
    if theirs is None:
        theirs = parent.__dict__["_content_lemmas"] = {lem for lem in parent.lemmas if lem not in STOP_WORDS}
    return len(mine & theirs) / len(mine)
