"""Text copies of Blogger pages beyond the seeds' layouts (issue 10, item 3)."""

from __future__ import annotations

from pipeline.parse import parse_string

CLASSIC = """Sunday, November 1, 2009

Prison works?

The minister says prison works. Does it?

3 comments:

Anonymous said...

    I agree with every word.

    November 1, 2009 10:15 AM
    Delete
Michael Russell said...

    Not so sure.
    It depends on the sentence.

    November 1, 2009 10:20 AM
At 10:25 AM, Jim Brown said...

    Time only here.
"""


def _one(text: str, **kw):
    (t,) = parse_string(text, kind="text", thread_id="t", **kw)
    return t


def test_classic_said_layout():
    t = _one(CLASSIC)
    assert (t.layout, t.title, t.post_date, t.declared_comments) == ("blogger_classic", "Prison works?", "2009-11-01", 3)
    got = [(u.unit_id, u.kind, u.parent_id, u.author, u.timestamp, u.text, u.line) for u in t.units]
    assert got == [
        ("t/post", "post", None, None, None, "The minister says prison works. Does it?", 5),
        ("t/c1", "comment", "t/post", "Anonymous", "2009-11-01T10:15:00+00:00", "I agree with every word.", 9),
        ("t/c2", "comment", "t/post", "Michael Russell", "2009-11-01T10:20:00+00:00",
         "Not so sure.\nIt depends on the sentence.", 15),
        ("t/c3", "comment", "t/post", "Jim Brown", None, "Time only here.", 21),
    ]
    (w,) = t.problems  # the time with no date is counted, not dropped in silence
    assert w.code == "W108" and "'10:25 AM'" in w.message


def test_us_date_line_after_the_title():
    t = _one("Prison works?\nSunday, November 1, 2009\n\nThe post.\n")
    assert (t.title, t.post_date, t.units[0].text) == ("Prison works?", "2009-11-01", "The post.")


def test_date_lines_in_other_languages_and_iso():
    for line, iso in [("Freitag, 5. Juni 2015", "2015-06-05"), ("vendredi 5 juin 2015", "2015-06-05"),
                      ("martes, 30 de diciembre de 2014", "2014-12-30"), ("2015-04-23", "2015-04-23"),
                      ("Tuesday, 12 August 2014", "2014-08-12")]:
        t = _one(f"{line}\n\nTitel\n\nText.\n")
        assert (t.post_date, t.title, t.units[0].text) == (iso, "Titel", "Text."), line


NUMBERED_ES = """martes, 30 de diciembre de 2014

Reforma

El texto del post.

1 comentario:

  1.
    Anónimo30 de diciembre de 2014, 2:07

    Estoy de acuerdo.
    Responder
"""

NUMBERED_DE = """Freitag, 5. Juni 2015

Reform

Der Text.

Kommentare:

  1. Klaus6. Juni 2015 um 10:23

    Sehe ich auch so.

    ReplyDelete
  2. Anonym7. Juni 2015 um 09:00

    Nein.

    ReplyDelete
"""


def test_count_headings_and_author_lines_in_other_languages():
    es = _one(NUMBERED_ES)
    assert (es.layout, es.declared_comments, es.parsed_comments) == ("blogger_numbered_plain", 1, 1)
    assert (es.units[1].author, es.units[1].timestamp) == ("Anónimo", "2014-12-30T02:07:00+00:00")
    assert es.units[1].text == "Estoy de acuerdo.\nResponder"
    de = _one(NUMBERED_DE, tz="Europe/Berlin")
    assert de.declared_comments is None and de.units[0].text == "Der Text."  # 'Kommentare:' names no number
    assert [(u.author, u.timestamp, u.text) for u in de.units[1:]] == [
        ("Klaus", "2015-06-06T10:23:00+02:00", "Sehe ich auch so."), ("Anonym", "2015-06-07T09:00:00+02:00", "Nein.")]
    assert not de.problems


FACEBOOK = """Sunday, 6 March 2016

Voices from Facebook

Some of what was said on a closed group this week:

Mary Jones
Our office has lost three POs since January and nobody is replacing them.
Like · Reply · 2h

Peter Smith
Same here. Caseloads are over 70 now and the CRC keeps saying all is well.
Like · Reply · 1h

Anne Brown
I left last month. Best decision I made, though I miss the clients.
Like · Reply · 45m
"""


def test_unmarked_voices_get_a_specific_warning_and_low_confidence():
    t = _one(FACEBOOK)
    (post,) = t.units
    assert post.confidence == "low" and "several voices" in post.confidence_note
    codes = [p.code for p in t.problems]
    assert "W109" in codes
    (w,) = [p for p in t.problems if p.code == "W109"]
    assert "3 reaction lines" in w.message and "3 name lines" in w.message


def test_e005_says_what_was_found():
    t = _one("Title line\n\nIntro.\n******\nFirst voice.\n******\nSecond voice.\n******\nThird voice.\n")
    (w,) = [p for p in t.problems if p.code == "E005"]
    assert "3 contributions" in w.message and "whole file" not in w.message
    t = _one("Just a post.\nWith two lines.\n")
    assert "the whole file was read as one post" in t.problems[0].message


def test_ordinary_posts_are_not_flagged(seed_threads):
    assert not any(p.code == "W109" for t in seed_threads.values() for p in t.problems)


def test_no_character_lost_in_the_new_layouts():
    from test_parse_properties import assert_conserved
    for text in (CLASSIC, NUMBERED_ES, NUMBERED_DE, FACEBOOK, "Prison works?\nSunday, November 1, 2009\n\nThe post.\n"):
        (t,) = parse_string(text, kind="text")
        assert_conserved(text, t)


def test_a_first_line_ending_in_a_date_is_text_not_an_author_line():
    """Copied from the page, the name is glued to the date; 'on 5 June 2015 at 10:23' after a space is prose."""
    text = ("Thursday 23 April 2015\n\nT\n\nPost.\n\n2 comments:\n\n  1.\n    I wrote to them on 5 June 2015 at 10:23\n"
            "    and heard nothing.\n    ReplyDelete\n  2.\n    Ich schrieb am 6. Juni 2015 um 10:23\n    ReplyDelete\n")
    t = _one(text)
    assert [(u.author, u.timestamp) for u in t.units[1:]] == [(None, None), (None, None)]
    assert t.units[1].text.startswith("I wrote to them on 5 June 2015 at 10:23")
    assert t.units[2].text == "Ich schrieb am 6. Juni 2015 um 10:23"
