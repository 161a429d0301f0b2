"""``GET /.well-known/jwks.json``: the public keys verifiers check our tokens with.

CORS headers (any origin: the document is public) come from authserver/edges/cors.py. Most
requests are answered by authserver/edges/public_documents.py from a copy of this view's answer.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, request
from flask.typing import ResponseReturnValue

from authserver.config import current_settings
from authserver.keys.jwks import current_jwks, jwks_cache

bp = Blueprint("keys", __name__)
JWKS_PATH = "/.well-known/jwks.json"


def age_headers(app: Flask) -> list[tuple[str, str]]:
    """How long ago the database confirmed this key set (keys/jwks.py): caches count it against
    the max-age, so none keeps a set longer than jwks_max_age after it was current."""
    age = jwks_cache(app).age_seconds()
    return [("Age", str(age))] if age else []


def fresh_jwks_body(app: Flask) -> bytes | None:
    return jwks_cache(app).fresh_body()


@bp.get(JWKS_PATH)
def jwks() -> ResponseReturnValue:
    settings = current_settings()
    document = current_jwks()
    response = Response(document.body, mimetype="application/json")
    # Public: the same for everyone, so shared caches may keep it. The max-age is also how long
    # a next key is published before use, so no verifier can hold a set that lacks it.
    response.headers["Cache-Control"] = f"public, max-age={settings.jwks_max_age}"
    response.headers.extend(age_headers(current_app))
    response.set_etag(document.etag)
    return response.make_conditional(request)
