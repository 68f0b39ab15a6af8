"""Stage 2a, preprocess: a blank spaCy pipeline with no downloaded model.

Components, in order (each registered by name):

``sentencizer``          spaCy's rule-based sentence boundaries, also at line breaks
``lower_lemmatizer``     lemmas from spaCy's English lookup table (``spacy-lookups-data``),
                         looked up in lower case so 'Caseloads' -> 'caseload'
``probation_glossary``   an EntityRuler over the probation glossary (``models/glossary.yaml``):
                         PO, CRC, OASys, MAPPA, UPW ... tagged ROLE, ORG, SYSTEM, PROCESS, SENTENCE
``codebook_cues``        the codebook's patterns as spaCy Matcher token patterns over lemmas (v2),
                         v1 cue phrases (PhraseMatcher; acronyms case-sensitive), and vetoes that
                         cancel a code's matches in their sentence (kept with weight 0 and the reason)

The classifier reads only the unit's *own* words (``own_text``: quotations
removed by the parser), so a reply quoting its parent does not inherit its stance.
``features()`` streams units through ``nlp.pipe`` once and keeps only what later
stages reuse (lemmas, sentence offsets, cue matches), not the Docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import numpy
import spacy
import yaml
from spacy.attrs import IDX, IS_PUNCT, IS_SPACE, LEMMA, LENGTH, LIKE_NUM, LOWER, SENT_START
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from .codebook import Codebook

GLOSSARY_PATH = Path(__file__).resolve().parent.parent / "models" / "glossary.yaml"

if not Doc.has_extension("cues"):
    Doc.set_extension("cues", default=None)  # list[(code, text, start, end, pattern id, weight, veto id)]


@lru_cache(maxsize=1)
def _lemma_table():
    from spacy.lookups import load_lookups

    return load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")


@Language.factory("lower_lemmatizer")
def make_lower_lemmatizer(nlp: Language, name: str):
    table = _lemma_table()
    strings = nlp.vocab.strings
    cache: dict[int, int] = {}  # lower-case form id -> lemma id; the table lookup runs once per word type

    def lemma_of(lower_id: int) -> int:
        low = strings[lower_id]
        lemma = cache[lower_id] = strings.add(table.get(low, low))
        return lemma

    def lower_lemmatizer(doc: Doc) -> Doc:
        # Work on arrays, not Token objects: this runs on every token of every unit.
        lowers = doc.to_array([LOWER])
        lemmas = numpy.array([cache.get(int(i)) or lemma_of(int(i)) for i in lowers], dtype="uint64")
        doc.from_array([LEMMA], lemmas.reshape(-1, 1))
        return doc

    return lower_lemmatizer


# spaCy's Sentencizer ends a sentence after . ! ? and the like; adding line-break tokens makes
# every paragraph and line of a comment end a sentence too (comments are often unpunctuated).
LINE_BREAKS = ["\n", "\n\n", "\n\n\n", " \n", "\n "]


@Language.factory("codebook_cues", default_config={"cues": {}, "acronyms": {}, "veto": {}, "patterns": {},
                                                   "veto_patterns": {}, "matching": {}})
def make_codebook_cues(nlp: Language, name: str, cues: dict, acronyms: dict, veto: dict, patterns: dict,
                       veto_patterns: dict, matching: dict):
    return CodebookCues(nlp, cues, acronyms, veto, patterns, veto_patterns, matching)


class CodebookCues:
    """Marks codebook matches on ``doc._.cues`` as ``(code, text, start, end, pattern id, weight, veto id)``.

    v2 patterns (``patterns``: code -> ``[[id, groups, window, weight], ...]``) are compiled into
    spaCy matcher patterns, one match key per pattern group: each alternative becomes a lemma
    sequence in a ``PhraseMatcher`` over LEMMA, ``#NUM`` any token with spaCy's ``LIKE_NUM``.
    (The same alternatives as ``Matcher`` token patterns, ``{"LEMMA": {"IN": [...]}}``, were
    measured 40x slower: the Matcher tries every pattern at every token, the PhraseMatcher looks
    each token up once.)  A ``near`` pattern matches when
    one alternative of every group is found in the same sentence within ``window`` tokens of the
    first group's match.  Veto patterns (and v1 veto phrases) cancel a code's matches in their sentence:
    the match is kept with weight 0 and the veto's id, so the evidence can say why.
    v1 phrases (PhraseMatcher over lemmas) and acronyms (exact) are strong matches of weight 1.

    Pattern options (codebook 2.1, ``pipeline.codebook.Pattern``): ``scope`` "opening" keeps only
    matches within the unit's first ``matching.opening_tokens`` words, "unit" lets the groups meet
    anywhere in the unit (the match is then the last group's, so its segment is the evaluation's);
    ``negation`` "drop"/"require" ignores, or keeps only, last-group matches preceded by one of
    ``matching.negators`` within ``matching.negation_window`` tokens of the same sentence;
    ``at_start`` keeps only first-group matches that open a sentence.
    """

    def __init__(self, nlp: Language, cues: dict[str, list[str]], acronyms: dict[str, list[str]],
                 veto: dict[str, list[str]], patterns: dict | None = None, veto_patterns: dict | None = None,
                 matching: dict | None = None) -> None:
        self.lemma_matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self.orth_matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.veto_matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self.number_keys: list[tuple[int, int]] = []  # pattern groups whose alternatives include "#NUM"
        self.key_of: dict[int, tuple[int, int]] = {}  # match id -> (pattern index, group index)
        self.group_matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")  # lemma sequences of every group
        # Patterns go through the same tokenizer and lemmatizer as the text.
        lemmatize = nlp.get_pipe("lower_lemmatizer")
        self._lemmas = lambda phrase: [t.lemma_ for t in lemmatize(nlp.make_doc(phrase.lower()))]
        for code, phrases in cues.items():
            if phrases:
                self.lemma_matcher.add(code, [lemmatize(nlp.make_doc(p)) for p in phrases])
        for code, words in acronyms.items():
            if words:
                self.orth_matcher.add(code, [nlp.make_doc(w) for w in words])
        for code, phrases in veto.items():
            if phrases:
                self.veto_matcher.add(code, [lemmatize(nlp.make_doc(p)) for p in phrases])
        # (code, pattern id, number of groups, window, weight, is veto), by the index in the match key
        self.specs: list[tuple[str, str, int, int, float, bool]] = []
        self.options: dict[int, dict] = {}  # spec index -> its non-default options (scope, negation, at_start)
        for is_veto, table in ((False, patterns or {}), (True, veto_patterns or {})):
            for code, plist in table.items():
                for pid, groups, window, weight, *opts in plist:
                    k = len(self.specs)
                    self.specs.append((code, pid, len(groups), int(window), float(weight), is_veto))
                    if opts and opts[0]:
                        self.options[k] = dict(opts[0])
                    for g, alternatives in enumerate(groups):
                        words = [a for a in alternatives if a != "#NUM"]
                        if words:
                            self.group_matcher.add(f"{k}|{g}", [lemmatize(nlp.make_doc(w.lower())) for w in words])
                            self.key_of[nlp.vocab.strings[f"{k}|{g}"]] = (k, g)
                        if len(words) < len(alternatives):
                            self.number_keys.append((k, g))
        self.strings = nlp.vocab.strings
        matching = matching or {}
        negators = matching.get("negators") or ["not", "no", "never", "nothing", "nobody", "hardly", "without"]
        self.negators = {lem for w in negators for lem in
                         (self.strings.add(x) for x in self._lemmas(w))}  # lemma ids ('n't' -> 'not')
        self.negation_window = int(matching.get("negation_window", 3))
        self.opening_tokens = int(matching.get("opening_tokens", 15))

    def _filter_hits(self, doc: Doc, hits: dict, specs: set[int], sent_of) -> None:
        """Apply the patterns' options to their group matches in place (see the class docstring)."""
        arr = doc.to_array([LEMMA, IS_PUNCT, IS_SPACE])
        words = numpy.flatnonzero(~(arr[:, 1].astype(bool) | arr[:, 2].astype(bool)))
        opening_end = int(words[self.opening_tokens]) if len(words) > self.opening_tokens else len(doc)
        lemma = arr[:, 0].tolist()
        firsts = None
        for (k, g), found in hits.items():
            if k not in specs:
                continue
            opts = self.options[k]
            keep = found
            if opts.get("scope") == "opening":
                keep = [h for h in keep if h[0] < opening_end]
            if opts.get("at_start") and g == 0:
                if firsts is None:  # the first word token of every sentence
                    sents = [sent_of(int(i)) for i in words]
                    firsts = {int(i) for j, i in enumerate(words) if j == 0 or sents[j] != sents[j - 1]}
                keep = [h for h in keep if h[0] in firsts]
            mode = opts.get("negation")
            if mode and g == self.specs[k][2] - 1:
                nw, neg = self.negation_window, self.negators

                def negated(start: int, sent: int) -> bool:
                    return any(lemma[i] in neg and sent_of(i) == sent for i in range(max(0, start - nw), start))

                keep = [h for h in keep if negated(h[0], h[2]) == (mode == "require")]
            hits[(k, g)] = keep

    def _pattern_matches(self, doc: Doc, sent_of) -> list[tuple[int, int, int]]:
        """``(spec index, start, end)`` of every pattern that holds, one per anchor match."""
        key_of = self.key_of
        raw = [(key_of[m], s, e) for m, s, e in self.group_matcher(doc)]
        if self.number_keys and len(doc):
            numbers = numpy.flatnonzero(doc.to_array([LIKE_NUM]).reshape(-1)).tolist()
            raw += [(kg, i, i + 1) for kg in self.number_keys for i in numbers]
        # Only patterns whose first group matched can hold: common words in later groups ('no',
        # 'we', 'time') are looked at only for those.
        anchored = {kg[0] for kg, _, _ in raw if kg[1] == 0}
        hits: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        for kg, start, end in raw:
            if kg[0] in anchored:
                sent = sent_of(start)
                if sent == sent_of(end - 1):
                    hits.setdefault(kg, []).append((start, end, sent))
        special = anchored.intersection(self.options)
        if special:
            self._filter_hits(doc, hits, special, sent_of)
        found = []
        for (k, g), anchors in hits.items():
            if g != 0:
                continue
            n_groups, window = self.specs[k][2], self.specs[k][3]
            if n_groups > 1 and self.options.get(k, {}).get("scope") == "unit":
                # the groups meet anywhere in the unit: the match is the last group's (the evaluation)
                if anchors and all(hits.get((k, other)) for other in range(1, n_groups)):
                    found += [(k, s, e) for s, e, _ in hits[(k, n_groups - 1)]]
                continue
            for start, end, sent in anchors:
                lo, hi, ok = start, end, True
                for other in range(1, n_groups):
                    near = [(s, e) for s, e, si in hits.get((k, other), ()) if si == sent
                            and (s - end if s >= end else start - e) <= window and not (s < end and e > start)]
                    if not near:
                        ok = False
                        break
                    s, e = min(near, key=lambda m: abs(m[0] - start))
                    lo, hi = min(lo, s), max(hi, e)
                if ok:
                    found.append((k, lo, hi))
        return found

    def __call__(self, doc: Doc) -> Doc:
        # v2 codebooks have no v1 phrases: skip matchers with nothing to find (each is a pass over the doc)
        matches = (self.lemma_matcher(doc) if len(self.lemma_matcher) else []) + \
            (self.orth_matcher(doc) if len(self.orth_matcher) else [])
        # sentence index of every token, computed once (matches ask for it many times)
        marks = numpy.zeros(len(doc), dtype="int64")
        marks[sentence_starts(doc)[1:]] = 1
        sent_of = numpy.cumsum(marks).tolist().__getitem__

        vetoed = {(self.strings[m], sent_of(s)): "veto phrase" for m, s, _ in self.veto_matcher(doc)} \
            if len(self.veto_matcher) else {}
        found = [(self.strings[m], s, e, "cue", 1.0) for m, s, e in matches]
        if len(self.group_matcher) or self.number_keys:
            for k, s, e in self._pattern_matches(doc, sent_of):
                code, pid, _, _, weight, is_veto = self.specs[k]
                if is_veto:
                    vetoed.setdefault((code, sent_of(s)), pid)
                else:
                    found.append((code, s, e, pid, weight))
        out = []
        for code, start, end, pid, weight in sorted(found, key=lambda m: (m[1], m[2], m[0], m[3])):
            veto = vetoed.get((code, sent_of(start)), "")
            out.append((code, doc[start:end].text, start, end, pid, 0.0 if veto else weight, veto))
        doc._.cues = out
        return doc


def load_glossary(path: Path = GLOSSARY_PATH) -> list[dict]:
    if not path.exists():
        return []
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [{"label": label, "pattern": term} for label, terms in (raw.get("terms") or {}).items() for term in terms]


def cue_config(codebook: Codebook) -> dict:
    """The codebook's cues for the ``codebook_cues`` component: themes and stance values alike."""
    cues = {name: list(t.phrases) for name, t in codebook.themes.items()}
    acronyms = {name: list(t.acronyms) for name, t in codebook.themes.items()}
    veto = {name: list(t.veto) for name, t in codebook.themes.items()}
    patterns = {name: [p.as_data() for p in t.patterns] for name, t in codebook.themes.items() if t.patterns}
    veto_patterns = {name: [p.as_data() for p in t.veto_patterns] for name, t in codebook.themes.items()
                     if t.veto_patterns}
    for scheme in codebook.stances.values():
        for value in scheme.values.values():
            cues[value.name] = list(value.cues)
            if value.patterns:
                patterns[value.name] = [p.as_data() for p in value.patterns]
            if value.veto_patterns:
                veto_patterns[value.name] = [p.as_data() for p in value.veto_patterns]
    return {"cues": cues, "acronyms": acronyms, "veto": veto, "patterns": patterns, "veto_patterns": veto_patterns,
            "matching": codebook.matching.as_data()}


def build_nlp(codebook: Codebook, *, glossary: bool = True) -> Language:
    nlp = spacy.blank("en")
    from spacy.pipeline.sentencizer import Sentencizer

    nlp.add_pipe("sentencizer", config={"punct_chars": list(Sentencizer.default_punct_chars) + LINE_BREAKS})
    nlp.add_pipe("lower_lemmatizer")
    if glossary:
        # Phrase patterns (PhraseMatcher) rather than token patterns: far faster on long comments.
        # Acronyms and names (any capital letter) match exactly; plain words in any case.
        patterns = load_glossary()
        exact = nlp.add_pipe("entity_ruler", name="probation_glossary", config={"phrase_matcher_attr": "ORTH"})
        exact.add_patterns([p for p in patterns if p["pattern"] != p["pattern"].lower()])
        words = nlp.add_pipe("entity_ruler", name="probation_glossary_words",
                             config={"phrase_matcher_attr": "LOWER", "overwrite_ents": False})
        words.add_patterns([p for p in patterns if p["pattern"] == p["pattern"].lower()])
    nlp.add_pipe("codebook_cues", config=cue_config(codebook))
    return nlp


@dataclass
class UnitFeatures:
    """What later stages need from one unit's own text, without keeping the Doc."""

    text: str
    lemmas: list[str]
    sents: list[tuple[int, int]]  # character offsets of sentences in ``text``
    # (code, matched text, sentence index, pattern id, weight, veto id): weight 0 when vetoed
    cues: list[tuple] = field(default_factory=list)
    entities: list[tuple[str, str]] = field(default_factory=list)  # (label, text) from the glossary
    lemma_sents: list[int] = field(default_factory=list)  # sentence index of each lemma

    @property
    def lemma_string(self) -> str:
        return " ".join(self.lemmas)

    def sentence(self, i: int) -> str:
        s, e = self.sents[i]
        return self.text[s:e]


_LEMMA_STRINGS: dict[int, str] = {}


def _lemma_str(strings, lemma_id: int) -> str:
    text = _LEMMA_STRINGS.get(lemma_id)
    if text is None:
        text = _LEMMA_STRINGS[lemma_id] = strings[lemma_id]
    return text


def sentence_starts(doc: Doc) -> numpy.ndarray:
    """Token indices where sentences start (from SENT_START, without building Span objects)."""
    if not len(doc):
        return numpy.zeros(0, dtype="int64")
    starts = numpy.flatnonzero(doc.to_array([SENT_START]).astype("int64") == 1)
    return starts if len(starts) and starts[0] == 0 else numpy.concatenate([[0], starts])


def doc_features(doc: Doc, text: str | None = None) -> UnitFeatures:
    starts = sentence_starts(doc)
    offsets = doc.to_array([IDX, LENGTH]).astype("int64")
    ends = numpy.append(starts[1:], len(doc)) - 1
    sents = [(int(offsets[s, 0]), int(offsets[e, 0] + offsets[e, 1])) for s, e in zip(starts, ends)] if len(doc) else []

    def sent_index(tok_i: int) -> int:
        return int(numpy.searchsorted(starts, tok_i, side="right") - 1)

    arr = doc.to_array([LEMMA, IS_PUNCT, IS_SPACE])
    keep = numpy.flatnonzero(~(arr[:, 1].astype(bool) | arr[:, 2].astype(bool))) if len(doc) else numpy.zeros(0, "int64")
    strings = doc.vocab.strings
    cache = _LEMMA_STRINGS  # inlined lookup: this line runs once per token of every unit
    lemmas = [cache.get(lem) or _lemma_str(strings, lem) for lem in arr[keep, 0].tolist()]
    lemma_sents = (numpy.searchsorted(starts, keep, side="right") - 1).tolist()
    cues = [(code, text, sent_index(start), pid, weight, veto)
            for code, text, start, _, pid, weight, veto in (doc._.cues or [])]
    ents = [(e.label_, e.text) for e in doc.ents]
    # ``doc.text`` rebuilds the string token by token; reuse the input string when we have it.
    return UnitFeatures(doc.text if text is None else text, lemmas, sents, cues, ents, lemma_sents)


# spaCy refuses texts over ``nlp.max_length`` (1,000,000 characters, E088) and its memory grows with
# the text; a unit longer than this is coded in pieces cut at paragraph, line, sentence or word
# boundaries, and the pieces' features are joined back with their offsets, so one pasted 5 MB report
# never costs the chunk its labels.
PIECE_CHARS = 100_000


def split_long(text: str, limit: int = PIECE_CHARS) -> list[tuple[int, str]]:
    """``[(offset, piece), ...]`` covering ``text`` exactly; a single piece when it is short enough."""
    if len(text) <= limit:
        return [(0, text)]
    pieces, start = [], 0
    while start < len(text):
        end = min(start + limit, len(text))
        if end < len(text):
            floor = start + limit // 2  # never cut a piece shorter than half the limit
            for sep in ("\n\n", "\n", ". ", " "):
                cut = text.rfind(sep, floor, end)
                if cut != -1:
                    end = cut + len(sep)
                    break
        pieces.append((start, text[start:end]))
        start = end
    return pieces


def join_features(text: str, parts: list[tuple[int, UnitFeatures]]) -> UnitFeatures:
    """One unit's features from those of its pieces (``(offset, features)`` in order)."""
    lemmas, sents, cues, ents, lemma_sents = [], [], [], [], []
    for offset, f in parts:
        first_sent = len(sents)
        lemmas += f.lemmas
        sents += [(s + offset, e + offset) for s, e in f.sents]
        cues += [(code, matched, i + first_sent, *rest) for code, matched, i, *rest in f.cues]
        ents += f.entities
        lemma_sents += [i + first_sent for i in f.lemma_sents]
    return UnitFeatures(text, lemmas, sents, cues, ents, lemma_sents)


def features(nlp: Language, texts: Iterable[str], *, batch_size: int = 256) -> Iterator[UnitFeatures]:
    """Stream texts through the pipeline once; yield compact per-unit features (long texts in pieces)."""
    def pieces() -> Iterator[tuple[str, tuple]]:
        for text in texts:
            parts = split_long(text)
            for offset, piece in parts:
                yield piece, (text, offset, len(parts))

    done: list[tuple[int, UnitFeatures]] = []
    for doc, (text, offset, n_parts) in nlp.pipe(pieces(), as_tuples=True, batch_size=batch_size):
        if n_parts == 1:
            yield doc_features(doc, text)
            continue
        done.append((offset, doc_features(doc)))
        if len(done) == n_parts:
            yield join_features(text, done)
            done = []
