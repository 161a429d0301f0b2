"""The brand's files, served from our own origin: the logo and the colour stylesheet.

Both live in memory from start-up. Their URLs carry a version (the logo's content hash, the
colour), so a page always names the current file and a browser may keep it for a year; a request
without the current version gets ``no-cache`` and an ETag to revalidate with. Nothing about the
visitor goes into them and they set no cookie, so one public cached copy serves everybody.
"""

from __future__ import annotations

from flask import Blueprint, abort, request
from werkzeug.wrappers import Response

from authserver.branding.context import LOGO_PATH, STYLESHEET_PATH, current_brand

bp = Blueprint("branding", __name__)

# RFC 9111 §5.2.2.1 and RFC 8246: a versioned URL never changes content, so it may be kept.
VERSIONED_CACHE = "public, max-age=31536000, immutable"
UNVERSIONED_CACHE = "public, no-cache"


def _cached(content: bytes, content_type: str, version: str) -> Response:
    response = Response(content, content_type=content_type)
    response.set_etag(version)
    versioned = request.args.get("v") == version
    response.headers["Cache-Control"] = VERSIONED_CACHE if versioned else UNVERSIONED_CACHE
    return response.make_conditional(request)


@bp.get(LOGO_PATH)
def logo() -> Response:
    logo = current_brand().logo
    if logo is None:
        abort(404)
    # As sniffed, with no charset added: an SVG names its own encoding.
    return _cached(logo.content, logo.mimetype, logo.etag)


@bp.get(STYLESHEET_PATH)
def stylesheet() -> Response:
    brand = current_brand()
    if brand.stylesheet is None:
        abort(404)
    return _cached(brand.stylesheet.encode(), "text/css; charset=utf-8", brand.stylesheet_version)
