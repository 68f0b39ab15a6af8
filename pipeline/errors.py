"""Coded, actionable errors and warnings.

Library code raises :class:`PipelineError` (or records a :class:`Problem` as a
warning); only the CLI turns them into a message and an exit code.  Every
problem names the file, the line when there is one, and what to do about it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class Code(str, Enum):
    # input files
    E001 = "E001"  # empty file
    E002 = "E002"  # binary file
    E003 = "E003"  # not UTF-8 (decoded as cp1252 instead)
    E004 = "E004"  # file too large
    E005 = "E005"  # unrecognised layout
    E006 = "E006"  # malformed markup / truncated
    E007 = "E007"  # malformed CSV / JSONL row
    E008 = "E008"  # file not found / unreadable
    E009 = "E009"  # unsupported file type
    E010 = "E010"  # collect: blog unreachable, refused by robots.txt, or folder of another collection
    # structure warnings
    W101 = "W101"  # declared comment count differs from parsed
    W102 = "W102"  # boundary lost in flat layout
    W103 = "W103"  # numbering out of sequence
    W104 = "W104"  # duplicate thread id
    W105 = "W105"  # comment without text
    W106 = "W106"  # undecodable byte or lone surrogate replaced by U+FFFD
    W107 = "W107"  # XML entity reference dropped (never resolved)
    W108 = "W108"  # timestamps or dates shown but not readable
    W109 = "W109"  # a post may hold several voices with no separator
    W110 = "W110"  # export entries skipped (settings, template, pages, drafts)
    # codebook, labels, models
    E201 = "E201"  # codebook invalid
    E202 = "E202"  # labels file invalid
    E203 = "E203"  # model / codebook mismatch
    E204 = "E204"  # model file tampered or unreadable
    E205 = "E205"  # run directory missing or incomplete
    E206 = "E206"  # not enough labelled data
    E207 = "E207"  # output folder locked by another run
    E208 = "E208"  # model directory damaged or incomplete (E204: changed after training)
    W201 = "W201"  # labels moved with their text to a new unit id
    W202 = "W202"  # labels whose text changed or disappeared (not used)
    W203 = "W203"  # labels without a fingerprint, attached by id
    # the environment
    E301 = "E301"  # cannot write output (disk full, read-only, permission denied)


@dataclass(frozen=True)
class Problem:
    """One thing that went wrong with one input, recorded in ``report.json``."""

    code: str
    file: str
    message: str
    fix: str
    line: int | None = None
    severity: str = "warning"  # "warning" (kept going) or "error" (file skipped)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"[{self.code}] {where}: {self.message} Fix: {self.fix}"

    def to_dict(self) -> dict:
        return asdict(self)


class PipelineError(Exception):
    """An error a user can act on. Raised in the library, reported by the CLI."""

    def __init__(self, code: Code | str, message: str, *, file: str = "", line: int | None = None,
                 fix: str = "") -> None:
        self.problem = Problem(code=str(getattr(code, "value", code)), file=str(file), message=message,
                               fix=fix, line=line, severity="error")
        super().__init__(str(self.problem))

    def __reduce__(self):  # picklable, so an error raised in a worker process arrives intact
        p = self.problem
        return (_rebuild_error, (p.code, p.message, p.file, p.line, p.fix))


def _rebuild_error(code: str, message: str, file: str, line: int | None, fix: str) -> PipelineError:
    return PipelineError(code, message, file=file, line=line, fix=fix)
