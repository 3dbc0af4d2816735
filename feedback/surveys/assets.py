"""The widget's files (widget/nps.js and widget/nps.css), served with validators and gzip.

They are read once per process and answered from memory: the script is the most requested
thing the service serves, on every page view of every customer's product.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

WIDGET_DIR = Path(__file__).resolve().parents[2] / "widget"
MEDIA_TYPES = {"nps.js": "text/javascript; charset=utf-8", "nps.css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


@cache
def load_asset(name: str) -> Asset:
    body = (WIDGET_DIR / name).read_bytes()
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"',
        media_type=MEDIA_TYPES[name],
    )


@get("/widget/v1/{name:str}", include_in_schema=False, sync_to_thread=False)
def widget_asset(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    if name not in MEDIA_TYPES:
        raise NotFoundException(f"no widget file {name!r}")
    asset = load_asset(name)
    headers = {
        "etag": asset.etag,
        # short: a fixed widget reaches every host page within minutes; the ETag makes
        # revalidation cheap
        "cache-control": "public, max-age=300",
        "access-control-allow-origin": "*",
        "cross-origin-resource-policy": "cross-origin",
        "vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == asset.etag:
        return Response(b"", status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["content-encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
