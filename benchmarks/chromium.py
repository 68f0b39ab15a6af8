"""Headless Chromium driving the explorer under ``streamlit run``: shared by the real-browser tests
(tests/test_app_browser.py) and the browser benchmark (benchmarks/browser_bench.py).

Uses Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium chromium-driver``)
through Selenium with explicit paths, so nothing is ever downloaded (Selenium Manager is not
consulted when the driver path is given).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")
RUNNING = "!!document.querySelector('[data-testid=\"stStatusWidget\"]')"
# Installed before any page script: remembers when the DOM last changed (ms since navigation start).
# "Settled" is the last change before a quiet spell, so the figure is when the page stopped
# changing, not when the poll happened to look.
OBSERVER = """
window.__lastMutation = performance.now();
new MutationObserver(() => { window.__lastMutation = performance.now(); })
  .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""
# Elements Streamlit has not yet redrawn in this run are marked stale (faded) until it ends.
STALE = "!!document.querySelector('[data-stale=\"true\"]')"


def find_chromium() -> tuple[str | None, str | None]:
    """Paths of the chromium binary and of chromedriver (None when not installed)."""
    browser = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists()
                                              else None)
    return browser, driver


def browser_required() -> bool:
    """In CI (CI=1/true) or with PROBATION_TR_REQUIRE_BROWSER=1 a missing browser is a failure, not a skip."""
    return (os.environ.get("CI", "").lower() in ("1", "true", "yes")
            or os.environ.get("PROBATION_TR_REQUIRE_BROWSER") == "1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """``streamlit run app.py`` on a free localhost port with the given environment (a context manager)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.port, self.proc = env, log, free_port(), None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "StreamlitServer":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.headless", "true",
                 "--server.port", str(self.port), "--server.address", "127.0.0.1",
                 "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                cwd=REPO_ROOT, env={**os.environ, **self.env}, stdout=fh, stderr=subprocess.STDOUT)
        t0 = time.time()
        while time.time() - t0 < 90:
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited: {self.log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.2)
        raise TimeoutError(f"streamlit did not answer on {self.url}")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def new_driver(width: int = 1400, height: int = 1000):
    """A headless Chromium under Selenium, from the Debian packages."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = find_chromium()
    if browser is None or driver is None:
        raise RuntimeError("chromium or chromedriver is not installed (apt-get install -y chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--window-size={width},{height}")
    chrome = webdriver.Chrome(options=opts, service=Service(executable_path=driver))
    chrome.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": OBSERVER})
    return chrome


def text_of(driver) -> str:
    return driver.execute_script("return document.body ? document.body.innerText : ''") or ""


def wait_settled(driver, wanted: list[str], since_ms: float = 0.0, timeout: float = 60,
                 quiet: float = 0.6) -> tuple[str, float]:
    """Wait until every string in ``wanted`` is visible, Streamlit is idle (no running script, no stale
    element) and the DOM has not changed for ``quiet`` seconds.  Returns the page text and the
    seconds from ``since_ms`` (page time; 0 = navigation start) to the DOM's last change."""
    t0 = time.perf_counter()
    text = ""
    while time.perf_counter() - t0 < timeout:
        text = text_of(driver)
        if all(w in text for w in wanted):
            idle, last, now = driver.execute_script(
                f"return [!({RUNNING} || {STALE}), window.__lastMutation || 0, performance.now()]")
            if idle and now - last >= quiet * 1000:
                return text, (last - since_ms) / 1000
        time.sleep(0.05)
    missing = [w for w in wanted if w not in text]
    raise AssertionError(f"not settled after {timeout}s; missing {missing}\n{text[:1500]}")


def load(driver, url: str, wanted: list[str], timeout: float = 60) -> tuple[str, float]:
    """Open ``url`` (a new Streamlit session) and time it from navigation start to a settled page."""
    driver.get(url)
    return wait_settled(driver, wanted, 0.0, timeout)


def set_text(driver, label: str, value: str, wanted: list[str], timeout: float = 60) -> tuple[str, float]:
    """Type ``value`` into the text input labelled ``label``, press Enter; seconds to a settled page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.CSS_SELECTOR, f'input[aria-label="{label}"]')
    box.send_keys(Keys.CONTROL, "a")  # clear() does not reach React's state; select-all and type over does
    box.send_keys(Keys.DELETE)
    box.send_keys(value)
    wait_settled(driver, [], 0.0, timeout, quiet=0.3)  # typing itself redraws nothing, but let it rest
    since = driver.execute_script("return performance.now()")
    box.send_keys(Keys.ENTER)
    return wait_settled(driver, wanted, since, timeout)


def screenshot(driver, path: Path, max_height: int = 2200) -> Path:
    """The whole page (the window grown to the main area's height), as PNG."""
    h = driver.execute_script("const m = document.querySelector('[data-testid=\"stMain\"]') || document.body;"
                              "return Math.max(document.body.scrollHeight, m.scrollHeight);") or 1000
    size = driver.get_window_size()
    driver.set_window_size(size["width"], int(min(max(h, 900), max_height)))
    time.sleep(0.4)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    driver.set_window_size(size["width"], size["height"])
    from PIL import Image  # (matplotlib's dependency) 256 colours: a third of the bytes, same picture

    Image.open(path).convert("RGB").quantize(colors=256).save(path, optimize=True)
    return path
