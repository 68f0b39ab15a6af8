"""The explorer's honest edges, as pure functions: time series that never bridge empty periods,
how units are placed in time, regex errors, mode-correct filter wording, concordance contexts,
chart titles that carry the filter, every evaluation of a run labelled, and RunDir."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from pipeline import explore as ex
from pipeline.codebook import load_codebook
from pipeline.paths import CODEBOOK_PATH
from pipeline.rundir import RunDir
from test_app import build_app_data


@pytest.fixture(scope="module")
def cb():
    return load_codebook(CODEBOOK_PATH)


def dated(cb, dates: list[str | None], theme_of: list[bool]) -> pd.DataFrame:
    code = cb.theme_names[0]
    return pd.DataFrame({"unit_date": pd.to_datetime(dates), ex.theme_col(code): theme_of,
                         **{ex.theme_col(c): [False] * len(dates) for c in cb.theme_names[1:]},
                         "stance_tr": ["none"] * len(dates),
                         "date_source": ["own" if d else "none" for d in dates]})


def test_time_series_never_joins_across_empty_periods(cb):
    df = dated(cb, ["2014-01-05", "2014-01-20", "2014-02-03", "2016-05-01", None], [True, False, True, True, False])
    ts = ex.time_series(df, cb, "M", "themes")
    one = ts[ts["series"] == cb.theme_names[0]]
    assert one["period"].dt.strftime("%Y-%m").tolist() == ["2014-01", "2014-02", "2016-05"]  # no empty months
    assert one["total"].tolist() == [2, 1, 1] and one["units"].tolist() == [1, 1, 1]
    assert one["segment"].tolist() == [1, 1, 2]  # Feb 2014 -> May 2016 is a gap, never a line
    yearly = ex.time_series(df, cb, "Y", "themes")
    assert yearly.drop_duplicates("period")["segment"].tolist() == [1, 2]  # 2014, (no 2015), 2016
    assert ex.time_series(df.iloc[4:], cb, "M", "themes").empty


def test_units_are_placed_by_their_own_timestamp(cb, tmp_path_factory):
    run = build_app_data(tmp_path_factory.getbasetemp())["run"]
    df = ex.read_run(run, cb)["units"]
    c1 = df.set_index("unit_id").loc["evil/c2"]
    assert c1["unit_date"] == pd.Timestamp("2016-05-02") and c1["date_source"] == "own"
    assert df.set_index("unit_id").loc["evil/post", "date_source"] == "thread"
    basis = ex.date_basis(df)
    assert sum(basis.values()) == len(df) and basis["own"] >= 3 and basis["none"] > 0
    caption = ex.date_caption(df)
    assert f"{basis['none']:,} undated units are not shown" in caption


def test_regex_error_and_mode_wording():
    assert ex.Filters(text="caseload(", regex=True).regex_error().startswith("missing )")
    assert ex.Filters(text="caseload(", regex=False).regex_error() is None
    assert ex.Filters(text="case(load)?", regex=True).regex_error() is None
    assert "predicted codes" in ex.Filters(themes=("workload",)).describe()
    gold = ex.Filters(themes=("workload",), stance_tr=("against",), source="gold").describe()
    assert "predicted" not in gold and gold.count("gold codes") == 2
    assert "authors in Commenter 1" in ex.Filters(authors=("Alice",)).describe(lambda a: "Commenter 1")


def test_kwic_context_is_whole_words():
    texts = pd.Series({"u": "we heard nightmare stories about caseloads in the north and south"})
    line = ex.kwic(texts, "caseloads", window=20).iloc[0]
    assert line["left"] == "\u2026 stories about"  # not '...mare stories about'
    assert line["right"] == "in the north and \u2026"
    whole = ex.kwic(texts, "caseloads", window=200).iloc[0]
    assert whole["left"] == "we heard nightmare stories about" and "\u2026" not in whole["right"]


def test_png_charts_carry_the_filter_in_their_title(cb, monkeypatch):
    seen = {}
    monkeypatch.setattr(ex.charts, "png_prevalence", lambda tab, title: seen.setdefault("title", title) and b"png")
    df = dated(cb, ["2015-01-01"], [True]).assign(n_themes=1)
    ex.chart_png("prevalence", df, cb, where="any of themes workload (gold codes)", source="gold")
    assert seen["title"] == "Theme prevalence\n1 units (gold labels): any of themes workload (gold codes)"
    with pytest.raises(ValueError):
        ex.chart_png("pie", df, cb)


def test_every_evaluation_is_listed_held_out_first(tmp_path):
    run = tmp_path / "run"
    for folder, data in {"evaluation": {"title": "run vs gold", "main": {"summary": {"n_units": 182}}},
                         "evaluation_cv": {"title": "leave-one-thread-out cross-validation of 'combined'",
                                           "baselines": {"rules": {}}, "main": {"summary": {"n_units": 182}}}}.items():
        (run / folder).mkdir(parents=True)
        (run / folder / "evaluation.json").write_text(json.dumps(data))
    (run / "validation").mkdir()
    (run / "validation" / "validation.json").write_text(json.dumps({"kind": "validation", "n": 40}))
    (run / "evaluation_bad").mkdir()
    (run / "evaluation_bad" / "evaluation.json").write_text("{not json")
    found = ex.list_evaluations(run)
    assert [(e.kind, e.n, e.path.parent.name) for e in found] == [
        ("held-out", 182, "evaluation_cv"), ("validation sample", 40, "validation"), ("in-sample", 182, "evaluation")]
    assert found[0].label.startswith("held-out (n = 182)")


def test_rundir_report_and_creation_time(tmp_path):
    rd = RunDir(tmp_path)
    assert rd.report() == {} and not rd.exists()
    rd.write_report({"stage": "parse", "warnings": [1]})
    rd.update_report("classify", {"model": "rules"})
    assert rd.report() == {"stage": "parse", "warnings": [1], "classify": {"model": "rules"}}
    (tmp_path / "units.parquet").write_bytes(b"x")
    os.utime(tmp_path / "units.parquet", (1_500_000_000, 1_500_000_000))
    assert rd.created() == "2017-07-14T02:40:00Z"  # the table's time: the same run stamps the same time
    rd.update_report("created", "2020-01-02T03:04:05Z")
    assert rd.created() == "2020-01-02T03:04:05Z"


def test_report_md_has_no_entity_debris():
    from pipeline.evaluate import _md_escape  # what report.md's error table is escaped with

    assert _md_escape("don't <b>it</b>") == "don't &lt;b&gt;it&lt;/b&gt;"  # not "don&\\#x27;t"
