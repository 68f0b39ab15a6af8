"""The parser's fast paths give exactly what the plain forms they replace give (speed only).

Each fast path (fingerprints, word counts, URLs, quotation word counts, the units table) is
checked against the straightforward expression it stands for, on the seeds, a synthetic corpus
with damaged whitespace and letters beyond ASCII, and random strings.  No timings here: speed is
measured by ``benchmarks/parse_bench.py``.
"""

from __future__ import annotations

import hashlib
import random
import sys
import unicodedata
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.anchor import fingerprint, normalise_text, normalise_time
from pipeline.parse import UNITS_SCHEMA, _units_table, parse_paths, parse_string
from pipeline.parse.model import (MIN_QUOTE_WORDS, QUOTE_CHAR_RE, TIME_MENTION_RE, URL_RE, _RARE_SPACES,
                                  _time_mentions, find_urls, quote_spans, word_count)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import synth  # noqa: E402

SPACES = [chr(c) for c in range(0x3001) if chr(c).isspace()]
TRICKY = ["É", "ß", "ﬁ", "ﬀ", "İ", "Σ", "ς", "\u212a", "ｗ", "①", "…", "£", "’", "“", "”", "\u0301", "e\u0301",
          "ǅ", "\xa0", "\u00a8", "\u3099", "\u1100", "\u1161", "\ud800", "\U0001F600", "ſ", "à", "\x1f", "\x0b"]
ALPHABET = [chr(i) for i in range(128)] + SPACES + TRICKY


def fingerprint_plain(text, author=None, timestamp=None) -> str:
    key = "\x1f".join((normalise_text(text), normalise_text(author), normalise_time(timestamp)))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def urls_plain(text: str) -> tuple[list[str], bool]:
    urls = URL_RE.findall(text)
    return urls, bool(urls) and not URL_RE.sub("", text).strip()


def quote_spans_plain(text: str) -> list[tuple[int, int]]:
    """quote_spans as first written: every test spelled out, slices copied."""
    spans: list[tuple[int, int]] = []
    line_start, line_end, opened = 0, -1, None
    for m in QUOTE_CHAR_RE.finditer(text):
        pos = m.start()
        if pos > line_end:
            line_start = text.rfind("\n", 0, pos) + 1
            line_end = text.find("\n", pos) if "\n" in text[pos:] else len(text)
            opened = None
        ch = m.group()
        if opened is None:
            if ch != "\u201d":
                opened = pos
        elif ch == "\u201c":
            opened = pos
        else:
            inner = text[opened + 1:pos]
            whole_line = not text[line_start:opened].strip() and not text[pos + 1:line_end].strip(" ?!.,:;")
            if len(inner.split()) >= MIN_QUOTE_WORDS or (whole_line and inner.strip()):
                spans.append((opened, pos + 1))
            opened = None
    return spans


def random_texts(n: int, seed: int = 0) -> list[str]:
    r = random.Random(seed)
    words = ["http://x.org/a", "HTTPS://Y.com", "www.z.uk", "WwW.q.net", "\"a b c d e f\"", "“quoted words here ok”",
             "Anon 10:20", "JB", "Jim", "annon @ 18.33", "ANONYMOUS at\n 9:05", "at", "23", ":", ".", "ſ", "\u0660", "\"", "“", "”", "\n", "?", ", ", "one two three"]
    return ["".join(r.choice(ALPHABET + words) for _ in range(r.randint(0, 40))) for _ in range(n)]


def test_unicode_facts_the_fast_paths_rely_on():
    """Checked against this Python's Unicode database (anchor.py and model.py say why each matters)."""
    kept = {"\x85", "\u1680", "\u2028", "\u2029"}  # the only whitespace beyond ASCII that NFKC keeps
    assert {c for c in SPACES if ord(c) > 127} - {"\xa0"} == set(_RARE_SPACES)
    assert not any(chr(c).isspace() for c in range(0x3001, 0x110000))
    for c in map(chr, range(0x110000)):
        if "\ud800" <= c <= "\udfff":
            continue
        nfkc = unicodedata.normalize("NFKC", c)
        assert not any(ch.isspace() and ord(ch) > 127 and ch not in kept for ch in nfkc + nfkc.casefold()), hex(ord(c))
        folded = c.casefold()
        assert folded == c or not folded.startswith(c), hex(ord(c))


def test_fast_paths_on_random_strings():
    for text in random_texts(20000):
        assert fingerprint(text, text[:6], text[:10]) == fingerprint_plain(text, text[:6], text[:10]), text
        assert word_count(text) == len(text.split()), text
        if "\ud800" not in text:
            assert find_urls(text) == urls_plain(text), text
        assert quote_spans(text) == quote_spans_plain(text), text
        assert _time_mentions(text) == [m.group(0).strip() for m in TIME_MENTION_RE.finditer(text)], text
    for value in (None, "", float("nan"), " \t\n", "\xa0", "A\u2028B", "Zoë  ÉMILE\u3000x"):
        assert fingerprint(value, value, None) == fingerprint_plain(value, value, None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=60).map("".join), st.one_of(st.none(), st.text(max_size=12)))
def test_fingerprint_matches_the_plain_form(text, author):
    assert fingerprint(text, author, "2015-04-23T08:02:00+01:00") == fingerprint_plain(text, author, "2015-04-23T08:02")


def _units_table_plain(threads) -> pa.Table:
    rows = []
    for t in threads:
        for u in t.units:
            row = {f.name: getattr(u, "line" if f.name == "source_line" else f.name, None) for f in UNITS_SCHEMA}
            row["fingerprint"] = fingerprint_plain(u.text, u.author, u.timestamp)
            rows.append(row)
    return pa.Table.from_pylist(rows, schema=UNITS_SCHEMA)


def _damaged(text: str, seed: int) -> str:
    """Whitespace of every kind and letters beyond ASCII sprinkled into a thread file."""
    r = random.Random(seed)
    chars = list(text)
    for i, c in enumerate(chars):
        if c == " " and r.random() < 0.03:
            chars[i] = r.choice(["\xa0", "\t", "  ", "\x0b", "\x0c", "\x1f", "\u2003", "\u3000", "\x85", "\u2028"])
        elif c.isalpha() and r.random() < 0.01:
            chars[i] = r.choice([c for c in TRICKY if c != "\ud800"])  # files hold no lone surrogates
    return "".join(chars)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("synth")
    synth.generate(out, threads=40, seed=11, remix=0.8)
    files = sorted(out.glob("*.txt")) + sorted((ROOT / "corpora" / "probation_blog" / "raw").glob("*.txt"))
    for k, p in enumerate(list(files[:10]) + files[-5:]):
        damaged = out / f"damaged_{k}.txt"
        damaged.write_text(_damaged(p.read_text(encoding="utf-8"), k), encoding="utf-8")
        files.append(damaged)
    return files


def test_units_table_is_the_plain_table(corpus):
    threads = parse_paths(corpus).threads
    assert sum(len(t.units) for t in threads) > 1000
    assert _units_table(threads).equals(_units_table_plain(threads))
    for t in threads:
        for u in t.units:
            assert u.word_count == len(u.text.split())
            assert (u.urls, u.link_only) == urls_plain(u.text)


def test_units_table_with_missing_values_and_surrogates():
    threads = parse_string('{"thread_id": "t", "comment_id": "1", "text": "a \\ud800 \\"one two three four five six\\""}\n'
                           '{"thread_id": "t", "comment_id": "2", "text": "www.x.org"}\n', kind="jsonl")
    assert _units_table(threads).equals(_units_table_plain(threads))
