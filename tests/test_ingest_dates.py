"""Timestamps and post dates, always with their zone (issue 10, item 1).

Pages are written here in Blogger's markup (threaded ``li.comment`` and classic
``dl#comments-block``) in English, German, Spanish and French.
"""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.parse import parse_string
from pipeline.parse.dates import from_epoch_ms, from_iso, parse_visible, wall_time

URL = "https://bewaehrung.blogspot.com/2015/06/reform.html"


def threaded_page(lang: str, date_header: str, comments: list[tuple[str, str, str, int | None]], *,
                  published: str | None = None) -> str:
    """comments: (id, author, shown time, permalink milliseconds or None)."""
    abbr = (f"<abbr class='published' itemprop='datePublished' title='{published}'>{published[11:16]}</abbr>"
            if published else "")
    items = []
    for cid, author, shown, ms in comments:
        link = f"{URL}?showComment={ms}#c{cid}" if ms else f"{URL}#c{cid}"
        items.append(f'<li class="comment" id="c{cid}"><div class="comment-block"><div class="comment-header">'
                     f'<cite class="user">{author}</cite><span class="icon user "></span>'
                     f'<span class="datetime secondary-text"><a rel="nofollow" href="{link}">{shown}</a></span></div>'
                     f'<p class="comment-content">Kommentar {cid}.</p></div><div class="comment-replies"></div></li>')
    return f"""<!DOCTYPE html>
<html class='v2' dir='ltr' lang='{lang}' xmlns='http://www.w3.org/1999/xhtml'>
<head><link href='{URL}' rel='canonical'/><title>Blog: Reform</title></head>
<body>
<h2 class='date-header'><span>{date_header}</span></h2>
<div class='post hentry'>
<h3 class='post-title entry-title'>Reform</h3>
<div class='post-header'><div class='post-header-line-1'></div></div>
<div class='post-body entry-content'>Der Text.</div>
<div class='post-footer'><span class='post-timestamp'><a class='timestamp-link' href='{URL}' rel='bookmark'>{abbr}</a></span></div>
</div>
<div class='comments' id='comments'><h4>{len(comments)} Kommentare:</h4>
<div class='comments-content'><div class="comment-thread toplevel-thread"><ol id="top-ra">{''.join(items)}</ol></div></div>
</div>
</body>
</html>
"""


def classic_page(lang: str, date_header: str, comments: list[tuple[str, str, str]]) -> str:
    blocks = "".join(
        f"<dt class='comment-author' id='c{cid}'><a name='c{cid}'></a>{author} dijo...</dt>"
        f"<dd class='comment-body' id='Blog1_cmt-{cid}'><p>Comentario {cid}.</p></dd>"
        f"<dd class='comment-footer'><span class='comment-timestamp'><a href='#c{cid}' title='comment permalink'>"
        f"{shown}</a></span></dd>" for cid, author, shown in comments)
    return f"""<html dir='ltr' lang='{lang}'><head><link rel='canonical' href='https://libertad.blogspot.com/2014/12/x.html'/></head>
<body><h2 class='date-header'><span>{date_header}</span></h2>
<div class='post hentry'><h3 class='post-title entry-title'>Reforma</h3><div class='post-body entry-content'>El texto.</div></div>
<div class='comments' id='comments'><h4>{len(comments)} comentarios:</h4>
<dl class='avatar-comment-indent' id='comments-block'>{blocks}</dl></div></body></html>
"""


def _one(page: str, **kw):
    (t,) = parse_string(page, kind="html", thread_id="t", **kw)
    return t


def test_german_page_permalink_wins_then_visible_text_in_the_blogs_zone():
    page = threaded_page("de", "Freitag, 5. Juni 2015", [
        ("1", "Klaus", "6. Juni 2015 um 10:23", 1433578980000),  # the permalink is the exact instant
        ("2", "Anonym", "6. Juni 2015 um 11:40", None),  # no permalink: the visible German text
    ], published="2015-06-05T10:23:00+02:00")
    t = _one(page, tz="Europe/Berlin")
    assert t.post_date == "2015-06-05T10:23:00+02:00"  # abbr.published beats the visible 'Freitag, 5. Juni 2015'
    assert [u.timestamp for u in t.units[1:]] == ["2015-06-06T08:23:00Z", "2015-06-06T11:40:00+02:00"]
    assert t.declared_comments == 2 and not t.problems


def test_german_post_date_from_the_visible_header_when_no_attribute():
    t = _one(threaded_page("de-DE", "Freitag, 5. Juni 2015", []))
    assert t.post_date == "2015-06-05"  # a calendar date: no instant, no offset


def test_spanish_classic_comments_with_a_m_p_m():
    page = classic_page("es", "martes, 30 de diciembre de 2014", [
        ("10", "Anónimo", "30/12/14 2:07 a. m."), ("11", "Pedro", "30/12/14 11:15 p. m.")])
    t = _one(page)
    assert t.post_date == "2014-12-30" and t.declared_comments == 2
    assert [(u.author, u.timestamp) for u in t.units[1:]] == [
        ("Anónimo", "2014-12-30T02:07:00+00:00"), ("Pedro", "2014-12-30T23:15:00+00:00")]


def test_french_visible_time_in_summer_gets_the_summer_offset():
    page = threaded_page("fr", "vendredi 5 juin 2015", [("1", "Anonyme", "5 juin 2015 à 14:07", None)])
    t = _one(page)
    assert t.post_date == "2015-06-05"
    assert t.units[1].timestamp == "2015-06-05T14:07:00+01:00"  # Europe/London (BST), the default zone


def test_us_english_page_reads_month_first():
    page = threaded_page("en-US", "Thursday, May 30, 2019", [
        ("1", "Anonymous", "May 30, 2019 at 1:06 PM", None), ("2", "Anonymous", "12/03/2019 1:06 PM", None)])
    t = _one(page, tz="America/New_York")
    assert t.post_date == "2019-05-30"
    assert [u.timestamp for u in t.units[1:]] == ["2019-05-30T13:06:00-04:00", "2019-12-03T13:06:00-05:00"]


def test_unreadable_times_are_counted_in_one_warning_not_null_in_silence():
    page = threaded_page("de", "Freitag, 5. Juni 2015", [
        ("1", "A", "gestern um 10:23", None), ("2", "B", "vor 2 Stunden", None), ("3", "C", "6. Juni 2015 um 9:00", None)])
    t = _one(page)
    assert [u.timestamp for u in t.units[1:]] == [None, None, "2015-06-06T09:00:00+01:00"]
    (w,) = t.problems
    assert w.code == "W108" and "2 dates or times" in w.message and "'gestern um 10:23'" in w.message


def test_atom_published_keeps_its_offset():
    assert from_iso("2009-12-08T16:59:02.544-08:00") == "2009-12-08T16:59:02-08:00"
    assert from_iso("2015-04-23T08:02:00Z") == "2015-04-23T08:02:00Z"
    assert from_iso("2015-04-23T08:02") == "2015-04-23T08:02:00+01:00"  # naive: the blog's zone
    assert from_iso("2015-04-23") == "2015-04-23"
    assert from_iso("not a date") is None


def test_relative_dates_are_never_read():
    """'yesterday' would depend on the day the parser runs: same input must give the same output."""
    for text in ("yesterday at 10:15", "2 hours ago", "gestern um 10:23", "1433158800"):
        assert parse_visible(text) is None


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 12, 31)))
def test_epoch_milliseconds_round_trip(dt):
    ms = int((dt - datetime(1970, 1, 1)).total_seconds() * 1000)
    assert from_epoch_ms(ms) == dt.replace(microsecond=0).isoformat() + "Z"


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0)))
def test_wall_time_keeps_the_wall_clock_and_states_the_zone(dt):
    iso = wall_time(dt.date().isoformat(), dt.hour, dt.minute)
    parsed = datetime.fromisoformat(iso)
    assert parsed.replace(tzinfo=None) == dt and parsed.utcoffset() is not None
    assert iso[19:] in ("+00:00", "+01:00")  # GMT or BST


def test_cached_offsets_are_exact_on_days_the_clocks_change():
    """wall_time caches offsets per hour; minute by minute it must equal zoneinfo's answer."""
    from pipeline.parse.dates import localise
    for tz, day in [("Europe/London", "2015-03-29"), ("Europe/London", "2015-10-25"),
                    ("Australia/Lord_Howe", "2015-10-04"), ("Australia/Lord_Howe", "2015-04-05")]:
        for h in range(24):
            for m in range(60):
                assert wall_time(day, h, m, tz) == localise(datetime.fromisoformat(f"{day}T{h:02d}:{m:02d}"), tz)
