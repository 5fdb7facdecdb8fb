"""``/docs`` and ``/redoc`` served offline: Swagger UI and ReDoc from the fastapi-offline package."""

from __future__ import annotations

import importlib.resources

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

# Shipped by fastapi-offline (the serve extra), so /docs needs no network.
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
# The docs pages need inline scripts and styles (unlike the dashboard), but nothing they load may
# come from elsewhere: ReDoc's footer would otherwise fetch its logo from a CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def _with_csp(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` with their scripts served by this server, not a CDN."""
    title = f"{app.title} API"
    static = "/docs/assets"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{static}/swagger-ui-bundle.js",
            swagger_css_url=f"{static}/swagger-ui.css",
            swagger_favicon_url=f"{static}/favicon.png",
            # Swagger UI would otherwise send the schema to validator.swagger.io for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        )
        return _with_csp(page)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            redoc_js_url=f"{static}/redoc.standalone.js",
            redoc_favicon_url=f"{static}/favicon.png",
            with_google_fonts=False,
        )
        return _with_csp(page)

    @app.get(static + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in DOCS_ASSETS:
            raise HTTPException(404, f"no docs asset {name!r}")
        try:
            folder = importlib.resources.files("fastapi_offline") / "static"
        except ModuleNotFoundError:
            raise HTTPException(
                503, "the docs' scripts come from the fastapi-offline package: pip install 'mediarec[serve]'"
            ) from None
        return FileResponse(
            str(folder / name), media_type=DOCS_ASSETS[name], headers={"Cache-Control": "max-age=86400"}
        )
