"""What a client may register as its public keys (``jwks``) for private_key_jwt.

The keys are parsed here, at registration, so that a bad set is an operator's error message and
never an exception inside client authentication at the token endpoint.
"""

from __future__ import annotations

import warnings
from typing import cast

from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization

# RFC 7523 §2.2 assertions are signed with the client's private key; a symmetric ("oct") key
# would be a shared secret, which is client_secret_jwt and is not offered.
ASYMMETRIC_KEY_TYPES = ("RSA", "EC", "OKP")


def jwk_set_problem(jwks: object) -> str | None:
    """Why `jwks` cannot be registered as a client's public keys, or None when it can."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        return "expected a JWK Set: a JSON object with a non-empty 'keys' list"
    for key in jwks["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in ASYMMETRIC_KEY_TYPES:
            return f"every key needs a 'kty' of {', '.join(ASYMMETRIC_KEY_TYPES)}"
    try:
        with warnings.catch_warnings():
            # joserfc warns about weak keys; a weak key is refused like a malformed one.
            warnings.simplefilter("error")
            key_set = KeySet.import_key_set(cast(KeySetSerialization, jwks))
    except (JoseError, ValueError, TypeError, UserWarning) as exc:
        return f"a key is not usable ({exc})"
    if any(key.is_private for key in key_set):
        # The server only needs the public halves; a private key stored here would leak with
        # any database backup.
        return "contains private key material: register the public keys only"
    return None
