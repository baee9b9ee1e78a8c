"""OpenAPI docs that work without internet.

FastAPI's default /docs loads Swagger UI from a CDN, which leaves a blank page offline. `make`
fetches Swagger UI 5 from the npm registry into api/docs_assets/ (not in git); the API serves it
from there, and falls back to the CDN when the folder is missing (an install without make).
"""

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(__file__).resolve().parent / "docs_assets"
ASSETS = "/docs-assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def install_docs(app: FastAPI) -> None:
    """Call with `FastAPI(docs_url=None, redoc_url=None)`, before the SPA's catch-all mount."""
    local: dict[str, Any] = {}
    if (ASSETS_DIR / "swagger-ui-bundle.js").exists():
        app.mount(ASSETS, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
        local = {
            "swagger_js_url": f"{ASSETS}/swagger-ui-bundle.js",
            "swagger_css_url": f"{ASSETS}/swagger-ui.css",
            "swagger_favicon_url": f"{ASSETS}/favicon-32x32.png",
        }

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            oauth2_redirect_url=OAUTH2_REDIRECT,
            **local,
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
