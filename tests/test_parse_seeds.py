"""Exact expectations for the five seed threads, established by reading the files.

Unit ids: ``000/post``; ``002/k3`` = 3rd contribution after the post intro;
``000/c10`` = 10th top-level comment; ``000/c10.r2`` = its 2nd reply.  In the flat
layout (004) comments are numbered in reading order: text closed by ``ReplyDelete``
is a top-level comment, text closed by ``Delete`` a reply to the latest one.
"""

from __future__ import annotations

import pytest

SEED_IDS = ["000", "001", "002", "003", "004"]


def _units(threads):
    return {u.unit_id: u for t in threads.values() for u in t.units}


@pytest.fixture(scope="module")
def units(seed_threads):
    return _units(seed_threads)


def head(text: str, n: int) -> str:
    return " ".join(text.split()[:n])


def tail(text: str, n: int) -> str:
    return " ".join(text.split()[-n:])


# ---------------------------------------------------------------- threads


def test_all_seeds_parsed_without_skips(seed_result):
    assert seed_result.files_seen == 5
    assert sorted(t.thread_id for t in seed_result.threads) == SEED_IDS
    assert seed_result.skipped == []


@pytest.mark.parametrize("tid, expected", [
    ("000", dict(layout="blogger_numbered", title="Guest Blog 35", post_date="2015-04-23",
                 declared=37, parsed=37, url=None)),
    ("001", dict(layout="blogger_numbered_plain", title="TR - Two Views", post_date="2014-08-12",
                 declared=None, parsed=14, url=None)),
    ("002", dict(layout="blogger_numbered", title="Probation Voices 2", post_date="2016-03-06",
                 declared=35, parsed=35, url=None)),
    ("003", dict(layout="blogger_numbered", title="SFO's - Who Is To Blame?", post_date="2019-02-24",
                 declared=17, parsed=16, url=None)),
    ("004", dict(layout="blogger_flat", title=None, post_date=None, declared=None, parsed=62, url=None)),
])
def test_thread_header(seed_threads, tid, expected):
    t = seed_threads[tid]
    assert t.layout == expected["layout"]
    assert t.title == expected["title"]
    assert t.post_date == expected["post_date"]
    assert t.url == expected["url"]
    assert t.declared_comments == expected["declared"]
    assert t.parsed_comments == expected["parsed"]
    assert t.source_file.endswith(".txt") and f"/{tid}_" in t.source_file


@pytest.mark.parametrize("tid, counts", [
    ("000", {"post": 1, "contribution": 0, "comment": 18, "reply": 19}),
    ("001", {"post": 1, "contribution": 0, "comment": 9, "reply": 5}),
    ("002", {"post": 1, "contribution": 12, "comment": 9, "reply": 26}),
    ("003", {"post": 1, "contribution": 0, "comment": 9, "reply": 7}),
    ("004", {"post": 1, "contribution": 1, "comment": 22, "reply": 40}),
])
def test_units_by_kind(seed_units, tid, counts):
    got = seed_units[seed_units.thread_id == tid].kind.value_counts().to_dict()
    assert {k: got.get(k, 0) for k in counts} == counts
    assert set(got) <= set(counts)


def test_units_table_shape(seed_units, seed_threads):
    assert len(seed_units) == sum(len(t.units) for t in seed_threads.values()) == 38 + 15 + 48 + 17 + 64
    assert seed_units.unit_id.is_unique
    # positions are the reading order inside each thread
    for tid, group in seed_units.groupby("thread_id"):
        assert list(group.position) == list(range(len(group)))
        assert group.iloc[0].unit_id == f"{tid}/post"


@pytest.mark.parametrize("tid, codes", [
    ("000", []), ("001", []), ("002", []), ("003", ["W101"]), ("004", ["W102"]),
])
def test_problems_per_thread(seed_threads, tid, codes):
    assert [p.code for p in seed_threads[tid].problems] == codes


def test_003_declares_17_shows_16(seed_threads):
    (w,) = seed_threads["003"].problems
    assert w.code == "W101" and w.severity == "warning"
    assert "17" in w.message and "16" in w.message
    assert w.line == 73  # the '17 comments:' line
    assert w.file.endswith("003_21cc7e808df71807.txt")


# ---------------------------------------------------------------- structure


@pytest.mark.parametrize("uid, parent", [
    ("000/post", None),
    ("000/c1", "000/post"),
    ("000/c1.r1", "000/c1"),
    ("000/c1.r5", "000/c1"),
    ("000/c4.r1", "000/c4"),
    ("000/c10.r5", "000/c10"),
    ("000/c11.r4", "000/c11"),
    ("000/c18", "000/post"),
    ("000/c18.r2", "000/c18"),
    ("001/c4.r1", "001/c4"),
    ("001/c4.r2", "001/c4"),
    ("001/c7.r1", "001/c7"),
    ("001/c8.r2", "001/c8"),
    ("001/c9", "001/post"),
    ("002/k1", "002/post"),
    ("002/k12", "002/post"),
    ("002/c3.r1", "002/c3"),
    ("002/c5.r14", "002/c5"),
    ("002/c8.r3", "002/c8"),
    ("002/c9.r3", "002/c9"),
    ("003/c2.r1", "003/c2"),
    ("003/c7.r3", "003/c7"),
    ("003/c8.r1", "003/c8"),
    ("003/c9", "003/post"),
    ("004/k1", "004/post"),
    ("004/c1", "004/post"),
    ("004/c3.r1", "004/c3"),
    ("004/c4.r10", "004/c4"),
    ("004/c5.r3", "004/c5"),
    ("004/c9.r7", "004/c9"),
    ("004/c14.r4", "004/c14"),
    ("004/c21", "004/post"),
    ("004/c22.r1", "004/c22"),
])
def test_parents(units, uid, parent):
    u = units[uid]
    assert u.parent_id == parent
    assert u.depth == {"post": 0, "contribution": 1, "comment": 1, "reply": 2}[u.kind]


@pytest.mark.parametrize("uid", ["000/c19", "000/c1.r6", "000/c4.r2", "001/c10", "001/c4.r3", "002/k13",
                                 "002/c10", "002/c5.r15", "003/c10", "003/c7.r4", "004/c23", "004/c22.r2",
                                 "004/k2", "004/c4.r11"])
def test_no_unit_beyond_the_last(units, uid):
    assert uid not in units


@pytest.mark.parametrize("tid, last_top, replies", [
    ("000", 18, {"c1": 5, "c4": 1, "c10": 5, "c11": 4, "c12": 1, "c16": 1, "c18": 2}),
    ("001", 9, {"c4": 2, "c7": 1, "c8": 2}),
    ("002", 9, {"c3": 2, "c4": 1, "c5": 14, "c6": 2, "c7": 1, "c8": 3, "c9": 3}),
    ("003", 9, {"c2": 1, "c3": 1, "c4": 1, "c7": 3, "c8": 1}),
    ("004", 22, {"c3": 1, "c4": 10, "c5": 3, "c8": 4, "c9": 7, "c10": 1, "c11": 3, "c13": 3, "c14": 4,
                 "c16": 1, "c21": 2, "c22": 1}),
])
def test_reply_counts_per_comment(seed_threads, tid, last_top, replies):
    t = seed_threads[tid]
    tops = [u.unit_id for u in t.units if u.kind == "comment"]
    assert tops == [f"{tid}/c{k}" for k in range(1, last_top + 1)]
    got = {}
    for u in t.units:
        if u.kind == "reply":
            got[u.parent_id.split("/")[1]] = got.get(u.parent_id.split("/")[1], 0) + 1
    assert got == replies


def test_reading_order_parent_then_replies(seed_threads):
    ids = [u.unit_id for u in seed_threads["000"].units]
    assert ids[:9] == ["000/post", "000/c1", "000/c1.r1", "000/c1.r2", "000/c1.r3", "000/c1.r4", "000/c1.r5",
                       "000/c2", "000/c3"]


# ---------------------------------------------------------------- authors, times, lines


@pytest.mark.parametrize("uid, author, timestamp", [
    ("000/c4", "Probation Officer", "2015-04-23T08:02:00+01:00"),  # Europe/London wall time (README)
    ("000/c18.r1", "Probation Officer", "2015-04-23T19:56:00+01:00"),
    ("002/c5.r7", "Probation Officer", "2016-03-06T19:38:00+00:00"),  # GMT in March
    ("002/c7.r1", "Probation Officer", "2016-03-06T19:40:00+00:00"),
    ("000/c1", None, None),
    ("000/c18.r2", None, None),
    ("001/c1", None, None),
    ("003/c7", None, None),
    ("004/c10", None, None),
])
def test_named_comments(units, uid, author, timestamp):
    assert units[uid].author == author
    assert units[uid].timestamp == timestamp
    if author:  # the author line is not part of the text
        assert "April" not in units[uid].text.split("\n")[0] and "March 2016" not in units[uid].text


@pytest.mark.parametrize("uid, line", [
    ("000/post", 5), ("000/c1", 30), ("000/c4", 55), ("000/c18.r1", 187),
    ("001/post", 5), ("001/c1", 42), ("002/k1", 8), ("002/c1", 54), ("003/c1", 75),
    ("004/post", 1), ("004/k1", 9), ("004/c1", 29), ("004/c2", 30), ("004/c22.r1", 102),
])
def test_source_lines(units, uid, line):
    assert units[uid].line == line


# ---------------------------------------------------------------- texts


@pytest.mark.parametrize("uid, first, last", [
    ("000/post", "Is this the future?", "thirteen years as a Senior Probation Officer."),
    ("000/c1", "I'm not sure why CRC", "needs wider media attention?"),
    ("000/c1.r2", "guest Blogger - are you sure", "picked up by the investigator."),
    ("000/c1.r5", "Should not be a CRC case.", "are NPS not CRC."),
    ("000/c4", "MAPPA (Cat 1 or Lv 1)", "and ask direct too."),
    ("000/c5", "As already posted,", "casualty of the TR split."),
    ("000/c10.r2", "I'm not annon @10:20", "I truely believe. 'Getafix'"),
    ("000/c10.r4", "Even though the job", "create a collective failure."),
    ("000/c11.r4", "There are plenty of violent", "line is very clear."),
    ("000/c18.r1", "Exactly. Poor knowledge", "poster is not alone!"),
    ("000/c18.r2", "Well I work on reception", "ignoring this at all."),
    ("001/post", "Regular readers will be aware", "we do not want to be. Bewildered PO"),
    ("001/c1", "Well put BPO.Thank you", "Well put BPO.Thank you"),
    ("001/c3", "The reality is that", "Conservative blue boiler suits."),
    ("001/c4.r1", "NAPO are still looking for the drum.", "colleagues from my office."),
    ("001/c7.r1", "And this process would", "Absolutely criminal."),
    ("001/c8", "Off topic, but", "a 'rehabilitation contract'."),
    ("001/c8.r1", "The welfare-to-work provider A4e", "guarantee a good quality service."),
    ("001/c8.r2", "I asked the question", "none of my business."),
    ("001/c9", "If the computers are not", "pulling my hair out."),
    ("002/post", "You are probation officers but", "their lies and shortcomings."),
    ("002/c1", "This seems to be indicative", "\"Its not about you.\""),
    ("002/c3.r2", "PSO's per se are not the problem.", "fall on their swords."),
    ("002/c5", "In response to 13:19,", "setting them up to fail."),
    ("002/c5.r7", "Whether you're real or not,", "1-2 days per week."),
    ("002/c5.r14", "You are spot on, JB.", "won't be far behind."),
    ("002/c9.r3", "If an order/intervention is unsuitable", "to both staff and offenders alike."),
    ("003/post", "Right from the beginning of the TR nightmare,", "confidentially, on hardeep@bylinetimes.com"),
    ("003/c1", "\"On 31 March 2018there were",
     "https://assets.publishing.service.gov.uk/government/uploads/system/uploads/attachment_data/file/751006/"
     "mappa-annual-report-2017-18.pdf"),
    ("003/c3", "SFOs, who's to blame?", "sticky end of the stick. 'Getafix"),
    ("003/c4.r1", "Please read my comment below.", "avoiding blame... A Moss"),
    ("003/c7", "As the SPO who was sacked", "are concluded. Alison Moss"),
    ("003/c7.r2", "Thank you for your comment.", "from all the others."),
    ("003/c7.r3", "Just noticed your responses Alison", "Take care, Jim."),
    ("003/c8.r1", "I too would be interested", "how that might be achieved."),
    ("003/c9", "Hi Ali, As an ex Napo member", "support and thanks."),
    ("004/post", "This on the BBC website:-", "close analysis of the figures.\""),
    ("004/c1", "Having read the serious case review", "scapegoat for TR failings."),
    ("004/c3", "Before making statements like the above,", "Transferring mappa to police?"),
    ("004/c3.r1", "On the wholly artificial premise", "rubbished the critics of TR. Exactly!!"),
    ("004/c4", "In my office, the TR split", "number of SFOs has increased."),
    ("004/c4.r2", "'The assessment of whether", "a few transferred cases."),
    ("004/c5", "The only reason the risk escalation", "SFO 's in CRC cases ?"),
    ("004/c5.r3", "http://www.dailymail.co.uk/wires/pa/article-2857412/Probation-changes-link-murders.html Gove",
     "will be public documents...."),
    ("004/c22.r1", "I read ur comment", "you are not alone."),
])
def test_first_and_last_words(units, uid, first, last):
    text = units[uid].text
    n_first, n_last = len(first.split()), len(last.split())
    assert head(text, n_first) == first
    assert tail(text, n_last) == last


@pytest.mark.parametrize("uid, text", [
    ("001/c4.r2", "well anon 20:48,my back is certainly broken, can't take much more...."),
    ("002/c7.r1", "I wonder how this will pan out in areas where the same company runs both the work programme "
                  "and the CRC?"),
    ("003/c2.r1", "This was the exact advice given to me by a PO while I was a TPO."),
    ("004/c4.r4", "Andrew Bridges was the report author I believe, I think it was the Hanson and White report. "
                  "Anon at 17.33"),
    ("004/c10.r1", "Me too 18:33 - me too!"),
    ("004/c22", "You should not be going in on a saturday. Do you have a lot of toil?"),
    ("000/c5", "As already posted, no CRC case should be holding a MAPPA 1 case and the response from you really "
               "should have been to contact MAPPA coordinator and request a L2 meeting be held. Every agency has "
               "responsible for MAPPA.\nI think you raise some valid points because I am inside probation and "
               "struggle to contact people especially managers. Yet there is evidence in my area that the number "
               "of managers has actually increased post split ( especially NPS but that's another story). "
               "Communication is everything in our profession yet it was the first casualty of the TR split."),
])
def test_whole_texts(units, uid, text):
    assert units[uid].text == text


def test_paragraphs_kept_and_link_text_dropped(units):
    t = units["000/c10.r4"].text
    assert "\n\n" in t and "\n\n\n" not in t
    for unit in units.values():
        lines = [line.strip() for line in unit.text.split("\n")]
        assert not {"ReplyDelete", "Delete", "Replies", "Reply"} & set(lines), unit.unit_id
        assert not unit.text.startswith(("ReplyDelete", "Delete")), unit.unit_id


def test_numbering_is_consumed_not_kept(units):
    assert units["000/c10"].text.startswith("No matter whether")
    assert units["000/c10.r1"].text.startswith("Anon 10:20")  # not '1. Anon 10:20'


# ---------------------------------------------------------------- contributions


@pytest.mark.parametrize("uid, first, last", [
    ("002/k1", "I agree with Frances Crook", "not even hiding it."),
    ("002/k2", "On top of telephone only contacts,", "responsibility for community orders?"),
    ("002/k3", "This is definitely part of the Wonky Links Way,", "under the carpet."),
    ("002/k6", "No, it is no longer Probation,", "values or ethics. NPS PO."),
    ("002/k7", "I am a court PO and have grave concerns", "sides of the same penny coin."),
    ("002/k11", "It's dictated by NOMS/MoJ.", "I feel sick and stressed."),
    ("002/k12", "In a magistrates' court team in NE", "is worrying and dangerous."),
    ("004/k1", "At the weekend BBC 5 Live", "download the programme podcast."),
])
def test_contributions(units, uid, first, last):
    u = units[uid]
    assert u.kind == "contribution" and u.depth == 1
    assert head(u.text, len(first.split())) == first
    assert tail(u.text, len(last.split())) == last
    assert "******" not in u.text and "oo00oo" not in u.text


def test_contribution_separators_are_consumed(seed_threads):
    assert seed_threads["002"].consumed.count("******") == 12
    assert "--oo00oo--" in seed_threads["004"].consumed
    assert [u.unit_id for u in seed_threads["002"].units if u.kind == "contribution"] == \
        [f"002/k{k}" for k in range(1, 13)]
    # the post intro ends before the first separator
    post = seed_threads["002"].units[0].text
    assert post.endswith("propping up their lies and shortcomings.") and "Frances Crook" not in post
    post4 = seed_threads["004"].units[0].text
    assert post4.count("\n") == 6 and "At the weekend" not in post4


# ---------------------------------------------------------------- flat layout 004

LOW_004 = {"004/c1", "004/c3", "004/c3.r1", "004/c4.r2", "004/c4.r7", "004/c5", "004/c5.r3"}


def test_004_low_confidence_units(seed_threads):
    low = {u.unit_id for u in seed_threads["004"].units if u.confidence == "low"}
    assert low == LOW_004
    for tid in ("000", "001", "002", "003"):
        assert all(u.confidence == "high" for u in seed_threads[tid].units)


@pytest.mark.parametrize("uid, note", [
    ("004/c1", "post/comment boundary lost"),
    ("004/c3", "5 lines with no link text"),
    ("004/c3.r1", "3 lines with no link text"),
    ("004/c4.r2", "4 lines with no link text"),
    ("004/c4.r7", "2 lines with no link text"),
    ("004/c5", "2 lines with no link text"),
    ("004/c5.r3", "2 lines with no link text"),
])
def test_004_confidence_notes(units, uid, note):
    assert units[uid].confidence == "low"
    assert note in units[uid].confidence_note


def test_004_w102(seed_threads, seed_units):
    (w,) = seed_threads["004"].problems
    assert w.code == "W102" and w.severity == "warning"
    assert "7 of 62" in w.message
    assert w.line == 1
    assert (seed_units[seed_units.thread_id == "004"].confidence == "low").sum() == 7


def test_004_flat_tokens_consumed(seed_threads):
    consumed = seed_threads["004"].consumed
    assert consumed.count("ReplyDelete") == 22
    assert consumed.count("Delete") == 40


# ---------------------------------------------------------------- mentions


@pytest.mark.parametrize("uid, mentions", [
    ("000/c1.r1", ["07:25"]),
    ("000/c10.r1", ["Anon 10:20"]),
    ("000/c10.r2", ["annon @10:20", "annon @10:20"]),
    ("000/c10.r4", ["Anon @10.20"]),
    ("000/c14", ["anon 13:10", "anon 14:50"]),
    ("000/c15", ["Jim"]),
    ("000/c1", []),
    ("000/c4", []),
    ("000/c12.r1", []),
    ("001/c4.r2", ["anon 20:48"]),
    ("001/post", []),  # 'At 12.02' in a post is not a mention
    ("001/c3", []),  # '£46'
    ("002/c5", ["13:19"]),
    ("002/c5.r3", []),  # 'section 2.5 reads 2.5.'
    ("002/c5.r9", ["Jim"]),
    ("002/c5.r12", ["19:01"]),
    ("002/c5.r14", ["JB"]),
    ("003/c7.r3", ["Jim"]),
    ("003/c8", ["Jim"]),
    ("003/c5", []),  # '2.5%', '£75m'
    ("004/c4.r4", ["Anon at 17.33"]),
    ("004/c5", ["Anon 12:14"]),
    ("004/c8.r3", ["Anon at 18:29"]),
    ("004/c9.r3", ["Anon 18:35"]),
    ("004/c10", ["18.23", "Jim"]),
    ("004/c10.r1", ["18:33"]),
    ("004/c14.r3", ["20:41", "anon 20:20"]),
    ("004/c14.r4", ["20.00"]),
    ("004/c21", ["Jim"]),
    ("004/c21.r1", []),  # jimbrown51@virginmedia.com
    ("004/c21.r2", ["22.49"]),
    ("004/c3", []),  # '68,214', '1,573'
])
def test_mentions(units, uid, mentions):
    assert units[uid].mentions == mentions


def test_posts_and_contributions_have_no_mentions(units):
    assert all(u.mentions == [] for u in units.values() if u.kind in ("post", "contribution"))


# ---------------------------------------------------------------- quotes and links


@pytest.mark.parametrize("uid, quoted, own", [
    ("000/c11.r1",
     ["\"I think you'll find that quite a few MAPPA 1 cases will have been allocated to CRC on the basis of "
      "being medium risk regardless of whether they are subject to MAPPA or not.\""],
     "Then that is a very basic error indeed."),
    ("000/c4.r1", ["\"As much as CRC's are useless\""], "?"),
    ("000/c12.r1", [], "\"A letter has been received...\" - by whom?\n\nI truly hope this isn't mischief-making."),
    ("000/c1", [], "I'm not sure why CRC are holding a MAPPA 1 case. Perhaps this needs wider media attention?"),
])
def test_quotes(units, uid, quoted, own):
    assert units[uid].quoted_text == quoted
    assert units[uid].own_text == own


def test_002_c1_quotes_and_scare_quotes(units):
    u = units["002/c1"]
    assert u.quoted_text == [
        "\"I want it now; I'm better than them; I'm worth it.\"",
        "\"Weekly travel to London for meetings at the MoJ, briefings with Number Ten, lunch with ministers...\"",
    ]
    # short scare quotes stay in the own text
    assert "\"time on the tools\"" in u.own_text and "\"unambitious\"" in u.own_text
    assert "I want it now" not in u.own_text


def test_mentions_are_taken_from_own_text_only(units):
    # the quotation in 000/c11.r1 names nobody; own text is what mentions are read from
    assert units["000/c11.r1"].mentions == []


@pytest.mark.parametrize("uid, link_only, urls", [
    ("000/c8", True, ["http://www.theguardian.com/society/2015/apr/22/cutting-prison-victim-awareness-tories-"
                      "chris-grayling"]),
    ("002/c8", True, ["http://www.theguardian.com/society/2016/mar/06/government-to-review-500m-worth-of-atos-"
                      "contracts-after-it-failure"]),
    ("002/c6.r2", True, ["https://companycheck.co.uk/search?term=wales+community+rehabilitation+com"]),
    ("003/c1", False, ["https://assets.publishing.service.gov.uk/government/uploads/system/uploads/attachment_data/"
                       "file/751006/mappa-annual-report-2017-18.pdf"]),
    ("004/c5.r3", False, ["http://www.dailymail.co.uk/wires/pa/article-2857412/Probation-changes-link-murders.html"]),
    ("000/c1", False, []),
])
def test_links(units, uid, link_only, urls):
    assert units[uid].link_only is link_only
    assert units[uid].urls == urls


def test_link_only_units_in_table(seed_units):
    assert sorted(seed_units[seed_units.link_only].unit_id) == ["000/c8", "002/c6.r2", "002/c8"]


def test_word_counts(units):
    assert units["001/c1"].word_count == 4  # 'Well put BPO.Thank you'
    assert units["004/c10.r1"].word_count == 6
    assert units["000/c8"].word_count == 1
