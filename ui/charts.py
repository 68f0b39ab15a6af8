"""Vega-Lite chart specs the pages draw (plain dicts: no Altair, whose import and validation cost
about a second per page)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pipeline import explore as ex


def vl_chart(data: pd.DataFrame, spec: dict) -> None:
    """A Vega-Lite chart from a plain spec (no Altair: its import and validation cost ~1 s per page)."""
    st.vega_lite_chart(data, spec, width="stretch")


def _scale(domain: list, colours: list) -> dict:
    return {"domain": domain, "range": colours}


def milestone_layers() -> list[dict]:
    """Dashed rules and labels at the TR milestones, as Vega-Lite layers with their own data."""
    values = [{"date": d, "event": e} for d, e in ex.MILESTONES]
    return [{"data": {"values": values}, "mark": {"type": "rule", "strokeDash": [4, 4], "color": "#777"},
             "encoding": {"x": {"field": "date", "type": "temporal"},
                          "tooltip": [{"field": "event", "type": "nominal"}, {"field": "date", "type": "temporal"}]}},
            {"data": {"values": values},
             "mark": {"type": "text", "angle": 270, "align": "right", "baseline": "bottom", "dx": -4, "dy": -2,
                      "fontSize": 10, "color": "#555"},
             "encoding": {"x": {"field": "date", "type": "temporal"}, "y": {"value": 4},
                          "text": {"field": "event", "type": "nominal"}}}]


def time_chart(ts: pd.DataFrame, field: str, title: str, domain: list, colours: list) -> tuple[pd.DataFrame, dict]:
    """Share of units per period: points sized by the period's number of units, lines only between
    consecutive periods (``segment``), so nothing suggests a trend across empty months or years."""
    data = ts.assign(period=ts["period"].dt.strftime("%Y-%m-%d"))
    x = {"field": "period", "type": "temporal", "title": "date (comment timestamp, else thread date)"}
    y = {"field": "share", "type": "quantitative", "axis": {"format": "%"}, "title": "share of units"}
    colour = {"field": field, "type": "nominal", "title": title, "scale": _scale(domain, colours)}
    tooltip = [{"field": field, "type": "nominal"}, {"field": "period", "type": "temporal"},
               {"field": "units", "type": "quantitative", "title": "units with it"},
               {"field": "total", "type": "quantitative", "title": "n (units in the period)"},
               {"field": "share", "type": "quantitative", "format": ".1%"}]
    lines = {"mark": {"type": "line", "strokeWidth": 1.5, "opacity": 0.7},
             "encoding": {"x": x, "y": y, "color": colour, "detail": {"field": "segment", "type": "nominal"}}}
    points = {"mark": {"type": "circle", "opacity": 0.85},
              "encoding": {"x": x, "y": y, "color": colour, "tooltip": tooltip,
                           "size": {"field": "total", "type": "quantitative", "title": "n units",
                                    "scale": {"range": [30, 400], "zero": False}}}}
    return data, {"layer": [lines, points] + milestone_layers(), "height": 300}


def bar_labels(field: str, title: str | None = None) -> dict:
    """A y axis that labels every bar: Vega-Lite drops overlapping labels by default."""
    return {"field": field, "type": "nominal", "sort": None, "title": title,
            "axis": {"labelLimit": 220, "labelOverlap": False, "labelFontSize": 11}}


def heatmap_spec(x: str, y: str, value: str, order: list, fmt: str, title: str | None = None,
                 dark_above: float | None = None) -> dict:
    enc = {"x": {"field": x, "type": "nominal", "sort": order, "title": None,
                 "axis": {"labelAngle": -30, "labelLimit": 160, "labelOverlap": False}},
           "y": {"field": y, "type": "nominal", "sort": order, "title": None, "axis": {"labelLimit": 200}}}
    spec = {"encoding": enc, "height": 240, "layer": [
        {"mark": "rect", "encoding": {"color": {"field": value, "type": "quantitative", "scale": {"scheme": "blues"},
                                                "title": value},
                                      "tooltip": [{"field": y, "type": "nominal"}, {"field": x, "type": "nominal"},
                                                  {"field": value, "type": "quantitative", "format": fmt}]}},
        {"mark": {"type": "text", "fontSize": 11},
         "encoding": {"text": {"field": value, "type": "quantitative", "format": fmt},
                      "color": ({"condition": {"test": f"datum['{value}'] > {dark_above}", "value": "white"},
                                 "value": "black"} if dark_above is not None else {"value": "black"})}}]}
    if title:
        spec["title"] = title
    return spec

