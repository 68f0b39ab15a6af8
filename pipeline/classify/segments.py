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
``quoted``         always False: the coder reads the unit's own words; quoted passages are
                   never coded as the author's (they are in ``units.quoted_text``)
=================  =====================================================================

It is derived from the ``evidence`` column (which holds the same items as JSON), so a run
classified in chunks or on Dask gets the same table.  ``segments_for(run_dir)`` reads it back.
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


def write_segments(run: Path | str) -> int:
    """Write ``<run>/segments.parquet`` from the run's labels (atomically); returns the row count."""
    from .. import store

    run = Path(run)
    labels = _labels_evidence(run)
    table = segments_table(labels)
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
