"""Small inline inputs in every supported format, following Blogger's real markup.

(a) saved Blogger HTML pages: threaded comments, the classic ``<dl id="comments-block">``,
    a truncated page, a ``<script>`` inside a comment;
(b) Blogger Atom comment feeds;
(c) CSV and JSONL in the schema of ``pipeline/parse/tabular.py``;
(d) bad files given to ``parse_paths``.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline.errors import PipelineError
from pipeline.parse import parse_file, parse_paths, parse_string

# ---------------------------------------------------------------- (a) Blogger HTML

POST_URL = "https://probationmatters.blogspot.com/2015/04/guest-blog-35.html"


def _epoch_ms(when: str) -> int:
    """The permalink's milliseconds for a time shown in the blog's zone (Europe/London)."""
    local = datetime.strptime(when, "%d %B %Y at %H:%M").replace(tzinfo=ZoneInfo("Europe/London"))
    return int(local.timestamp() * 1000)


def li(cid: str, author: str, when: str, body_html: str, replies: tuple[str, ...] | list[str] = (), *,
       top: bool = True, linked_author: bool = False) -> str:
    """One ``<li class="comment">`` as Blogger's threaded-comment script renders it."""
    cite = f'<a href="https://www.blogger.com/profile/{cid}" rel="nofollow">{author}</a>' if linked_author else author
    reply_link = (f'<a class="comment-reply" target="_self" data-comment-id="{cid}">Reply</a>' if top else "")
    actions = (f'<span class="comment-actions secondary-text">{reply_link}<span class="item-control blog-admin '
               f'pid-1"><a target="_self" href="https://www.blogger.com/delete-comment.g?blogID=1&amp;postID={cid}">'
               'Delete</a></span></span>')
    thread = ""
    if top:
        hidden = "" if replies else " hidden"
        thread = (f'<div id="c{cid}-rt" class="comment-thread inline-thread{hidden}"><span class="thread-toggle '
                  'thread-expanded"><span class="thread-arrow"></span><span class="thread-count"><a target="_self">'
                  f'Replies</a></span></span><ol id="c{cid}-ra" class="thread-chrome thread-expanded"><div>'
                  + "".join(replies) +
                  f'</div><div id="c{cid}-continue" class="continue"><a class="comment-reply" target="_self" '
                  f'data-comment-id="{cid}">Reply</a></div></ol></div>')
    return (f'<li class="comment" id="c{cid}"><div class="avatar-image-container"><img src="//resources.blogblog.com/'
            f'img/blank.gif" alt=""/></div><div class="comment-block"><div class="comment-header"><cite class="user">'
            f'{cite}</cite><span class="icon user "></span><span class="datetime secondary-text"><a rel="nofollow" '
            f'href="{POST_URL}?showComment={_epoch_ms(when)}#c{cid}">{when}</a></span></div>'
            f'<p class="comment-content">{body_html}</p>{actions}</div><div class="comment-replies">{thread}</div>'
            f'<div class="comment-replybox-single" id="c{cid}-ce"></div></li>')


def blogger_page(comments_html: str, *, count: int, post_html: str | None = None) -> str:
    post_html = post_html if post_html is not None else (
        "Is this the future?<br /><br />We house a substantial number of ex-offenders.<br />\n"
        "<br />\nIf anyone thinks I have unrealistic expectations, say so.")
    return f"""<!DOCTYPE html>
<html class='v2' dir='ltr' lang='en-GB' xmlns='http://www.w3.org/1999/xhtml' xmlns:b='http://www.google.com/2005/gml/b'>
<head>
<meta content='text/html; charset=UTF-8' http-equiv='Content-Type'/>
<link href='{POST_URL}' rel='canonical'/>
<title>On Probation: Guest Blog 35</title>
<script type='text/javascript'>var x = "<p class='comment-content'>not a comment</p>";</script>
</head>
<body>
<div class='date-outer'>
<h2 class='date-header'><span>Thursday, 23 April 2015</span></h2>
<div class='date-posts'>
<div class='post-outer'>
<div class='post hentry uncustomized-post-template' itemprop='blogPost'>
<h3 class='post-title entry-title' itemprop='name'>
Guest Blog 35
</h3>
<div class='post-header'></div>
<div class='post-body entry-content' id='post-body-222' itemprop='description articleBody'>
{post_html}
<div style='clear: both;'></div>
</div>
</div>
<div class='comments' id='comments'>
<a name='comments'></a>
<h4>{count} comments:</h4>
<div class='comments-content'>
<script async='async' src='' type='text/javascript'></script>
<div id='comment-holder'>
<div class="comment-thread toplevel-thread"><ol id="top-ra">{comments_html}</ol><div id="top-continue" class="continue"><a class="comment-reply" target="_self">Add comment</a></div><div class="comment-replybox-thread" id="top-ce"></div><div class="loadmore hidden" data-post-id="222"><a target="_self">Load more...</a></div></div>
</div>
</div>
</div>
</div>
</div>
</div>
</body>
</html>
"""


THREADED = blogger_page(
    li("111", "Probation Officer", "23 April 2015 at 08:02",
       "MAPPA (Cat 1 or Lv 1) should be with the NPS.<br /><br />Did you ask a duty worker?",
       [li("222", "Jim Brown", "23 April 2015 at 09:15", "&quot;As much as CRC's are useless&quot;?", top=False,
           linked_author=True),
        li("444", "Anonymous", "23 April 2015 at 11:40", "Anon 10:20 - agreed, Jim Brown.", top=False)])
    + li("333", "Anonymous", "23 April 2015 at 10:20",
         "http://www.theguardian.com/society/2015/apr/22/cutting-prison-victim-awareness"),
    count=4)


def _one(text: str, kind: str):
    (thread,) = parse_string(text, kind=kind, thread_id="t")
    return thread


def test_html_threaded_header():
    t = _one(THREADED, "html")
    assert t.layout == "blogger_html"
    assert t.title == "Guest Blog 35"
    assert t.post_date == "2015-04-23"
    assert t.url == POST_URL
    assert t.declared_comments == 4 and t.parsed_comments == 4
    assert t.problems == []


def test_html_threaded_structure():
    t = _one(THREADED, "html")
    got = [(u.unit_id, u.kind, u.parent_id, u.depth, u.author, u.timestamp) for u in t.units]
    assert got == [
        ("t/post", "post", None, 0, None, None),
        # from the ?showComment=<ms> permalink: the exact instant, in UTC (08:02 BST = 07:02Z)
        ("t/c1", "comment", "t/post", 1, "Probation Officer", "2015-04-23T07:02:00Z"),
        ("t/c1.r1", "reply", "t/c1", 2, "Jim Brown", "2015-04-23T08:15:00Z"),
        ("t/c1.r2", "reply", "t/c1", 2, "Anonymous", "2015-04-23T10:40:00Z"),
        ("t/c2", "comment", "t/post", 1, "Anonymous", "2015-04-23T09:20:00Z"),
    ]


def test_html_threaded_texts_and_derived_fields():
    u = {x.unit_id: x for x in _one(THREADED, "html").units}
    assert u["t/post"].text == ("Is this the future?\n\nWe house a substantial number of ex-offenders.\n\n"
                                "If anyone thinks I have unrealistic expectations, say so.")
    # <br /><br /> is a paragraph break; no link text ('Reply', 'Delete', 'Replies') leaks into the text
    assert u["t/c1"].text == "MAPPA (Cat 1 or Lv 1) should be with the NPS.\n\nDid you ask a duty worker?"
    assert u["t/c1.r1"].text == "\"As much as CRC's are useless\"?"
    assert u["t/c1.r1"].quoted_text == ["\"As much as CRC's are useless\""]
    assert u["t/c1.r2"].mentions == ["Anon 10:20", "Jim Brown"]  # a time and an author of this thread
    assert u["t/c2"].link_only is True
    for unit in u.values():
        assert "Reply" not in unit.text and "Delete" not in unit.text and "not a comment" not in unit.text


def test_html_post_split_into_contributions():
    page = blogger_page("", count=0, post_html="Intro text.<br />******<br />First voice.<br />******<br />"
                                                "Second voice.<br />******<br />")
    t = _one(page, "html")
    assert [(u.unit_id, u.text) for u in t.units] == [
        ("t/post", "Intro text."), ("t/k1", "First voice."), ("t/k2", "Second voice.")]
    assert t.declared_comments == 0 and t.parsed_comments == 0 and t.problems == []


def test_html_declared_count_differs():
    page = blogger_page(li("9", "Anonymous", "23 April 2015 at 08:02", "Only one."), count=201)
    t = _one(page, "html")
    assert [p.code for p in t.problems] == ["W101"]
    assert "201" in t.problems[0].message and "1 were found" in t.problems[0].message


CLASSIC = """<html><head><link rel="canonical" href="http://probationmatters.blogspot.com/2014/08/tr-two-views.html"/>
</head><body>
<h2 class='date-header'><span>Tuesday, 12 August 2014</span></h2>
<div class='post hentry'>
<h3 class='post-title entry-title'><a href='http://probationmatters.blogspot.com/2014/08/tr-two-views.html'>TR - Two Views</a></h3>
<div class='post-body entry-content'><p>Regular readers will be aware.</p><p>Bewildered PO</p></div>
</div>
<div class='comments' id='comments'>
<a name='comments'></a>
<h4>2 comments:</h4>
<div id='Blog1_comments-block-wrapper'>
<dl class='avatar-comment-indent' id='comments-block'>
<dt class='comment-author ' id='c5001'>
<a name='c5001'></a>
<div class="avatar-image-container avatar-stock"><span dir="ltr"><img src="https://resources.blogblog.com/img/blank.gif" width="35" height="35" alt="" title="Anonymous"></span></div>
Anonymous said...
</dt>
<dd class='comment-body' id='Blog1_cmt-5001'>
<p>
Well put BPO.Thank you<br/>Second line.
</p>
</dd>
<dd class='comment-footer'>
<span class='comment-timestamp'>
<a href='http://probationmatters.blogspot.com/2014/08/tr-two-views.html?showComment=1407869700000#c5001' title='comment permalink'>
12 August 2014 at 19:55
</a>
<span class='item-control blog-admin pid-1'>
<a class='comment-delete' href='https://www.blogger.com/delete-comment.g?blogID=1&amp;postID=5001' title='Delete Comment'>
<img src='https://resources.blogblog.com/img/icon_delete13.gif'/>
</a>
</span>
</span>
</dd>
<dt class='comment-author blog-author' id='c5002'>
<a name='c5002'></a>
<a href='https://www.blogger.com/profile/08' rel='nofollow'>Jim Brown</a>
said...
</dt>
<dd class='comment-body' id='Blog1_cmt-5002'>
<p>Anon 19:55 thanks.</p>
</dd>
<dd class='comment-footer'>
<span class='comment-timestamp'>
<a href='http://probationmatters.blogspot.com/2014/08/tr-two-views.html?showComment=1407872880000#c5002' title='comment permalink'>12 August 2014 at 20:48</a>
</span>
</dd>
</dl>
</div>
</div>
</body></html>
"""


def test_html_classic_comments_block():
    t = _one(CLASSIC, "html")
    assert (t.title, t.post_date, t.url) == ("TR - Two Views", "2014-08-12",
                                             "http://probationmatters.blogspot.com/2014/08/tr-two-views.html")
    assert t.declared_comments == 2 and t.problems == []
    got = [(u.unit_id, u.parent_id, u.author, u.timestamp, u.text) for u in t.units]
    assert got == [
        ("t/post", None, None, None, "Regular readers will be aware.\n\nBewildered PO"),
        ("t/c1", "t/post", "Anonymous", "2014-08-12T18:55:00Z", "Well put BPO.Thank you\nSecond line."),
        ("t/c2", "t/post", "Jim Brown", "2014-08-12T19:48:00Z", "Anon 19:55 thanks."),
    ]
    assert t.units[2].mentions == ["Anon 19:55"]


def test_html_truncated_page_keeps_what_came_before_the_cut():
    cut = THREADED.index('<li class="comment" id="c333"') + 200  # inside the second top-level comment
    page = THREADED[:cut]
    t = _one(page, "html")
    (w,) = [p for p in t.problems if p.code == "E006"]
    assert w.severity == "warning" and "truncated" in w.message
    assert w.line == page.count("\n") + 1
    ids = [u.unit_id for u in t.units]
    assert ids[:4] == ["t/post", "t/c1", "t/c1.r1", "t/c1.r2"]
    assert t.units[1].text.startswith("MAPPA (Cat 1 or Lv 1)")
    assert t.title == "Guest Blog 35"


def test_html_script_inside_a_comment_is_dropped():
    page = blogger_page(
        li("1", "Anonymous", "23 April 2015 at 08:02",
           'Before the script.<script type="text/javascript">document.write("INJECTED"); var a = 1 < 2;</script>'
           ' After the script.<style>.x {color: red}</style>'),
        count=1, post_html='Post <script>alert("POSTSCRIPT")</script>text.')
    t = _one(page, "html")
    assert t.units[1].text.startswith("Before the script.") and t.units[1].text.endswith("After the script.")
    for u in t.units:
        assert "INJECTED" not in u.text and "document.write" not in u.text and "color: red" not in u.text
        assert "POSTSCRIPT" not in u.text and "alert" not in u.text and "<" not in u.text
    assert t.units[0].text == "Post text."


def test_html_deleted_comment_keeps_its_replies():
    # Blogger renders a removed comment's body as <span class="deleted-comment"> inside p.comment-content
    page = blogger_page(
        li("1", "Anonymous", "23 April 2015 at 08:02",
           '<span class="deleted-comment">This comment has been removed by the author.</span>',
           [li("2", "Jim Brown", "23 April 2015 at 09:00", "Shame, it was a good point.", top=False)]),
        count=2)
    t = _one(page, "html")
    assert [(u.unit_id, u.parent_id, u.author, u.text) for u in t.units[1:]] == [
        ("t/c1", "t/post", "Anonymous", "This comment has been removed by the author."),
        ("t/c1.r1", "t/c1", "Jim Brown", "Shame, it was a good point."),
    ]


def test_html_that_is_not_a_blogger_page_is_an_error():
    with pytest.raises(PipelineError) as exc:
        parse_string("<!DOCTYPE html><html><body><p>Hello</p></body></html>", kind="html")
    assert exc.value.problem.code == "E005"


# ---------------------------------------------------------------- (b) Blogger Atom comment feeds


def entry(cid: str, published: str, author: str, html: str, parent: str | None = None, *, v2: bool = False) -> str:
    related = ""
    if parent:
        related = (f"<link rel='related' type='application/atom+xml' href='https://www.blogger.com/feeds/111/222/"
                   f"comments/default/{parent}{'?v=2' if v2 else ''}'/>")
    return f"""<entry>
<id>tag:blogger.com,1999:blog-111.post-{cid}</id>
<published>{published}</published>
<updated>{published}</updated>
<title type='text'>{cid}</title>
<content type='html'>{html}</content>
<link rel='edit' type='application/atom+xml' href='https://www.blogger.com/feeds/111/222/comments/default/{cid}'/>
<link rel='self' type='application/atom+xml' href='https://www.blogger.com/feeds/111/222/comments/default/{cid}'/>
<link rel='alternate' type='text/html' href='{POST_URL}?showComment=1429772520000#c{cid}' title=''/>
{related}
<author><name>{author}</name><email>noreply@blogger.com</email></author>
<thr:in-reply-to href='{POST_URL}' ref='tag:blogger.com,1999:blog-111.post-222' source='http://www.blogger.com/feeds/111/posts/default/222' type='text/html'/>
<gd:extendedProperty name='blogger.itemClass' value='pid-1'/>
</entry>
"""


def feed(entries: list[str], total: int) -> str:
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns='http://www.w3.org/2005/Atom' xmlns:openSearch='http://a9.com/-/spec/opensearchrss/1.0/' xmlns:gd='http://schemas.google.com/g/2005' xmlns:thr='http://purl.org/syndication/thread/1.0'>
<id>tag:blogger.com,1999:blog-111.post222..comments</id>
<updated>2015-04-23T11:40:00.000+01:00</updated>
<title type='text'>Comments on On Probation: Guest Blog 35</title>
<link rel='http://schemas.google.com/g/2005#feed' type='application/atom+xml' href='https://probationmatters.blogspot.com/feeds/222/comments/default'/>
<link rel='self' type='application/atom+xml' href='https://www.blogger.com/feeds/111/222/comments/default'/>
<link rel='alternate' type='text/html' href='{POST_URL}'/>
<author><name>Jim Brown</name></author>
<generator version='7.00' uri='http://www.blogger.com'>Blogger</generator>
<openSearch:totalResults>{total}</openSearch:totalResults>
<openSearch:startIndex>1</openSearch:startIndex>
<openSearch:itemsPerPage>25</openSearch:itemsPerPage>
{''.join(entries)}</feed>
"""


# newest first, as Blogger lists them
FEED = feed([
    entry("444", "2015-04-23T11:40:00.000+01:00", "Anonymous", "Anon 10:20 - agreed.", parent="111"),
    entry("333", "2015-04-23T10:20:00.000+01:00", "Anonymous",
          "Second top-level.&lt;br /&gt;&lt;br /&gt;New paragraph."),
    entry("222", "2015-04-23T09:15:00.000+01:00", "Jim Brown", "&amp;quot;As much as CRC's are useless&amp;quot;?",
          parent="111", v2=True),
    entry("111", "2015-04-23T08:02:00.000+01:00", "Probation Officer", "MAPPA should be with the NPS."),
], total=4)


def test_atom_feed_header():
    t = _one(FEED, "atom")
    assert t.layout == "blogger_atom"
    assert t.title == "Guest Blog 35"
    assert t.url == POST_URL
    assert t.declared_comments == 4 and t.parsed_comments == 4
    assert t.problems == []


def test_atom_feed_oldest_first_with_replies_under_parents():
    t = _one(FEED, "atom")
    got = [(u.unit_id, u.parent_id, u.depth, u.author, u.timestamp, u.text) for u in t.units]
    assert got == [
        ("t/post", None, 0, None, None, ""),
        # <published> keeps its offset
        ("t/c1", "t/post", 1, "Probation Officer", "2015-04-23T08:02:00+01:00", "MAPPA should be with the NPS."),
        ("t/c1.r1", "t/c1", 2, "Jim Brown", "2015-04-23T09:15:00+01:00", "\"As much as CRC's are useless\"?"),
        ("t/c1.r2", "t/c1", 2, "Anonymous", "2015-04-23T11:40:00+01:00", "Anon 10:20 - agreed."),
        ("t/c2", "t/post", 1, "Anonymous", "2015-04-23T10:20:00+01:00", "Second top-level.\n\nNew paragraph."),
    ]
    # thr:in-reply-to names the post, not a parent comment
    assert all(u.confidence == "high" for u in t.units)
    # line numbers point at the <entry> in the feed
    lines = FEED.split("\n")
    for u in t.units[1:]:
        assert lines[u.line - 1] == "<entry>"
    assert t.units[1].mentions == [] and t.units[3].mentions == ["Anon 10:20"]


def test_atom_reply_whose_parent_is_on_another_page():
    t = _one(feed([entry("9", "2015-04-23T08:02:00.000+01:00", "Anonymous", "Orphan.", parent="777")], total=30),
             "atom")
    codes = sorted(p.code for p in t.problems)
    assert codes == ["W101", "W103"]
    (u,) = [x for x in t.units if x.kind != "post"]
    assert (u.unit_id, u.parent_id, u.confidence) == ("t/c1", "t/post", "low")
    assert "777" in u.confidence_note


@pytest.mark.parametrize("cut_at", [-30, 400, 1500])
def test_atom_truncated_xml_is_e006_naming_the_last_line(cut_at):
    text = FEED[:cut_at]
    with pytest.raises(PipelineError) as exc:
        parse_string(text, kind="atom")
    p = exc.value.problem
    assert p.code == "E006" and p.severity == "error"
    assert p.line == text.count("\n") + 1 or p.line == text.rstrip("\n").count("\n") + 1


def test_atom_bad_tag_reports_its_line():
    text = FEED.replace("<title type='text'>333</title>", "<title type='text'>333</titel>")
    with pytest.raises(PipelineError) as exc:
        parse_string(text, kind="atom")
    bad_line = text.split("\n").index("<title type='text'>333</titel>") + 1
    assert exc.value.problem.code == "E006" and exc.value.problem.line == bad_line


def test_atom_root_that_is_not_a_feed():
    with pytest.raises(PipelineError) as exc:
        parse_string("<?xml version='1.0'?><rss><channel/></rss>", kind="atom")
    assert exc.value.problem.code == "E005"


# ---------------------------------------------------------------- (c) CSV and JSONL

CSV = """thread_id,comment_id,parent_id,kind,author,timestamp,text,title,post_date,url
f1,p,,post,Jim,2015-04-23T07:00,The post text.,Forum thread,2015-04-23,http://forum.example/1
f1,1,,,Ann,2015-04-23T08:02,"First comment, with a comma,
over two lines",,,
f1,2,1,,Bob,2015-04-23T09:00Z,A reply.,,,
,3,,,Bob,,no thread id,,,
f1,2,,,Eve,,duplicate id,,,
f1,4,99,,Eve,,unknown parent,,,
f1,5,p,,Eve,,answers the post,,,
f1,6
f1,7,,,a,b,c,d,e,f,g,h
f2,a,,,Zed,not a date,Other thread.,,,
f1,8,2,,Cy,,A reply to the reply.,,,
"""


@pytest.fixture(scope="module")
def csv_threads():
    return {t.thread_id: t for t in parse_string(CSV, kind="csv", source_file="x.csv")}


def test_csv_threads_and_metadata(csv_threads):
    assert sorted(csv_threads) == ["f1", "f2"]
    f1 = csv_threads["f1"]
    assert (f1.layout, f1.title, f1.post_date, f1.url) == ("csv", "Forum thread", "2015-04-23",
                                                           "http://forum.example/1")
    assert csv_threads["f2"].title is None


def test_csv_structure(csv_threads):
    got = [(u.unit_id, u.parent_id, u.depth, u.author, u.timestamp, u.line, u.confidence, u.text)
           for u in csv_threads["f1"].units]
    assert got == [
        # naive values are wall times in the blog's zone (Europe/London by default); Z and offsets are kept
        ("f1/post", None, 0, "Jim", "2015-04-23T07:00:00+01:00", 2, "high", "The post text."),
        ("f1/c1", "f1/post", 1, "Ann", "2015-04-23T08:02:00+01:00", 3, "high",
         "First comment, with a comma,\nover two lines"),
        ("f1/c1.r1", "f1/c1", 2, "Bob", "2015-04-23T09:00:00Z", 5, "high", "A reply."),
        ("f1/c1.r1.r1", "f1/c1.r1", 3, "Cy", None, 13, "high", "A reply to the reply."),
        ("f1/c2", "f1/post", 1, "Eve", None, 8, "low", "unknown parent"),
        ("f1/c3", "f1/post", 1, "Eve", None, 9, "high", "answers the post"),
    ]
    assert [(u.unit_id, u.timestamp, u.line) for u in csv_threads["f2"].units] == [
        ("f2/post", None, None), ("f2/c1", None, 12)]


def test_csv_bad_rows_reported_with_lines_others_kept(csv_threads):
    problems = sorted((p.code, p.line, p.message) for t in csv_threads.values() for p in t.problems)
    assert [(c, n) for c, n, _ in problems] == [("E007", 6), ("E007", 7), ("E007", 10), ("E007", 11), ("W103", 8),
                                                ("W108", None)]
    assert "'not a date (line 12)'" in problems[-1][2]  # an unreadable timestamp is counted, never null in silence
    msgs = {n: m for _, n, m in problems}
    assert "thread_id" in msgs[6]
    assert "repeats" in msgs[7] and "'2'" in msgs[7]
    assert "text" in msgs[10]
    assert "more fields" in msgs[11]
    assert "'99'" in msgs[8]
    assert all(p.file == "x.csv" and p.severity == "warning" for t in csv_threads.values() for p in t.problems)


def test_csv_missing_required_column():
    with pytest.raises(PipelineError) as exc:
        parse_string("thread_id,text\nt1,hello\n", kind="csv", source_file="y.csv")
    p = exc.value.problem
    assert (p.code, p.line, p.file) == ("E007", 1, "y.csv")
    assert "comment_id" in p.message


def test_csv_without_usable_rows():
    with pytest.raises(PipelineError) as exc:
        parse_string("thread_id,comment_id,text\n,,\n", kind="csv")
    assert exc.value.problem.code == "E007"


def test_csv_deep_reply_chain_is_kept_whole():
    n = 120
    rows = ["thread_id,comment_id,parent_id,text"] + [f"d,{i},{i - 1 if i else ''},level {i}" for i in range(n)]
    (t,) = parse_string("\n".join(rows), kind="csv")
    assert t.parsed_comments == n and t.problems == []
    last = t.units[-1]
    assert last.unit_id == "d/c1" + ".r1" * (n - 1)
    assert last.depth == n and last.text == f"level {n - 1}"
    assert [u.depth for u in t.units] == list(range(n + 1))


def test_csv_parent_loop_kept_at_top_level():
    rows = "thread_id,comment_id,parent_id,text\nL,a,b,one\nL,b,a,two\nL,c,,three\n"
    (t,) = parse_string(rows, kind="csv")
    assert t.parsed_comments == 3
    assert {u.unit_id: u.confidence for u in t.units if u.kind != "post"} == {
        "L/c1": "low", "L/c2": "low", "L/c3": "high"}
    assert sorted(p.code for p in t.problems) == ["W103", "W103"]


JSONL = "\n".join([
    json.dumps({"thread_id": "j1", "comment_id": "p", "kind": "post", "text": "Post.", "title": "J thread"}),
    json.dumps({"thread_id": "j1", "comment_id": "1", "text": "Top.", "author": "Ann",
                "timestamp": "2015-04-23T08:02:00+01:00"}),
    '{"thread_id": "j1", "comment_id": "2", "text": "broken',
    "",
    json.dumps(["not", "an", "object"]),
    json.dumps({"thread_id": "j1", "comment_id": "3", "parent_id": "1", "text": "Reply to Ann."}),
    json.dumps({"thread_id": "j1", "comment_id": "3", "text": "Duplicate."}),
    json.dumps({"thread_id": "j1", "comment_id": "4"}),
    json.dumps({"thread_id": "j1", "comment_id": "5", "parent_id": "nope", "text": "Lost parent."}),
    json.dumps({"thread_id": 7, "comment_id": 1, "text": "Numbers as ids."}),
    "[" * 5000,
    json.dumps({"thread_id": "j1", "comment_id": "6", "parent_id": "3", "text": "Deeper."}),
])


def test_jsonl():
    threads = {t.thread_id: t for t in parse_string(JSONL, kind="jsonl", source_file="z.jsonl")}
    assert sorted(threads) == ["7", "j1"]
    j1 = threads["j1"]
    assert j1.layout == "jsonl" and j1.title == "J thread"
    assert [(u.unit_id, u.parent_id, u.author, u.timestamp, u.line, u.text) for u in j1.units] == [
        ("j1/post", None, None, None, 1, "Post."),
        ("j1/c1", "j1/post", "Ann", "2015-04-23T08:02:00+01:00", 2, "Top."),
        ("j1/c1.r1", "j1/c1", None, None, 6, "Reply to Ann."),
        ("j1/c1.r1.r1", "j1/c1.r1", None, None, 12, "Deeper."),
        ("j1/c2", "j1/post", None, None, 9, "Lost parent."),
    ]
    assert [u.unit_id for u in threads["7"].units] == ["7/post", "7/c1"]
    problems = sorted((p.line, p.code) for t in threads.values() for p in t.problems)
    assert problems == [(3, "E007"), (5, "E007"), (7, "E007"), (8, "E007"), (9, "W103"), (11, "E007")]


def test_jsonl_without_usable_lines():
    with pytest.raises(PipelineError) as exc:
        parse_string("{oops\n", kind="jsonl")
    assert exc.value.problem.code == "E007" and exc.value.problem.line == 1


# ---------------------------------------------------------------- (d) bad files through parse_paths

GOOD_TEXT = "Thursday 23 April 2015\n\nGuest Blog 35\n\nThe post.\n\n1 comment:\n\n  1. A comment.\n\n    ReplyDelete\n"


def test_bad_files_are_skipped_and_the_others_parsed(tmp_path):
    (tmp_path / "01_empty.txt").write_bytes(b"")
    (tmp_path / "02_blank.txt").write_text("  \n\n\t \n")
    (tmp_path / "03_binary.txt").write_bytes(b"line one\nline two\n\x00\x01\x02PK")
    (tmp_path / "04_cp1252.txt").write_bytes(
        b"Thursday 23 April 2015\n\nGuest Blog 35\n\nI don\x92t blame the PO \x96 or the SPO.\n\n1 comment:\n\n"
        b"  1. Caf\xe9 talk.\n\n    ReplyDelete\n")
    (tmp_path / "05_bom.txt").write_bytes("\ufeff".encode() + GOOD_TEXT.encode())
    (tmp_path / "06_notes.txt").write_text("Just some notes\nwith no comments at all.\n")
    (tmp_path / "07_good.txt").write_text(GOOD_TEXT)
    (tmp_path / "08_feed.xml").write_text(FEED[:-40])  # truncated XML: skipped
    (tmp_path / "09_page.html").write_text(THREADED)
    (tmp_path / "10_rows.csv").write_text(CSV)
    (tmp_path / ".hidden.txt").write_text(GOOD_TEXT)  # hidden files are ignored
    missing = tmp_path / "nope" / "missing.txt"

    seen = []
    result = parse_paths([tmp_path, missing], on_file=seen.append)
    assert result.files_seen == 11
    assert seen[-1] == missing

    by_file = {}
    for p in result.problems:
        by_file.setdefault(p.file.rsplit("/", 1)[-1], []).append(p)

    def only(name):
        (p,) = by_file[name]
        return p

    assert (only("01_empty.txt").code, only("01_empty.txt").severity) == ("E001", "error")
    assert (only("02_blank.txt").code, only("02_blank.txt").severity) == ("E001", "error")
    b = only("03_binary.txt")
    assert (b.code, b.severity, b.line) == ("E002", "error", 3)
    c = only("04_cp1252.txt")
    assert (c.code, c.severity, c.line) == ("E003", "warning", 5)
    assert "Windows-1252" in c.message
    n = only("06_notes.txt")
    assert (n.code, n.severity, n.line) == ("E005", "warning", 1)
    x = only("08_feed.xml")
    assert (x.code, x.severity) == ("E006", "error") and isinstance(x.line, int)
    m = only("missing.txt")
    assert (m.code, m.severity) == ("E008", "error")
    assert "05_bom.txt" not in by_file and "07_good.txt" not in by_file and "09_page.html" not in by_file

    threads = {t.thread_id: t for t in result.threads}
    assert sorted(threads) == ["04_cp1252", "05_bom", "06_notes", "07_good", "09_page", "f1", "f2"]
    assert len(result.skipped) == 5

    cp = threads["04_cp1252"]
    assert cp.units[0].text == "I don\u2019t blame the PO \u2013 or the SPO."
    assert cp.units[1].text == "Caf\u00e9 talk."
    assert cp.title == "Guest Blog 35" and cp.post_date == "2015-04-23"

    bom = threads["05_bom"]  # the BOM is not part of the date line
    assert (bom.layout, bom.post_date, bom.title, bom.declared_comments, bom.parsed_comments) == (
        "blogger_numbered", "2015-04-23", "Guest Blog 35", 1, 1)
    assert [u.text for u in bom.units] == ["The post.", "A comment."]

    notes = threads["06_notes"]
    assert notes.layout == "post_only"
    assert [(u.unit_id, u.kind, u.text) for u in notes.units] == [
        ("06_notes/post", "post", "Just some notes\nwith no comments at all.")]

    assert threads["09_page"].layout == "blogger_html" and threads["09_page"].parsed_comments == 4


def test_crlf_and_cr_newlines_are_normalised(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes(GOOD_TEXT.replace("\n", "\r\n").encode())
    (t,), problems = parse_file(path)
    assert problems == [] and [u.text for u in t.units] == ["The post.", "A comment."]
    path.write_bytes(GOOD_TEXT.replace("\n", "\r").encode())
    (t,), problems = parse_file(path)
    assert t.layout == "blogger_numbered" and [u.text for u in t.units] == ["The post.", "A comment."]


def test_file_over_the_size_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text(GOOD_TEXT * 10)
    result = parse_paths([path], max_bytes=100)
    assert [(p.code, p.severity) for p in result.problems] == [("E004", "error")]
    assert result.threads == []


def test_duplicate_thread_ids_are_renamed(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "000_9e97da0ccfa3b6ef.txt").write_text(GOOD_TEXT)
    (tmp_path / "b" / "000_0123456789abcdef.txt").write_text(GOOD_TEXT)
    result = parse_paths([tmp_path])
    assert [t.thread_id for t in result.threads] == ["000", "000_0123456789abcdef"]
    assert [p.code for p in result.problems] == ["W104"]
    renamed = result.threads[1]
    assert [u.unit_id for u in renamed.units] == ["000_0123456789abcdef/post", "000_0123456789abcdef/c1"]
    assert renamed.units[1].parent_id == "000_0123456789abcdef/post"
