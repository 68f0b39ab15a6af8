"""Sentences written for training (corpora/synthetic/training_sentences.jsonl), as extra rows for
the text models only.

They are never coded, scored or used for calibration or thresholds: in every fit (and every
cross-validation fold) they join the *training* part of the text models, so held-out figures stay
figures on seed threads alone.  Rows without a ``reply_stance`` teach the text models themes and
stance_tr but not reply_stance; rows with one are read with their ``parent_text`` as parent.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import Code, PipelineError


@lru_cache(maxsize=2)
def load_extra(path: str, codebook_fingerprint: str, codebook_path: str):
    """``(feats, parents, targets)`` of the sentences in ``path``; targets map each code key to an
    array, with ``None`` in reply_stance where the sentence has none."""
    from ..codebook import load_codebook
    from ..preprocess import build_nlp, features

    codebook = load_codebook(codebook_path)
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PipelineError(Code.E206, f"not valid JSON ({exc.msg}).", file=path, line=n,
                                fix="One JSON object per line: id, text, themes, stance_tr, reply_stance.") from None
        unknown = set(row.get("themes") or []) - set(codebook.theme_names)
        if unknown or row.get("stance_tr") not in (None, *codebook.values("stance_tr")) or \
                row.get("reply_stance") not in (None, *codebook.values("reply_stance")):
            raise PipelineError(Code.E206, f"codes not in the codebook in {row.get('id')!r}.", file=path, line=n,
                                fix="Use the codebook's theme names and stance values.")
        rows.append(row)
    nlp = build_nlp(codebook, glossary=False)
    feats = list(features(nlp, [str(r.get("text") or "") for r in rows]))
    parent_texts = [str(r.get("parent_text") or "") for r in rows]
    parent_feats = list(features(nlp, parent_texts))
    parents = [p if t else None for p, t in zip(parent_feats, parent_texts)]
    targets = {t: np.array([int(t in (r.get("themes") or [])) for r in rows]) for t in codebook.theme_names}
    targets["stance_tr"] = np.array([r.get("stance_tr") or codebook.stances["stance_tr"].default for r in rows])
    targets["reply_stance"] = np.array([r.get("reply_stance") for r in rows], dtype=object)
    return feats, parents, targets
