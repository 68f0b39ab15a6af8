"""The explorer in a real browser: `streamlit run app.py` on localhost, loaded in headless Chromium.

Chromium's one-shot modes (``--screenshot`` / ``--dump-dom`` with ``--virtual-time-budget``)
stop before Streamlit has drawn anything: the page is built from messages on a websocket,
and virtual time runs out without waiting for them.  So the test starts Chromium with the
same flags plus ``--remote-debugging-port`` and drives it over the DevTools protocol
(tornado's websocket client, a Streamlit dependency): load a URL, wait until the expected
text is visible, check the DOM, save a screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from test_app import build_app_data

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium); "
                                                          "the browser test needs /usr/bin/chromium")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    paths = build_app_data(tmp_path_factory.getbasetemp())
    port = free_port()
    env = dict(os.environ, PROBATION_TR_RUN=str(paths["run"]), PROBATION_TR_LABELS=str(paths["labels"]),
               PROBATION_TR_ANNOTATIONS=str(tmp_path_factory.mktemp("browser") / "annotations.jsonl"),
               PROBATION_TR_MODEL="rules", PROBATION_TR_CORPUS=str(paths["corpus"]))
    log = tmp_path_factory.mktemp("browser_log") / "streamlit.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
                                 "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                                 "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                                cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


class Browser:
    """Headless Chromium driven over the DevTools protocol."""

    def __init__(self, user_dir: Path, width: int = 1400, height: int = 1000) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={user_dir}",
             f"--window-size={width},{height}", f"--remote-debugging-port={self.port}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self._id = 0

    async def connect(self) -> None:
        from tornado.websocket import websocket_connect

        t0 = time.time()
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json", timeout=2) as r:
                    page = next(t for t in json.load(r) if t["type"] == "page")
                break
            except (OSError, StopIteration):
                if time.time() - t0 > 30:
                    raise
                await asyncio.sleep(0.2)
        self.ws = await websocket_connect(page["webSocketDebuggerUrl"], max_message_size=100_000_000)
        await self.call("Page.enable")
        await self.call("Runtime.enable")

    async def call(self, method: str, **params):
        self._id += 1
        mid = self._id
        await self.ws.write_message(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.read_message())
            if msg.get("method") == "Page.javascriptDialogOpening":
                self.dialogs.append(msg["params"].get("message", ""))
                await self.ws.write_message(json.dumps({"id": 10**6 + mid, "method": "Page.handleJavaScriptDialog",
                                                        "params": {"accept": False}}))
            elif msg.get("method") == "Runtime.exceptionThrown":
                self.errors.append(msg["params"]["exceptionDetails"].get("text", ""))
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return msg.get("result", {})

    async def evaluate(self, expression: str):
        r = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r.get("result", {}).get("value")

    async def load(self, url: str, wait_for: list[str], timeout: float = 45) -> str:
        """Navigate and wait until every string in ``wait_for`` is visible text; return the text."""
        await self.call("Page.navigate", url=url)
        t0 = time.time()
        text = ""
        while time.time() - t0 < timeout:
            text = await self.evaluate("document.body ? document.body.innerText : ''") or ""
            running = await self.evaluate("!!document.querySelector('[data-testid=\"stStatusWidget\"]')")
            if all(w in text for w in wait_for) and not running:
                await asyncio.sleep(1.0)  # let charts finish drawing
                return await self.evaluate("document.body.innerText") or ""
            await asyncio.sleep(0.3)
        raise AssertionError(f"not visible after {timeout}s: {[w for w in wait_for if w not in text]}\n{text[:2000]}")

    async def screenshot(self, path: Path, full_height: bool = True) -> Path:
        if full_height:
            main = "(document.querySelector('[data-testid=\"stMain\"]') || document.body)"
            h = await self.evaluate(f"Math.max(document.body.scrollHeight, {main}.scrollHeight)")
            await self.call("Emulation.setDeviceMetricsOverride", width=1400,
                            height=int(min(max(h or 1000, 1000), 4000)), deviceScaleFactor=1, mobile=False)
            await asyncio.sleep(0.5)
        r = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(r["data"]))
        return path

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_in_browser(coro_fn, tmp_path: Path):
    async def main():
        browser = Browser(Path(tempfile.mkdtemp(dir=tmp_path)))
        try:
            await browser.connect()
            return await coro_fn(browser)
        finally:
            browser.close()
    return asyncio.run(main())


def save_copy(path: Path) -> None:
    """Keep a copy where the caller asked (PROBATION_TR_SCREENSHOTS), for looking at."""
    target = os.environ.get("PROBATION_TR_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


def test_overview_in_chromium(server, tmp_path):
    async def check(b: Browser):
        text = await b.load(server + "/", ["Probation TR explorer", "Overview", "Theme prevalence",
                                           "Theme co-occurrence", "Themes over time"])
        assert "186" in text  # units in the test run
        n_charts = await b.evaluate("document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] canvas, "
                                    "[data-testid=\"stVegaLiteChart\"] svg').length")
        shot = await b.screenshot(tmp_path / "overview.png")
        return n_charts, shot

    n_charts, shot = run_in_browser(check, tmp_path)
    assert n_charts >= 5
    assert shot.stat().st_size > 20_000
    save_copy(shot)
    print(f"screenshot: {shot}")


def test_hostile_comment_in_chromium(server, tmp_path):
    async def check(b: Browser):
        text = await b.load(server + "/?page=Comments&unit=evil/c1", ["Showing unit evil/c1", "Not a heading"])
        dom = await b.evaluate("""(() => ({
            scripts: [...document.querySelectorAll('script')].filter(s => /xss|alert\\(/.test(s.textContent)).length,
            onerror: document.querySelectorAll('[onerror]').length,
            iframes: [...document.querySelectorAll('iframe')]
                .filter(f => (f.src || '').startsWith('javascript')).length,
            jslinks: [...document.querySelectorAll('a')].filter(a => (a.href || '').startsWith('javascript')).length,
            marks: document.querySelectorAll('.unit-text mark').length,
            headings: [...document.querySelectorAll('h1')].filter(h => h.textContent.includes('Not a heading')).length,
        }))()""")
        shot = await b.screenshot(tmp_path / "comment.png")
        return text, dom, shot, b.dialogs

    text, dom, shot, dialogs = run_in_browser(check, tmp_path)
    assert "<script>alert('xss')</script> **not bold** [click me](javascript:alert(1))" in text  # shown as text
    assert "# Not a heading" in text
    assert "<b>Bold</b> title & <script>alert('title')</script>" in text
    assert dom == {"scripts": 0, "onerror": 0, "iframes": 0, "jslinks": 0, "marks": dom["marks"], "headings": 0}
    assert dom["marks"] >= 1  # evidence highlighted
    assert dialogs == []  # no alert() ever ran
    save_copy(shot)
    print(f"screenshot: {shot}")
