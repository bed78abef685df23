"""``/docs``: Swagger UI served from this process, so the page works without the internet.

Its files come from the ``swagger-ui-bundle-v2`` package (Swagger UI's own distribution), mounted
under ``/docs/assets``; FastAPI's default page would load them from a CDN.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"


def install(app: FastAPI) -> None:
    """Serve the docs page and its assets (create the app with ``docs_url=None``)."""
    assert app.openapi_url is not None, "the docs page shows the OpenAPI document"
    openapi_url = app.openapi_url
    app.mount(ASSETS_PATH, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")  # behind a proxy's path prefix
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
            # The validator badge would send the document to swagger.io.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )
