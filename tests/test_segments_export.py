"""The REFI-QDA export codes the model's themes on the segments that carry them (issue 12)."""

from __future__ import annotations

import io
import zipfile
import xml.etree.ElementTree as ET

import pytest

from pipeline import explore as ex
from pipeline.classify.segments import segments_for
from pipeline.codebook import load_codebook
from pipeline.runs import CODEBOOK_PATH
from test_explore import app_run  # noqa: F401 - the module's run fixture (seeds + hostile thread, rules model)

QDA = "{urn:QDA-XML:project:1.0}"


@pytest.fixture(scope="module")
def cb():
    return load_codebook(CODEBOOK_PATH)


def _selections(data: bytes):
    zf = zipfile.ZipFile(io.BytesIO(data))
    root = ET.fromstring(zf.read("project.qde"))
    names = {c.get("guid"): c.get("name") for c in root.iter(f"{QDA}Code")}
    for src in root.iter(f"{QDA}TextSource"):
        text = zf.read("sources/" + src.get("plainTextPath").removeprefix("internal://")).decode()
        for sel in src.findall(f"{QDA}PlainTextSelection"):
            codes = [names[c.find(f"{QDA}CodeRef").get("targetGUID")] for c in sel.findall(f"{QDA}Coding")]
            yield sel.get("name"), text[int(sel.get("startPosition")):int(sel.get("endPosition"))], codes


@pytest.mark.parametrize("pseudonymise", [False, True])
def test_themes_are_coded_on_their_segments(cb, app_run, pseudonymise):  # noqa: F811
    df = ex.read_run(app_run, cb)["units"]
    segments = segments_for(app_run)
    own = segments[~segments["quoted"] & (segments["start"] >= 0) & segments["code"].isin(cb.theme_names)]
    assert len(own), "the run has coded segments"
    pseudo = ex.run_pseudonymiser(app_run) if pseudonymise else None
    data = ex.export_bytes(app_run, df, cb, "qdpx", pseudonymiser=pseudo)
    text_of = dict(zip(df["unit_id"], df["text"]))
    labels = {cb.themes[t].label: t for t in cb.theme_names}
    seen = 0
    for name, selected, codes in _selections(data):
        uid, _, code = name.partition(" ")
        if not code:  # the unit's own selection: its stance values, never a theme that has segments
            unit_codes = set(own.loc[own["unit_id"] == uid, "code"])
            assert not {labels.get(c) for c in codes} & unit_codes
            continue
        seen += 1
        assert [labels[c] for c in codes] == [code]
        rows = own[(own["unit_id"] == uid) & (own["code"] == code)]
        expected = [text_of[uid][a:b] for a, b in zip(rows["start"], rows["end"])]
        if pseudo:
            expected = [pseudo.text(e) for e in expected]
        assert selected in expected  # the selection is exactly the segment's text
    assert seen == len(own.drop_duplicates(["unit_id", "code", "start", "end"]).merge(
        df[["unit_id"]], on="unit_id"))
