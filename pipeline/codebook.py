"""The codebook: themes and stance schemes as data (``models/codebook.yaml``).

A researcher adds a theme by adding an entry under ``themes:``; the rule coder,
training, evaluation and the app all read the codes from here.  Loading
validates the file and reports problems with the file, the line and the fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import Code, PipelineError
from .schema import SCHEMES

BUNDLED_CODEBOOK = Path(__file__).resolve().parent.parent / "models" / "codebook.yaml"
CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
SCOPES = ("sentence", "opening", "unit")
NEGATION = ("ignore", "drop", "require")
# Defaults of the codebook's ``matching:`` section (how negation and a unit's opening are read).
DEFAULT_NEGATORS = ("not", "no", "never", "nothing", "nobody", "hardly", "without")


@dataclass(frozen=True)
class Pattern:
    """One codebook pattern (or veto): alternatives (``any``) or co-occurring groups (``near``).

    ``groups`` holds one tuple of alternatives per group (``any`` patterns have one group);
    ``pipeline.preprocess`` compiles them into spaCy Matcher token patterns."""

    id: str
    groups: tuple[tuple[str, ...], ...]
    window: int = 6
    weight: float = 1.0
    example: str = ""
    # Where the groups may meet: one sentence within ``window`` (default), the unit's opening
    # (its first ``matching.opening_tokens`` words), or anywhere in the unit ("unit": the match is
    # the last group's, so the coded segment is the evaluation's sentence).
    scope: str = "sentence"
    # The last group is the evaluation: "drop" ignores its matches preceded by a negator within
    # ``matching.negation_window`` tokens of the same sentence ('not a disaster'); "require" keeps
    # only those ('not working').
    negation: str = "ignore"
    at_start: bool = False  # the first group must open a sentence ('No, ...', 'Actually, ...')

    def options(self) -> dict:
        """The options that differ from the defaults (older codebooks keep their fingerprints)."""
        out = {}
        if self.scope != "sentence":
            out["scope"] = self.scope
        if self.negation != "ignore":
            out["negation"] = self.negation
        if self.at_start:
            out["at_start"] = True
        return out

    def as_data(self) -> list:
        data = [self.id, [list(g) for g in self.groups], self.window, self.weight]
        return data + [self.options()] if self.options() else data


@dataclass(frozen=True)
class Matching:
    """The codebook's ``matching:`` section: negators, the negation window, a unit's opening."""

    negators: tuple[str, ...] = DEFAULT_NEGATORS
    negation_window: int = 3
    opening_tokens: int = 15

    def as_data(self) -> dict:
        return {"negators": list(self.negators), "negation_window": self.negation_window,
                "opening_tokens": self.opening_tokens}


@dataclass(frozen=True)
class SegmentRule:
    """How a unit's codes follow from its segments (see the codebook's ``segments.rule``)."""

    segment_cap: float = 1.0
    unit_threshold: float = 1.0
    rule: str = ""


@dataclass(frozen=True)
class Theme:
    name: str
    label: str
    definition: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    acronyms: tuple[str, ...] = ()
    veto: tuple[str, ...] = ()
    examples: tuple[dict, ...] = ()
    patterns: tuple[Pattern, ...] = ()
    veto_patterns: tuple[Pattern, ...] = ()


@dataclass(frozen=True)
class StanceValue:
    name: str
    definition: str
    cues: tuple[str, ...] = ()
    patterns: tuple[Pattern, ...] = ()
    veto_patterns: tuple[Pattern, ...] = ()  # cancel this value's matches in their segment


@dataclass(frozen=True)
class StanceScheme:
    name: str
    definition: str
    values: dict[str, StanceValue]
    default: str
    opening_weight: float = 1.0  # cues in a unit's first segment count this many times


@dataclass(frozen=True)
class Codebook:
    name: str
    version: str
    description: str
    themes: dict[str, Theme]
    stances: dict[str, StanceScheme]
    path: str = ""
    raw: dict = field(default_factory=dict, compare=False, repr=False)
    segments: SegmentRule = SegmentRule()
    matching: Matching = Matching()

    @property
    def theme_names(self) -> list[str]:
        return list(self.themes)

    def values(self, scheme: str) -> list[str]:
        return list(self.stances[scheme].values)

    @property
    def fingerprint(self) -> str:
        """Hash of everything a trained model depends on: codes, values and cues (not prose or examples)."""
        core = {
            "themes": {n: [t.phrases, t.acronyms, t.veto] for n, t in self.themes.items()},
            "stances": {n: {v: s.values[v].cues for v in s.values} for n, s in self.stances.items()},
        }
        patterns = {n: [[p.as_data() for p in t.patterns], [p.as_data() for p in t.veto_patterns]]
                    for n, t in self.themes.items() if t.patterns or t.veto_patterns}
        patterns.update({v.name: [[p.as_data() for p in v.patterns]] + ([[p.as_data() for p in v.veto_patterns]]
                                                                        if v.veto_patterns else [])
                         for s in self.stances.values() for v in s.values.values() if v.patterns})
        if patterns:  # v2 codebooks: patterns, segment rule and opening weights count too
            core["patterns"] = patterns
            core["segments"] = [self.segments.segment_cap, self.segments.unit_threshold]
            core["opening"] = {n: s.opening_weight for n, s in self.stances.items()}
        if self.raw.get("matching") is not None:  # negation and opening settings (codebook 2.1+)
            core["matching"] = self.matching.as_data()
        return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def all_labels(self) -> list[str]:
        return self.theme_names + [v for s in self.stances.values() for v in s.values]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise PipelineError(Code.E201, f"duplicate key {key!r} (first at line {seen[key]}).",
                                    file=getattr(self, "_path", ""), line=key_node.start_mark.line + 1,
                                    fix="Give every code a distinct name, or merge the two entries.")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _err(path: str, msg: str, fix: str, line: int | None = None) -> PipelineError:
    return PipelineError(Code.E201, msg, file=path, line=line, fix=fix)


def _strings(value, where: str, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _err(path, f"{where} must be a list of non-empty strings.", "Write it as a YAML list: [a, b].")
    return tuple(v.strip() for v in value)


def _patterns(value, where: str, path: str, lexicons: dict[str, tuple[str, ...]] | None = None) -> tuple[Pattern, ...]:
    """``[{id, any | near, window, weight, example, scope, negation, at_start}]`` -> Patterns, with a
    clear error for each mistake.  A word written ``@name`` stands for the codebook lexicon ``name``."""
    lexicons = lexicons or {}
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _err(path, f"{where} must be a list of patterns.", "Write each as {id: ..., any: [...], example: ...}.")
    out, seen = [], set()
    for i, spec in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(spec, dict) or not isinstance(spec.get("id"), str) or not CODE_RE.match(spec["id"]):
            raise _err(path, f"{here} needs an `id` (lowercase letters, digits, _).", "Add id: a_name.")
        if spec["id"] in seen:
            raise _err(path, f"{here}: pattern id {spec['id']!r} is repeated.", "Give every pattern a distinct id.")
        seen.add(spec["id"])
        if ("any" in spec) == ("near" in spec):
            raise _err(path, f"{here} ({spec['id']}) needs exactly one of `any:` or `near:`.",
                       "any: [alternatives] or near: [[group 1], [group 2]].")
        groups = [spec["any"]] if "any" in spec else spec["near"]
        if not isinstance(groups, list) or not groups or ("near" in spec and len(groups) < 2):
            raise _err(path, f"{here} ({spec['id']}): `near` needs two or more groups.", "near: [[a, b], [c, d]].")
        for g in groups:
            bad = [w for w in g if not isinstance(w, str) or not w.strip()] if isinstance(g, list) else [g]
            if bad:
                why = " (YAML reads an unquoted no/yes/on/off/true/false as a boolean)" if \
                    any(isinstance(w, bool) for w in bad) else ""
                raise _err(path, f"{here} ({spec['id']}): {bad[0]!r} is not a word{why}.",
                           'Quote it ("no") or write each group as a list of words.')
        expanded = []
        for g in groups:
            words: list[str] = []
            for w in (w.strip() for w in g):
                if w.startswith("@"):
                    if w[1:] not in lexicons:
                        raise _err(path, f"{here} ({spec['id']}): {w!r} names no lexicon.",
                                   f"Define it under `lexicons:` or use one of: {', '.join(sorted(lexicons)) or 'none'}.")
                    words += [x for x in lexicons[w[1:]] if x not in words]
                elif w not in words:
                    words.append(w)
            expanded.append(tuple(words))
        groups = tuple(expanded)
        if not all(groups):
            raise _err(path, f"{here} ({spec['id']}) has an empty group.", "Every group needs at least one word.")
        scope, negation, at_start = spec.get("scope", "sentence"), spec.get("negation", "ignore"), spec.get("at_start", False)
        if scope not in SCOPES or negation not in NEGATION or not isinstance(at_start, bool):
            raise _err(path, f"{here} ({spec['id']}): scope must be one of {', '.join(SCOPES)}, negation one of "
                       f"{', '.join(NEGATION)}, at_start true or false.", "e.g. scope: opening, negation: drop.")
        try:
            window, weight = int(spec.get("window", 6)), float(spec.get("weight", 1.0))
        except (TypeError, ValueError):
            raise _err(path, f"{here} ({spec['id']}): window must be an integer and weight a number.",
                       "e.g. window: 6, weight: 0.5.") from None
        if not 0 < weight <= 1 or not 0 <= window <= 20:
            raise _err(path, f"{here} ({spec['id']}): weight must be in (0, 1] and window in 0-20.",
                       "Use weight 1 (strong) or 0.5 (weak).")
        out.append(Pattern(spec["id"], groups, window, weight, str(spec.get("example") or "").strip(),
                           scope, negation, at_start))
    return tuple(out)


def _lexicons(value, path: str) -> dict[str, tuple[str, ...]]:
    """``lexicons: {name: [words]}``: word lists that patterns name as ``@name``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _err(path, "`lexicons` must map names to lists of words.", "lexicons: {tr_targets: [tr, crc]}.")
    out = {}
    for name, words in value.items():
        if not isinstance(name, str) or not CODE_RE.match(name):
            raise _err(path, f"lexicon name {name!r} is not valid.", "Use lowercase letters, digits and _.")
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
            bad = [w for w in words if not isinstance(w, str)] if isinstance(words, list) else []
            why = " (YAML reads an unquoted no/yes/on/off/true/false as a boolean)" if \
                any(isinstance(w, bool) for w in bad) else ""
            raise _err(path, f"lexicon {name!r} must be a non-empty list of words{why}.",
                       'Write it as a YAML list of words; quote "no", "yes", "on", "off".')
        out[name] = tuple(dict.fromkeys(w.strip() for w in words))
    return out


def _matching(value, path: str) -> Matching:
    if value is None:
        return Matching()
    if not isinstance(value, dict):
        raise _err(path, "`matching` must be a mapping (negators, negation_window, opening_tokens).",
                   "See models/codebook.yaml.")
    unknown = sorted(set(value) - {"negators", "negation_window", "opening_tokens"})
    if unknown:
        raise _err(path, f"matching: unknown key {unknown[0]!r}.", "Use negators, negation_window, opening_tokens.")
    negators = _strings(value.get("negators"), "matching.negators", path) or DEFAULT_NEGATORS
    try:
        nw, ot = int(value.get("negation_window", 3)), int(value.get("opening_tokens", 15))
    except (TypeError, ValueError):
        raise _err(path, "matching.negation_window and opening_tokens must be integers.", "e.g. 3 and 15.") from None
    if not 1 <= nw <= 6 or not 3 <= ot <= 60:
        raise _err(path, "matching.negation_window must be 1-6 and opening_tokens 3-60.", "e.g. 3 and 15.")
    return Matching(tuple(n.lower() for n in negators), nw, ot)


def load_codebook(path: Path | str) -> Codebook:
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise _err(name, "the codebook file does not exist.", "Pass --codebook or restore models/codebook.yaml.")
    loader = _UniqueKeyLoader(path.read_text(encoding="utf-8"))
    loader._path = name
    try:
        raw = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise _err(name, f"not valid YAML ({getattr(exc, 'problem', exc)}).", "Fix the YAML syntax (indentation, colons).",
                   line=mark.line + 1 if mark else None) from exc
    finally:
        loader.dispose()
    try:
        return codebook_from_dict(raw, name)
    except PipelineError as exc:
        # Pattern errors name the pattern's id: point at the line that defines it.
        found = re.search(r"\(([a-z][a-z0-9_]*)\)", exc.problem.message)
        # ... a lexicon's errors at its name, the matching section's at its key
        lexicon = re.match(r"lexicon '([a-z][a-z0-9_]*)'", exc.problem.message)
        matching = re.match(r"`?matching", exc.problem.message)
        if exc.problem.line is None and (found or lexicon or matching):
            lines = path.read_text(encoding="utf-8").splitlines()
            where = (rf"\bid: {found.group(1)}\b" if found else
                     rf"^\s+{lexicon.group(1)}:" if lexicon else r"^matching:")
            after = next((i for i, text in enumerate(lines) if text.startswith("lexicons:")), 0) if lexicon else 0
            hit = next((i for i, text in enumerate(lines[after:], after + 1) if re.search(where, text)), None)
            if hit:
                raise PipelineError(Code.E201, exc.problem.message, file=name, line=hit, fix=exc.problem.fix) from None
        raise


def codebook_from_dict(raw: dict, name: str = "<codebook>") -> Codebook:
    if not isinstance(raw, dict):
        raise _err(name, "the codebook must be a mapping with name, version, themes, stances.", "See README, 'Codebook'.")
    for key in ("name", "version", "themes", "stances"):
        if key not in raw:
            raise _err(name, f"missing top-level key {key!r}.", f"Add `{key}:` (see README, 'Codebook').")
    if not isinstance(raw["themes"], dict) or not raw["themes"]:
        raise _err(name, "`themes` must map at least one theme name to its definition.", "See README, 'Codebook'.")
    lexicons = _lexicons(raw.get("lexicons"), name)
    themes: dict[str, Theme] = {}
    for tname, spec in raw["themes"].items():
        if not isinstance(tname, str) or not CODE_RE.match(tname):
            raise _err(name, f"theme name {tname!r} is not a valid code.", "Use lowercase letters, digits and _.")
        if not isinstance(spec, dict) or not str(spec.get("definition") or "").strip():
            raise _err(name, f"theme {tname!r} has no definition.", f"Add `definition:` under themes.{tname}.")
        cues = spec.get("cues") or {}
        if not isinstance(cues, dict):
            raise _err(name, f"themes.{tname}.cues must be a mapping (phrases, acronyms, veto).", "See README.")
        phrases = _strings(cues.get("phrases"), f"themes.{tname}.cues.phrases", name)
        acronyms = _strings(cues.get("acronyms"), f"themes.{tname}.cues.acronyms", name)
        patterns = _patterns(spec.get("patterns"), f"themes.{tname}.patterns", name, lexicons)
        if not phrases and not acronyms and not patterns:
            raise _err(name, f"theme {tname!r} has no cues.", f"Add cues.phrases under themes.{tname}: the rule "
                       "coder and the model's rule features need at least one.")
        examples = spec.get("examples") or []
        if not isinstance(examples, list) or not all(isinstance(e, dict) and e.get("unit_id") for e in examples):
            raise _err(name, f"themes.{tname}.examples must be a list of {{unit_id: ..., why: ...}}.", "See README.")
        themes[tname] = Theme(tname, str(spec.get("label") or tname), str(spec["definition"]).strip(),
                              _strings(spec.get("include"), f"themes.{tname}.include", name),
                              _strings(spec.get("exclude"), f"themes.{tname}.exclude", name),
                              tuple(p.lower() for p in phrases), acronyms,
                              tuple(v.lower() for v in _strings(cues.get("veto"), f"themes.{tname}.cues.veto", name)),
                              tuple(examples), patterns,
                              _patterns(spec.get("veto"), f"themes.{tname}.veto", name, lexicons))
    stances: dict[str, StanceScheme] = {}
    if not isinstance(raw["stances"], dict):
        raise _err(name, "`stances` must be a mapping.", "See README, 'Codebook'.")
    for scheme in SCHEMES:
        spec = raw["stances"].get(scheme)
        if not isinstance(spec, dict) or not isinstance(spec.get("values"), dict) or len(spec["values"]) < 2:
            raise _err(name, f"stance scheme {scheme!r} is missing or has fewer than two values.",
                       f"Define stances.{scheme}.values (see README, 'Codebook').")
        values = {}
        for vname, vspec in spec["values"].items():
            if not isinstance(vname, str) or not CODE_RE.match(vname):
                raise _err(name, f"stance value {vname!r} in {scheme} is not a valid code.", "Use lowercase letters.")
            vspec = vspec or {}
            values[vname] = StanceValue(vname, str(vspec.get("definition") or "").strip(),
                                        tuple(c.lower() for c in _strings(vspec.get("cues"), f"{scheme}.{vname}.cues", name)),
                                        _patterns(vspec.get("patterns"), f"stances.{scheme}.{vname}.patterns", name,
                                                  lexicons),
                                        _patterns(vspec.get("veto"), f"stances.{scheme}.{vname}.veto", name, lexicons))
        default = spec.get("default") or list(values)[-1]
        if default not in values:
            raise _err(name, f"stances.{scheme}.default {default!r} is not one of its values.", "Name one of the values.")
        stances[scheme] = StanceScheme(scheme, str(spec.get("definition") or "").strip(), values, default,
                                       float(spec.get("opening_weight") or 1.0))
    labels = list(themes) + [v for s in stances.values() for v in s.values]
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dupes:
        raise _err(name, f"code names must be distinct across themes and stance values; repeated: {', '.join(dupes)}.",
                   "Rename one of them (probability columns are named p_<code>).")
    seg = raw.get("segments") or {}
    if not isinstance(seg, dict):
        raise _err(name, "`segments` must be a mapping (segment_cap, unit_threshold, rule).", "See models/codebook.yaml.")
    rule = SegmentRule(float(seg.get("segment_cap", 1.0)), float(seg.get("unit_threshold", 1.0)),
                       str(seg.get("rule") or "").strip())
    return Codebook(str(raw["name"]), str(raw["version"]), str(raw.get("description") or ""), themes, stances,
                    name, raw, rule, _matching(raw.get("matching"), name))
