"""Posts that may hold several voices with nothing marking where one ends.

Blog hosts paste other people's words into a post: a Facebook thread copied from the browser
(each voice a name line, its words, then ``Like · Reply · 2h``), or a run of readers' emails
each opening with the writer's name.  With a separator line (``******``) the post is split into
contributions; without one the parser cannot know where the voices change.  Such a unit is
not split by guesswork: it gets ``confidence = "low"`` with a note saying what was seen, and
the file a W109 warning.
"""

from __future__ import annotations

import re

from ..errors import Code, Problem
from .model import ParsedThread

# Facebook and similar: the reaction line under each copied comment.
_ACTION_RE = re.compile(r"^\s*(?:Like|Love|Reply|Share|Edited|Gefällt mir|Antworten|Me gusta|Responder|J’aime|"
                        r"J'aime|Répondre)(?:\s*·\s*\S.*)?$|^\s*(?:\d{1,2}\s*(?:h|hrs?|min|mins|d|w|y|yr)s?)\s*$",
                        re.I)
# A name on a line of its own: two to four capitalised words, nothing else.
_NAME_LINE_RE = re.compile(r"^\s*[A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’.-]*){1,3}\s*$")
MIN_MARKERS = 3


_ACTION_ANY_RE = re.compile(_ACTION_RE.pattern, re.I | re.M)


def voice_markers(text: str) -> tuple[int, int]:
    """(reaction lines, name lines followed by text) in ``text``; (0, 0) when there is no reaction line."""
    if _ACTION_ANY_RE.search(text) is None:  # speed only: every flagged unit has a reaction line
        return 0, 0
    lines = text.split("\n")
    actions = sum(1 for line in lines if _ACTION_RE.match(line))
    names = 0
    for k, line in enumerate(lines[:-1]):
        if (k == 0 or not lines[k - 1].strip() or _ACTION_RE.match(lines[k - 1])) and _NAME_LINE_RE.match(line) \
                and lines[k + 1].strip() and not _NAME_LINE_RE.match(lines[k + 1]):
            names += 1
    return actions, names


def flag_unmarked_voices(thread: ParsedThread) -> None:
    """Mark the post or contributions that look like several voices run together (W109)."""
    flagged = []
    for unit in thread.units:
        if unit.kind not in ("post", "contribution") or len(unit.text) < 200:
            continue
        actions, names = voice_markers(unit.text)
        if actions >= MIN_MARKERS or (names >= MIN_MARKERS and actions >= 1):
            what = f"{actions} reaction lines ('Like · Reply')" if actions else ""
            what += (" and " if what and names else "") + (f"{names} name lines" if names else "")
            unit.mark_low(f"may hold several voices with no separator ({what} found)")
            flagged.append((unit, what))
    if flagged:
        n_contrib = sum(u.kind == "contribution" for u in thread.units)
        found = f"{n_contrib} contributions found; " if n_contrib else ""
        ids = ", ".join(u.unit_id for u, _ in flagged)
        thread.problems.append(Problem(
            Code.W109.value, thread.source_file,
            f"{found}{ids} may hold several voices with no separator between them ({flagged[0][1]} found); "
            "marked confidence=low, not split.",
            "Put a separator line (******) between the voices in a copy of the file if they should be separate units.",
            line=flagged[0][0].line))
