"""Stable pseudonyms ('Commenter 3') for commenter names in names, texts, evidence and tables."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from .data import read_column
from .evidence import parse_evidence


ANONYMOUS = {"", "anonymous", "anon", "unknown", "annon"}


def is_name_mention(mention: str) -> bool:
    """A mention by name ('Jim'), not by time ('Anon 10:20', '18:33')."""
    return bool(mention) and not any(ch.isdigit() for ch in mention) and any(ch.isalpha() for ch in mention)


def collect_names(authors: Iterable, mentions: Iterable | None = None) -> list[str]:
    """Commenter names in order of first appearance: authors, then names mentioned in text."""
    seen: dict[str, None] = {}
    for a in authors:
        if isinstance(a, str) and a.strip() and a.strip().lower() not in ANONYMOUS:
            seen.setdefault(a.strip(), None)
    for ms in (() if mentions is None else mentions):
        if ms is None or isinstance(ms, float):
            continue
        for m in ms:
            if isinstance(m, str) and is_name_mention(m) and m.strip().lower() not in ANONYMOUS:
                seen.setdefault(m.strip(), None)
    return list(seen)


def trie_regex(words: Iterable[str]) -> str:
    """One regular expression matching any of ``words``, built as a trie so that matching
    costs the length of the text, not the number of words (a corpus may name thousands of
    commenters); at each position the longest word wins."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = True

    def build(node: dict) -> str:
        end = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch != ""]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if end else body

    return "(?:" + build(trie) + ")"


class Pseudonymiser:
    """Replaces commenter names by stable pseudonyms ('Commenter 3') in names and texts.

    Matching is case-sensitive on whole words (as the parser finds mentions).  Offsets
    into a text can be carried through the replacement (:meth:`text_and_offsets`).
    """

    def __init__(self, names: Sequence[str], prefix: str = "Commenter") -> None:
        self.mapping = {name: f"{prefix} {i}" for i, name in enumerate(names, 1)}
        self.pattern = re.compile(r"(?<!\w)" + trie_regex(self.mapping) + r"(?!\w)") if self.mapping else None

    def __bool__(self) -> bool:
        return self.pattern is not None

    def name(self, value):
        if not isinstance(value, str):
            return value
        return self.mapping.get(value.strip(), value)

    def text(self, value):
        if not isinstance(value, str) or self.pattern is None:
            return value
        return self.pattern.sub(lambda m: self.mapping[m.group(0)], value)

    def text_and_offsets(self, value: str) -> tuple[str, Callable[[int], int]]:
        """The pseudonymised text and a function taking an old offset to the new one."""
        if not value or self.pattern is None:
            return value, lambda i: i
        pieces, edits, last, shift = [], [], 0, 0
        for m in self.pattern.finditer(value):
            rep = self.mapping[m.group(0)]
            pieces.append(value[last:m.start()])
            pieces.append(rep)
            edits.append((m.start(), m.end(), m.start() + shift, len(rep)))
            shift += len(rep) - (m.end() - m.start())
            last = m.end()
        pieces.append(value[last:])
        starts = np.array([e[0] for e in edits], dtype=np.int64)

        def remap(i: int) -> int:
            k = int(np.searchsorted(starts, i, side="right")) - 1
            if k < 0:
                return i
            s, e, new_s, rep_len = edits[k]
            if i >= e:
                return new_s + rep_len + (i - e)
            return new_s if i == s else new_s + rep_len  # inside a name: snap to its ends
        return "".join(pieces), remap

    def series(self, s: pd.Series) -> pd.Series:
        if self.pattern is None or not len(s):
            return s
        return s.map(self.text)

    def list_series(self, s: pd.Series) -> pd.Series:
        return s.map(lambda v: [self.text(x) for x in v] if isinstance(v, (list, tuple, np.ndarray)) else v)

    def evidence(self, evidence: str | None, own_text: str | None) -> str | None:
        """Evidence JSON with names replaced and offsets moved to the pseudonymised own_text."""
        data = parse_evidence(evidence)
        if not data or self.pattern is None:
            return evidence
        _, remap = self.text_and_offsets(own_text or "")
        out = {}
        for code, items in data.items():
            new_items = []
            for it in items if isinstance(items, list) else []:
                it = dict(it)
                it["sentence"] = self.text(it.get("sentence"))
                if isinstance(it.get("start"), int) and isinstance(it.get("end"), int):
                    it["start"], it["end"] = remap(it["start"]), remap(it["end"])
                it["cues"] = [self.text(c) for c in it.get("cues") or []]
                new_items.append(it)
            out[code] = new_items
        return json.dumps(out, ensure_ascii=False)

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``df`` with names replaced in every name and text column present."""
        if self.pattern is None:
            return df
        out = df.copy()
        if "evidence" in out and "own_text" in out:
            out["evidence"] = [self.evidence(e, o) for e, o in zip(out["evidence"], out["own_text"])]
        for col in ("author",):
            if col in out:
                out[col] = out[col].map(self.name)
        for col in ("text", "own_text", "snippet", "left", "keyword", "right"):
            if col in out:
                out[col] = self.series(out[col])
        for col in ("quoted_text", "mentions"):
            if col in out:
                out[col] = self.list_series(out[col])
        return out


def run_pseudonymiser(run: Path | str) -> Pseudonymiser:
    """Pseudonyms for every author and name mentioned in a run, numbered by first appearance
    (the app's toggle and ``export --pseudonymise`` use the same numbering)."""
    authors = read_column(run, "units", "author")
    mentions = read_column(run, "units", "mentions")
    return Pseudonymiser(collect_names(authors.to_numpy(), mentions.to_numpy()))
