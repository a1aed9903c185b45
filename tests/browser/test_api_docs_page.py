"""The web API's /docs page in Chromium lists every operation, and the browser loads
nothing from anywhere but the API itself (under `make test` the network is cut too).

The app is `vlesson serve`'s own (``create_app``) under uvicorn with its lifespan off:
the documentation pages need no engine, so none is started.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.browser.chromium import ARTIFACTS
from vlesson.serving.process import free_port

SERVE = """
import sys, uvicorn
from vlesson.serving import api
uvicorn.run(api.create_app(api_key="k"), host="127.0.0.1", port=int(sys.argv[1]),
            lifespan="off", log_level="warning")
"""
# Swagger UI writes each operation's path into data-path (its text has <wbr> breaks).
PATHS = "els => els.map(e => e.dataset.path || e.textContent)"


@pytest.fixture(scope="module")
def api_url():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the API exited {process.returncode}"
            try:
                urllib.request.urlopen(f"{url}/openapi.json", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the API did not answer in 60 s"
                time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_docs_list_every_operation_from_local_assets(page, api_url):
    spec = json.load(urllib.request.urlopen(f"{api_url}/openapi.json"))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{api_url}/docs")
    page.locator(".opblock-summary-path").first.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=True)
    shown = page.eval_on_selector_all(".opblock-summary-path", PATHS)
    shown = sorted(path.replace("\u200b", "").strip() for path in shown)
    assert shown == sorted(spec["paths"])
    elsewhere = [u for u in requested if not u.startswith(api_url)]
    assert not elsewhere, f"/docs loaded {elsewhere}"
