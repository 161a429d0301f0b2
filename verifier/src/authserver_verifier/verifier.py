"""The kit's front door: one object per (issuer, API), used by every request of a service.

    verifier = Verifier("https://id.example.com", audience="https://api.example.com")
    token = verifier.authenticate(method="GET", url=url, authorization=[...], dpop=[...])

:meth:`Verifier.authenticate` takes the request's method, URL and raw header values, and either
returns a :class:`VerifiedToken` or raises a :class:`VerifierError`; :meth:`Verifier.refusal`
turns that error into the answer to send. The adapters (``authserver_verifier.flask``,
``authserver_verifier.asgi``) are these two calls wired into a framework.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from authserver_verifier.challenges import DPOP, Refusal, read_authorization, refusal
from authserver_verifier.dpop import (
    DEFAULT_MAX_AGE_SECONDS,
    DEFAULT_PROOF_ALGORITHMS,
    DPoPProofChecker,
)
from authserver_verifier.errors import ConfigurationError, InvalidToken, VerifierError
from authserver_verifier.introspection import Introspector
from authserver_verifier.keys import CachePolicy, IssuerKeys
from authserver_verifier.replay import ReplayStore
from authserver_verifier.tokens import (
    DEFAULT_ALGORITHMS,
    DEFAULT_LEEWAY_SECONDS,
    AccessTokenChecker,
    VerifiedToken,
)


class Verifier:
    """Checks access tokens of ``issuer`` meant for the API ``audience``. Thread-safe."""

    def __init__(
        self,
        issuer: str,
        *,
        audience: str,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
        cache_policy: CachePolicy | None = None,
        dpop_algorithms: Iterable[str] = DEFAULT_PROOF_ALGORITHMS,
        dpop_max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        replay_store: ReplayStore | None = None,
        introspection_client_id: str | None = None,
        introspection_client_secret: str | None = None,
        realm: str | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keys = IssuerKeys(issuer, policy=cache_policy, clock=monotonic)
        self.tokens = AccessTokenChecker(
            self.keys,
            audience=audience,
            algorithms=algorithms,
            leeway_seconds=leeway_seconds,
            clock=clock,
        )
        self.dpop = DPoPProofChecker(
            algorithms=dpop_algorithms,
            max_age_seconds=dpop_max_age_seconds,
            replay_store=replay_store,
            clock=clock,
        )
        self.introspector: Introspector | None = None
        if introspection_client_id is not None or introspection_client_secret is not None:
            self.introspector = Introspector(
                self.keys,
                client_id=introspection_client_id or "",
                client_secret=introspection_client_secret or "",
                timeout_seconds=self.keys.policy.timeout_seconds,
            )
        self.realm = realm

    def verify_token(self, token: str) -> VerifiedToken:
        """The JWT checks alone, for a token that did not come in an Authorization header."""
        return self.tokens.check(token)

    def authenticate(
        self,
        *,
        method: str,
        url: str,
        authorization: Sequence[str],
        dpop: Sequence[str] = (),
        scopes: Iterable[str] = (),
        introspect: bool = False,
    ) -> VerifiedToken:
        """Check the request's credentials; raise a VerifierError whose ``scheme`` is set."""
        if introspect and self.introspector is None:
            raise ConfigurationError("introspect=True needs introspection client credentials")
        scheme: str | None = None
        try:
            credentials = read_authorization(authorization)
            scheme = credentials.scheme
            token = self.tokens.check(credentials.token)
            if token.jkt is not None:
                scheme = DPOP  # the challenge tells the client how this token must be sent
                # RFC 9449 §7.2: a DPoP-bound token sent as a bearer token MUST be refused.
                if credentials.scheme != DPOP:
                    raise InvalidToken("bound_token_as_bearer")
                self.dpop.check(
                    list(dpop),
                    method=method,
                    url=url,
                    access_token=credentials.token,
                    jkt=token.jkt,
                )
            elif credentials.scheme == DPOP:
                # RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens; this one is not.
                raise InvalidToken("unbound_token_as_dpop")
            token = replace(token, scheme=credentials.scheme)
            token.require_scopes(*scopes)
            if introspect and self.introspector is not None:
                self.introspector.require_active(credentials.token)
            return token
        except VerifierError as error:
            error.scheme = scheme
            raise

    def refusal(self, error: VerifierError) -> Refusal:
        """The status, headers and body to answer a refused request with."""
        return refusal(error, scheme=error.scheme, dpop_algs=self.dpop.algorithms, realm=self.realm)
