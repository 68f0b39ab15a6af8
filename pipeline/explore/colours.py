"""Colours of themes and stance values, shared by the app's charts, the HTML views and the PNG exports."""

from __future__ import annotations

from ..codebook import Codebook

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f")
STANCE_COLOURS = {"against": "#c0392b", "favour": "#27ae60", "none": "#7f8c8d", "support": "#2980b9",
                  "deny": "#d35400", "query": "#8e44ad", "comment": "#7f8c8d"}


def theme_colour(codebook: Codebook, code: str) -> str:
    names = codebook.theme_names
    return PALETTE[names.index(code) % len(PALETTE)] if code in names else "#555555"


def stance_colour(value: str) -> str:
    return STANCE_COLOURS.get(value, "#34495e")
