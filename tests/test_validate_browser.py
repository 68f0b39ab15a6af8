"""The Validate page in a real browser (headless Chromium, as in test_app_browser.py): draw a sample,
code a unit blind through the form, resume, adjudicate a disagreement between two researchers and
read the corrected shares.  Most of the sheet is coded through the annotation store (as if in
earlier sessions) to keep the test short; every step a researcher takes is tried in the browser."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest

import chromium
from test_app import build_app_data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    browser, driver = chromium.find_chromium()
    if browser is None or driver is None:
        if chromium.browser_required():
            pytest.fail("browser tests required (CI / PROBATION_TR_REQUIRE_BROWSER) but chromium is missing")
        pytest.skip("chromium and chromium-driver are not installed")
    paths = build_app_data(tmp_path_factory.getbasetemp())
    run = tmp_path_factory.mktemp("validate_browser") / "run"
    shutil.copytree(paths["run"], run)  # the validation is written into the run: keep the shared one clean
    return {"PROBATION_TR_RUN": str(run), "PROBATION_TR_LABELS": str(paths["labels"]),
            "PROBATION_TR_ANNOTATIONS": str(run.parent / "annotations.jsonl"), "PROBATION_TR_MODEL": "rules",
            "PROBATION_TR_CORPUS": str(paths["corpus"])}, run


def _click(driver, js_find: str, *args) -> None:
    """Click the element a JS snippet returns (scrolled into view first)."""
    el = driver.execute_script(js_find, *args)
    assert el is not None, (js_find, args)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
    el.click()


def _widget(kind: str) -> str:
    return (f"return [...document.querySelectorAll('[data-testid=\"{kind}\"]')]"
            ".find(w => (w.querySelector('[data-testid=\"stWidgetLabel\"]') || {}).innerText.trim() === arguments[0])")


def radio(driver, label: str, option: str) -> None:
    _click(driver, _widget("stRadio").replace("return ", "const w = ") +
           "; return w && [...w.querySelectorAll('label')].find(l => l.innerText.trim() === arguments[1]);",
           label, option)


def choose(driver, label: str, option: str) -> None:
    _click(driver, _widget("stMultiSelect").replace("return ", "const w = ") +
           "; return w && w.querySelector('input[role=\"combobox\"]');", label)
    t0 = time.time()
    while time.time() - t0 < 10:
        el = driver.execute_script("return [...document.querySelectorAll('[role=\"option\"]')]"
                                   ".find(o => o.innerText.trim() === arguments[0]);", option)
        if el is not None:
            el.click()
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"no option {option!r} in {label!r}")
    driver.execute_script("document.activeElement && document.activeElement.blur();")


def button(driver, text: str, wanted: list[str]) -> str:
    since = driver.execute_script("return performance.now()")
    _click(driver, "return [...document.querySelectorAll('button')].find(b => b.innerText.trim() === arguments[0]);",
           text)
    return chromium.wait_settled(driver, wanted, since)[0]


def step(driver, name: str, wanted: list[str]) -> str:
    since = driver.execute_script("return performance.now()")
    radio(driver, "Step", name)
    return chromium.wait_settled(driver, wanted, since)[0]


def checked_radios(driver) -> int:
    return driver.execute_script("return document.querySelectorAll('[data-testid=\"stForm\"] input[type=radio]:checked').length")


def test_validate_flow_in_chromium(env):
    from pipeline.store import AnnotationStore

    environ, run = env
    with chromium.StreamlitServer(environ, run.parent / "streamlit.log") as server:
        driver = chromium.new_driver()
        try:
            chromium.load(driver, f"{server.url}/?page=Validate", ["Validate", "Draw the sample"])
            chromium.set_text(driver, "Units to sample", "14", [])
            button(driver, "Draw the sample", ["A sample of 14 of 186 units"])
            sheet = [json.loads(x) for x in (run / "validation" / "sheet.jsonl").read_text().splitlines()]

            step(driver, "Code", ["Your name"])
            text, _ = chromium.set_text(driver, "Your name (each researcher codes under their own name)", "alice",
                                        ["Unit 1 of 14", "0 of 14 units coded by alice"])
            assert checked_radios(driver) == 0  # blind: nothing chosen for the researcher
            assert "p_" not in text and "model" not in text.split("Unit 1 of 14")[1].lower()
            button(driver, "Save and next", ["Choose the themes"])  # an empty form is refused
            choose(driver, "Themes", "(no theme applies)")
            radio(driver, "Stance toward TR", "none")
            radio(driver, "Stance toward the unit it answers", "comment")
            button(driver, "Save and next", ["Unit 2 of 14", "1 of 14 units coded by alice"])

            # the rest of the sheet was coded in other sessions; bob disagrees on one unit
            store = AnnotationStore(run / "validation" / "sheet.coded.jsonl")
            for coder in ("alice", "bob"):
                for i, r in enumerate(sheet):
                    if coder == "alice" and i == 0:
                        continue
                    store.add({"unit_id": r["unit_id"], "annotator": coder, "stance_tr": "none", "reply_stance": "comment",
                               "themes": ["workload"] if (coder == "bob" and i == 5) else [],
                               "fingerprint": r.get("fingerprint")})
            chromium.load(driver, f"{server.url}/?page=Validate", ["Validate"])  # a new session resumes
            step(driver, "Code", ["Your name"])
            chromium.set_text(driver, "Your name (each researcher codes under their own name)", "alice",
                              ["You have coded the whole sample"])

            step(driver, "Adjudicate", ["Disagreements to adjudicate: 1", "Agreement between coders"])
            assert checked_radios(driver) == 0
            choose(driver, "Themes", "(no theme applies)")
            radio(driver, "Stance toward TR", "none")
            radio(driver, "Stance toward the unit it answers", "comment")
            box = driver.find_element("css selector", 'input[aria-label="Why (required)"]')
            box.send_keys("no workload in the text")
            button(driver, "Save as gold", ["Disagreements to adjudicate: 0"])

            step(driver, "Results", ["Score the sample"])
            text = button(driver, "Score the sample", ["Validation sample: 14 units", "report.md beside it"])
            assert "Traceback" not in text
            assert not driver.execute_script("return document.querySelectorAll('[data-testid=\"stException\"]').length")
            v = json.loads((run / "validation" / "validation.json").read_text())
            assert v["n"] == 14 and v["annotator"] == "adjudicated"
        finally:
            driver.quit()
