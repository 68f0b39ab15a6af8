"""Decisions and their evidence: probabilities -> codes, and the coded segments behind each code.

A unit's evidence for a code is a list of its *segments* (sentences of its own words), each
with what decided it: the codebook patterns that matched there (and their weights), the vetoes
that cancelled matches there, and the text model's weight of its words.  The same items, with
offsets moved into the unit's ``text``, are the rows of ``segments.parquet`` (see segments.py).
"""

from __future__ import annotations

import math

import numpy as np

from ..codebook import Codebook
from ..preprocess import UnitFeatures
from .features import SCHEMES


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


def _item(f: UnitFeatures, si: int, offsets: list | None) -> dict:
    start, end = f.sents[si]
    ts, te = offsets[si] if offsets is not None and si < len(offsets) else (None, None)
    return {"segment": int(si), "sentence": f.sentence(si).strip(), "start": start, "end": end,
            "text_start": ts, "text_end": te, "score": 0.0, "cues": [], "patterns": [], "vetoed_by": [],
            "model_weight": 0.0}


def explain(codebook: Codebook, f: UnitFeatures, decision: dict, model=None, *, max_sentences: int = 2,
            offsets: list | None = None) -> dict[str, list[dict]]:
    """Evidence for each assigned code: the segments whose codebook patterns matched (with the
    segment's rule score, capped as the codebook says), then the segments whose words the model
    weighs most for that code.  ``offsets``: each segment's (start, end) in the unit's ``text``
    (``start``/``end`` index ``own_text``, the words the coder read)."""
    codes = list(decision["themes"]) + [decision[s] for s in SCHEMES]
    cap = codebook.segments.segment_cap if codebook.raw.get("segments") else math.inf
    evidence: dict[str, list[dict]] = {}
    last = len(f.sents) - 1
    by_code: dict[str, list] = {}
    for cue in f.cues:  # grouped once: a unit has few cues but several codes to explain
        if cue[0] in codes:
            by_code.setdefault(cue[0], []).append(cue)
    for code in codes:
        items: dict[int, dict] = {}
        for cue in by_code.get(code, ()):
            text, si = cue[1], cue[2]
            if not 0 <= si <= last:
                continue
            pid, weight, veto = (cue[3], cue[4], cue[5]) if len(cue) > 5 else ("cue", 1.0, "")
            item = items.get(si) or items.setdefault(si, _item(f, si, offsets))
            if veto:
                if veto not in item["vetoed_by"]:
                    item["vetoed_by"].append(veto)
                continue
            item["score"] = round(min(cap, item["score"] + weight), 3)
            if text not in item["cues"]:
                item["cues"].append(text)
            if pid not in item["patterns"]:
                item["patterns"].append(pid)
        if model is not None and f.sents and f.lemmas:
            get = model.unigram_weights(code).get
            scores = [0.0] * (last + 1)  # plain lists: most units have a handful of sentences
            for lemma, si in zip(f.lemmas, f.lemma_sents):
                scores[si if si <= last else last] += get(lemma, 0.0)
            for si in sorted(range(last + 1), key=lambda i: (-scores[i], i))[:max_sentences]:
                if scores[si] <= 0:
                    break
                item = items.get(si) or items.setdefault(si, _item(f, si, offsets))
                item["model_weight"] = round(float(scores[si]), 3)
        ranked = sorted(items.values(), key=lambda it: (-it["score"], -it["model_weight"], it["start"]))
        # segments whose only match was vetoed are kept (they say why), after those that count
        evidence[code] = [it for it in ranked if it["score"] > 0 or it["model_weight"] > 0][: max_sentences + 1] + \
            [it for it in ranked if it["score"] == 0 and it["model_weight"] == 0][:2]
    return evidence


def decided_by(item: dict) -> str:
    """What decided a coded segment, as one readable string: 'pattern:a+b; veto:c; model:0.42'."""
    parts = []
    if item.get("patterns"):
        parts.append("pattern:" + "+".join(item["patterns"]))
    if item.get("vetoed_by"):
        parts.append("veto:" + "+".join(item["vetoed_by"]))
    if item.get("model_weight"):
        parts.append(f"model:{item['model_weight']}")
    return "; ".join(parts) or "model"
