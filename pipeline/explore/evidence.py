"""Evidence: the sentences (with offsets) that drove each code of a unit, located in its text."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    code: str
    cues: tuple[str, ...] = ()


def parse_evidence(evidence: str | dict | None) -> dict[str, list[dict]]:
    if isinstance(evidence, dict):
        return evidence
    if not evidence or not isinstance(evidence, str):
        return {}
    try:
        data = json.loads(evidence)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def evidence_spans(text: str, own_text: str | None, evidence: str | dict | None) -> list[Span]:
    """Evidence sentences located in ``text``.

    Evidence offsets are character offsets in ``own_text`` (quotations removed).  When the
    unit has no quotations they index ``text`` directly; otherwise the sentence is looked up
    in ``text`` (first occurrence at or after the previous hit); a sentence not found is skipped.
    """
    text = text or ""
    own = own_text if isinstance(own_text, str) else text
    spans: list[Span] = []
    for code, items in parse_evidence(evidence).items():
        if not isinstance(items, list):
            continue
        for it in items:
            if not isinstance(it, dict):
                continue
            sent = str(it.get("sentence") or "").strip()
            start, end = it.get("start"), it.get("end")
            cues = tuple(str(c) for c in it.get("cues") or [])
            if own == text and isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
                seg = text[start:end]
                lead = len(seg) - len(seg.lstrip())
                trail = len(seg) - len(seg.rstrip())
                if seg.strip() and (not sent or seg.strip() == sent):
                    spans.append(Span(start + lead, end - trail, str(code), cues))
                    continue
            if not sent:
                continue
            pos = text.find(sent)
            if pos >= 0:
                spans.append(Span(pos, pos + len(sent), str(code), cues))
    return sorted(spans, key=lambda s: (s.start, s.end, s.code))
