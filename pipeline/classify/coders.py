"""The coders: themes (multi-label) and two stance schemes.

Three coders share one interface (``fit(feats, parents, y)`` returns self;
``predict_proba(feats, parents)`` returns a probability per code; fitted attributes end in _):

``RuleCoder``        the codebook alone: a code is given when its segment-rule evidence
                     (``features.rule_evidence``) reaches the codebook's unit threshold;
                     stance by evidence vote.  Transparent, needs no training.
``SupervisedCoder``  TF-IDF over lemmas + logistic regression (class-balanced).  With
                     ``use_cues=True`` it stacks the text model's out-of-fold scores with the
                     codebook's rule evidence in a calibrating logistic regression per code:
                     that is the *combined* default.
``MajorityCoder``    the DummyClassifier baseline (most frequent value, no themes).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from ..codebook import Codebook
from ..preprocess import UnitFeatures
from .features import SCHEMES, Targets, asks_question, content_overlap, n_questions, rule_evidence, tfidf_transform

THRESHOLD_GRID = np.round(np.arange(0.1, 0.91, 0.05), 2)


# ------------------------------------------------------------------------------------------
class RuleCoder(BaseEstimator):
    """Codebook rules: a theme when its segment evidence reaches ``min_cues`` times the codebook's
    unit threshold (v2: one strong segment or two weak ones; a v1 codebook: ``min_cues`` cue
    matches); stance by evidence vote.

    Probabilities are a monotone score of the evidence (1 -> 0.63, 2 -> 0.86), so the rule coder
    can be thresholded and compared like the models.
    """

    name = "rules"

    def __init__(self, codebook: Codebook, min_cues: int = 1) -> None:
        self.codebook = codebook
        self.min_cues = min_cues

    def fit(self, feats=None, parents=None, y: Targets | None = None) -> "RuleCoder":
        need = self.min_cues * self.codebook.segments.unit_threshold
        self.thresholds_ = {t: 1 - math.exp(-need) - 1e-9 for t in self.codebook.theme_names}
        return self

    def predict_proba(self, feats: list[UnitFeatures], parents: list[UnitFeatures | None]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        themes = self.codebook.theme_names
        counts = np.array([rule_evidence(f, themes, self.codebook) for f in feats]).reshape(len(feats), len(themes))
        for j, t in enumerate(themes):
            out[t] = 1 - np.exp(-counts[:, j])
        for scheme in SCHEMES:
            values = self.codebook.values(scheme)
            default = self.codebook.stances[scheme].default
            vc = np.array([rule_evidence(f, values, self.codebook) for f in feats]).reshape(len(feats), len(values))
            if scheme == "reply_stance":  # a question to the parent is a query
                qi = values.index("query") if "query" in values else None
                if qi is not None:
                    vc[:, qi] += [n_questions(f) for f in feats]
            vc[:, values.index(default)] += 0.5  # ties and no cues -> the default value
            probs = (vc + 0.1) / (vc + 0.1).sum(axis=1, keepdims=True)
            for j, v in enumerate(values):
                out[v] = probs[:, j]
        return out


class MajorityCoder(BaseEstimator):
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
class SupervisedCoder(BaseEstimator):
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
                 rule_prior: float = 30.0, rule_precision: float = 0.85, random_state: int = 0,
                 extra_training: str = "") -> None:
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
        self.extra_training = extra_training  # sentences written for training: text models only (extra.py)

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
        cb = self.codebook
        own = np.log1p(np.array([rule_evidence(f, codes, cb) for f in feats]).reshape(len(feats), len(codes)))
        if not reply:
            return own
        qmark = np.array([[asks_question(f), p is None] for f, p in zip(feats, parents)], dtype=float).reshape(-1, 2)
        stance_codes = cb.values("stance_tr")
        zero = np.zeros(len(stance_codes))
        mine = np.minimum(1, np.array([rule_evidence(f, stance_codes, cb) for f in feats]).reshape(len(feats), -1))
        theirs = np.minimum(1, np.array([rule_evidence(p, stance_codes, cb) if p is not None else zero
                                         for p in parents]).reshape(len(feats), -1))
        # Reading the parent: a reply that takes the parent's side on TR tends to support it, one
        # that takes the other side to deny it ('none' carries no direction).
        polar = [i for i, v in enumerate(stance_codes) if v != cb.stances["stance_tr"].default]
        same = sum(mine[:, i] * theirs[:, i] for i in polar)
        opposite = sum(mine[:, i] * theirs[:, j] for i in polar for j in polar if i != j)
        overlap = np.array([content_overlap(f, p) for f, p in zip(feats, parents)], dtype=float)
        return np.hstack([own, qmark, np.log1p(theirs), np.column_stack([same, opposite, overlap])])

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
    def _extra(self):
        if not self.extra_training:
            return None
        from .extra import load_extra

        return load_extra(str(self.extra_training), self.codebook.fingerprint, self.codebook.path)

    def _fit_text(self, feats, parents, targets: dict) -> tuple:
        """A vectorizer and one text model per code, on these units plus any extra training sentences."""
        extra = self._extra()
        if extra is not None:
            xf, xp, xt = extra
            feats, parents = list(feats) + list(xf), list(parents) + list(xp)
            keep_reply = np.r_[np.ones(len(targets["reply_stance"]), bool), [v is not None for v in xt["reply_stance"]]]
            targets = {k: np.concatenate([v, xt[k]]) for k, v in targets.items()}
        vec = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2), min_df=self.min_df,
                              sublinear_tf=True, max_features=50000).fit([f.lemma_string for f in feats])
        saved, self.vectorizer_ = getattr(self, "vectorizer_", None), vec
        X = self._text_matrix(feats, parents)
        Xr = self._text_matrix(feats, parents, reply=True, X=X)
        models = {}
        for k, v in targets.items():
            if k == "reply_stance" and extra is not None:
                models[k] = self._base(v[keep_reply].astype(str), k).fit(Xr[keep_reply], v[keep_reply].astype(str))
            else:
                models[k] = self._base(v, k).fit(Xr if k == "reply_stance" else X, v)
        self.vectorizer_ = saved
        return vec, models

    def fit(self, feats: list[UnitFeatures], parents: list[UnitFeatures | None], y: Targets) -> "SupervisedCoder":
        targets = self._targets(y)
        self.vectorizer_, self.text_models_ = self._fit_text(feats, parents, targets)
        self.calibrators_: dict = {}
        self.thresholds_ = {t: 0.5 for t in self.codebook.theme_names}
        self.priors_ = {s: {v: 1.0 for v in self.codebook.values(s)} for s in SCHEMES}
        if not self.use_cues:
            return self
        oof = self._out_of_fold_scores(feats, parents, y)
        stacked = {key: self._stack(key, oof[key], feats, parents) for key in targets}
        for key, target in targets.items():
            self.calibrators_[key] = self._calibrator(key, stacked[key], target)
        for s in SCHEMES:
            labels = np.concatenate([targets[s], self._rule_pseudo_rows(s, 1)[1]])
            counts = Counter(labels.tolist())
            self.priors_[s] = {v: max(counts.get(v, 0), 1) / len(labels) for v in self.codebook.values(s)}
        if self.tune_thresholds:
            probs = self._nested_probabilities(stacked, targets, y.groups)
            for t in self.codebook.theme_names:
                scores = np.array([f1_score(targets[t], probs[t] >= th, zero_division=0) for th in THRESHOLD_GRID])
                # Of the thresholds with the best F1 (often a plateau), take the one nearest 0.5.
                best = THRESHOLD_GRID[scores >= scores.max() - 1e-9]
                self.thresholds_[t] = float(best[np.argmin(np.abs(best - 0.5))])
        return self

    def _calibrator(self, key: str, Z: np.ndarray, target: np.ndarray):
        """The calibrating model of one code, fitted on stacked out-of-fold rows plus the codebook's
        pseudo-rows (see ``_rule_pseudo_rows``)."""
        Zp, tp = self._rule_pseudo_rows(key, Z.shape[1])
        Z, target = np.vstack([Z, Zp]), np.concatenate([target, tp])
        if len(set(target.tolist())) < 2:
            return DummyClassifier(strategy="prior").fit(Z, target)
        return LogisticRegression(C=1.0, max_iter=1000, random_state=self.random_state,
                                  solver="liblinear" if key in self.codebook.themes else "newton-cg").fit(Z, target)

    def _nested_probabilities(self, stacked: dict, targets: dict, groups: np.ndarray) -> dict[str, np.ndarray]:
        """Theme probabilities of each unit from calibrators that did not see its thread (nested
        inside the out-of-fold text scores), so that thresholds are tuned on probabilities of the
        same kind as those of new threads, not on the calibrator's own training rows."""
        out = {t: np.zeros(len(groups)) for t in self.codebook.theme_names}
        threads = sorted(set(groups.tolist()))
        for g in threads if len(threads) >= 3 else []:
            test, train = groups == g, groups != g
            for t in self.codebook.theme_names:
                cal = self._calibrator(t, stacked[t][train], targets[t][train])
                p = cal.predict_proba(stacked[t][test])
                out[t][test] = p[:, list(cal.classes_).index(1)] if 1 in cal.classes_ else 0.0
        if len(threads) < 3:  # too few threads to nest: the calibrator's own rows (optimistic)
            for t in self.codebook.theme_names:
                cal = self.calibrators_[t]
                p = cal.predict_proba(stacked[t])
                out[t] = p[:, list(cal.classes_).index(1)] if 1 in cal.classes_ else np.zeros(len(groups))
        return out

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
            vec, models = self._fit_text([feats[i] for i in train], [parents[i] for i in train],
                                         {k: v[train] for k, v in targets.items()})
            saved, self.vectorizer_ = self.vectorizer_, vec
            fte, pte = [feats[i] for i in test], [parents[i] for i in test]
            X = self._text_matrix(fte, pte)
            Xr = self._text_matrix(fte, pte, reply=True, X=X)
            for key, clf in models.items():
                oof[key][test] = self._scores(clf, Xr if key == "reply_stance" else X, self._classes(key))
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


