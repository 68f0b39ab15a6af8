"""The explorer in a real browser: `streamlit run app.py` on localhost, driven in headless Chromium
(Debian's chromium + chromium-driver, through Selenium: benchmarks/chromium.py).

Every page is opened in a new session and must settle with its header and no exception; the
hostile thread's markup must stay text; a filter typed into the Comments page must change the
table.  Without Chromium these tests skip locally, but fail under CI=1 or
PROBATION_TR_REQUIRE_BROWSER=1: a green CI run has to mean the app was tried in a browser.
Set PROBATION_TR_SCREENSHOTS=<folder> to keep the screenshots.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

import chromium
from test_app import build_app_data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ui.pages import available  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _missing() -> str | None:
    browser, driver = chromium.find_chromium()
    if browser is None or driver is None:
        return "chromium and chromium-driver are not installed (apt-get install -y chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    problem = _missing()
    if problem:
        if chromium.browser_required():
            pytest.fail(f"browser tests required (CI / PROBATION_TR_REQUIRE_BROWSER) but {problem}")
        pytest.skip(problem)
    paths = build_app_data(tmp_path_factory.getbasetemp())
    env = {"PROBATION_TR_RUN": str(paths["run"]), "PROBATION_TR_LABELS": str(paths["labels"]),
           "PROBATION_TR_ANNOTATIONS": str(tmp_path_factory.mktemp("browser") / "annotations.jsonl"),
           "PROBATION_TR_MODEL": "rules", "PROBATION_TR_CORPUS": str(paths["corpus"])}
    with chromium.StreamlitServer(env, tmp_path_factory.mktemp("browser_log") / "streamlit.log") as srv:
        yield srv


@pytest.fixture(scope="module")
def driver(server):
    d = chromium.new_driver()
    yield d
    d.quit()


def keep(shot: Path) -> None:
    target = os.environ.get("PROBATION_TR_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / shot.name)


def headers(driver) -> list[str]:
    return driver.execute_script("return [...document.querySelectorAll('h1, h2')].map(h => h.innerText.trim())")


@pytest.mark.parametrize("page", available())
def test_every_page_settles_in_chromium(server, driver, tmp_path, page):
    text, seconds = chromium.load(driver, f"{server.url}/?page={page}", ["Probation TR explorer", page])
    assert page in headers(driver), headers(driver)
    assert not driver.execute_script("return document.querySelectorAll('[data-testid=\"stException\"]').length")
    assert "Traceback" not in text
    shot = chromium.screenshot(driver, tmp_path / f"{page.lower()}.png")
    assert shot.stat().st_size > 20_000  # a drawn page, not a blank one
    keep(shot)
    print(f"{page}: settled in {seconds:.2f}s")


def test_overview_draws_its_charts(server, driver):
    text, _ = chromium.load(driver, server.url + "/", ["Theme prevalence", "Theme co-occurrence", "Themes over time"])
    assert "186" in text  # units in the test run
    assert "undated units are not shown" in text
    n = driver.execute_script("return document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] canvas, "
                              "[data-testid=\"stVegaLiteChart\"] svg').length")
    assert n >= 5


def test_hostile_comment_stays_text(server, driver):
    text, _ = chromium.load(driver, server.url + "/?page=Comments&unit=evil/c1", ["Showing unit evil/c1",
                                                                                  "Not a heading"])
    dom = driver.execute_script("""return {
        scripts: [...document.querySelectorAll('script')].filter(s => /xss|alert\\(/.test(s.textContent)).length,
        onerror: document.querySelectorAll('[onerror]').length,
        iframes: [...document.querySelectorAll('iframe')].filter(f => (f.src || '').startsWith('javascript')).length,
        jslinks: [...document.querySelectorAll('a')].filter(a => (a.href || '').startsWith('javascript')).length,
        marks: document.querySelectorAll('.unit-text mark').length,
        headings: [...document.querySelectorAll('h1')].filter(h => h.textContent.includes('Not a heading')).length,
    }""")
    assert "<script>alert('xss')</script> **not bold** [click me](javascript:alert(1))" in text
    assert "# Not a heading" in text
    assert {k: v for k, v in dom.items() if k != "marks"} == {"scripts": 0, "onerror": 0, "iframes": 0,
                                                             "jslinks": 0, "headings": 0}
    assert dom["marks"] >= 1  # evidence highlighted
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # no alert() ever ran


def test_typed_filter_changes_the_table(server, driver):
    chromium.load(driver, server.url + "/?page=Comments", ["units match"])
    text, seconds = chromium.set_text(driver, "Text contains", "iframe", ["text contains 'iframe'"])
    assert "1 of 186 units match" in text and "evil/c2" in text
    text, _ = chromium.set_text(driver, "Text contains", "", ["186 of 186 units match: all units"])
    print(f"filter change settled in {seconds:.2f}s")
