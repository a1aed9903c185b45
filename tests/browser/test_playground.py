"""The learner's view: `make lab` exactly as the README gives it, then JupyterLab in Chromium.

Runs `make lab` itself (a free port, `--no-browser` and a scratch copy of the notebooks go
through the make variables the README documents), opens the page that a learner's browser
opens and checks that 00_contents.ipynb is the open tab; then runs 02_playground.ipynb
from the Run menu and moves the temperature slider with the keyboard as a learner would:
twice quickly, so that the first run streams (partial text) and is aborted by the second,
which ends on the last position; then clicks a token to see its step's distribution.
Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.chromium import ARTIFACTS, ROOT
from vlesson.serving.process import free_port

pytestmark = pytest.mark.engine  # the playground generates on the real engine
CONTENTS = "00_contents.ipynb"
NOTEBOOK = "02_playground.ipynb"
# The first panel's (the notebook has more). The HTML widgets replace their content on
# every update: always query afresh, and read textContent (innerText is empty for cells
# scrolled out of view, which are not rendered).
SETTINGS = ".vlesson-panel .vlesson-output .vlesson-settings"
DISTRIBUTION = ".vlesson-panel .vlesson-next-token"
# The first panel shows these settings, in this state (data-state: running, finished).
SHOWS = """([settings, state]) => {
    const out = document.querySelector(".vlesson-panel .vlesson-output");
    const stats = out && out.querySelector(".vlesson-stats");
    return out !== null && stats !== null && stats.dataset.state === state
        && out.querySelector(".vlesson-settings").textContent.includes(settings)
        && out.querySelectorAll("pre span").length > 0;
}"""
CURRENT_TAB = "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current"
ALL_CELLS_RAN = """() => {
    const panel = document.querySelector(".jp-NotebookPanel:not(.lm-mod-hidden)");
    const prompts = [...panel.querySelectorAll(".jp-CodeCell .jp-InputPrompt")];
    return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""


@dataclass
class Lab:
    """JupyterLab as `make lab` started it."""

    url: str
    """Its address, e.g. http://127.0.0.1:8123."""
    token: str
    open_page: str
    """The file:// page JupyterLab writes for the learner's browser to open."""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab PORT=... LAB_ARGS=--no-browser NOTEBOOKS=copy`, with a fresh config."""
    home = tmp_path_factory.mktemp("jupyter")
    port = free_port()
    # A scratch copy: JupyterLab autosaves outputs, and the committed notebooks stay clean.
    shutil.copytree(ROOT / "notebooks", home / "notebooks")
    runtime = home / "runtime"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "IPYTHONDIR": str(home / "ipython"),
    }
    command = [
        "make",
        "lab",
        f"PORT={port}",
        "LAB_ARGS=--no-browser",
        f"NOTEBOOKS={home / 'notebooks'}",
    ]
    log_path = home / "lab.log"
    with open(log_path, "w") as log:
        # Its own process group: make, bash and jupyter stop together.
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield _wait_for_lab(proc, runtime, log_path)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _wait_for_lab(proc: subprocess.Popen, runtime: Path, log: Path) -> Lab:
    """Wait for the page JupyterLab writes for the browser, and for the server to answer."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"make lab exited {proc.returncode}: {log.read_text()[-3000:]}"
            )
        pages = sorted(runtime.glob("jpserver-file-to-run-*-open.html"))
        if pages:
            target = re.search(r'href="([^"]+)"', pages[0].read_text()).group(1)
            parts = urllib.parse.urlsplit(target)
            token = urllib.parse.parse_qs(parts.query)["token"][0]
            url = f"{parts.scheme}://{parts.netloc}"
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                return Lab(url, token, pages[0].as_uri())
            except OSError:
                pass
        time.sleep(0.5)
    raise TimeoutError(
        f"make lab did not serve JupyterLab in time: {log.read_text()[-3000:]}"
    )


def test_make_lab_opens_the_contents_notebook(page, lab):
    """The learner's browser lands on 00_contents.ipynb, open in the main area."""
    page.goto(lab.open_page)
    tab = page.locator(CURRENT_TAB)
    tab.filter(has_text=CONTENTS).wait_for(timeout=120_000)
    assert tab.count() == 1 and CONTENTS in tab.text_content()
    page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle")).wait_for(
        timeout=120_000
    )
    page.screenshot(path=str(ARTIFACTS / "make-lab-contents.png"), full_page=False)


def test_playground_sliders_rerun_generation(page, lab):
    try:
        _drive_playground(page, lab.url, lab.token)
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "failure.png"))  # what the learner saw
        raise


def _drive_playground(page, url: str, token: str) -> None:
    # ?reset: a workspace with the playground alone (the contents tab stays closed).
    page.goto(f"{url}/lab/tree/{NOTEBOOK}?reset&token={token}")
    page.locator(CURRENT_TAB).filter(has_text=NOTEBOOK).wait_for(timeout=120_000)
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
    start_temp = float(re.search(r"temperature=([\d.]+)", before).group(1))
    slider = panel.locator(".widget-slider").filter(has_text="temperature")
    assert float(slider.locator(".widget-readout").text_content()) == start_temp
    page.screenshot(path=str(ARTIFACTS / "playground-before.png"), full_page=False)

    # Two quick moves (keyboard steps of 0.05, each key press one change, as a release):
    # the first streams, the second aborts it and streams again.
    handle = slider.locator(".noUi-handle")
    handle.focus()
    first, last = f"{start_temp + 0.10:.2f}", f"{start_temp + 0.20:.2f}"
    handle.press("ArrowRight")
    handle.press("ArrowRight")
    page.wait_for_function(
        SHOWS, arg=[f"temperature={first}", "running"], timeout=60_000
    )
    partial = panel.locator(".vlesson-output pre").text_content()
    page.screenshot(path=str(ARTIFACTS / "playground-partial.png"), full_page=False)
    handle.press("ArrowRight")
    handle.press("ArrowRight")
    page.wait_for_function(
        SHOWS, arg=[f"temperature={last}", "finished"], timeout=180_000
    )
    page.screenshot(path=str(ARTIFACTS / "playground-final.png"), full_page=False)
    final = panel.locator(".vlesson-output pre").text_content()
    stats = panel.locator(".vlesson-output .vlesson-stats").text_content()
    tokens = int(stats.split()[0])
    assert 0 < len(partial) and partial != final and "finish_reason=" in stats
    assert float(slider.locator(".widget-readout").text_content()) == float(last)
    # The settings the panel ends on, in all three forms, are the slider's last position.
    assert f"temperature={last}" in settings.text_content()
    params = panel.locator(".vlesson-output .vlesson-params").text_content()
    assert f"SamplingParams(temperature={float(last)!r}," in params
    command = panel.locator(".vlesson-output .vlesson-command").text_content()
    assert f"--temperature {float(last)!r}" in command
    assert command.startswith("vlesson generate --prompt")

    # One button per generated token: a click shows the distribution at its step.
    buttons = panel.locator(".vlesson-tokens button")
    assert buttons.count() == tokens
    buttons.nth(3).click()
    page.wait_for_function(
        "([sel, text]) => document.querySelector(sel).textContent.includes(text)",
        arg=[DISTRIBUTION, f"step 3 of {tokens}"],
        timeout=60_000,
    )
    dist = page.locator(DISTRIBUTION).first
    assert f"temperature={last}" in dist.text_content()
    assert dist.locator(".vlesson-distribution tr").count() > 2  # header, candidates
    assert "entropy" in dist.text_content()
    assert panel.locator(".vlesson-curve polyline").count() >= 1
    dist.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "playground-step.png"), full_page=False)
