"""Saving and loading trained coders safely.

A model directory holds::

    model.skops     the fitted scikit-learn objects (skops format: no pickle)
    model.json      metadata: codebook name/version/fingerprint, thresholds, training-data
                    hash, the SHA-256 of model.skops, cross-validated figures
    MODEL_CARD.md   the same for people

Loading refuses a model whose file hash does not match (tampered or damaged), one
that contains any type outside a fixed allow-list of scikit-learn/numpy types, and
one trained under another codebook.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import skops.io as sio

from . import store
from .classify.coders import SupervisedCoder
from .codebook import Codebook
from .errors import Code, PipelineError

FORMAT_VERSION = 1
# Types a model file may contain beyond skops' defaults; anything else is refused.
TRUSTED_TYPES = {
    "sklearn.calibration.CalibratedClassifierCV", "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration", "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.dummy.DummyClassifier", "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer", "sklearn.model_selection._split.StratifiedKFold",
    "numpy.float64", "numpy.int64", "numpy.dtype", "numpy.ndarray", "builtins.float", "builtins.int",
    "numpy.random.mtrand.RandomState", "numpy.core.multiarray._reconstruct", "collections.defaultdict",
    "builtins.tuple", "builtins.list", "builtins.dict", "builtins.str", "builtins.set",
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ids: "__id__": N, array files "N.npy", and references to an already stored object
# ("content": "N", a memory address, so at least 12 digits)
_SKOPS_ID_RE = re.compile(r'("__id__": )(\d+)|("file": ")(\d+)(\.npy")|("content": ")(\d{12,})(")')


def _canonicalise_skops(path: Path) -> None:
    """Make a skops archive byte-identical for identical models.

    skops names objects by their memory address (``id()``) and stamps zip entries with the
    write time; both change from run to run.  Renumber the ids in order of appearance in
    ``schema.json`` (renaming the array files to match) and fix the timestamps.
    """
    import zipfile

    with zipfile.ZipFile(path) as src:
        entries = {info.filename: src.read(info.filename) for info in src.infolist()}
    mapping: dict[str, str] = {}

    def renumber(m: re.Match) -> str:
        if m.group(1):
            return m.group(1) + mapping.setdefault(m.group(2), str(len(mapping) + 1))
        if m.group(3):
            return m.group(3) + mapping.setdefault(m.group(4), str(len(mapping) + 1)) + m.group(5)
        return m.group(6) + mapping.setdefault(m.group(7), str(len(mapping) + 1)) + m.group(8)

    schema = _SKOPS_ID_RE.sub(renumber, entries.pop("schema.json").decode("utf-8"))
    renamed = {"schema.json": schema.encode("utf-8")}
    for name, data in entries.items():
        stem, dot, ext = name.partition(".")
        renamed[(mapping.get(stem, stem) + dot + ext) if stem.isdigit() else name] = data
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(renamed):
            dst.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), renamed[name],
                         compress_type=zipfile.ZIP_DEFLATED)


def save_model(model: SupervisedCoder, out: Path | str, *, training: dict, evaluation: dict | None = None) -> Path:
    final = Path(out)
    # Train into a fresh sibling folder and swap it in at the end: an interrupted training (or a
    # full disk) leaves the previous model working, never a half-written one.
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        out = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".new", dir=final.parent))
    except OSError as exc:
        raise store.environment_error(exc, final) from exc
    try:
        _write_model_files(model, out, training=training, evaluation=evaluation)
        _swap_in(out, final)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return final


def _swap_in(new: Path, final: Path) -> None:
    """Replace the directory ``final`` by ``new`` with two renames; between them the old model
    sits at ``.<name>.old`` and :func:`load_model` points there if the process dies."""
    aside = final.with_name(f".{final.name}.old")
    shutil.rmtree(aside, ignore_errors=True)
    if final.exists():
        os.replace(final, aside)
    os.replace(new, final)
    shutil.rmtree(aside, ignore_errors=True)


def _write_model_files(model: SupervisedCoder, out: Path, *, training: dict, evaluation: dict | None) -> None:
    if hasattr(model.vectorizer_, "stop_words_"):
        # Only kept for introspection (sklearn says it can be deleted); it is a set, whose order
        # varies between processes and would make the model file differ from run to run.
        del model.vectorizer_.stop_words_
    payload = {"vectorizer": model.vectorizer_, "text_models": model.text_models_, "calibrators": model.calibrators_}
    with store.atomic_path(out / "model.skops") as tmp:
        sio.dump(payload, tmp)
        _canonicalise_skops(tmp)
    cb = model.codebook
    meta = {
        "format_version": FORMAT_VERSION,
        "recipe": model.name,
        "params": {"use_cues": model.use_cues, "C": model.C, "stance_C": model.stance_C, "cue_weight": model.cue_weight,
                   "min_df": model.min_df, "rule_prior": model.rule_prior,
                   "rule_precision": model.rule_precision, "random_state": model.random_state},
        "codebook": {"name": cb.name, "version": cb.version, "fingerprint": cb.fingerprint,
                     "themes": cb.theme_names, "stance_tr": cb.values("stance_tr"),
                     "reply_stance": cb.values("reply_stance")},
        "thresholds": model.thresholds_,
        "stance_priors": model.priors_,
        "training": training,
        "evaluation": evaluation or {},
        "model_sha256": _sha256(out / "model.skops"),
        "created": training.get("created") or _dt.date.today().isoformat(),
    }
    store.write_json(meta, out / "model.json")
    store.write_text(model_card(meta), out / "MODEL_CARD.md")


def load_model(path: Path | str, codebook: Codebook) -> tuple[SupervisedCoder, dict]:
    path = Path(path)
    meta_path, model_path = path / "model.json", path / "model.skops"
    if not meta_path.exists() or not model_path.exists():
        aside = path.with_name(f".{path.name}.old")
        if aside.exists():
            raise PipelineError(Code.E208, "the model directory is missing: a training was interrupted while "
                                "swapping the new model in.", file=str(path),
                                fix=f"Rename {aside} back to {path.name}, or retrain.")
        raise PipelineError(Code.E208, "not a complete model directory (model.json and model.skops expected).",
                            file=str(path), fix="Train one with `python -m pipeline train`, or use models/default.")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PipelineError(Code.E208, f"model.json is damaged (not valid JSON: {exc}).", file=str(meta_path),
                            line=getattr(exc, "lineno", None), fix="Restore the model directory or retrain.") from exc
    if not zipfile.is_zipfile(model_path):
        raise PipelineError(Code.E208, "model.skops is damaged (not a readable archive; truncated?).",
                            file=str(model_path), fix="Restore the model from version control or retrain it.")
    if _sha256(model_path) != meta.get("model_sha256"):
        raise PipelineError(Code.E204, "model.skops is readable but does not match the hash recorded in "
                            "model.json: it was changed after training (edited or replaced).", file=str(model_path),
                            fix="Restore the model from version control or retrain it; never load model files "
                                "from untrusted sources.")
    cbm = meta.get("codebook", {})
    if cbm.get("fingerprint") != codebook.fingerprint:
        raise PipelineError(
            Code.E203, f"the model was trained under codebook {cbm.get('name')} v{cbm.get('version')} "
            f"(fingerprint {cbm.get('fingerprint')}, themes {cbm.get('themes')}), but the codebook given"
            f"{' (' + codebook.path + ')' if codebook.path else ''} is {codebook.name} v{codebook.version} "
            f"(fingerprint {codebook.fingerprint}, themes {codebook.theme_names}); its codes or cues differ.",
            file=str(path),
            fix="Retrain with `python -m pipeline train --labels ... --out ...` under this codebook, "
                "or pass the codebook the model was trained with (--codebook).")
    try:
        untrusted = set(sio.get_untrusted_types(file=model_path))
    except Exception as exc:  # noqa: BLE001 - any failure to read the archive is a damaged model
        raise PipelineError(Code.E208, f"model.skops is damaged and cannot be read ({exc}).", file=str(model_path),
                            fix="Restore or retrain the model.") from exc
    refused = sorted(untrusted - TRUSTED_TYPES)
    if refused:
        raise PipelineError(Code.E204, f"model.skops contains types outside the allow-list: {refused}.",
                            file=str(model_path), fix="Only load models trained by this tool.")
    payload = sio.load(model_path, trusted=sorted(untrusted))
    params = meta.get("params", {})
    model = SupervisedCoder(codebook, **params)
    model.vectorizer_ = payload["vectorizer"]
    model.text_models_ = payload["text_models"]
    model.calibrators_ = payload["calibrators"]
    model.thresholds_ = meta["thresholds"]
    model.priors_ = meta["stance_priors"]
    return model, meta


def model_card(meta: dict) -> str:
    cb, tr, ev = meta["codebook"], meta["training"], meta.get("evaluation") or {}
    lines = [
        f"# Model card: {meta['recipe']} coder",
        "",
        "- Recipe: class-balanced logistic regression over TF-IDF of lemmas (1-2 grams)"
        + ("; its leave-one-thread-out scores stacked with the codebook's segment-rule evidence in a calibrating "
           "logistic regression per code; theme thresholds tuned for F1 on probabilities nested by thread (each "
           "thread's from a calibrator that did not see it); stance values chosen relative to their training "
           "priors." if meta["params"].get("use_cues") else "."),
        f"- Codebook: {cb['name']} v{cb['version']} (fingerprint {cb['fingerprint']}); themes: {', '.join(cb['themes'])}.",
        f"- Training data: {tr.get('labels_file')} (annotator `{tr.get('annotator')}`), "
        f"{tr.get('n_units')} units from {tr.get('n_threads')} threads; SHA-256 {tr.get('labels_sha256', '')[:16]}...",
        f"- Excluded threads: {', '.join(tr.get('excluded_threads') or []) or 'none'}.",
        f"- Thresholds: {', '.join(f'{k} {v:.2f}' for k, v in meta['thresholds'].items())}.",
        f"- Model file SHA-256: {meta['model_sha256'][:16]}...; created {meta['created']}.",
        "",
        "## Cross-validated figures (leave one thread out)",
        "",
    ]
    if ev:
        lines += [f"- {k}: {v}" for k, v in ev.items()]
    else:
        lines.append("Not recorded: run `python -m pipeline evaluate --gold ... --model ... --cv thread`.")
    lines += ["", "## Intended use and limits", "",
              "Coding UK probation practitioners' blog comments (2014-2019) under the bundled codebook. "
              "Trained on about 180 units from five threads: themes concentrated in one thread each and "
              "'favour' toward TR rare, so expect lower recall on threads unlike the training data. "
              "Check the evidence column before citing a code.", ""]
    return "\n".join(lines)
