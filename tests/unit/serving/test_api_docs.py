"""/docs and /redoc of the web API load everything from the app itself, nothing from a CDN."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from vlesson.serving import api

# src=, href= and the url: of Swagger UI's inline configuration.
LINK = re.compile(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""")


@pytest.fixture(scope="module")
def client():
    # Without `with`, the lifespan (the engine) never starts: the pages need no engine.
    return TestClient(api.create_app(api_key="k"))


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_this_server_and_every_asset_answers(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    links = LINK.findall(html)
    assert links, html
    external = [u for u in links if re.match(r"(?i)(https?:)?//", u)]
    assert not external, f"{page} loads {external}"
    assert "fonts.googleapis" not in html and "cdn.jsdelivr" not in html
    for url in links:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
    assets = {u.rsplit("/", 1)[-1] for u in links}
    wanted = {"swagger-ui-bundle.js", "swagger-ui.css"} if page == "/docs" else set()
    assert wanted | ({"redoc.standalone.js"} if page == "/redoc" else set()) <= assets


def test_swagger_ui_asks_no_validator_and_the_spec_lists_the_operations(client):
    html = client.get("/docs").text
    assert '"validatorUrl": null' in html
    paths = client.get("/openapi.json").json()["paths"]
    assert "/generate" in paths
    assert not any(p.startswith("/static-docs") or p == "/docs" for p in paths)
