"""A REFI-QDA project (``.qdpx``) for ATLAS.ti, MAXQDA, NVivo, QualCoder and other QDA tools."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd

from ..codebook import Codebook
from ..schema import SCHEMES, theme_col
from .colours import stance_colour, theme_colour
from .pseudonyms import Pseudonymiser


QDA_NS = "urn:QDA-XML:project:1.0"
GUID_NAMESPACE = uuid.UUID("6f1c3c4e-2b57-5c8a-9d0e-7a1b2c3d4e5f")
_XML_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def qda_guid(*parts: str) -> str:
    """Deterministic GUID (uuid5) for a project object, e.g. ``qda_guid('code', 'workload')``."""
    return str(uuid.uuid5(GUID_NAMESPACE, "\x1f".join(parts)))


def _xml_text(s: str | None) -> str:
    return _XML_BAD.sub("", s or "")


def _offset_map(text: str | None, pseudo: Pseudonymiser | None):
    """An offset in a unit's original ``text`` -> the offset in the text written to the source file
    (names pseudonymised, XML-invalid characters dropped)."""
    text = text or ""
    if pseudo:
        text, remap = pseudo.text_and_offsets(text)
    else:
        remap = None
    bad = np.array([m.start() for m in _XML_BAD.finditer(text)], dtype=np.int64)

    def to_source(i: int) -> int:
        j = remap(i) if remap else i
        return j - int(np.searchsorted(bad, j, side="left"))
    return to_source


def qda_source_text(units: pd.DataFrame) -> tuple[str, list[tuple[str, int, int]]]:
    """One thread's plain text for a QDA tool: a header line and the text of each unit.

    Returns the text and (unit_id, start, end) of each unit's text in it (character offsets).
    """
    parts: list[str] = []
    spans: list[tuple[str, int, int]] = []
    pos = 0
    for row in units.to_dict("records"):
        author = row.get("author") if isinstance(row.get("author"), str) and row.get("author") else "Anonymous"
        stamp = row.get("timestamp") if isinstance(row.get("timestamp"), str) else ""
        header = _xml_text(f"[{row['unit_id']}] {row.get('kind') or ''} | {author}" + (f" | {stamp}" if stamp else "")) + "\n"
        body = _xml_text(row.get("text") or "")
        parts.append(header)
        pos += len(header)
        spans.append((str(row["unit_id"]), pos, pos + len(body)))
        parts.append(body + "\n\n")
        pos += len(body) + 2
    return "".join(parts), spans


def _segment_ranges(segments: pd.DataFrame | None, theme_names: list[str]) -> dict[str, list[tuple[str, int, int]]]:
    """unit_id -> [(theme, start, end)] of its coded own-words segments (offsets into ``text``)."""
    if segments is None or not len(segments):
        return {}
    seg = segments[~segments["quoted"].astype(bool) & (segments["start"] >= 0) & (segments["end"] > segments["start"])
                   & segments["code"].isin(theme_names)]
    seg = seg.drop_duplicates(["unit_id", "code", "start", "end"]).sort_values(["unit_id", "start", "code"])
    out: dict[str, list[tuple[str, int, int]]] = {}
    for uid, code, a, b in zip(seg["unit_id"], seg["code"], seg["start"], seg["end"]):
        out.setdefault(uid, []).append((code, int(a), int(b)))
    return out


def refi_qda_project(df: pd.DataFrame, codebook: Codebook, *, project_name: str = "Probation TR coding",
                     source: str = "model", pseudonymiser: Pseudonymiser | None = None,
                     created: str | None = None, user: str = "probation_tr",
                     segments: pd.DataFrame | None = None) -> bytes:
    """A REFI-QDA 1.5 project (``.qdpx``: a zip holding ``project.qde`` and ``sources/*.txt``).

    * CodeBook: one codable Code per theme; one non-codable parent Code per stance scheme with a
      codable child per value.  Descriptions are the codebook definitions.
    * Sources: one TextSource per thread (``plainTextPath="internal://<guid>.txt"``, the file in
      ``sources/``), holding the chosen units in reading order.
    * One PlainTextSelection per unit (startPosition/endPosition: character offsets of the unit's
      text in the source), with a Coding/CodeRef for each of its stance values and of its themes.
    * With ``segments`` (``segments.parquet`` of the run, for the model's codes): a theme is coded
      on the text ranges of the segments that carry it (one PlainTextSelection per segment), as a
      qualitative coder marks passages; the unit's selection keeps its stance values and any theme
      without a located segment.  Quoted segments never carry the unit's codes.

    GUIDs are uuid5 of the codebook, thread and unit ids, so the same data gives the same
    project.  ``created`` (ISO 8601; callers pass the run's creation time, never 'now') is written
    as ``creationDateTime`` on the project, every source, selection and coding, so an importing
    tool keeps when the codes were made instead of stamping its import time; ``user`` (who
    coded: the model, 'gold' or an annotator) is the project's User and every object's
    ``creatingUser``.  With ``created`` unset no timestamps are written.
    """
    ET.register_namespace("", QDA_NS)
    q = lambda tag: f"{{{QDA_NS}}}{tag}"  # noqa: E731
    pseudo = pseudonymiser if pseudonymiser else None
    seg_ranges = _segment_ranges(segments, codebook.theme_names)
    original_text = dict(zip(df["unit_id"], df["text"])) if seg_ranges else {}
    if pseudo:
        df = df.assign(text=pseudo.series(df["text"]), author=df["author"].map(pseudo.name))
    user_guid = qda_guid("user", user)
    stamp = {"creationDateTime": created} if created else {}  # on every object a tool imports
    attrs = {"name": _xml_text(project_name), "origin": "probation-tr explorer", "creatingUserGUID": user_guid}
    if created:
        attrs["creationDateTime"] = created
    root = ET.Element(q("Project"), attrs)
    users = ET.SubElement(root, q("Users"))
    ET.SubElement(users, q("User"), {"guid": user_guid, "name": user})
    codes_el = ET.SubElement(ET.SubElement(root, q("CodeBook")), q("Codes"))
    code_guid: dict[tuple[str, str], str] = {}
    for name, theme in codebook.themes.items():
        g = code_guid[("theme", name)] = qda_guid("code", codebook.name, "theme", name)
        el = ET.SubElement(codes_el, q("Code"), {"guid": g, "name": theme.label, "isCodable": "true",
                                                "color": theme_colour(codebook, name)})
        ET.SubElement(el, q("Description")).text = _xml_text(f"[{name}] {theme.definition}")
    for scheme_name, scheme in codebook.stances.items():
        parent = ET.SubElement(codes_el, q("Code"), {"guid": qda_guid("code", codebook.name, "scheme", scheme_name),
                                                    "name": scheme_name, "isCodable": "false"})
        ET.SubElement(parent, q("Description")).text = _xml_text(scheme.definition)
        for vname, value in scheme.values.items():
            g = code_guid[(scheme_name, vname)] = qda_guid("code", codebook.name, scheme_name, vname)
            child = ET.SubElement(parent, q("Code"), {"guid": g, "name": f"{scheme_name}: {vname}", "isCodable": "true",
                                                     "color": stance_colour(vname)})
            ET.SubElement(child, q("Description")).text = _xml_text(value.definition)
    files: dict[str, str] = {}
    if len(df):
        sources_el = ET.SubElement(root, q("Sources"))
        ordered = df.sort_values(["thread_id", "position"], kind="stable")
        for tid, units in ordered.groupby("thread_id", sort=True):
            text, spans = qda_source_text(units)
            sg = qda_guid("source", str(tid))
            files[f"sources/{sg}.txt"] = text
            title = units["title"].iloc[0] if "title" in units and isinstance(units["title"].iloc[0], str) else ""
            src = ET.SubElement(sources_el, q("TextSource"), {"guid": sg, "name": _xml_text(f"{tid} {title}".strip()),
                                                             "plainTextPath": f"internal://{sg}.txt",
                                                             "creatingUser": user_guid, **stamp})
            ET.SubElement(src, q("Description")).text = f"Thread {tid}; codes from {source} labels."
            recs = units.to_dict("records")
            for (uid, start, end), row in zip(spans, recs):
                sel = ET.SubElement(src, q("PlainTextSelection"), {
                    "guid": qda_guid("selection", uid), "name": uid, "startPosition": str(start),
                    "endPosition": str(end), "creatingUser": user_guid, **stamp})
                probs = ", ".join(f"p_{c}={row[f'p_{c}']:.2f}" for c in codebook.all_labels
                                  if isinstance(row.get(f"p_{c}"), float) and not np.isnan(row[f"p_{c}"]))
                ET.SubElement(sel, q("Description")).text = _xml_text(
                    f"{row.get('kind')} {uid}; {source} labels" + (f"; {probs}" if probs else ""))
                themes = [c for c in codebook.theme_names if bool(row.get(theme_col(c)))]
                in_segments = [(c, a, b) for c, a, b in seg_ranges.get(uid, []) if c in themes]
                applied = [("theme", c) for c in themes if c not in {c for c, _, _ in in_segments}]
                applied += [(s, row.get(s)) for s in SCHEMES
                            if isinstance(row.get(s), str) and (s, row.get(s)) in code_guid]
                for key in applied:
                    coding = ET.SubElement(sel, q("Coding"), {"guid": qda_guid("coding", uid, *key),
                                                             "creatingUser": user_guid, **stamp})
                    ET.SubElement(coding, q("CodeRef"), {"targetGUID": code_guid[key]})
                to_source = _offset_map(original_text.get(uid), pseudo) if in_segments else None
                for code, a, b in in_segments:
                    seg_sel = ET.SubElement(src, q("PlainTextSelection"), {
                        "guid": qda_guid("segment", uid, code, str(a)), "name": f"{uid} {code}",
                        "startPosition": str(start + to_source(a)), "endPosition": str(start + to_source(b)),
                        "creatingUser": user_guid, **stamp})
                    ET.SubElement(seg_sel, q("Description")).text = _xml_text(
                        f"segment of {uid} coded {code} ({source} labels)")
                    coding = ET.SubElement(seg_sel, q("Coding"), {"guid": qda_guid("coding", uid, code, str(a)),
                                                                 "creatingUser": user_guid, **stamp})
                    ET.SubElement(coding, q("CodeRef"), {"targetGUID": code_guid[("theme", code)]})
    ET.indent(root)
    xml = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode").encode("utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
        add("project.qde", xml)
        for name in sorted(files):
            add(name, files[name].encode("utf-8"))
    return buf.getvalue()
