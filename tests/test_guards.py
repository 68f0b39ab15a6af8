"""Guards for behaviour that used to change without any test noticing (issue 13, item 9).

Each test names the change it catches; each was checked by making that change and watching it fail.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
from lxml import etree

from pipeline.codebook import load_codebook
from pipeline.runs import CODEBOOK_PATH


@pytest.fixture(scope="module")
def cb():
    return load_codebook(CODEBOOK_PATH)


# ------------------------------------------------ tuned thresholds (ignoring them changed 25 seed units)

def test_theme_decisions_use_the_tuned_thresholds(cb):
    from pipeline.classify.decisions import decide

    names = cb.theme_names
    probs = {t: np.array([0.3, 0.7]) for t in names}
    for scheme in ("stance_tr", "reply_stance"):
        for v in cb.values(scheme):
            probs[v] = np.array([0.5, 0.5])
    low = decide(cb, probs, {t: 0.2 for t in names})
    high = decide(cb, probs, {t: 0.8 for t in names})
    assert low[0]["themes"] == names and low[1]["themes"] == names
    assert high[0]["themes"] == [] and high[1]["themes"] == []
    mixed = decide(cb, probs, {names[0]: 0.25, **{t: 0.9 for t in names[1:]}})
    assert mixed[0]["themes"] == [names[0]]


# ------------------------------------------------ Krippendorff's alpha is nominal (not interval)

def _nominal_alpha(a: list, b: list) -> float:
    """Krippendorff's alpha for two coders, no missing values, nominal metric: from the coincidence
    matrix (Krippendorff 2011, 'Computing Krippendorff's alpha-reliability'), written independently."""
    values = sorted(set(a) | set(b))
    idx = {v: i for i, v in enumerate(values)}
    o = np.zeros((len(values), len(values)))
    for x, y in zip(a, b):
        o[idx[x], idx[y]] += 1
        o[idx[y], idx[x]] += 1
    n_c = o.sum(1)
    n = n_c.sum()
    observed = o.sum() - np.trace(o)
    expected = (n_c.sum() ** 2 - (n_c ** 2).sum()) / (n - 1)
    return 1 - observed / expected


def test_stance_alpha_is_nominal(cb):
    from pipeline.evaluate import agreement

    # disagreements between the 1st and 3rd values weigh 4x under the interval metric, not under nominal
    values = cb.values("stance_tr")
    a = [values[0]] * 6 + [values[1]] * 6 + [values[2]] * 6
    b = [values[0]] * 4 + [values[2]] * 2 + [values[1]] * 5 + [values[0]] + [values[2]] * 6
    joined = pd.DataFrame({"themes_gold": [[] for _ in a], "themes_pred": [[] for _ in a],
                           "stance_tr_gold": a, "stance_tr_pred": b,
                           "reply_stance_gold": ["comment"] * len(a), "reply_stance_pred": ["comment"] * len(a)})
    got = agreement(joined, cb)["stance_tr"]["alpha"]
    assert got == pytest.approx(_nominal_alpha(a, b), abs=1e-3)


# ------------------------------------------------ 95% bootstrap intervals are 2.5-97.5 percentiles

def test_bootstrap_interval_is_the_central_95_percent():
    from pipeline.evaluate import _ci

    values = np.arange(0, 1001) / 1000
    assert _ci(values) == (0.025, 0.975)


def test_score_interval_is_wide_enough_for_a_coin_flip_coder(cb):
    """A coder guessing at random on 200 units: its F1's 95% interval is wide (a 25-75% interval
    would be less than half as wide)."""
    from pipeline.evaluate import score

    rng = np.random.default_rng(0)
    t = cb.theme_names[0]
    gold = [[t] if x else [] for x in rng.random(200) < 0.5]
    pred = [[t] if x else [] for x in rng.random(200) < 0.5]
    joined = pd.DataFrame({"unit_id": [f"t/c{i}" for i in range(200)], "themes_gold": gold, "themes_pred": pred,
                           "stance_tr_gold": "none", "stance_tr_pred": "none",
                           "reply_stance_gold": "comment", "reply_stance_pred": "comment"})
    row = next(r for r in score(joined, cb)["per_label"] if r["label"] == t)
    lo, hi = row["f1_ci_units"]
    assert lo < row["f1"] < hi and hi - lo > 0.12


# ------------------------------------------------ the REFI-QDA export stays well-formed XML

def test_qdpx_is_well_formed_with_control_characters_in_the_text(cb):
    from pipeline import explore as ex
    from test_explore import make_df

    nasty = "bell\x07 vertical-tab\x0b form-feed\x0c escape\x1b null\x00 end"
    df = make_df(cb, [{"unit_id": "t/post", "kind": "post", "depth": 0, "text": nasty, "author": "Ann\x08ie"},
                      {"unit_id": "t/c1", "parent_id": "t/post", "text": "ok " + nasty, "themes": [cb.theme_names[0]]}])
    data = ex.refi_qda_project(df, cb, project_name="ctl\x01")
    zf = zipfile.ZipFile(io.BytesIO(data))
    for name in zf.namelist():
        raw = zf.read(name)
        if name.endswith(".qde"):
            etree.fromstring(raw, etree.XMLParser(resolve_entities=False))  # raises if not well-formed
        assert not any(c in raw.decode("utf-8") for c in "\x00\x07\x08\x0b\x0c\x1b\x01")


# ------------------------------------------------ the thread view escapes authors

@pytest.mark.parametrize("author", ['<img src=x onerror="alert(1)">', "<script>alert(1)</script>",
                                    '"><b>bold</b>'])
def test_thread_view_escapes_author_names(cb, author):
    from pipeline import explore as ex
    from test_explore import make_df

    df = make_df(cb, [{"unit_id": "t/post", "kind": "post", "depth": 0, "author": author, "text": "hi"}])
    out = ex.thread_tree_html(ex.thread_units(df, "t"), cb)
    assert "<img" not in out and "<script" not in out and "<b>bold" not in out
    assert "&lt;" in out


# ------------------------------------------------ the app's CSV downloads are formula-safe too

def test_app_csv_export_never_runs_formulas(cb):
    from pipeline import explore as ex
    from test_explore import make_df

    df = make_df(cb, [{"unit_id": "t/c1", "author": "@SUM(A1)", "text": "=HYPERLINK(\"http://evil\",\"x\")"},
                      {"unit_id": "t/c2", "text": "+44 plain", "themes": [cb.theme_names[0]]}])
    blob = ex.to_csv_bytes(ex.export_frame(df, cb)).decode()
    assert "'=HYPERLINK" in blob and "'@SUM" in blob and "'+44 plain" in blob
    assert not any(cell.startswith(("=", "@", "+")) for line in blob.splitlines() for cell in line.split(","))
