"""The learner's view: JupyterLab in headless Chromium, the playground and its sliders.

Starts JupyterLab the way `make lab` does (scripts/lab.sh) on a free loopback port with a
token, runs 02_playground.ipynb from the Run menu, then moves the temperature slider with
the keyboard as a learner would. Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
NOTEBOOK = "02_playground.ipynb"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (make test installs it when run as root: "
    "apt-get install chromium)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on notebooks/, started as `make lab` starts it, with a fresh config."""
    home = tmp_path_factory.mktemp("jupyter")
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    log = open(home / "lab.log", "w")
    proc = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "lab.sh"), f"--port={port}", "--no-browser",
         f"--IdentityProvider.token={token}"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/api/status?token={token}", proc, home / "lab.log")
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer in {timeout} s")


@pytest.fixture
def page(lab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        finally:
            browser.close()


def test_playground_sliders_rerun_generation(lab, page):
    url, token = lab
    page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={token}")
    status = page.locator("#jp-main-statusbar")
    status.get_by_text(re.compile(r"\| Idle")).wait_for(timeout=120_000)
    page.locator("#jp-mainmenu-run").click()
    page.locator(
        "#jp-mainmenu-run .lm-Menu-item[data-command='runmenu:run-all']"
    ).click()

    panel = page.locator(".vlesson-panel").first
    panel.wait_for(timeout=300_000)
    settings = panel.locator(".vlesson-settings")
    settings.wait_for(timeout=300_000)
    panel.locator(".vlesson-text").first.wait_for(timeout=300_000)
    before = settings.inner_text()
    before_dist = panel.locator(".vlesson-distribution").inner_text()
    start_temp = float(re.search(r"temperature=([\d.]+)", before).group(1))
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "playground-before.png"), full_page=False)

    slider = panel.locator(".widget-slider").filter(has_text="temperature")
    handle = slider.locator(".noUi-handle")
    handle.focus()
    for _ in range(6):  # six steps of 0.05 with the keyboard, as a learner would
        handle.press("ArrowRight")
    page.wait_for_function(
        "([el, old]) => el.innerText !== old",
        arg=[settings.element_handle(), before],
        timeout=120_000,
    )
    after = settings.inner_text()
    new_temp = float(re.search(r"temperature=([\d.]+)", after).group(1))
    assert new_temp == pytest.approx(start_temp + 0.30, abs=1e-6)
    readout = slider.locator(".widget-readout").inner_text()
    assert float(readout) == pytest.approx(new_temp)
    page.wait_for_function(
        "([el, old]) => el.innerText !== old",
        arg=[panel.locator(".vlesson-distribution").element_handle(), before_dist],
        timeout=60_000,
    )
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "playground-after.png"), full_page=False)
