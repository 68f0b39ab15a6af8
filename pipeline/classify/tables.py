"""Prediction into tables: a units frame in, the ``labels`` table out (one row per unit).

``classify_frame`` is the one classification path: the local engine, each chunk of a chunked
run and each Dask partition call it with the same cached coder (``loader.coder``).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .decisions import decide, explain
from .features import featurize
from .segments import text_offsets


def labels_frame(units: pd.DataFrame, codebook, probs: dict, decisions: list[dict], feats: list,
                 model=None) -> pd.DataFrame:
    """The ``labels`` table: predicted codes, one probability column per code, evidence as JSON
    (the coded segments of each code, with offsets into ``own_text`` and ``text``)."""
    prob_cols = [f"p_{code}" for code in codebook.all_labels]
    df = pd.DataFrame({"unit_id": units["unit_id"].to_numpy(),
                       "themes": [d["themes"] for d in decisions],
                       "stance_tr": [d["stance_tr"] for d in decisions],
                       "reply_stance": [d["reply_stance"] for d in decisions]})
    for code, col in zip(codebook.all_labels, prob_cols):
        df[col] = np.round(np.asarray(probs[code], dtype="float64"), 4)
    texts = units["text"].fillna("").tolist() if "text" in units else [f.text for f in feats]
    owns = units["own_text"].fillna("").tolist() if "own_text" in units else texts
    df["evidence"] = [json.dumps(explain(codebook, f, d, model, offsets=text_offsets(t, o, f.sents)),
                                 ensure_ascii=False) for f, d, t, o in zip(feats, decisions, texts, owns)]
    if not decisions:  # an empty chunk or Dask partition (and Dask's meta): the same columns and types as a full table
        df = df.astype({c: "float64" for c in prob_cols})
    return df


def classify_frame(units: pd.DataFrame, model_dir: str, codebook_path: str) -> pd.DataFrame:
    """Classify a frame of units (one chunk, one Dask partition or a whole run)."""
    from .loader import coder

    codebook, model, meta, nlp = coder(str(model_dir), str(codebook_path))
    units = units.reset_index(drop=True)
    feats, parents = featurize(units, nlp)
    probs = model.predict_proba(feats, parents)
    decisions = decide(codebook, probs, model.thresholds_, getattr(model, "priors_", None))
    df = labels_frame(units, codebook, probs, decisions, feats, model if meta["recipe"] != "rules" else None)
    df["model"] = meta.get("recipe")
    df["codebook_version"] = codebook.version
    return df
