"""Stage 2b, classify: themes (multi-label) and two stance schemes, each with its evidence.

Three coders share one interface (``fit(feats, parents, y)`` returns self;
``predict_proba(feats, parents)`` returns a probability per code):

``RuleCoder``        the codebook alone: a theme is given when its cues match in the
                     unit's own words; stance by cue vote.  Transparent, needs no training.
``SupervisedCoder``  TF-IDF over lemmas + logistic regression (class-balanced,
                     sigmoid-calibrated).  With ``use_cues=True`` it also sees the
                     codebook cue counts as features and tunes a threshold per theme by
                     cross-validation over threads: that is the *combined* default.
``MajorityCoder``    the DummyClassifier baseline (most frequent value, no themes).

``explain`` turns a prediction into evidence: the sentences (and matched cues) that
drove each code.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from .codebook import Codebook
from .preprocess import UnitFeatures

SCHEMES = ("stance_tr", "reply_stance")
THRESHOLD_GRID = np.round(np.arange(0.1, 0.91, 0.05), 2)


@dataclass
class Targets:
    """Training targets, aligned with the feature list."""

    themes: np.ndarray  # (n_units, n_themes) of 0/1
    stance_tr: np.ndarray  # (n_units,) of str
    reply_stance: np.ndarray
    groups: np.ndarray  # thread id of each unit, for cross-validation by thread


def cue_counts(f: UnitFeatures, codes: list[str]) -> np.ndarray:
    counts = Counter(code for code, _, _ in f.cues)
    return np.array([counts.get(c, 0) for c in codes], dtype=float)


# ------------------------------------------------------------------------------------------
class RuleCoder:
    """Codebook rules: a theme when >= ``min_cues`` of its cues match; stance by cue vote.

    Probabilities are a monotone score of the cue count (1 cue -> 0.63, 2 -> 0.86), so the
    rule coder can be thresholded and compared like the models.
    """

    name = "rules"

    def __init__(self, codebook: Codebook, min_cues: int = 1) -> None:
        self.codebook = codebook
        self.min_cues = min_cues

    def fit(self, feats=None, parents=None, y: Targets | None = None) -> "RuleCoder":
        self.thresholds_ = {t: 1 - math.exp(-self.min_cues) - 1e-9 for t in self.codebook.theme_names}
        return self

    def predict_proba(self, feats: list[UnitFeatures], parents: list[UnitFeatures | None]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        themes = self.codebook.theme_names
        counts = np.array([cue_counts(f, themes) for f in feats]).reshape(len(feats), len(themes))
        for j, t in enumerate(themes):
            out[t] = 1 - np.exp(-counts[:, j])
        for scheme in SCHEMES:
            values = self.codebook.values(scheme)
            default = self.codebook.stances[scheme].default
            vc = np.array([cue_counts(f, values) for f in feats]).reshape(len(feats), len(values))
            if scheme == "reply_stance":  # a question to the parent is a query
                qi = values.index("query") if "query" in values else None
                if qi is not None:
                    vc[:, qi] += [sum(f.text[s:e].rstrip().endswith("?") for s, e in f.sents) for f in feats]
            vc[:, values.index(default)] += 0.5  # ties and no cues -> the default value
            probs = (vc + 0.1) / (vc + 0.1).sum(axis=1, keepdims=True)
            for j, v in enumerate(values):
                out[v] = probs[:, j]
        return out


class MajorityCoder:
    """DummyClassifier baseline: always the most frequent stance value, theme probability = base rate."""

    name = "majority"

    def __init__(self, codebook: Codebook) -> None:
        self.codebook = codebook

    def fit(self, feats, parents, y: Targets) -> "MajorityCoder":
        X = np.zeros((len(feats), 1))
        self.themes_ = {t: DummyClassifier(strategy="prior").fit(X, y.themes[:, j])
                        for j, t in enumerate(self.codebook.theme_names)}
        self.stances_ = {s: DummyClassifier(strategy="prior").fit(X, getattr(y, s)) for s in SCHEMES}
        self.thresholds_ = {t: 0.5 for t in self.codebook.theme_names}
        return self

    def predict_proba(self, feats, parents) -> dict[str, np.ndarray]:
        X = np.zeros((len(feats), 1))
        out = {}
        for t, clf in self.themes_.items():
            p = clf.predict_proba(X)
            out[t] = p[:, list(clf.classes_).index(1)] if 1 in clf.classes_ else np.zeros(len(feats))
        for s, clf in self.stances_.items():
            p = clf.predict_proba(X)
            for v in self.codebook.values(s):
                out[v] = p[:, list(clf.classes_).index(v)] if v in clf.classes_ else np.zeros(len(feats))
        return out


# ------------------------------------------------------------------------------------------
class SupervisedCoder:
    """TF-IDF (+ optional codebook cue features) and calibrated logistic regression."""

    def __init__(self, codebook: Codebook, *, use_cues: bool = True, tune_thresholds: bool = True,
                 C: float = 1.0, cue_weight: float = 1.0, min_df: int = 2, random_state: int = 0) -> None:
        self.codebook = codebook
        self.use_cues = use_cues
        self.tune_thresholds = tune_thresholds
        self.C = C
        self.cue_weight = cue_weight
        self.min_df = min_df
        self.random_state = random_state

    @property
    def name(self) -> str:
        return "combined" if self.use_cues else "supervised"

    # --- features ---------------------------------------------------------------------
    def _matrix(self, feats: list[UnitFeatures], parents: list[UnitFeatures | None], *, reply: bool = False):
        X = self.vectorizer_.transform([f.lemma_string for f in feats])
        blocks = [X]
        if self.use_cues:
            codes = self.codebook.all_labels
            cues = np.log1p(np.array([cue_counts(f, codes) for f in feats]).reshape(len(feats), len(codes)))
            blocks.append(sp.csr_matrix(cues * self.cue_weight))
        if reply:
            stance_codes = self.codebook.values("stance_tr") + self.codebook.values("reply_stance")
            parent_cues = np.array([cue_counts(p, stance_codes) if p is not None else np.zeros(len(stance_codes))
                                    for p in parents]).reshape(len(feats), len(stance_codes))
            shape = np.array([[p is None,
                               sum(f.text[s:e].rstrip().endswith("?") for s, e in f.sents) > 0,
                               math.log1p(len(f.lemmas))] for f, p in zip(feats, parents)], dtype=float)
            blocks += [sp.csr_matrix(np.log1p(parent_cues)), sp.csr_matrix(shape)]
        return sp.hstack(blocks, format="csr")

    def _model(self, y: np.ndarray):
        n_classes = len(set(y.tolist()))
        # lbfgs was measured 6-20x slower here on a few hundred sparse rows; liblinear is binary-only.
        base = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000, random_state=self.random_state,
                                  solver="liblinear" if n_classes == 2 else "newton-cg")
        n_min = min(Counter(y.tolist()).values())
        if len(set(y.tolist())) < 2:
            return DummyClassifier(strategy="prior")
        if n_min < 3:  # too few examples of some class to calibrate by cross-validation
            return base
        return CalibratedClassifierCV(base, method="sigmoid",
                                      cv=StratifiedKFold(n_splits=min(3, n_min), shuffle=True,
                                                         random_state=self.random_state))

    # --- fit / predict ----------------------------------------------------------------------
    def fit(self, feats: list[UnitFeatures], parents: list[UnitFeatures | None], y: Targets) -> "SupervisedCoder":
        self.vectorizer_ = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2),
                                           min_df=self.min_df, sublinear_tf=True, max_features=50000)
        self.vectorizer_.fit([f.lemma_string for f in feats])
        X = self._matrix(feats, parents)
        Xr = self._matrix(feats, parents, reply=True)
        self.themes_ = {t: self._model(y.themes[:, j]).fit(X, y.themes[:, j])
                        for j, t in enumerate(self.codebook.theme_names)}
        self.stances_ = {"stance_tr": self._model(y.stance_tr).fit(X, y.stance_tr),
                         "reply_stance": self._model(y.reply_stance).fit(Xr, y.reply_stance)}
        self.thresholds_ = {t: 0.5 for t in self.codebook.theme_names}
        if self.tune_thresholds and len(set(y.groups.tolist())) >= 3:
            self.thresholds_ = self._tuned_thresholds(feats, parents, y)
        return self

    def _tuned_thresholds(self, feats, parents, y: Targets) -> dict[str, float]:
        """Per-theme thresholds that maximise F1 on held-out threads of the training data."""
        oof = {t: np.zeros(len(feats)) for t in self.codebook.theme_names}
        for g in sorted(set(y.groups.tolist())):
            test = y.groups == g
            train = ~test
            sub = SupervisedCoder(self.codebook, use_cues=self.use_cues, tune_thresholds=False, C=self.C,
                                  cue_weight=self.cue_weight, min_df=self.min_df, random_state=self.random_state)
            idx_tr, idx_te = np.flatnonzero(train), np.flatnonzero(test)
            sub.fit([feats[i] for i in idx_tr], [parents[i] for i in idx_tr], _subset(y, idx_tr))
            probs = sub.predict_proba([feats[i] for i in idx_te], [parents[i] for i in idx_te])
            for t in oof:
                oof[t][idx_te] = probs[t]
        thresholds = {}
        for j, t in enumerate(self.codebook.theme_names):
            scores = [f1_score(y.themes[:, j], oof[t] >= th, zero_division=0) for th in THRESHOLD_GRID]
            thresholds[t] = float(THRESHOLD_GRID[int(np.argmax(scores))])
        return thresholds

    def predict_proba(self, feats: list[UnitFeatures], parents: list[UnitFeatures | None]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if not feats:
            return {c: np.zeros(0) for c in self.codebook.all_labels}
        X = self._matrix(feats, parents)
        for t, clf in self.themes_.items():
            p = clf.predict_proba(X)
            out[t] = p[:, list(clf.classes_).index(1)] if 1 in clf.classes_ else np.zeros(len(feats))
        for s, clf in self.stances_.items():
            p = clf.predict_proba(X if s == "stance_tr" else self._matrix(feats, parents, reply=True))
            classes = list(clf.classes_)
            for v in self.codebook.values(s):
                out[v] = p[:, classes.index(v)] if v in classes else np.zeros(len(feats))
        return out

    # --- evidence ---------------------------------------------------------------------------
    def unigram_weights(self, code: str) -> dict[str, float]:
        """Mean logistic-regression weight of each single lemma for a code (for evidence)."""
        if not hasattr(self, "_weights_cache"):
            self._weights_cache = {}
        if code in self._weights_cache:
            return self._weights_cache[code]
        if code in self.themes_:
            clf, pos = self.themes_[code], 1
        else:
            scheme = next(s for s in SCHEMES if code in self.codebook.values(s))
            clf, pos = self.stances_[scheme], code
        coefs = _coefs(clf, pos)
        vocab = self.vectorizer_.vocabulary_
        weights = {term: float(coefs[i]) for term, i in vocab.items() if " " not in term and i < len(coefs)} \
            if coefs is not None else {}
        self._weights_cache[code] = weights
        return weights


def _coefs(clf, positive) -> np.ndarray | None:
    """Coefficients for ``positive`` from a (possibly calibrated) logistic regression."""
    estimators = [c.estimator for c in clf.calibrated_classifiers_] if isinstance(clf, CalibratedClassifierCV) else [clf]
    rows = []
    for est in estimators:
        if not isinstance(est, LogisticRegression):
            return None
        classes = list(est.classes_)
        if positive not in classes:
            continue
        if est.coef_.shape[0] == 1:
            rows.append(est.coef_[0] if classes.index(positive) == 1 else -est.coef_[0])
        else:
            rows.append(est.coef_[classes.index(positive)])
    return np.mean(rows, axis=0) if rows else None


def _subset(y: Targets, idx: np.ndarray) -> Targets:
    return Targets(y.themes[idx], y.stance_tr[idx], y.reply_stance[idx], y.groups[idx])


# ------------------------------------------------------------------------------------------
def decide(codebook: Codebook, probs: dict[str, np.ndarray], thresholds: dict[str, float]) -> list[dict]:
    """Turn probabilities into labels: themes over their threshold; the most probable stance value."""
    n = len(next(iter(probs.values()))) if probs else 0
    out = []
    for i in range(n):
        themes = [t for t in codebook.theme_names if probs[t][i] >= thresholds.get(t, 0.5)]
        row = {"themes": themes}
        for s in SCHEMES:
            values = codebook.values(s)
            row[s] = max(values, key=lambda v: (probs[v][i], v == codebook.stances[s].default))
        out.append(row)
    return out


def explain(codebook: Codebook, f: UnitFeatures, decision: dict, model: SupervisedCoder | None,
            *, max_sentences: int = 2) -> dict[str, list[dict]]:
    """Evidence for each assigned code: sentences with matched cues, then the sentences
    whose words the model weighs most for that code."""
    codes = list(decision["themes"]) + [decision[s] for s in SCHEMES]
    evidence: dict[str, list[dict]] = {}
    for code in codes:
        items: dict[int, dict] = {}
        for c, text, si in f.cues:
            if c == code and 0 <= si < len(f.sents):
                item = items.setdefault(si, {"sentence": f.sentence(si).strip(), "start": f.sents[si][0],
                                             "end": f.sents[si][1], "cues": [], "model_weight": 0.0})
                if text not in item["cues"]:
                    item["cues"].append(text)
        if model is not None and f.sents:
            weights = model.unigram_weights(code)
            scores = np.zeros(len(f.sents))
            for lemma, si in zip(f.lemmas, f.lemma_sents):
                if 0 <= si < len(scores):
                    scores[si] += weights.get(lemma, 0.0)
            for si in np.argsort(-scores)[:max_sentences]:
                if scores[si] <= 0:
                    break
                item = items.setdefault(int(si), {"sentence": f.sentence(int(si)).strip(), "start": f.sents[si][0],
                                                  "end": f.sents[si][1], "cues": [], "model_weight": 0.0})
                item["model_weight"] = round(float(scores[si]), 3)
        ranked = sorted(items.values(), key=lambda it: (-len(it["cues"]), -it["model_weight"], it["start"]))
        evidence[code] = ranked[: max_sentences + 1]
    return evidence
