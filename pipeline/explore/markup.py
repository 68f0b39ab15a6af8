"""Safe HTML for unit text, evidence highlights, code chips and thread trees.

Comment text is untrusted: every piece of it is ``html.escape``-d before any tag is put
around it; no Markdown is involved.
"""

from __future__ import annotations

import html
import re
from typing import Sequence

import pandas as pd

from ..codebook import Codebook
from ..schema import SCHEMES, theme_col
from .colours import stance_colour, theme_colour
from .evidence import Span
from .pseudonyms import Pseudonymiser


def _segments(length: int, spans: Sequence[Span]) -> list[tuple[int, int, list[Span]]]:
    """Cut [0, length) at every span boundary; each piece lists the spans covering it."""
    cuts = {0, length}
    for s in spans:
        cuts.update((max(0, min(length, s.start)), max(0, min(length, s.end))))
    points = sorted(cuts)
    out = []
    for a, b in zip(points, points[1:]):
        if a < b:
            out.append((a, b, [s for s in spans if s.start <= a and b <= s.end]))
    return out


def highlight_html(text: str, spans: Sequence[Span] = (), *, colours: dict[str, str] | None = None,
                   pseudonymiser: "Pseudonymiser | None" = None, max_chars: int | None = None) -> str:
    """The text as safe HTML with evidence spans wrapped in ``<mark>``.

    The text is cut at span boundaries and every piece is escaped with ``html.escape``
    before a tag is put around it, so nothing from the text can become markup; the
    result is wrapped in a ``pre-wrap`` block (no Markdown is involved at all).
    """
    text = text or ""
    if pseudonymiser is not None and pseudonymiser:
        text, remap = pseudonymiser.text_and_offsets(text)
        spans = [Span(remap(s.start), remap(s.end), s.code, s.cues) for s in spans]
    truncated = False
    if max_chars is not None and len(text) > max_chars:
        text, truncated = text[:max_chars], True
        spans = [Span(s.start, min(s.end, max_chars), s.code, s.cues) for s in spans if s.start < max_chars]
    colours = colours or {}
    parts = []
    for a, b, covering in _segments(len(text), spans):
        piece = html.escape(text[a:b], quote=True)
        if covering:
            codes = sorted({s.code for s in covering})
            cues = sorted({c for s in covering for c in s.cues})
            colour = colours.get(codes[0], "#f6d155")
            title = html.escape(", ".join(codes) + (f" (cues: {', '.join(cues)})" if cues else ""), quote=True)
            piece = (f'<mark title="{title}" style="background:{_tint(colour)};border-bottom:2px solid {colour};'
                     f'padding:0 1px">{piece}</mark>')
        parts.append(piece)
    if truncated:
        parts.append(" &hellip;")
    return '<div class="unit-text" style="white-space:pre-wrap;line-height:1.5">' + "".join(parts) + "</div>"


def _tint(hex_colour: str, alpha: str = "33") -> str:
    return hex_colour + alpha if re.fullmatch(r"#[0-9a-fA-F]{6}", hex_colour) else "#f6d15555"


def chip_html(label: str, colour: str) -> str:
    return (f'<span style="display:inline-block;border-radius:0.8em;padding:0 0.6em;margin:0 0.25em 0.2em 0;'
            f'font-size:0.8em;background:{_tint(colour, "22")};border:1px solid {colour};color:#222">'
            f'{html.escape(label)}</span>')


def badge_html(label: str, colour: str) -> str:
    return (f'<span style="display:inline-block;border-radius:0.25em;padding:0 0.45em;margin:0 0.25em 0.2em 0;'
            f'font-size:0.78em;background:{colour};color:#fff">{html.escape(label)}</span>')


def labels_html(row: pd.Series | dict, codebook: Codebook) -> str:
    """Theme chips and stance badges of one unit (codes only: no user text)."""
    parts = [chip_html(codebook.themes[c].label, theme_colour(codebook, c)) for c in codebook.theme_names
             if bool(row.get(theme_col(c), False))]
    for s in SCHEMES:
        v = row.get(s)
        if isinstance(v, str) and v:
            parts.append(badge_html(f"{'TR' if s == 'stance_tr' else 'reply'}: {v}", stance_colour(v)))
    return "".join(parts)


def md_escape(text: str) -> str:
    """Escape Markdown (and HTML) in trusted-but-literal text shown through ``st.markdown``."""
    text = html.escape(str(text), quote=False)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|>~:])", r"\\\1", text)



def thread_tree_html(units: pd.DataFrame, codebook: Codebook, *, pseudonymiser: Pseudonymiser | None = None,
                     max_chars: int = 1200) -> str:
    """The thread as nested boxes: each unit with its chips, badges and escaped text."""
    out = ['<div class="thread-tree">']
    for row in units.to_dict("records"):
        depth = int(row.get("depth") or 0)
        author = row.get("author") if isinstance(row.get("author"), str) else "Anonymous"
        if pseudonymiser:
            author = pseudonymiser.name(author)
        stamp = row.get("timestamp") if isinstance(row.get("timestamp"), str) else ""
        head = (f'<b>{html.escape(str(row["unit_id"]))}</b> &middot; {html.escape(str(row.get("kind") or ""))} '
                f'&middot; {html.escape(author)}' + (f' &middot; {html.escape(stamp)}' if stamp else ""))
        if row.get("confidence") == "low":
            head += ' &middot; <span style="color:#b9770e">low-confidence structure</span>'
        body = highlight_html(row.get("text") or "", (), pseudonymiser=pseudonymiser, max_chars=max_chars)
        out.append(f'<div style="margin:0 0 0.5em {min(depth, 8) * 1.6}em;padding:0.4em 0.6em;'
                   f'border-left:3px solid {"#34495e" if depth == 0 else "#aab7b8"};background:#fafafa">'
                   f'<div style="font-size:0.85em;color:#555">{head}</div>'
                   f'<div>{labels_html(row, codebook)}</div>{body}</div>')
    out.append("</div>")
    return "".join(out)
