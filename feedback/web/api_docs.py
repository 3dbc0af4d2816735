"""The API documentation at /schema: Swagger UI served by the service itself.

Its files come from the `swagger-ui-bundle-v2` package (the Swagger UI release the
maintainers of Connexion package for Python), so the page works without internet and loads
no script from another origin. When `FEEDBACK_PUBLIC_API_DOCS` is off, /schema and everything
under it answer 404 to anyone who is not a signed-in staff user (or an API token's holder),
so the API's surface is not published. HEAD answers on the page, the document and the files
(the render plugins answer GET only).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get, head
from litestar.connection import ASGIConnection
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import File
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from feedback.auth.guards import resolve_principal

DOCS_PATH = "/schema"
ASSETS = f"{DOCS_PATH}/assets"
INIT_SCRIPT = Path(__file__).parent / "static" / "api-docs.js"
SWAGGER_DIR = Path(str(swagger_ui_path))
# the only files served: what the page loads, never the package's sample pages
SERVED = {
    "swagger-ui-bundle.js": (SWAGGER_DIR / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (SWAGGER_DIR / "swagger-ui.css", "text/css"),
    "api-docs.js": (INIT_SCRIPT, "text/javascript"),
}


class LocalSwaggerPlugin(OpenAPIRenderPlugin):
    """Swagger UI from this service's own files, started by a script file (no inline script,
    so the page's policy needs no 'unsafe-inline' for scripts)."""

    def __init__(self, path: str = "/") -> None:
        super().__init__(path=path, media_type=MediaType.HTML)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(str(openapi_schema.get("info", {}).get("title", "API")))
        spec = html.escape(f"{DOCS_PATH}/openapi.json")
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f'<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">'
            "</head><body>"
            f'<div id="swagger-ui" data-spec-url="{spec}"></div>'
            f'<script src="{ASSETS}/swagger-ui-bundle.js"></script>'
            f'<script src="{ASSETS}/api-docs.js"></script>'
            "</body></html>"
        ).encode()


def _asset(name: str) -> File:
    if name not in SERVED:
        raise NotFoundException(f"no documentation file {name!r}")
    path, media_type = SERVED[name]
    return File(
        path=path,
        media_type=media_type,
        content_disposition_type="inline",
        headers={"cache-control": "public, max-age=86400"},
    )


@get("/assets/{name:str}", include_in_schema=False, sync_to_thread=False)
def docs_asset(name: FromPath[str]) -> File:
    return _asset(name)


@head("/assets/{name:str}", include_in_schema=False, sync_to_thread=False)
def docs_asset_head(name: FromPath[str]) -> File:
    """HEAD of a documentation file: its headers without the body (a link checker's or a
    cache's question)."""
    return _asset(name)


@head(["/", "/openapi.json"], include_in_schema=False, sync_to_thread=False)
def docs_page_head(request: Request[Any, Any, Any]) -> Response[None]:
    """HEAD of the docs page and of the OpenAPI document: the headers a GET would give (the
    render plugins answer GET only)."""
    openapi = request.app.openapi_schema.to_schema()
    if request.url.path.rstrip("/").endswith("/openapi.json"):
        plugin: OpenAPIRenderPlugin = JsonRenderPlugin()
    else:
        plugin = LocalSwaggerPlugin()
    size = len(plugin.render(request, openapi))
    return Response(None, media_type=plugin.media_type, headers={"content-length": str(size)})


async def staff_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A 404, not a 401: with private docs, a stranger learns nothing about the API."""
    if await resolve_principal(connection) is None:
        raise NotFoundException("Not Found")


def docs_router(public: bool) -> Router:
    return Router(
        DOCS_PATH,
        route_handlers=[docs_asset, docs_asset_head, docs_page_head],
        guards=[] if public else [staff_only],
        include_in_schema=False,
    )


def render_plugins() -> list[OpenAPIRenderPlugin]:
    return [LocalSwaggerPlugin(path="/"), JsonRenderPlugin(path="/openapi.json")]
