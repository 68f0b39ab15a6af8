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
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

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
    counts = f.__dict__.get("_cue_counter")
    if counts is None:  # counted once per unit: the stacking features ask for them per code
        counts = f.__dict__["_cue_counter"] = Counter(code for code, _, _ in f.cues)
    return np.array([counts.get(c, 0) for c in codes], dtype=float)


def tfidf_transform(vectorizer: TfidfVectorizer, feats: list[UnitFeatures]) -> sp.csr_matrix:
    """``vectorizer.transform`` of the units' lemma strings, with the counting done here.

    The lemmas are already tokens, so scikit-learn's regex analyzer (which was two thirds of the
    prediction time) is not needed: unigrams and bigrams are looked up in the fitted vocabulary
    directly, then the fitted TF-IDF weighting is applied as is.  Same matrix, bit for bit
    (tests/test_classify.py checks it); only for vectorizers fitted with token_pattern=r"\\S+",
    no lowercasing and ngram_range=(1, 2), as this module makes them.
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
    """Logistic regression over TF-IDF of lemmas; with ``use_cues`` stacked with the codebook rules.

    ``use_cues=False`` (the *supervised* recipe): one class-balanced logistic regression per
    theme and stance scheme, thresholds at 0.5.

    ``use_cues=True`` (the *combined* recipe, the default model): the same text models are
    fitted on the other threads and scored on each held-out thread (out-of-fold decision
    scores); a small calibrating logistic regression per code then learns how much to trust
    the text model against the codebook cue counts.  Because it is fitted on held-out
    scores its probabilities are calibrated; class imbalance is handled at decision time
    (theme thresholds tuned for F1 on the out-of-fold probabilities; stance values chosen by
    probability relative to their training prior, i.e. equal costs per class).
    """

    def __init__(self, codebook: Codebook, *, use_cues: bool = True, tune_thresholds: bool = True,
                 C: float = 0.3, stance_C: float | None = 1.0, cue_weight: float = 2.0, min_df: int = 2,
                 rule_prior: float = 30.0, rule_precision: float = 0.85, random_state: int = 0) -> None:
        # Defaults chosen by leave-one-thread-out CV on the seed gold among 11 settings
        # (rule_prior 10/30/50, C 0.3/1, stance_C 1/3, cue_weight 1/2, thresholds tuned or not):
        # the figures in README are therefore slightly optimistic (see the issue notes).
        self.codebook = codebook
        self.stance_C = stance_C
        self.use_cues = use_cues
        self.rule_prior = rule_prior
        self.rule_precision = rule_precision
        self.tune_thresholds = tune_thresholds
        self.C = C
        self.cue_weight = cue_weight
        self.min_df = min_df
        self.random_state = random_state

    @property
    def name(self) -> str:
        return "combined" if self.use_cues else "supervised"

    # --- features ---------------------------------------------------------------------
    def _text_matrix(self, feats: list[UnitFeatures], parents: list[UnitFeatures | None], *, reply: bool = False,
                     X=None):
        """TF-IDF of lemmas; for reply_stance also: top level?, asks a question?, length.  Pass ``X``
        to reuse an already computed TF-IDF block (the transform is the costly part)."""
        if X is None:
            X = tfidf_transform(self.vectorizer_, feats)
        if not reply:
            return X
        shape = np.array([[p is None, asks_question(f), math.log1p(len(f.lemmas))] for f, p in zip(feats, parents)],
                         dtype=float).reshape(-1, 3)
        return sp.hstack([X, sp.csr_matrix(shape)], format="csr")

    def _cue_matrix(self, feats, parents, codes: list[str], *, reply: bool = False) -> np.ndarray:
        own = np.log1p(np.array([cue_counts(f, codes) for f in feats]).reshape(len(feats), len(codes)))
        if not reply:
            return own
        qmark = np.array([[asks_question(f), p is None] for f, p in zip(feats, parents)], dtype=float).reshape(-1, 2)
        stance_codes = self.codebook.values("stance_tr")
        parent = np.log1p(np.array([cue_counts(p, stance_codes) if p is not None else np.zeros(len(stance_codes))
                                    for p in parents]).reshape(len(feats), len(stance_codes)))
        return np.hstack([own, qmark, parent])

    def _base(self, y: np.ndarray, key: str = ""):
        if len(set(y.tolist())) < 2:
            return DummyClassifier(strategy="prior")
        C = self.stance_C if key == "stance_tr" and self.stance_C is not None else self.C
        # lbfgs was measured 6-20x slower here on a few hundred sparse rows; liblinear is binary-only.
        return LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=self.random_state,
                                  solver="liblinear" if len(set(y.tolist())) == 2 else "newton-cg")

    @staticmethod
    def _scores(clf, X, classes: list) -> np.ndarray:
        """Decision scores, one column per class in ``classes`` (binary: one column for class 1)."""
        if isinstance(clf, DummyClassifier):
            p = clf.predict_proba(X)
            cols = [p[:, list(clf.classes_).index(c)] if c in clf.classes_ else np.zeros(X.shape[0]) for c in classes]
            return np.column_stack(cols)
        d = clf.decision_function(X)
        if d.ndim == 1:
            if classes == [1]:
                return d.reshape(-1, 1)
            # a multi-class scheme whose training fold held only two of its values
            d = np.column_stack([-d, d])
            return np.column_stack([d[:, list(clf.classes_).index(c)] if c in clf.classes_ else np.zeros(X.shape[0])
                                    for c in classes])
        # A value the text model never saw gets a neutral score (0), the same as the codebook
        # pseudo-units, so that the calibrator learns its odds from the cues alone.
        return np.column_stack([d[:, list(clf.classes_).index(c)] if c in clf.classes_ else np.zeros(X.shape[0])
                                for c in classes])

    def _targets(self, y: Targets) -> dict[str, np.ndarray]:
        out = {t: y.themes[:, j] for j, t in enumerate(self.codebook.theme_names)}
        out["stance_tr"], out["reply_stance"] = y.stance_tr, y.reply_stance
        return out

    def _classes(self, key: str) -> list:
        return [1] if key in self.codebook.themes else self.codebook.values(key)

    # --- fit / predict ----------------------------------------------------------------------
    def fit(self, feats: list[UnitFeatures], parents: list[UnitFeatures | None], y: Targets) -> "SupervisedCoder":
        self.vectorizer_ = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2),
                                           min_df=self.min_df, sublinear_tf=True, max_features=50000)
        self.vectorizer_.fit([f.lemma_string for f in feats])
        X = self._text_matrix(feats, parents)
        Xr = self._text_matrix(feats, parents, reply=True, X=X)
        targets = self._targets(y)
        self.text_models_ = {k: self._base(v, k).fit(Xr if k == "reply_stance" else X, v) for k, v in targets.items()}
        self.calibrators_: dict = {}
        self.thresholds_ = {t: 0.5 for t in self.codebook.theme_names}
        self.priors_ = {s: {v: 1.0 for v in self.codebook.values(s)} for s in SCHEMES}
        if not self.use_cues:
            return self
        oof = self._out_of_fold_scores(feats, parents, y)
        for key, target in targets.items():
            Z = self._stack(key, oof[key], feats, parents)
            Zp, tp = self._rule_pseudo_rows(key, Z.shape[1])
            Z, target = np.vstack([Z, Zp]), np.concatenate([target, tp])
            if len(set(target.tolist())) < 2:
                self.calibrators_[key] = DummyClassifier(strategy="prior").fit(Z, target)
            else:
                self.calibrators_[key] = LogisticRegression(C=1.0, max_iter=1000, random_state=self.random_state,
                                                            solver="liblinear" if key in self.codebook.themes
                                                            else "newton-cg").fit(Z, target)
        for s in SCHEMES:
            labels = np.concatenate([targets[s], self._rule_pseudo_rows(s, 1)[1]])
            counts = Counter(labels.tolist())
            self.priors_[s] = {v: max(counts.get(v, 0), 1) / len(labels) for v in self.codebook.values(s)}
        if self.tune_thresholds:
            probs = self._calibrated(oof, feats, parents)
            for t in self.codebook.theme_names:
                scores = np.array([f1_score(targets[t], probs[t] >= th, zero_division=0) for th in THRESHOLD_GRID])
                # Of the thresholds with the best F1 (often a plateau), take the one nearest 0.5: the
                # held-out scores it is tuned on are less confident than a final model's in-sample ones.
                best = THRESHOLD_GRID[scores >= scores.max() - 1e-9]
                self.thresholds_[t] = float(best[np.argmin(np.abs(best - 0.5))])
        return self

    def _stack(self, key: str, scores: np.ndarray, feats, parents) -> np.ndarray:
        """Inputs of the calibrating model: text-model scores beside the codebook cue counts."""
        if key in self.codebook.themes:
            cues = self._cue_matrix(feats, parents, [key])
        else:
            cues = self._cue_matrix(feats, parents, self.codebook.values(key), reply=key == "reply_stance")
        return np.hstack([scores, cues * self.cue_weight])

    def _rule_pseudo_rows(self, key: str, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The codebook as prior knowledge: ``rule_prior`` pseudo-units per cue level that say what
        the rules say (a cue match is the code with probability ``rule_precision``), with a
        neutral text score.  With few real examples of a code (a theme concentrated in the
        held-out thread, 'favour' seen in one thread) the calibrator falls back on the rules;
        with many, the real units outweigh them."""
        m = int(round(self.rule_prior))
        if m <= 0:
            return np.zeros((0, width)), np.zeros(0, dtype=object)
        rows, labels = [], []
        n_pos = int(round(m * self.rule_precision))
        if key in self.codebook.themes:
            n_scores = width - 1
            for level in (1, 2):
                z = np.zeros(width)
                z[n_scores] = math.log1p(level) * self.cue_weight
                rows += [z] * m
                labels += [1] * n_pos + [0] * (m - n_pos)
            rows += [np.zeros(width)] * m
            labels += [0] * m
            return np.array(rows), np.array(labels)
        values = self.codebook.values(key)
        default = self.codebook.stances[key].default
        n_scores = len(values)
        for j, v in enumerate(values):
            if v == default:
                continue
            z = np.zeros(width)
            if width > n_scores + j:
                z[n_scores + j] = math.log1p(1) * self.cue_weight
            rows += [z] * m
            labels += [v] * n_pos + [default] * (m - n_pos)
        rows += [np.zeros(width)] * m
        labels += [default] * m
        return np.array(rows), np.array(labels, dtype=object)

    def _out_of_fold_scores(self, feats, parents, y: Targets) -> dict[str, np.ndarray]:
        """Text-model decision scores for each unit from models that did not see its thread."""
        groups = y.groups
        if len(set(groups.tolist())) >= 3:
            folds = [(np.flatnonzero(groups != g), np.flatnonzero(groups == g)) for g in sorted(set(groups.tolist()))]
        else:  # too few threads: fall back to 5 folds over units
            from sklearn.model_selection import KFold

            folds = list(KFold(5, shuffle=True, random_state=self.random_state).split(feats))
        targets = self._targets(y)
        oof = {k: np.zeros((len(feats), len(self._classes(k)))) for k in targets}
        for train, test in folds:
            vec = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2), min_df=self.min_df,
                                  sublinear_tf=True, max_features=50000).fit([feats[i].lemma_string for i in train])
            saved, self.vectorizer_ = self.vectorizer_, vec
            ftr, ptr = [feats[i] for i in train], [parents[i] for i in train]
            fte, pte = [feats[i] for i in test], [parents[i] for i in test]
            for key, target in targets.items():
                reply = key == "reply_stance"
                clf = self._base(target[train], key).fit(self._text_matrix(ftr, ptr, reply=reply), target[train])
                oof[key][test] = self._scores(clf, self._text_matrix(fte, pte, reply=reply), self._classes(key))
            self.vectorizer_ = saved
        return oof

    def _calibrated(self, scores: dict[str, np.ndarray], feats, parents) -> dict[str, np.ndarray]:
        out = {}
        for key, cal in self.calibrators_.items():
            p = cal.predict_proba(self._stack(key, scores[key], feats, parents))
            for c in self._classes(key):
                name = key if key in self.codebook.themes else c
                out[name] = p[:, list(cal.classes_).index(c)] if c in cal.classes_ else np.zeros(len(feats))
        return out

    def predict_proba(self, feats: list[UnitFeatures], parents: list[UnitFeatures | None]) -> dict[str, np.ndarray]:
        if not feats:
            return {c: np.zeros(0) for c in self.codebook.all_labels}
        X = self._text_matrix(feats, parents)
        Xr = self._text_matrix(feats, parents, reply=True, X=X)
        scores = {k: self._scores(clf, Xr if k == "reply_stance" else X, self._classes(k))
                  for k, clf in self.text_models_.items()}
        if self.use_cues:
            return self._calibrated(scores, feats, parents)
        out = {}
        for key, clf in self.text_models_.items():
            p = clf.predict_proba(Xr if key == "reply_stance" else X)
            for c in self._classes(key):
                name = key if key in self.codebook.themes else c
                out[name] = p[:, list(clf.classes_).index(c)] if c in clf.classes_ else np.zeros(len(feats))
        return out

    # --- evidence ---------------------------------------------------------------------------
    def unigram_weights(self, code: str) -> dict[str, float]:
        """Logistic-regression weight of each single lemma for a code, as the text model sees it."""
        if not hasattr(self, "_weights_cache"):
            self._weights_cache = {}
        if code not in self._weights_cache:
            if code in self.text_models_:
                coefs = _coefs(self.text_models_[code], 1)
            else:
                scheme = next(s for s in SCHEMES if code in self.codebook.values(s))
                coefs = _coefs(self.text_models_[scheme], code)
            vocab = self.vectorizer_.vocabulary_
            self._weights_cache[code] = ({term: float(coefs[i]) for term, i in vocab.items()
                                          if " " not in term and i < len(coefs)} if coefs is not None else {})
        return self._weights_cache[code]


def _coefs(clf, positive) -> np.ndarray | None:
    """Coefficients of a logistic regression toward ``positive`` (None for a dummy)."""
    if not isinstance(clf, LogisticRegression):
        return None
    classes = list(clf.classes_)
    if positive not in classes:
        return None
    if clf.coef_.shape[0] == 1:
        return clf.coef_[0] if classes.index(positive) == 1 else -clf.coef_[0]
    return clf.coef_[classes.index(positive)]


# ------------------------------------------------------------------------------------------
def decide(codebook: Codebook, probs: dict[str, np.ndarray], thresholds: dict[str, float],
           priors: dict[str, dict[str, float]] | None = None) -> list[dict]:
    """Turn probabilities into labels: themes over their threshold; for each stance scheme the value
    with the highest probability relative to its training prior (``priors``; none = plain argmax)."""
    n = len(next(iter(probs.values()))) if probs else 0
    out = []
    for i in range(n):
        themes = [t for t in codebook.theme_names if probs[t][i] >= thresholds.get(t, 0.5)]
        row = {"themes": themes}
        for s in SCHEMES:
            values = codebook.values(s)
            prior = (priors or {}).get(s) or {}
            row[s] = max(values, key=lambda v: (probs[v][i] / prior.get(v, 1.0), v == codebook.stances[s].default))
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
        if model is not None and f.sents and f.lemmas:
            get = model.unigram_weights(code).get
            last = len(f.sents) - 1
            scores = [0.0] * (last + 1)  # plain lists: most units have a handful of sentences
            for lemma, si in zip(f.lemmas, f.lemma_sents):
                scores[si if si <= last else last] += get(lemma, 0.0)
            for si in sorted(range(last + 1), key=lambda i: (-scores[i], i))[:max_sentences]:
                if scores[si] <= 0:
                    break
                item = items.setdefault(int(si), {"sentence": f.sentence(int(si)).strip(), "start": f.sents[si][0],
                                                  "end": f.sents[si][1], "cues": [], "model_weight": 0.0})
                item["model_weight"] = round(float(scores[si]), 3)
        ranked = sorted(items.values(), key=lambda it: (-len(it["cues"]), -it["model_weight"], it["start"]))
        evidence[code] = ranked[: max_sentences + 1]
    return evidence
