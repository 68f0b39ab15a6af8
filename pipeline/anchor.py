"""Content fingerprints: labels stay on the text they were made on.

Unit ids are positions (``000/c10`` is the tenth comment), so when a page is saved again after a
moderator deleted a comment, every later id points at different text.  Each unit therefore also
carries a *fingerprint* of its content, and every label records the fingerprint of the unit it was
made on.  :func:`anchor_labels` then attaches each label to the unit that now holds that content:

* ``kept``: the unit with the label's id still has the label's fingerprint;
* ``moved``: the content now lives under another id (the label follows it);
* ``changed``: the id exists but its text, author or time differs, and the content is nowhere else;
* ``orphaned``: neither the id nor the content exists any more (or the content is ambiguous:
  several units hold it and none under the label's id);
* ``unanchored``: a label without a fingerprint (made before fingerprints existed), attached by
  id alone; ``python -m pipeline labels check --stamp`` records fingerprints for them.

Only ``kept``, ``moved`` and ``unanchored`` labels are used; the others are reported by count and
id and never attached to other text.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

import pandas as pd

_MINUTE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})")

STATUSES = ("kept", "moved", "unanchored", "changed", "orphaned")
USABLE = ("kept", "moved", "unanchored")


def normalise_text(text: str | None) -> str:
    """NFKC, case-folded, whitespace collapsed: re-saving a page (line wrapping, non-breaking
    spaces, typographic compatibility characters) does not change a unit's content."""
    if not isinstance(text, str) or not text:  # None, or NaN from a pandas column
        return ""
    if not text.isascii():  # NFKC leaves ASCII as it is; skipping it halves the cost on most text
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())


def normalise_time(timestamp: str | None) -> str:
    """The wall-clock minute as written (``2015-04-23T08:02``): a parser that adds seconds or a
    UTC offset to the same reading does not change the fingerprint."""
    if not isinstance(timestamp, str) or not timestamp:
        return ""
    m = _MINUTE_RE.match(timestamp)
    return "{}-{}-{}T{}:{}".format(*m.groups()) if m else normalise_text(timestamp)


# Each ASCII byte of UTF-8 text as normalise_text sees it: the whitespace str.split() splits on
# (\t \n \v \f \r, \x1c-\x1f and space) becomes a space and A-Z becomes a-z (str.casefold on ASCII);
# bytes >= 0x80 (parts of the characters beyond ASCII) are left alone.
_ASCII_SPACES = bytes(0x20 if i < 128 and chr(i).isspace() else i for i in range(256))
_ASCII_FOLD = bytes(0x20 if i < 128 and chr(i).isspace() else ord(chr(i).casefold()) if i < 128 else i
                    for i in range(256))
_ASCII_BYTES = bytes(range(128))


def _normalised_utf8(text: str | None) -> bytes:
    """``normalise_text(text).encode("utf-8", "surrogatepass")``, without the list of words for ASCII text.

    Speed only (the same bytes): one ``bytes.translate`` folds case and whitespace, runs of spaces
    are collapsed, and the ends stripped, which is what ``" ".join(text.casefold().split())`` does.
    """
    if not isinstance(text, str) or not text:
        return b""
    if text.isascii():
        folded = text.encode("ascii").translate(_ASCII_FOLD)
    else:
        if not unicodedata.is_normalized("NFKC", text):  # the check is much cheaper than normalize
            # No-break spaces and ellipses are most of what needs NFKC in blog text: replaced by their
            # compatibility decompositions, the text is compatibility-equivalent to the original, so when
            # it is then normalised it is the original's NFKC form.
            simpler = text.replace("\xa0", " ").replace("\u2026", "...")
            text = simpler if unicodedata.is_normalized("NFKC", simpler) else unicodedata.normalize("NFKC", text)
        encoded = text.encode("utf-8", "surrogatepass")
        # The characters beyond ASCII, in order (deleting ASCII bytes keeps each multi-byte sequence whole):
        # in blog text mostly quotes, dashes and '£', which case folding leaves as they are.
        beyond = encoded.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
        if "\x85" in beyond or "\u1680" in beyond or "\u2028" in beyond or "\u2029" in beyond:
            return " ".join(text.casefold().split()).encode("utf-8", "surrogatepass")  # rare: whitespace NFKC keeps
        # NFKC made every other whitespace character beyond ASCII a space, so only ASCII whitespace is left to
        # translate.  casefold() maps each character on its own, and no character's folding starts with the
        # character itself: when the characters beyond ASCII fold to themselves, casefold() only lowers A-Z.
        if beyond.casefold() == beyond:
            folded = encoded.translate(_ASCII_FOLD)
        else:
            folded = text.casefold().encode("utf-8", "surrogatepass").translate(_ASCII_SPACES)
    while b"  " in folded:
        folded = folded.replace(b"  ", b" ")
    return folded.strip(b" ")


def fingerprint(text: str | None, author: str | None = None, timestamp: str | None = None) -> str:
    """16 hex digits of SHA-256 over the normalised text, author and minute.

    The key is ``"\x1f".join((normalise_text(text), normalise_text(author), normalise_time(timestamp)))``
    encoded as UTF-8 (``surrogatepass``); it is built from the parts' bytes directly (same bytes).
    """
    key = b"\x1f".join((_normalised_utf8(text), _normalised_utf8(author),
                        normalise_time(timestamp).encode("utf-8", "surrogatepass")))
    return hashlib.sha256(key).hexdigest()[:16]


def fingerprints(units: pd.DataFrame) -> list[str]:
    """The fingerprint of every row of a units table (columns text, author, timestamp)."""
    authors = units["author"] if "author" in units else [None] * len(units)
    times = units["timestamp"] if "timestamp" in units else [None] * len(units)
    return [fingerprint(t, a, s) for t, a, s in zip(units["text"], authors, times)]


@dataclass
class AnchorReport:
    """What happened to each label: counts and the ids concerned."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    moved: list[tuple[str, str]] = field(default_factory=list)  # (old id, new id)
    changed: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    unanchored: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.counts["changed"] + self.counts["orphaned"]

    def summary(self) -> str:
        parts = [f"{self.counts[s]} {s}" for s in STATUSES if self.counts[s]]
        return ", ".join(parts) or "no labels"

    def to_dict(self) -> dict:
        return {"counts": dict(self.counts), "moved": [list(m) for m in self.moved],
                "changed": list(self.changed), "orphaned": list(self.orphaned),
                "unanchored": list(self.unanchored)}


def anchor_labels(labels: pd.DataFrame, units: pd.DataFrame) -> tuple[pd.DataFrame, AnchorReport]:
    """Attach labels to the units that hold the content they were made on.

    ``labels`` has ``unit_id`` and optionally ``fingerprint``; ``units`` has ``unit_id`` and
    ``fingerprint`` (or text/author/timestamp to compute it).  Returns the usable labels, with
    ``unit_id`` rewritten where the content moved, an ``anchor`` column giving each label's status
    and ``source_unit_id`` the id it was made under; and the report.
    """
    report = AnchorReport()
    unit_fp = units["fingerprint"].tolist() if "fingerprint" in units else fingerprints(units)
    fp_of_id = dict(zip(units["unit_id"], unit_fp))
    ids_of_fp: dict[str, list[str]] = {}
    for uid, fp in zip(units["unit_id"], unit_fp):
        ids_of_fp.setdefault(fp, []).append(uid)
    label_fps = labels["fingerprint"] if "fingerprint" in labels else pd.Series([None] * len(labels))
    new_ids, statuses = [], []
    for uid, fp in zip(labels["unit_id"], label_fps):
        fp = fp if isinstance(fp, str) and fp else None
        if fp is None:
            status, new = ("unanchored", uid) if uid in fp_of_id else ("orphaned", None)
        elif fp_of_id.get(uid) == fp:
            status, new = "kept", uid
        elif len(ids_of_fp.get(fp, ())) == 1:
            status, new = "moved", ids_of_fp[fp][0]
        else:  # content gone, or held by several units none of which has the label's id
            status, new = ("changed", None) if uid in fp_of_id else ("orphaned", None)
        report.counts[status] += 1
        if status == "moved":
            report.moved.append((uid, new))
        elif status != "kept":
            getattr(report, status).append(uid)
        new_ids.append(new)
        statuses.append(status)
    out = labels.copy()
    out["source_unit_id"] = out["unit_id"]
    out["unit_id"] = new_ids
    out["anchor"] = statuses
    out = out[out["anchor"].isin(USABLE)].reset_index(drop=True)
    return out, report
