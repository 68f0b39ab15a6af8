"""Reading an input file into text, with a clear problem for every way it can be bad."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import Code, PipelineError, Problem

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB: larger files are refused with advice to split them
MANIFEST = "collect.json"  # the file `collect` writes beside the feeds it saved (pipeline/parse/export.py)


def read_text(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, list[Problem]]:
    """Decode a file to ``str`` with Unix newlines.

    UTF-8 (with or without BOM) is expected.  A file that is not UTF-8 is decoded
    as Windows-1252 (what Word and older browsers save) with a warning naming the
    first undecodable line, so the researcher can re-save it.
    """
    name = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PipelineError(Code.E008, f"cannot read the file ({exc.strerror}).", file=name,
                            fix="Check the path and permissions.") from exc
    if size == 0:
        raise PipelineError(Code.E001, "the file is empty.", file=name,
                            fix="Re-save the page or remove the file from the input.")
    if size > max_bytes:
        raise PipelineError(Code.E004, f"the file is {size / 1e6:.0f} MB, over the limit of "
                            f"{max_bytes / 1e6:.0f} MB.", file=name,
                            fix="Split it into one file per thread, or raise --max-mb.")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise PipelineError(Code.E002, "the file is binary (it contains NUL bytes), not a text, HTML, "
                            "XML, CSV or JSONL thread.", file=name, line=line,
                            fix="Give the saved page or export, not a PDF, image or archive.")
    problems: list[Problem] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if _UTF8_MULTIBYTE_RE.search(data):  # UTF-8 with some damaged bytes: keep it UTF-8, mark the damage
            text, problems = _replace_bad_bytes(data, name)
        else:
            line = data[: exc.start].count(b"\n") + 1
            text = data.decode("cp1252", errors="replace")
            problems.append(Problem(Code.E003.value, name, "the file is not UTF-8; it was read as Windows-1252 "
                                    "(check accented letters and curly quotes).",
                                    "Re-save the file as UTF-8.", line=line))
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, problems


# A well-formed UTF-8 sequence of two to four bytes: a file holding one is UTF-8 (Windows-1252 text
# would need an accented capital followed by a symbol, which real text does not do).
_UTF8_MULTIBYTE_RE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_ESCAPED_RE = re.compile("[\udc80-\udcff]+")
MAX_LINES_NAMED = 20


def _replace_bad_bytes(data: bytes, name: str) -> tuple[str, list[Problem]]:
    """Decode UTF-8, each undecodable byte run becoming U+FFFD, with a warning per line (the first 20)."""
    raw = data.decode("utf-8-sig", errors="surrogateescape")
    lines = sorted({raw.count("\n", 0, m.start()) + 1 for m in _ESCAPED_RE.finditer(raw)})
    problems = [Problem(Code.W106.value, name, "bytes that are not UTF-8 were replaced by U+FFFD.",
                        "Re-save the file as UTF-8 and check the text on this line.", line=line)
                for line in lines[:MAX_LINES_NAMED]]
    if len(lines) > MAX_LINES_NAMED:
        problems.append(Problem(Code.W106.value, name, f"{len(lines) - MAX_LINES_NAMED} more lines held bytes "
                                "that are not UTF-8 (replaced by U+FFFD).", "Re-save the file as UTF-8."))
    return _ESCAPED_RE.sub(lambda m: "\ufffd" * len(m.group()), raw), problems  # one U+FFFD per byte
