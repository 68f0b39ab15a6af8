"""Labelled samples: one JSON object per unit and coder, validated against the codebook.

::

    {"unit_id": "000/c3", "annotator": "coder_a", "themes": ["workload"],
     "stance_tr": "against", "reply_stance": "support", "note": "optional",
     "fingerprint": "9f2c61d0a4b7e311"}

``annotator: "gold"`` marks the adjudicated labels.  ``fingerprint`` is the content hash of the
unit the label was made on (``units.parquet``'s ``fingerprint`` column, :mod:`pipeline.anchor`):
given the current units, :func:`read_labels` re-attaches every label to the unit that now holds
that content and reports labels whose text changed or disappeared instead of attaching them
elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .anchor import AnchorReport, anchor_labels
from .codebook import Codebook
from .errors import Code, PipelineError, Problem

LABEL_COLUMNS = ["unit_id", "annotator", "themes", "stance_tr", "reply_stance", "note", "fingerprint"]


def read_labels(path: Path | str, codebook: Codebook, *, known_units: set[str] | None = None,
                units: pd.DataFrame | None = None, strict: bool = True) -> tuple[pd.DataFrame, list[Problem]]:
    """Read and validate a labels JSONL file.

    With ``strict`` (the default) the first invalid line raises a PipelineError naming
    the line; otherwise bad lines are skipped and returned as problems.  Labels for units
    not in ``known_units`` are reported (they may come from another parse: see
    ``evaluate.align_labels``) but kept.

    Given the current ``units`` table, labels are anchored by content (:func:`anchor_labels`):
    moved ones follow their text to its new id, changed or orphaned ones are dropped and
    reported (W201/W202), never attached to other text.  The report is in
    ``df.attrs["anchor"]``.
    """
    path = Path(path)
    if not path.exists():
        raise PipelineError(Code.E202, "the labels file does not exist.", file=str(path),
                            fix="Pass the path of a labels JSONL file (see README, 'Labels').")
    themes = set(codebook.theme_names)
    rows, problems = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
            for key in ("unit_id", "annotator"):
                if not rec.get(key):
                    raise ValueError(f"missing {key!r}")
            rec_themes = rec.get("themes") or []
            if not isinstance(rec_themes, list):
                raise ValueError("'themes' must be a list")
            unknown = sorted(set(rec_themes) - themes)
            if unknown:
                raise ValueError(f"unknown theme(s) {unknown}; the codebook has {sorted(themes)}")
            for scheme in ("stance_tr", "reply_stance"):
                value = rec.get(scheme)
                if value is not None and value not in codebook.values(scheme):
                    raise ValueError(f"{scheme}={value!r} is not one of {codebook.values(scheme)}")
        except (json.JSONDecodeError, ValueError) as exc:
            problem = Problem(Code.E202.value, str(path), f"invalid label: {exc}.",
                              "Fix or delete this line; codes must match models/codebook.yaml.", line=n,
                              severity="error")
            if strict:
                raise PipelineError(Code.E202, problem.message, file=str(path), line=n, fix=problem.fix) from None
            problems.append(problem)
            continue
        rows.append({"unit_id": rec["unit_id"], "annotator": str(rec["annotator"]),
                     "themes": sorted(set(rec_themes)), "stance_tr": rec.get("stance_tr"),
                     "reply_stance": rec.get("reply_stance"), "note": rec.get("note"),
                     "fingerprint": rec.get("fingerprint"), "line": n})
    df = pd.DataFrame(rows, columns=LABEL_COLUMNS + ["line"])
    if units is not None:
        df, report = anchor_labels(df, units)
        problems.extend(anchor_problems(report, str(path)))
        df.attrs["anchor"] = report
    if known_units is not None and len(df):
        missing = sorted(set(df["unit_id"]) - known_units)
        if missing:
            first = int(df.loc[df["unit_id"].isin(missing), "line"].min())  # name the first such line
            problems.append(Problem(Code.E202.value, str(path),
                                    f"{len(missing)} labelled unit ids are not in the parsed units "
                                    f"(e.g. {', '.join(missing[:3])}).",
                                    "Check the labels were made on the same corpus; evaluation matches "
                                    "the rest by normalised text.", line=first))
    dup = df.duplicated(["unit_id", "annotator"], keep="last")
    if dup.any():  # the latest label of a coder for a unit wins, as in the annotation store
        df = df[~dup]
    return df.reset_index(drop=True), problems


def anchor_problems(report: AnchorReport, file: str) -> list[Problem]:
    """The anchoring report as warnings for report.json and the CLI."""
    out = []
    if report.moved:
        eg = ", ".join(f"{a} -> {b}" for a, b in report.moved[:3])
        out.append(Problem(Code.W201.value, file, f"{len(report.moved)} labels followed their text to a new "
                           f"unit id (e.g. {eg}).", "Nothing to do; `python -m pipeline labels check "
                           "--stamp` rewrites the ids in the file."))
    lost = list(dict.fromkeys(report.changed + report.orphaned))  # one id per unit, not per coder
    if lost:
        out.append(Problem(Code.W202.value, file, f"{len(lost)} labels were made on text that has changed "
                           f"({len(report.changed)} labels) or is no longer in the corpus ({len(report.orphaned)}): "
                           f"{', '.join(lost[:5])}{' ...' if len(lost) > 5 else ''}. They are not used.",
                           "Review them with `python -m pipeline labels check`, then re-code those units."))
    if report.unanchored:
        out.append(Problem(Code.W203.value, file, f"{len(report.unanchored)} labels carry no fingerprint and "
                           "were attached by unit id alone.", "Run `python -m pipeline labels check --stamp` "
                           "once on the corpus they were made on to record their fingerprints."))
    return out


def read_label_ids(path: Path | str) -> pd.DataFrame:
    """``unit_id``, ``fingerprint`` and ``line`` of every well-formed label line (no codebook
    validation: enough to check anchoring of any labels file)."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), 1):
        try:
            rec = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and rec.get("unit_id"):
            rows.append({"unit_id": rec["unit_id"], "fingerprint": rec.get("fingerprint"), "line": n})
    return pd.DataFrame(rows, columns=["unit_id", "fingerprint", "line"])


def stamp_labels(path: Path | str, units: pd.DataFrame) -> AnchorReport:
    """Record fingerprints in a labels file, rewriting it atomically line by line.

    Labels without a fingerprint get the one of the unit their id names now (run this once, on
    the corpus the labels were made on); labels whose text moved get its new id.  Changed and
    orphaned labels are left exactly as they were, for a person to look at.  Other fields, blank
    lines and the order of lines are kept."""
    from . import store
    from .anchor import fingerprints

    path = Path(path)
    fp_of_id = dict(zip(units["unit_id"], units["fingerprint"] if "fingerprint" in units else fingerprints(units)))
    with store.AnnotationStore(path)._lock():  # the app may be appending annotations to this very file
        anchored, report = anchor_labels(read_label_ids(path), units)
        new_id = dict(zip(anchored["line"], anchored["unit_id"]))
        out = []
        for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            if n in new_id:
                rec = dict(json.loads(line), unit_id=new_id[n])
                rec["fingerprint"] = rec.get("fingerprint") or fp_of_id[new_id[n]]
                line = json.dumps(rec, ensure_ascii=False)
            out.append(line)
        store.write_text("\n".join(out) + "\n", path)
    return report


def annotators(df: pd.DataFrame) -> list[str]:
    return sorted(df["annotator"].unique().tolist())


def for_annotator(df: pd.DataFrame, annotator: str) -> pd.DataFrame:
    return df[df["annotator"] == annotator].set_index("unit_id", drop=False)
