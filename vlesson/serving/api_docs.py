"""The web API's /docs (Swagger UI) and /redoc pages, served with their assets from this machine.

FastAPI's default pages load Swagger UI and ReDoc from a CDN, so they are blank in an offline
course. This follows FastAPI's recipe "Self-hosting JavaScript and CSS for docs":
:func:`add_offline_docs` takes FastAPI's own two pages off the app, mounts the assets that the
PyPI package ``fastapi-offline`` carries, and serves the two pages again pointing at them.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_URL = "/static-docs"
"""Where the Swagger UI and ReDoc files are served."""


def add_offline_docs(app: FastAPI) -> None:
    """Serve ``app``'s /docs and /redoc (its docs_url, redoc_url) from local files."""
    docs_url = app.docs_url or "/docs"
    redoc_url = app.redoc_url or "/redoc"
    oauth2_redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    cdn_pages = {docs_url, redoc_url, oauth2_redirect}
    app.router.routes[:] = [
        r for r in app.router.routes if getattr(r, "path", None) not in cdn_pages
    ]
    assets = files("fastapi_offline") / "static"
    app.mount(STATIC_URL, StaticFiles(directory=str(assets)), name="docs-static")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "") + STATIC_URL
        return get_swagger_ui_html(
            openapi_url=request.scope.get("root_path", "") + str(app.openapi_url),
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=oauth2_redirect,
            swagger_js_url=f"{root}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/swagger-ui.css",
            swagger_favicon_url=f"{root}/favicon.png",
            # No validator badge: Swagger UI would fetch it from validator.swagger.io.
            swagger_ui_parameters={
                **(app.swagger_ui_parameters or {}),
                "validatorUrl": None,
            },
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "") + STATIC_URL
        return get_redoc_html(
            openapi_url=request.scope.get("root_path", "") + str(app.openapi_url),
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}/redoc.standalone.js",
            redoc_favicon_url=f"{root}/favicon.png",
            with_google_fonts=False,
        )
