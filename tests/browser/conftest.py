"""A Chromium page per test. Skipped only off CI when chromium is missing: on CI (CI=true)
a missing browser fails the test instead of hiding it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.chromium import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def page():
    """A fresh Chromium page (name it first among a test's fixtures: when chromium is
    missing, nothing else starts)."""
    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip(
            "Debian's chromium is not installed (make test installs it when run as "
            "root: apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()
