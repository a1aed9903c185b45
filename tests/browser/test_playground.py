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
# The first panel's (the notebook has more). The HTML widgets replace their content on
# every update: always query afresh, and read textContent (innerText is empty for cells
# scrolled out of view, which are not rendered).
SETTINGS = ".vlesson-panel .vlesson-output .vlesson-settings"
DISTRIBUTION = ".vlesson-panel .vlesson-next-token"
ALL_CELLS_RAN = """() => {
    const prompts = [...document.querySelectorAll(".jp-CodeCell .jp-InputPrompt")];
    return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""

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
    # A scratch copy: JupyterLab autosaves outputs, and the committed notebooks stay clean.
    shutil.copytree(ROOT / "notebooks", home / "notebooks")
    env = {
        **os.environ,
        "VLESSON_NOTEBOOKS": str(home / "notebooks"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    with open(home / "lab.log", "w") as log:
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
    try:
        _drive_playground(page, *lab)
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "failure.png"))  # what the learner saw
        raise


def _drive_playground(page, url: str, token: str) -> None:
    page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={token}")
    status = page.locator("#jp-main-statusbar")
    status.get_by_text(re.compile(r"\| Idle")).wait_for(timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(
        "#jp-mainmenu-run .lm-Menu-item[data-command='runmenu:run-all']"
    ).click()
    # Every code cell shows its execution number once it ran ([*] while queued). The
    # kernel's status alone is no sign: it shows Idle for a moment between two cells.
    page.wait_for_function(ALL_CELLS_RAN, timeout=600_000)
    status.get_by_text(re.compile(r"\| Idle")).wait_for(timeout=60_000)

    panel = page.locator(".vlesson-panel").first
    panel.wait_for(timeout=60_000)
    panel.scroll_into_view_if_needed()  # where the learner looks, for the screenshots
    settings = page.locator(SETTINGS).first
    panel.locator(".vlesson-output pre").wait_for(timeout=60_000)
    assert panel.locator(".vlesson-output pre").text_content().strip()  # a generation
    before = settings.text_content()
    before_dist = page.locator(DISTRIBUTION).first.text_content()
    start_temp = float(re.search(r"temperature=([\d.]+)", before).group(1))
    slider = panel.locator(".widget-slider").filter(has_text="temperature")
    assert float(slider.locator(".widget-readout").text_content()) == start_temp
    page.screenshot(path=str(ARTIFACTS / "playground-before.png"), full_page=False)

    handle = slider.locator(".noUi-handle")
    handle.focus()
    for _ in range(6):  # six steps of 0.05 with the keyboard, as a learner would
        handle.press("ArrowRight")
    # Each key press is one change; the last generation shows the final value.
    expected = f"temperature={start_temp + 0.30:.2f}"
    shows = "([sel, text]) => document.querySelector(sel).textContent.includes(text)"
    page.wait_for_function(shows, arg=[SETTINGS, expected], timeout=180_000)
    assert float(slider.locator(".widget-readout").text_content()) == pytest.approx(
        start_temp + 0.30
    )
    assert panel.locator(".vlesson-output pre").text_content().strip()
    page.wait_for_function(shows, arg=[DISTRIBUTION, expected], timeout=60_000)
    assert page.locator(DISTRIBUTION).first.text_content() != before_dist
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "playground-after.png"), full_page=False)
