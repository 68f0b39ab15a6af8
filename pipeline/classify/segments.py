"""Coded segments: where in a unit's text each code was found, and what decided it.

``segments.parquet`` (beside ``labels.parquet``) has one row per coded segment and code:

=================  =====================================================================
``unit_id``        the unit
``segment``        index of the segment (sentence of the unit's own words, in order)
``start, end``     character offsets of the segment in the unit's ``text`` (-1 if the
                   segment could not be located, which the tests keep at zero on the seeds)
``code``           a theme or stance value the unit was given
``score``          the segment's codebook rule score for the code (0 = model evidence only)
``decided_by``     'pattern:<ids>', 'veto:<ids>' (matches cancelled there), 'model:<weight>'
``quoted``         True for a quoted passage (``units.quoted_text``): the codebook's patterns
                   are matched there and recorded *as quoted* (``segment`` is then the quote's
                   index in the unit), but never give the unit's codes or the author's stance
=================  =====================================================================

The own-words rows are derived from the ``evidence`` column (which holds the same items as
JSON), so a run classified in chunks or on Dask gets the same table; the quoted rows are coded
from ``units.parquet`` when the table is written.  ``segments_for(run_dir)`` reads it back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .decisions import decided_by

COLUMNS = ["unit_id", "segment", "start", "end", "code", "score", "decided_by", "quoted"]


def text_offsets(text: str, own_text: str, sents: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each own-words segment's (start, end) in ``text``: the same offsets when nothing was quoted,
    otherwise the segment is found in ``text`` at or after the previous one; (-1, -1) if absent."""
    if own_text == text:
        return list(sents)
    out, cursor = [], 0
    for s, e in sents:
        seg = own_text[s:e].strip()
        pos = text.find(seg, cursor) if seg else -1
        if pos < 0 and seg:  # quotation removal can join two parts of one sentence: place its first line
            head = seg.split("\n")[0][:60]
            pos = text.find(head, cursor)
            out.append((pos, pos + len(head)) if pos >= 0 else (-1, -1))
        else:
            out.append((pos, pos + len(seg)) if pos >= 0 else (-1, -1))
        if pos >= 0:
            cursor = pos
    return out


def segments_table(labels: pd.DataFrame) -> pd.DataFrame:
    """``segments.parquet`` rows from a labels table's ``evidence`` column."""
    rows = []
    for uid, ev in zip(labels["unit_id"], labels["evidence"]):
        data = json.loads(ev) if isinstance(ev, str) and ev else {}
        for code, items in data.items():
            for it in items:
                ts, te = it.get("text_start"), it.get("text_end")
                rows.append((uid, int(it.get("segment", -1)), -1 if ts is None else int(ts),
                             -1 if te is None else int(te), code, float(it.get("score", 0.0)), decided_by(it), False))
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.astype({"segment": "int32", "start": "int64", "end": "int64", "score": "float64", "quoted": "bool"})


def quoted_rows(unit_ids, texts, quoted_texts, codebook_path: Path | str) -> pd.DataFrame:
    """The codebook's pattern matches inside the quoted passages of these units, as ``quoted`` rows
    (only units that quote anything are processed)."""
    from ..parse.model import quote_spans
    from ..preprocess import features
    from .features import segment_weights
    from .loader import coder

    codebook, _, _, nlp = coder("rules", str(codebook_path))
    cap = codebook.segments.segment_cap if codebook.raw.get("segments") else float("inf")
    rows = []
    spans = [(u, k, s, e, t) for u, t, q in zip(unit_ids, texts, quoted_texts) if q is not None and len(q) and t
             for k, (s, e) in enumerate(quote_spans(t))]
    for (uid, k, qs, _, text), f in zip(spans, features(nlp, [t[s:e] for _, _, s, e, t in spans])):
        pids: dict = {}
        for cue in f.cues:
            if len(cue) > 4 and cue[4] > 0:
                pids.setdefault((cue[0], cue[2]), []).append(cue[3])
        for code, by_seg in segment_weights(f).items():
            for si, w in by_seg.items():
                if w > 0:
                    a, b = f.sents[si]
                    rows.append((uid, k, qs + a, qs + b, code, float(min(cap, w)),
                                 "quoted; pattern:" + "+".join(dict.fromkeys(pids.get((code, si), []))), True))
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.astype({"segment": "int32", "start": "int64", "end": "int64", "score": "float64", "quoted": "bool"})


def quoted_segments(run: Path | str, codebook_path: Path | str, *, batch_size: int = 20_000) -> pd.DataFrame:
    """:func:`quoted_rows` of a whole run, reading ``units.parquet`` in batches."""
    import pyarrow.dataset as ds

    scanner = ds.dataset(str(Path(run) / "units.parquet"), format="parquet")
    parts = [quoted_rows(d["unit_id"], d["text"], d["quoted_text"], codebook_path)
             for d in (b.to_pydict() for b in scanner.to_batches(columns=["unit_id", "text", "quoted_text"],
                                                                 batch_size=batch_size))]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else quoted_rows([], [], [], codebook_path)


def chunk_segments(units: pd.DataFrame, labels: pd.DataFrame, codebook_path: Path | str) -> pd.DataFrame:
    """The segments of one chunk of a run (its labels' evidence, then its quoted passages): what
    :func:`write_segments` gives for the whole run, computed in the chunk's worker so that a large
    run never holds every unit's evidence in one process."""
    quoted = quoted_rows(units["unit_id"], units["text"], units["quoted_text"], codebook_path)
    own = segments_table(labels)
    return pd.concat([own, quoted], ignore_index=True) if len(quoted) else own


def write_segments(run: Path | str, codebook_path: Path | str | None = None) -> int:
    """Write ``<run>/segments.parquet`` from the run's labels (atomically), with the quoted passages'
    matches when ``codebook_path`` is given; returns the row count."""
    from .. import store

    run = Path(run)
    table = segments_table(_labels_evidence(run))
    if codebook_path is not None:
        quoted = quoted_segments(run, codebook_path)
        if len(quoted):
            table = pd.concat([table, quoted], ignore_index=True)
    store.write_parquet(table, run / "segments.parquet")
    return len(table)


def segments_for(run: Path | str) -> pd.DataFrame:
    """The coded segments of a run (for the app's highlights and the REFI-QDA export): reads
    ``segments.parquet``, or derives it from ``labels.parquet`` when the run predates it."""
    from .. import store

    run = Path(run)
    if (run / "segments.parquet").exists():
        return store.read_parquet(run / "segments.parquet")
    return segments_table(_labels_evidence(run))


def _labels_evidence(run: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(run / "labels.parquet", columns=["unit_id", "evidence"]).to_pandas()
