"""XML read safely: no external entities, no network, and no text lost around entity references.

Feeds and exports are untrusted.  lxml is told never to resolve entities nor fetch anything
(``resolve_entities=False, no_network=True, load_dtd=False``), so ``<!ENTITY x SYSTEM
"file:///etc/passwd">`` reads nothing.  The five predefined entities and numeric character
references are resolved by the parser itself; any other entity reference (declared in a DTD
or not declared at all) is left in the tree as an entity node, which :func:`xml_text` drops
with a warning naming the file and line, keeping the text on both sides.  A numeric reference
to a character XML forbids (``&#xD800;``, a lone surrogate) becomes U+FFFD with a warning.
"""

from __future__ import annotations

import re

from lxml import etree

from ..errors import Code, PipelineError, Problem

# Errors that recovery handles without losing text: an entity that is not declared.
_ENTITY_ERRORS = {"ERR_UNDECLARED_ENTITY", "WAR_UNDECLARED_ENTITY"}
_CHAR_REF_RE = re.compile(r"&#(?:x([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def parser(*, recover: bool = True) -> etree.XMLParser:
    # recover=True keeps parsing past an undeclared entity; check_errors() then refuses every other error.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           recover=recover)


def _xml_char_ok(cp: int) -> bool:
    return cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD or 0x10000 <= cp <= 0x10FFFF


def fix_char_refs(xml: str, source_file: str) -> tuple[str, list[Problem]]:
    """Numeric references to characters XML forbids become ``&#xFFFD;`` (one warning per line)."""
    if "&#" not in xml:
        return xml, []
    bad_lines: list[int] = []

    def repl(m: re.Match) -> str:
        cp = int(m.group(1), 16) if m.group(1) else int(m.group(2))
        if _xml_char_ok(cp):
            return m.group(0)
        bad_lines.append(xml.count("\n", 0, m.start()) + 1)
        return "&#xFFFD;"

    fixed = _CHAR_REF_RE.sub(repl, xml)
    problems = [Problem(Code.W106.value, source_file, "a character reference names a character XML forbids "
                        "(a lone surrogate or control character); it was replaced by U+FFFD.",
                        "Re-export the feed; check the text near this line.", line=line)
                for line in sorted(set(bad_lines))]
    return fixed, problems


def check_errors(error_log, source_file: str) -> None:
    """Raise E006 for any parse error other than an undeclared entity (kept as a node, dropped later)."""
    for err in error_log:
        if err.level_name in ("ERROR", "FATAL") and err.type_name not in _ENTITY_ERRORS:
            raise PipelineError(Code.E006, f"the XML is malformed or truncated ({err.message}).", file=source_file,
                                line=err.line or None, fix="Download the feed again; check the file ends with </feed>.")


def parse_string(xml: str, source_file: str) -> tuple[etree._Element, list[Problem]]:
    xml, problems = fix_char_refs(xml, source_file)
    p = parser()
    try:
        root = etree.fromstring(xml.encode("utf-8", "surrogatepass"), p)
    except etree.XMLSyntaxError as exc:
        raise PipelineError(Code.E006, f"the XML is malformed or truncated ({exc.msg}).", file=source_file,
                            line=exc.lineno, fix="Download the feed again; check the file ends with </feed>.") from exc
    check_errors(p.error_log, source_file)
    if root is None:
        raise PipelineError(Code.E006, "the XML holds no element.", file=source_file,
                            fix="Download the feed again; check the file ends with </feed>.")
    return root, problems


def xml_text(el: etree._Element | None, problems: list[Problem], source_file: str) -> str:
    """The element's text with its entity references dropped (warned) and the text after them kept."""
    if el is None:
        return ""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child, etree._Entity):
            problems.append(Problem(Code.W107.value, source_file, f"the entity reference {child.text} is not one "
                                    "of XML's five predefined entities; it was dropped (never resolved) and the "
                                    "text around it kept.", "Replace it by the character it stands for.",
                                    line=child.sourceline or el.sourceline))
        elif not isinstance(child, (etree._Comment, etree._ProcessingInstruction)):
            parts.append(xml_text(child, problems, source_file))
        parts.append(child.tail or "")
    return "".join(parts)


__all__ = ["parser", "fix_char_refs", "check_errors", "parse_string", "xml_text"]
