"""Validating an RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0 §2-3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask_babel import gettext

from authserver.models.clients import Client
from authserver.oauth.clients import find_client
from authserver.oauth.redirect_uris import request_problem
from authserver.oidc.id_token_hint import InvalidIdTokenHint, verified_id_token_hint

MAX_PARAMETER_LENGTH = 4096


class LogoutRequestError(Exception):
    """The request cannot be honoured safely; the message is shown on an error page, so it is
    in the page's language."""


@dataclass(frozen=True)
class LogoutRequest:
    client: Client | None
    # Set only when verified against the client's registered post-logout redirect URIs.
    post_logout_redirect_uri: str | None
    state: str | None
    # The `sub` of a valid id_token_hint: proof the RP knows which user it is signing out.
    hinted_subject: str | None

    def completion_location(self) -> str | None:
        """§3: where to send the browser afterwards, with `state`; None means our own page."""
        if self.post_logout_redirect_uri is None:
            return None
        parts = urlsplit(self.post_logout_redirect_uri)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if self.state is not None:
            query.append(("state", self.state))
        return urlunsplit(parts._replace(query=urlencode(query)))


def parse_logout_request(params: Mapping[str, Sequence[str]]) -> LogoutRequest:
    hint = _single(params, "id_token_hint")
    hinted = _verified_hint(hint) if hint else None
    client = _identify_client(_single(params, "client_id"), hinted)
    redirect_uri = _single(params, "post_logout_redirect_uri")
    if redirect_uri is not None:
        # §3: the URI MUST match one registered for the client, by exact comparison.
        if client is None:
            raise LogoutRequestError(gettext("The application could not be identified."))
        if request_problem(redirect_uri) is not None:
            # RFC 9700 §2.1, as for redirect URIs: a stored URI that hides its host is unused.
            raise LogoutRequestError(gettext("That return address is not allowed."))
        if redirect_uri not in client.post_logout_redirect_uris:
            raise LogoutRequestError(
                gettext("That return address is not registered for the application.")
            )
    return LogoutRequest(
        client=client,
        post_logout_redirect_uri=redirect_uri,
        state=_single(params, "state"),
        hinted_subject=str(hinted["sub"]) if hinted and "sub" in hinted else None,
    )


def _single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name, [])
    if len(values) > 1:
        raise LogoutRequestError(
            gettext("The parameter %(name)s was given more than once.", name=name)
        )
    if not values or not values[0]:
        return None
    if len(values[0]) > MAX_PARAMETER_LENGTH or "\x00" in values[0]:
        raise LogoutRequestError(gettext("The parameter %(name)s is not valid.", name=name))
    return values[0]


def _verified_hint(hint: str) -> dict[str, object] | None:
    """§2: the hint must be an ID token we issued. One that is not proves nothing, so the user
    is asked to confirm, as without a hint."""
    try:
        return verified_id_token_hint(hint)
    except InvalidIdTokenHint:
        return None


def _identify_client(client_id: str | None, hint: dict[str, object] | None) -> Client | None:
    audience = hint.get("aud") if hint else None
    hinted_client_id = audience[0] if isinstance(audience, list) and audience else audience
    if client_id and hinted_client_id and client_id != hinted_client_id:
        # §2: client_id, when given with a hint, MUST match the hint's audience.
        raise LogoutRequestError(gettext("The application does not match the ID token."))
    chosen = client_id or (hinted_client_id if isinstance(hinted_client_id, str) else None)
    if chosen is None:
        return None
    client = find_client(chosen)
    if client is None:
        raise LogoutRequestError(gettext("This application is not registered here."))
    return client
