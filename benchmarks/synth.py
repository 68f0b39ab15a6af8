"""Deterministic synthetic corpus generator, resampled from the seed threads.

The five seed threads in ``corpora/probation_blog/raw/`` are parsed with
:mod:`pipeline.parse`; their posts, comments and replies become pools of texts,
and their shapes give the distributions used for new threads: top-level comments
per thread, replies per comment, the share of comments showing an author line,
the separators between post contributions, and the mix of text layouts.

Each synthetic thread is planned (post segments, comments, replies) and then
RENDERED back into one of the seed text layouts, in the seeds' proportions:

* ``blogger_numbered``: date, title, post, ``N comments:``, comments ``  1.`` with
  ``ReplyDelete`` / ``Replies`` / ``Delete`` link text (seeds 000, 002, 003);
* ``blogger_numbered_plain``: the same numbering without link text or count (seed 001);
* ``blogger_flat``: no header or numbering, no blank lines, link text glued to the
  next comment's first line (seed 004).

A text is either a seed unit's text verbatim or (with probability ``remix``) the same
line structure refilled with random lines of the same kind, so lengths stay close to
the seeds' while the corpus is not just copies.  Texts with a line the parser would
read as markup (``1.``, ``Replies``, ``12 comments:``, ``******``, ``Delete...``, a
date or author line) are left out of the pools, so every generated file parses back
to exactly the planned threads and units; the only expected warning is the flat
layout's W102.

Determinism: thread ``i`` depends only on ``(seed, i)`` and the seed files, so the
same seed gives byte-identical files, and a larger corpus starts with the files of
a smaller one.  Sizes: ``--mb`` counts 10**6 bytes of text files.

Usage::

    python benchmarks/synth.py --out DIR --threads N [--units M] [--mb X] [--seed S]
                               [--tabular FILE.csv|FILE.jsonl] [--no-text] [--remix P]

Generation stops at the first limit reached (``--threads``, ``--units`` or ``--mb``).
A manifest ``DIR/.synth.json`` (hidden, so ``pipeline parse DIR`` skips it) records the
parameters and the expected units of every thread.

Library use::

    synth_units_frame(n_units, seed)      # units DataFrame with the columns of UNITS_SCHEMA
    write_synth_run(run_dir, n_units, seed)  # threads.parquet + units.parquet, no parsing
    generate(out, threads=..., mb=..., seed=...)  # the text corpus, returns the manifest
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import re
import sys
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from pipeline.parse import ParsedThread, Unit, parse_paths, to_frames  # noqa: E402
from pipeline.parse.model import finish  # noqa: E402
from pipeline.parse.dates import wall_time  # noqa: E402
from pipeline.parse.text import (  # noqa: E402
    AUTHOR_RE, COUNT_RE, DATE_LINE_RE, FLAT_TOKEN_RE, LINK_LINE_RE, SEPARATOR_RE,
)

GENERATOR_VERSION = 1
SEED_DIR = REPO_ROOT / "corpora" / "probation_blog" / "raw"
MANIFEST = ".synth.json"
LAYOUTS = ("blogger_numbered", "blogger_numbered_plain", "blogger_flat")
FILE_RE = re.compile(r"^\d{6}_[0-9a-f]{16}\.txt$")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DATE_RANGE = (date(2014, 6, 1), date(2020, 6, 30))  # the seeds span 2014-2019
DEFAULT_REMIX = 0.5

# A line the text parser would take as markup once rendered (indented or not).
_NUMBER_LINE_RE = re.compile(r"^\d{1,5}\.(?:[ \t]|$)")
_FLAT_GLUE_RE = re.compile(r"^(?:(?:d|s|r|rs)\b|ion)")  # would stop 'Delete' + line being read as a token


def _is_safe_line(line: str) -> bool:
    s = line.strip()
    if not s:
        return True
    return not (_NUMBER_LINE_RE.match(s) or LINK_LINE_RE.match(s) or COUNT_RE.match(s) or SEPARATOR_RE.match(s)
                or FLAT_TOKEN_RE.match(s) or DATE_LINE_RE.match(s) or AUTHOR_RE.match(s) or _FLAT_GLUE_RE.match(s))


def _is_safe_text(text: str) -> bool:
    return bool(text.strip()) and all(_is_safe_line(line) for line in text.split("\n"))


# --- Pools from the seeds -------------------------------------------------------------------

@dataclass(frozen=True)
class Pools:
    posts: tuple[tuple[str, ...], ...]  # per seed thread: post text, then contribution texts
    comments: tuple[str, ...]
    replies: tuple[str, ...]
    post_lines: tuple[str, ...]
    comment_lines: tuple[str, ...]
    reply_lines: tuple[str, ...]
    titles: tuple[str, ...]
    separators: tuple[str, ...]
    authors: tuple[str, ...]
    author_rate: float  # share of comments and replies showing an author line
    tops_per_thread: tuple[int, ...]
    replies_per_comment: tuple[int, ...]
    layouts: tuple[str, ...]  # one per seed thread, in file order
    digest: str  # sha256 of the seed files and of everything above (the parser's reading of them), for caches


def _lines(texts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(line for t in texts for line in t.split("\n") if line.strip())


@lru_cache(maxsize=4)
def load_pools(seed_dir: str = str(SEED_DIR)) -> Pools:
    """Parse the seed threads and collect texts and shape distributions."""
    files = sorted(p for p in Path(seed_dir).iterdir() if p.is_file() and p.suffix == ".txt")
    if not files:
        raise FileNotFoundError(f"no seed threads (*.txt) in {seed_dir}")
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    result = parse_paths(files)
    posts, comments, replies, titles, seps, authors = [], [], [], [], [], []
    tops, reply_counts = [], []
    n_shown = n_authored = 0
    for t in result.threads:
        segs = tuple(u.text for u in t.units if u.kind in ("post", "contribution") and _is_safe_text(u.text))
        if segs:
            posts.append(segs)
        if t.title:
            titles.append(t.title)
        seps += [c.strip() for c in t.consumed if SEPARATOR_RE.match(c)]
        top_units = [u for u in t.units if u.kind == "comment"]
        tops.append(len(top_units))
        by_parent: dict[str, int] = {}
        for u in t.units:
            if u.kind == "reply":
                by_parent[u.parent_id] = by_parent.get(u.parent_id, 0) + 1
        reply_counts += [by_parent.get(u.unit_id, 0) for u in top_units]
        for u in t.units:
            if u.kind not in ("comment", "reply"):
                continue
            if t.layout.startswith("blogger_numbered"):  # only these layouts show author lines
                n_shown += 1
                if u.author:
                    n_authored += 1
                    authors.append(u.author)
            # Low-confidence flat units may hold several comments glued together: not a comment's length.
            if u.confidence == "high" and _is_safe_text(u.text):
                (comments if u.kind == "comment" else replies).append(u.text)
    layouts = tuple(t.layout for t in result.threads)
    if not posts or not comments or not replies:
        raise ValueError(f"the seeds in {seed_dir} give no usable posts, comments or replies")
    pools = Pools(
        posts=tuple(posts), comments=tuple(comments), replies=tuple(replies),
        post_lines=_lines(tuple(s for p in posts for s in p)), comment_lines=_lines(tuple(comments)),
        reply_lines=_lines(tuple(replies)), titles=tuple(titles) or ("Untitled",),
        separators=tuple(sorted(set(seps))) or ("******",), authors=tuple(authors) or ("Anonymous",),
        author_rate=n_authored / n_shown if n_shown else 0.0, tops_per_thread=tuple(tops),
        replies_per_comment=tuple(reply_counts) or (0,),
        layouts=tuple(lay for lay in layouts if lay in LAYOUTS) or LAYOUTS, digest="")
    # A parser change that reads the seeds differently changes the corpus: the digest says so.
    digest.update(repr(pools).encode("utf-8"))
    return replace(pools, digest=digest.hexdigest())


# --- Planning one thread -------------------------------------------------------------------

@dataclass
class SynthUnit:
    text: str
    author: str | None = None
    timestamp: tuple[date, int, int] | None = None  # (day, hour, minute)
    replies: list["SynthUnit"] = field(default_factory=list)

    def iso_timestamp(self) -> str | None:
        if self.timestamp is None:
            return None
        d, hh, mm = self.timestamp  # a wall time in the blog's zone, as the parser writes it (README)
        return wall_time(d, hh, mm)


@dataclass
class SynthThread:
    index: int
    thread_id: str
    layout: str
    post_date: date
    title: str
    separator: str
    segments: list[str]  # post, then contributions
    comments: list[SynthUnit]
    date_style: int = 0  # 0: 'Thursday 23 April 2015', 1: 'Tuesday, 12 August 2014' (both in the seeds)

    @property
    def n_replies(self) -> int:
        return sum(len(c.replies) for c in self.comments)

    @property
    def n_units(self) -> int:
        return len(self.segments) + len(self.comments) + self.n_replies

    def counts(self) -> dict:
        return {"units": self.n_units, "contributions": len(self.segments) - 1, "comments": len(self.comments),
                "replies": self.n_replies}


def _remix(text: str, line_pool: tuple[str, ...], rng: random.Random) -> str:
    """The same line structure (paragraphs, line breaks), each line drawn from ``line_pool``."""
    return "\n".join(rng.choice(line_pool) if line.strip() else "" for line in text.split("\n"))


def _text(pool: tuple[str, ...], line_pool: tuple[str, ...], rng: random.Random, remix: float) -> str:
    text = rng.choice(pool)
    return _remix(text, line_pool, rng) if rng.random() < remix else text


def layout_for(index: int, seed: int, pools: Pools) -> str:
    """Stratified: every block of len(seed layouts) threads has the seeds' layouts, shuffled."""
    k = len(pools.layouts)
    block = random.Random(f"synth:{seed}:layouts:{index // k}").sample(pools.layouts, k)
    return block[index % k]


def plan_thread(index: int, seed: int = 0, *, pools: Pools | None = None, remix: float = DEFAULT_REMIX,
                layout: str | None = None) -> SynthThread:
    pools = pools or load_pools()
    rng = random.Random(f"synth:{seed}:thread:{index}")
    layout = layout or layout_for(index, seed, pools)
    span = (DATE_RANGE[1] - DATE_RANGE[0]).days
    post_date = DATE_RANGE[0] + timedelta(days=rng.randrange(span + 1))
    title = rng.choice(pools.titles)
    separator = rng.choice(pools.separators)
    segments = [_text((seg,), pools.post_lines, rng, remix) for seg in rng.choice(pools.posts)]
    n_top = max(1, round(rng.choice(pools.tops_per_thread) * rng.uniform(0.5, 1.5)))
    show_authors = layout != "blogger_flat"

    def unit(pool: tuple[str, ...], lines: tuple[str, ...]) -> SynthUnit:
        u = SynthUnit(_text(pool, lines, rng, remix))
        if show_authors and rng.random() < pools.author_rate:
            u.author = rng.choice(pools.authors)
            u.timestamp = (post_date + timedelta(days=rng.randrange(3)), rng.randrange(24), rng.randrange(60))
        return u

    comments = []
    for _ in range(n_top):
        c = unit(pools.comments, pools.comment_lines)
        c.replies = [unit(pools.replies, pools.reply_lines) for _ in range(rng.choice(pools.replies_per_comment))]
        comments.append(c)
    return SynthThread(index, f"{index:06d}", layout, post_date, title, separator, segments, comments,
                       date_style=rng.randrange(2))


def trim_thread(thread: SynthThread, n_units: int) -> SynthThread:
    """Keep the first ``n_units`` units in reading order (post first; at least the post)."""
    keep = max(1, n_units)
    thread.segments = thread.segments[:keep]
    keep -= len(thread.segments)
    comments = []
    for c in thread.comments:
        if keep <= 0:
            break
        keep -= 1
        c.replies = c.replies[:keep]
        keep -= len(c.replies)
        comments.append(c)
    thread.comments = comments
    return thread


# --- Rendering into the seed layouts -------------------------------------------------------

def _date_line(d: date, style: int) -> str:
    sep = "," if style else ""
    return f"{DAY_NAMES[d.weekday()]}{sep} {d.day} {MONTH_NAMES[d.month - 1]} {d.year}"


def _author_line(u: SynthUnit) -> str:
    d, hh, mm = u.timestamp
    return f"{u.author}{d.day} {MONTH_NAMES[d.month - 1]} {d.year} at {hh:02d}:{mm:02d}"


def _numbered_unit(out: list[str], number: int, u: SynthUnit, marker_indent: int, body_indent: int) -> None:
    lines = u.text.split("\n")
    pad = " " * body_indent
    if u.author and u.timestamp:
        out.append(f"{' ' * marker_indent}{number}. {_author_line(u)}")
        out.append("")
        rest = lines
    else:
        out.append(f"{' ' * marker_indent}{number}. {lines[0]}")
        rest = lines[1:]
    out.extend(pad + line if line else "" for line in rest)
    out.append("")


def render_text(thread: SynthThread) -> str:
    """The thread as a plain-text Blogger copy in ``thread.layout``."""
    if thread.layout == "blogger_flat":
        return _render_flat(thread)
    return "\n".join(_render_numbered(thread, plain=thread.layout == "blogger_numbered_plain")[0])


def _render_flat(thread: SynthThread) -> str:
    """No header, numbering or blank lines; each unit's link text glued to the next unit's first line."""
    out: list[str] = []
    for k, seg in enumerate(thread.segments):
        if k:
            out.append(thread.separator)
        out.extend(line for line in seg.split("\n") if line.strip())
    glue = ""
    for c in thread.comments:
        for u, token in [(c, "ReplyDelete")] + [(r, "Delete") for r in c.replies]:
            lines = [line for line in u.text.split("\n") if line.strip()]
            lines[0] = glue + lines[0]
            out.extend(lines)
            glue = token
    out.append(glue)
    return "\n".join(out)


def _render_numbered(thread: SynthThread, *, plain: bool) -> tuple[list[str], list[int]]:
    """Lines of the numbered layouts, and the 1-based line where each unit starts (reading order)."""
    out = [_date_line(thread.post_date, thread.date_style), "", thread.title, ""]
    starts: list[int] = []
    for k, seg in enumerate(thread.segments):
        if k:
            out += ["", thread.separator]
        starts.append(len(out) + 1)
        out += seg.split("\n")
    out.append("")
    if plain:
        out.append("")
    else:
        n = len(thread.comments) + thread.n_replies
        out += [f"{n} comment{'s' if n != 1 else ''}:", ""]
    for i, c in enumerate(thread.comments, 1):
        starts.append(len(out) + 1)
        _numbered_unit(out, i, c, 2, 4)
        if not plain:
            out.append("    ReplyDelete")
            if c.replies:
                out.append("    Replies")
        for j, r in enumerate(c.replies, 1):
            starts.append(len(out) + 1)
            _numbered_unit(out, j, r, 4, 6)
            if not plain:
                out.append("      Delete")
    while out and not out[-1]:
        out.pop()
    return out, starts


def tabular_rows(thread: SynthThread) -> Iterator[dict]:
    """Rows in the CSV/JSONL schema of ``pipeline/parse/tabular.py`` (contributions joined into the post)."""
    common = {"thread_id": thread.thread_id, "title": thread.title, "post_date": thread.post_date.isoformat()}
    yield {**common, "comment_id": "post", "kind": "post", "parent_id": None, "author": None, "timestamp": None,
           "text": "\n\n".join(thread.segments)}
    for i, c in enumerate(thread.comments, 1):
        cid = f"c{i}"
        yield {**common, "comment_id": cid, "kind": None, "parent_id": None, "author": c.author,
               "timestamp": c.iso_timestamp(), "text": c.text}
        for j, r in enumerate(c.replies, 1):
            yield {**common, "comment_id": f"{cid}.r{j}", "kind": None, "parent_id": cid, "author": r.author,
                   "timestamp": r.iso_timestamp(), "text": r.text}


TABULAR_COLUMNS = ("thread_id", "comment_id", "parent_id", "kind", "author", "timestamp", "title", "post_date",
                   "text")


class TabularWriter:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.kind = self.path.suffix.lower().lstrip(".")
        if self.kind not in ("csv", "jsonl"):
            raise ValueError(f"--tabular must end in .csv or .jsonl, not {self.path.name}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "w", encoding="utf-8", newline="")
        if self.kind == "csv":
            self.writer = csv.DictWriter(self.fh, fieldnames=TABULAR_COLUMNS, lineterminator="\n")
            self.writer.writeheader()

    def write(self, thread: SynthThread) -> None:
        for row in tabular_rows(thread):
            if self.kind == "csv":
                self.writer.writerow({k: ("" if row[k] is None else row[k]) for k in TABULAR_COLUMNS})
            else:
                self.fh.write(json.dumps({k: row[k] for k in TABULAR_COLUMNS if row[k] is not None},
                                         ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.fh.close()


# --- Corpus on disk -----------------------------------------------------------------------

def iter_threads(seed: int = 0, *, start: int = 0, remix: float = DEFAULT_REMIX,
                 layout: str | None = None) -> Iterator[SynthThread]:
    pools = load_pools()
    i = start
    while True:
        yield plan_thread(i, seed, pools=pools, remix=remix, layout=layout)
        i += 1


def file_name(thread: SynthThread, data: bytes) -> str:
    return f"{thread.thread_id}_{hashlib.sha1(data).hexdigest()[:16]}.txt"


def generate(out: Path | str | None, *, threads: int | None = None, units: int | None = None,
             mb: float | None = None, seed: int = 0, tabular: Path | str | None = None, text: bool = True,
             remix: float = DEFAULT_REMIX, progress: bool = False) -> dict:
    """Write the corpus; stop at the first limit reached.  Returns the manifest (also in ``out/.synth.json``)."""
    if threads is None and units is None and mb is None:
        raise ValueError("give at least one of threads, units, mb")
    if text and out is None:
        raise ValueError("out is required for text files")
    pools = load_pools()
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for old in out_dir.iterdir():  # only our own files: a re-run never mixes two corpora
            if old.is_file() and (FILE_RE.match(old.name) or old.name == MANIFEST):
                old.unlink()
    writer = TabularWriter(Path(tabular)) if tabular else None
    limit_bytes = mb * 1_000_000 if mb is not None else None
    n_bytes = n_units = 0
    entries = []
    by_layout = {lay: 0 for lay in LAYOUTS}
    try:
        for t in iter_threads(seed, remix=remix):
            if (threads is not None and len(entries) >= threads) or (units is not None and n_units >= units) \
                    or (limit_bytes is not None and n_bytes >= limit_bytes):
                break
            entry = {"thread_id": t.thread_id, "layout": t.layout, **t.counts()}
            if text:
                data = render_text(t).encode("utf-8")
                name = file_name(t, data)
                (out_dir / name).write_bytes(data)
                entry.update(file=name, bytes=len(data))
                n_bytes += len(data)
            if writer:
                writer.write(t)
            n_units += t.n_units
            by_layout[t.layout] += 1
            entries.append(entry)
            if progress and len(entries) % 500 == 0:
                print(f"  {len(entries)} threads, {n_bytes / 1e6:.1f} MB", file=sys.stderr)
    finally:
        if writer:
            writer.close()
    manifest = {"generator_version": GENERATOR_VERSION, "seed_digest": pools.digest,
                "params": {"threads": threads, "units": units, "mb": mb, "seed": seed, "remix": remix,
                           "text": text, "tabular": Path(tabular).name if tabular else None},
                "n_threads": len(entries), "n_units": n_units, "bytes": n_bytes, "by_layout": by_layout,
                "threads": entries}
    if out_dir is not None:
        (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def read_manifest(out: Path | str) -> dict | None:
    path = Path(out) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --- Tables without parsing ---------------------------------------------------------------

def to_parsed(thread: SynthThread) -> ParsedThread:
    """The thread as the parser would give it from the numbered layout, without rendering and parsing.

    ``source_line`` is where the unit starts in that rendering; the thread's layout is ``synthetic``.
    """
    tid = thread.thread_id
    pt = ParsedThread(thread_id=tid, source_file=f"<synthetic {tid}>", layout="synthetic", title=thread.title,
                      post_date=thread.post_date.isoformat())
    lines = iter(_render_numbered(thread, plain=False)[1])
    pt.units.append(Unit(f"{tid}/post", tid, "post", None, 0, 0, thread.segments[0], line=next(lines)))
    for k, seg in enumerate(thread.segments[1:], 1):
        pt.units.append(Unit(f"{tid}/k{k}", tid, "contribution", f"{tid}/post", 1, 0, seg, line=next(lines)))
    for i, c in enumerate(thread.comments, 1):
        cid = f"{tid}/c{i}"
        pt.units.append(Unit(cid, tid, "comment", f"{tid}/post", 1, 0, c.text, author=c.author,
                             timestamp=c.iso_timestamp(), line=next(lines)))
        for j, r in enumerate(c.replies, 1):
            pt.units.append(Unit(f"{cid}.r{j}", tid, "reply", cid, 2, 0, r.text, author=r.author,
                                 timestamp=r.iso_timestamp(), line=next(lines)))
    return finish(pt)


def synth_threads(n_units: int, seed: int = 0, *, remix: float = DEFAULT_REMIX) -> list[ParsedThread]:
    """Parsed-thread records holding exactly ``n_units`` units (the last thread trimmed)."""
    out, total = [], 0
    if n_units <= 0:
        return out
    for t in iter_threads(seed, remix=remix):
        if total + t.n_units > n_units:
            t = trim_thread(t, n_units - total)
        out.append(to_parsed(t))
        total += t.n_units
        if total >= n_units:
            break
    return out


def synth_frames(n_units: int, seed: int = 0, *, remix: float = DEFAULT_REMIX):
    """``(threads_df, units_df)`` exactly as :func:`pipeline.parse.to_frames` builds them."""
    return to_frames(synth_threads(n_units, seed, remix=remix))


def synth_units_frame(n_units: int, seed: int = 0, *, remix: float = DEFAULT_REMIX):
    """A units DataFrame of ``n_units`` rows with the columns (and types) of ``UNITS_SCHEMA``.

    Derived fields (urls, quotes, mentions, word counts) are computed by the parser's own
    ``finish``; ``source_line`` is null since there is no source file.
    """
    return synth_frames(n_units, seed, remix=remix)[1]


def write_synth_run(run_dir: Path | str, n_units: int, seed: int = 0, *, remix: float = DEFAULT_REMIX) -> Path:
    """A run directory with ``threads.parquet`` and ``units.parquet`` (what ``parse`` writes), no parsing."""
    from pipeline import store

    run_dir = Path(run_dir)
    threads_df, units_df = synth_frames(n_units, seed, remix=remix)
    run_dir.mkdir(parents=True, exist_ok=True)
    store.write_parquet(threads_df, run_dir / "threads.parquet")
    store.write_parquet(units_df, run_dir / "units.parquet")
    return run_dir


# --- CLI ----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Generation stops at the first limit reached.")
    ap.add_argument("--out", type=Path, help="folder for the thread files (required unless --no-text)")
    ap.add_argument("--threads", type=int, help="number of thread files")
    ap.add_argument("--units", type=int, help="stop once this many units (post, contributions, comments, replies)")
    ap.add_argument("--mb", type=float, help="stop once the text files reach this many MB (10**6 bytes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--remix", type=float, default=DEFAULT_REMIX,
                    help="probability that a text is refilled with random seed lines (default %(default)s)")
    ap.add_argument("--tabular", type=Path, help="also write every thread to one .csv or .jsonl file "
                    "(keep it outside --out, or `parse --out` will read both)")
    ap.add_argument("--no-text", action="store_true", help="write only the --tabular file")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.threads is None and args.units is None and args.mb is None:
        ap.error("give at least one of --threads, --units, --mb")
    if not args.no_text and args.out is None:
        ap.error("--out is required (or use --no-text with --tabular)")
    if args.no_text and not args.tabular:
        ap.error("--no-text needs --tabular")
    m = generate(args.out, threads=args.threads, units=args.units, mb=args.mb, seed=args.seed,
                 tabular=args.tabular, text=not args.no_text, remix=args.remix, progress=not args.quiet)
    if not args.quiet:
        where = f" -> {args.out}" if args.out else ""
        tab = f" (+ {args.tabular})" if args.tabular else ""
        size = m["bytes"] if not args.no_text else args.tabular.stat().st_size
        print(f"{m['n_threads']} threads, {m['n_units']} units, {size / 1e6:.2f} MB "
              f"{m['by_layout']}{where}{tab}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
