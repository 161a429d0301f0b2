"""Registering and managing APIs: the resource servers access tokens are issued for.

An API is named by an identifier (an absolute URI, RFC 8707 §2) that clients send as
`resource` and that its tokens carry as `aud`. Its scopes are the ones that mean something
to it; a client may ask for an API when it is allowed at least one of them (its `--scope`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select

from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.models.apis import MAX_IDENTIFIER_LENGTH, Api
from authserver.models.clients import Client
from authserver.oauth.clients import MAX_ACCESS_TOKEN_TTL
from authserver.oauth.errors import ApiRegistrationError, UnknownApi
from authserver.oauth.scopes import SCOPE_TOKEN, STANDARD_SCOPES

_API_BY_IDENTIFIER = select(Api).where(Api.identifier == bindparam("identifier"))


@dataclass(frozen=True)
class ApiRegistration:
    """What an operator asks for; validated by :func:`api_problems`."""

    identifier: str
    name: str
    scopes: Sequence[str]
    access_token_ttl: int | None = None


def identifier_problem(identifier: str) -> str | None:
    """Why ``identifier`` cannot name an API, or None.

    RFC 8707 §2: an absolute URI that MUST NOT include a fragment and SHOULD NOT include a
    query; here neither is allowed, so one API has exactly one spelling.
    """
    if len(identifier) > MAX_IDENTIFIER_LENGTH:
        return f"at most {MAX_IDENTIFIER_LENGTH} characters"
    if not identifier.isascii() or any(ch.isspace() or ord(ch) < 0x21 for ch in identifier):
        return "printable ASCII without spaces"
    try:
        parts = urlsplit(identifier)
    except ValueError:  # such as an unclosed IPv6 bracket
        return "an absolute URI (such as https://api.example.com/orders)"
    if not parts.scheme or not (parts.netloc or parts.path):
        return "an absolute URI (such as https://api.example.com/orders)"
    if "#" in identifier:
        return "no fragment (RFC 8707 §2)"
    if parts.query or identifier.endswith("?"):
        return "no query"
    if identifier.rstrip("/") == current_settings().issuer.rstrip("/"):
        return "the issuer itself is the audience of tokens without a resource"
    return None


def api_problems(request: ApiRegistration) -> list[str]:
    problems: list[str] = []
    if (problem := identifier_problem(request.identifier)) is not None:
        problems.append(f"identifier {request.identifier!r}: {problem}")
    if not request.name.strip():
        problems.append("name: must not be empty")
    if not request.scopes:
        problems.append("scope: give at least one")
    for scope in request.scopes:
        if not SCOPE_TOKEN.match(scope):
            problems.append(f"scope {scope!r}: printable ASCII, no spaces, quotes or \\")
        elif scope in STANDARD_SCOPES:
            problems.append(f"scope {scope!r}: a standard OpenID Connect scope, not an API's")
    ttl = request.access_token_ttl
    if ttl is not None and not 1 <= ttl <= MAX_ACCESS_TOKEN_TTL:
        problems.append(
            f"access_token_ttl: must be from 1 to {MAX_ACCESS_TOKEN_TTL} seconds (1 day), got {ttl}"
        )
    return problems


def register_api(request: ApiRegistration, *, via: str | None = None) -> Api:
    problems = api_problems(request)
    if not problems and find_api(request.identifier) is not None:
        problems.append(f"identifier {request.identifier!r}: an API with it exists already")
    if problems:
        raise ApiRegistrationError(*problems)
    api = Api(
        identifier=request.identifier,
        name=request.name.strip(),
        scopes=list(dict.fromkeys(request.scopes)),
        access_token_ttl=request.access_token_ttl,
    )
    db.session.add(api)
    record_event(EventTag.API_CREATED, detail={"identifier": api.identifier, **_origin(via)})
    db.session.commit()
    return api


# Any: each value has its ApiRegistration field's type (identifier excepted: it never changes).
def update_api(identifier: str, changes: dict[str, Any], *, via: str | None = None) -> Api:
    """Change an API's name, scopes or token lifetime; its identifier is fixed for good.

    Scopes removed from an API stop being issued for it from the next token on; tokens already
    out keep them until they expire, like any JWT.
    """
    api = get_api(identifier)
    unknown = sorted(set(changes) - {"name", "scopes", "access_token_ttl"})
    if unknown:
        raise ApiRegistrationError(*(f"{name}: not an API setting" for name in unknown))
    after = ApiRegistration(
        identifier=api.identifier,
        name=changes.get("name", api.name),
        scopes=list(dict.fromkeys(changes.get("scopes", api.scopes))),
        access_token_ttl=changes.get("access_token_ttl", api.access_token_ttl),
    )
    problems = api_problems(after)
    if problems:
        raise ApiRegistrationError(*problems)
    changed = {
        name: value
        for name, value in (
            ("name", after.name.strip()),
            ("scopes", list(after.scopes)),
            ("access_token_ttl", after.access_token_ttl),
        )
        if getattr(api, name) != value
    }
    if not changed:
        return api
    for name, value in changed.items():
        setattr(api, name, value)
    record_event(
        EventTag.API_UPDATED,
        detail={"identifier": api.identifier, "changed": changed, **_origin(via)},
    )
    db.session.commit()
    return api


def delete_api(identifier: str, *, via: str | None = None) -> list[str]:
    """Delete an API; returns the client_ids that may no longer introspect its tokens.

    Tokens already issued for it keep verifying at services until they expire (they are
    JWTs); no new one is issued, and introspection answers them only for their own client.
    """
    api = get_api(identifier)
    released = []
    # A later API with the same identifier must not inherit who may exchange tokens for it.
    exchange_removed = []
    for client in db.session.scalars(select(Client)):
        if identifier in client.introspect_apis:
            client.introspect_apis = [each for each in client.introspect_apis if each != identifier]
            released.append(client.client_id)
        if identifier in client.exchange_audiences:
            client.exchange_audiences = [
                each for each in client.exchange_audiences if each != identifier
            ]
            exchange_removed.append(client.client_id)
    db.session.delete(api)
    record_event(
        EventTag.API_DELETED,
        detail={
            "identifier": identifier,
            "introspection_removed_from": released,
            "exchange_removed_from": exchange_removed,
            **_origin(via),
        },
    )
    db.session.commit()
    return released


def find_api(identifier: str) -> Api | None:
    if len(identifier) > MAX_IDENTIFIER_LENGTH or "\x00" in identifier:
        return None
    return db.session.scalar(_API_BY_IDENTIFIER, {"identifier": identifier})


def get_api(identifier: str) -> Api:
    api = find_api(identifier)
    if api is None:
        raise UnknownApi(identifier)
    return api


def list_apis() -> list[Api]:
    return list(db.session.scalars(select(Api).order_by(Api.created_at, Api.id)))


def api_names(identifiers: Sequence[str]) -> list[str]:
    """The names people know the APIs by (the consent page), in the order asked."""
    apis = (find_api(identifier) for identifier in identifiers)
    return [api.name for api in apis if api is not None]


def may_use(client: Client, api: Api) -> bool:
    """A client may ask for an API when it holds at least one of the API's scopes."""
    return not client.allowed_scopes.isdisjoint(api.scopes)


def describe_api(api: Api) -> dict[str, Any]:  # Any: JSON-ready values of mixed types
    return {
        "identifier": api.identifier,
        "name": api.name,
        "scopes": list(api.scopes),
        # None: the client's, then the server's setting applies.
        "access_token_ttl": api.access_token_ttl,
        "created_at": api.created_at.isoformat(),
    }


def _origin(via: str | None) -> dict[str, str]:
    return {"via": via} if via is not None else {}
