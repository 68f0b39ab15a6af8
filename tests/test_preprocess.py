"""Preprocessing: the spaCy pipeline, lemmas, glossary entities and codebook cues (with vetoes)."""

from __future__ import annotations

import pytest

from pipeline.codebook import codebook_from_dict
from pipeline.parse.model import split_quotes
from pipeline.preprocess import build_nlp, features


def cues_of(nlp, text: str) -> list[tuple]:
    (f,) = features(nlp, [text])
    return f.cues


def codes_of(nlp, text: str) -> set[str]:
    return {c[0] for c in cues_of(nlp, text) if c[4] > 0}  # unvetoed matches


def test_named_components_in_order(nlp):
    names = nlp.pipe_names
    for name in ("sentencizer", "lower_lemmatizer", "probation_glossary", "codebook_cues"):
        assert name in names
    # sentences and lemmas exist before the cue matcher runs
    assert names.index("sentencizer") < names.index("codebook_cues")
    assert names.index("lower_lemmatizer") < names.index("codebook_cues")
    assert names[-1] == "codebook_cues"


def test_glossary_can_be_left_out(codebook):
    names = build_nlp(codebook, glossary=False).pipe_names
    assert "probation_glossary" not in names and "codebook_cues" in names


@pytest.mark.parametrize("word, lemma", [("Caseloads", "caseload"), ("CASELOADS", "caseload"), ("Officers", "officer"),
                                         ("was", "be"), ("Hours", "hour")])
def test_lemmas_are_lower_case(nlp, word, lemma):
    doc = nlp(f"{word} again.")
    assert doc[0].lemma_ == lemma
    (f,) = features(nlp, [f"{word} again."])
    assert f.lemmas[0] == lemma
    assert all(lem == lem.lower() for lem in f.lemmas)


def test_glossary_entities(nlp):
    text = "My PO updated OASys before the CRC meeting."
    doc = nlp(text)
    ents = {(e.text, e.label_) for e in doc.ents}
    assert {("PO", "ROLE"), ("OASys", "SYSTEM"), ("CRC", "ORG")} <= ents
    (f,) = features(nlp, [text])
    assert {("ROLE", "PO"), ("SYSTEM", "OASys"), ("ORG", "CRC")} <= set(f.entities)


def test_acronyms_match_case_sensitively(nlp):
    assert "ROLE" in {e.label_ for e in nlp("Ask the PO.").ents}
    assert "ROLE" not in {e.label_ for e in nlp("Ask the po.").ents}


def test_sentences_and_cues_per_sentence(nlp):
    text = "The weather was fine.\nMy caseload is unmanageable! He was given unpaid work. What a farce?"
    (f,) = features(nlp, [text])
    assert [f.sentence(i).strip() for i in range(len(f.sents))] == [
        "The weather was fine.", "My caseload is unmanageable!", "He was given unpaid work.", "What a farce?"]
    by_sentence = {(c[0], c[2]) for c in f.cues}
    assert ("workload", 1) in by_sentence
    assert ("drug_use_upw", 2) in by_sentence
    assert ("against", 3) in by_sentence
    assert not any(c[2] == 0 for c in f.cues)
    # every matched cue text is in the sentence it is attributed to
    for _, cue, si, *_ in f.cues:
        assert cue.lower() in f.sentence(si).lower()
    assert len(f.lemma_sents) == len(f.lemmas)


def test_empty_text(nlp):
    (f,) = features(nlp, [""])
    assert f.lemmas == [] and f.sents == [] and f.cues == []


@pytest.fixture(scope="module")
def veto_nlp():
    cb = codebook_from_dict({
        "name": "veto_test", "version": "0",
        "themes": {"upw": {"definition": "The unpaid work requirement.",
                           "cues": {"phrases": ["unpaid work"], "acronyms": ["UPW"], "veto": ["unpaid overtime"]}}},
        "stances": {"stance_tr": {"values": {"against": {"cues": ["farce"]}, "none": {}}, "default": "none"},
                    "reply_stance": {"values": {"support": {"cues": ["agree"]}, "comment": {}}, "default": "comment"}},
    })
    return build_nlp(cb, glossary=False)


@pytest.mark.parametrize("text, expected", [
    ("He was sentenced to 100 hours of unpaid work.", [("upw", 0)]),
    ("He missed UPW again.", [("upw", 0)]),
    ("I do unpaid work for my team every night, basically unpaid overtime.", []),
    ("Unpaid overtime again tonight. He was sentenced to unpaid work.", [("upw", 1)]),  # veto stays in its sentence
    ("He missed upw.", []),  # acronyms are case-sensitive ('upw' is not a phrase here)
])
def test_veto_removes_matches_in_its_sentence_only(veto_nlp, text, expected):
    assert [(c[0], c[2]) for c in cues_of(veto_nlp, text) if c[4] > 0] == expected


def test_vetoed_match_is_kept_with_its_reason(nlp):
    """A vetoed match stays in the features with weight 0 and the veto's id (the evidence says why)."""
    cues = [c for c in cues_of(nlp, "I did ten hours of unpaid work at home this week.") if c[0] == "drug_use_upw"]
    assert cues and all(c[4] == 0 and c[5] == "staff_unpaid_hours" for c in cues)


def test_near_pattern_needs_every_group_within_its_window(nlp):
    """'near' patterns: the caseload noun and the intensity word in one sentence, within the window."""
    hit = {c[3] for c in cues_of(nlp, "My caseload is huge.")}
    assert "caseload_heavy" in hit
    far = "My caseload came up at the meeting on Tuesday with the whole team, which was huge."
    assert "caseload_heavy" not in {c[3] for c in cues_of(nlp, far)}
    split = "My caseload came up. It was huge."  # different sentences
    assert "caseload_heavy" not in {c[3] for c in cues_of(nlp, split)}


# Traps named in the codebook, checked on the bundled codebook.
@pytest.mark.parametrize("text, code, present", [
    pytest.param("The NPS took the case and allocated it quickly.", "drug_use_upw", False, id="NPS-service"),
    pytest.param("NPS use is rising among people on licence.", "drug_use_upw", False, id="NPS-alone"),
    pytest.param("Users of novel psychoactive substances are hard to supervise.", "drug_use_upw", True,
                 id="novel-psychoactive-substances"),
    pytest.param("Staff do hours of unpaid overtime every week.", "drug_use_upw", False, id="unpaid-overtime"),
    pytest.param("I do my unpaid work at home every evening just to keep up.", "drug_use_upw", False,
                 id="staff-unpaid-work"),
    pytest.param("He was given 100 hours unpaid work.", "drug_use_upw", True, id="upw-requirement"),
    pytest.param("Staff do hours of unpaid overtime every week.", "workload", True, id="overtime-is-workload"),
])
def test_codebook_traps(nlp, text, code, present):
    assert (code in codes_of(nlp, text)) is present


def test_quoted_text_gives_no_cues(nlp):
    """A reply quoting its parent's 'TR is a success' gets no favour cue from the quote."""
    reply = '"TR is a success and the critics are all wrong about it" Really? I see nothing but chaos every day.'
    quoted, own = split_quotes(reply)
    assert quoted and "TR is a success" in quoted[0]
    assert "success" not in own
    assert "favour" in codes_of(nlp, reply)  # the quote itself carries the cue ...
    assert "favour" not in codes_of(nlp, own)  # ... the reply's own words do not


def test_parsed_reply_own_text_excludes_quote(nlp):
    """The same through the parser: ``own_text`` of a quoting reply has no favour cue."""
    import json

    from pipeline.parse import parse_string, to_frames
    from pipeline.runs import featurize

    rows = [
        {"thread_id": "q", "comment_id": "p", "kind": "post", "text": "Two years on."},
        {"thread_id": "q", "comment_id": "1", "text": "TR is a success story, give TR a chance."},
        {"thread_id": "q", "comment_id": "2", "parent_id": "1",
         "text": '"TR is a success story, give TR a chance" Rubbish. It is an omnishambles.'},
    ]
    units = to_frames(parse_string("\n".join(json.dumps(r) for r in rows), kind="jsonl"))[1]
    feats, parents = featurize(units, nlp)
    by_id = dict(zip(units["unit_id"], feats))
    assert "favour" in {c[0] for c in by_id["q/c1"].cues}
    reply_codes = {c[0] for c in by_id["q/c1.r1"].cues}
    assert "favour" not in reply_codes and "against" in reply_codes
    assert parents[list(units["unit_id"]).index("q/c1.r1")] is by_id["q/c1"]
