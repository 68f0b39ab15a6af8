"""Training: align a labelled sample with its corpus, fit a recipe, save the model.

``training_data`` parses the corpus the labels refer to (labels follow their text by
fingerprint, pipeline/anchor.py) and returns ``(codebook, units, feats, parents, targets)``;
``train_model`` fits the combined recipe and writes a model directory (pipeline/model_io.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from .classify.features import featurize
from .errors import Code, PipelineError
from .parse import parse_paths, to_frames
from .codebook import BUNDLED_CODEBOOK as CODEBOOK_PATH

def training_data(labels_path: Path | str, corpus: Path | str | None = None, *, annotator: str = "gold",
                  exclude_threads: Iterable[str] = (), codebook_path: Path | str = CODEBOOK_PATH):
    """Parse the corpus the labels refer to and align units, features and targets."""
    import numpy as np

    from .classify.features import Targets
    from .codebook import load_codebook
    from .labels import read_labels
    from .preprocess import build_nlp

    labels_path = Path(labels_path)
    codebook = load_codebook(codebook_path)
    corpus = Path(corpus) if corpus else labels_path.parent / "raw"
    result = parse_paths([corpus])
    _, units = to_frames(result.threads)
    # Labels follow their text (pipeline/anchor.py): one deleted comment renumbers the rest of the
    # thread, and a label must never train on the comment that now holds its old id.
    labels, label_problems = read_labels(labels_path, codebook, units=units)
    anchor = labels.attrs["anchor"]
    labels = labels[labels["annotator"] == annotator]
    if labels.empty:
        raise PipelineError(Code.E206, f"no labels by annotator {annotator!r}.", file=str(labels_path),
                            fix="Pass --annotator with a name present in the file (e.g. gold).")
    excluded = set(exclude_threads)
    units = units[units["unit_id"].isin(set(labels["unit_id"])) | units["kind"].eq("post")].reset_index(drop=True)
    nlp = build_nlp(codebook, glossary=False)  # entities are not classifier inputs; the ruler costs ~15%
    feats_all, parents_all = featurize(units, nlp)
    lab = labels.set_index("unit_id")
    keep = [i for i, (uid, tid) in enumerate(zip(units["unit_id"], units["thread_id"]))
            if uid in lab.index and tid not in excluded]
    if len(keep) < 10:
        raise PipelineError(Code.E206, f"only {len(keep)} labelled units to train on.", file=str(labels_path),
                            fix="Label more units, or exclude fewer threads.")
    sel = units.iloc[keep].reset_index(drop=True)
    sel.attrs["label_problems"] = [p.to_dict() for p in label_problems]
    sel.attrs["labels_anchor"] = anchor.to_dict()
    y = Targets(
        themes=np.array([[int(t in lab.at[uid, "themes"]) for t in codebook.theme_names] for uid in sel["unit_id"]]),
        stance_tr=np.array([lab.at[uid, "stance_tr"] or codebook.stances["stance_tr"].default for uid in sel["unit_id"]]),
        reply_stance=np.array([lab.at[uid, "reply_stance"] or codebook.stances["reply_stance"].default
                               for uid in sel["unit_id"]]),
        groups=sel["thread_id"].to_numpy())
    return codebook, sel, [feats_all[i] for i in keep], [parents_all[i] for i in keep], y


def train_model(labels_path: Path | str, out: Path | str, *, corpus: Path | str | None = None,
                annotator: str = "gold", exclude_threads: Iterable[str] = (), use_cues: bool = True,
                codebook_path: Path | str = CODEBOOK_PATH, evaluation: dict | None = None, cv: bool = False) -> dict:
    import hashlib

    from .classify.recipes import make_coder
    from .model_io import save_model

    codebook, units, feats, parents, y = training_data(labels_path, corpus, annotator=annotator,
                                                       exclude_threads=exclude_threads, codebook_path=codebook_path)
    model = make_coder("combined" if use_cues else "supervised", codebook).fit(feats, parents, y)
    if cv and evaluation is None:  # leave-one-thread-out figures of this very recipe, for the model card
        from .evaluate import align, cross_validate, score

        labels = pd.DataFrame({"unit_id": units["unit_id"], "themes": [
            [t for j, t in enumerate(codebook.theme_names) if y.themes[i, j]] for i in range(len(units))],
            "stance_tr": y.stance_tr, "reply_stance": y.reply_stance})
        preds = cross_validate(codebook, units, feats, parents, y, "combined" if use_cues else "supervised")
        s = score(align(labels, preds)[0], codebook, groups=units["thread_id"].to_numpy())["summary"]
        evaluation = {"theme macro F1": s["themes"]["macro_f1"], "theme micro F1": s["themes"]["micro_f1"],
                      "stance_tr F_avg": s["stance_tr"].get("f_avg"), "stance_tr macro F1": s["stance_tr"]["macro_f1"],
                      "reply_stance macro F1": s["reply_stance"]["macro_f1"],
                      "theme macro F1 95% CI (threads)": s["themes"].get("macro_f1_ci_threads")}
    training = {"labels_file": str(Path(labels_path).name), "annotator": annotator,
                "labels_sha256": hashlib.sha256(Path(labels_path).read_bytes()).hexdigest(),
                "n_units": len(units), "n_threads": int(units["thread_id"].nunique()),
                "threads": sorted(units["thread_id"].unique().tolist()),
                "excluded_threads": sorted(exclude_threads), "theme_counts":
                    {t: int(y.themes[:, j].sum()) for j, t in enumerate(codebook.theme_names)}}
    save_model(model, out, training=training, evaluation=evaluation)
    return {"out": str(out), "thresholds": model.thresholds_, **training,
            "label_problems": units.attrs.get("label_problems", []), "labels_anchor": units.attrs.get("labels_anchor")}
