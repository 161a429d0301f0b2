"""Provider metadata (OIDC Discovery 1.0, RFC 8414)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support.oauth import ISSUER


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
)
def test_metadata_advertises_exactly_what_is_implemented(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    metadata = response.json
    assert metadata["issuer"] == ISSUER
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert set(metadata["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "urn:ietf:params:oauth:grant-type:device_code",  # RFC 8628 §7.2
    }
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    }
    assert metadata["authorization_response_iss_parameter_supported"] is True
    # OIDC Back-Channel Logout 1.0 §2.1 (tests/oidc/test_backchannel_logout.py shows it works).
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True
    for endpoint in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
    ):
        assert metadata[endpoint].startswith(ISSUER + "/")
    # RFC 8628 §4
    assert metadata["device_authorization_endpoint"] == ISSUER + "/oauth/device_authorization"


def test_every_advertised_endpoint_exists(client: FlaskClient) -> None:
    metadata = client.get("/.well-known/openid-configuration").json
    for name, url in metadata.items():
        if name.endswith("_endpoint") or name == "jwks_uri":
            path = url.removeprefix(ISSUER)
            assert client.open(path, method="OPTIONS").status_code != 404, name


def test_metadata_is_cacheable_with_a_strong_etag(client: FlaskClient) -> None:
    first = client.get("/.well-known/openid-configuration")

    again = client.get(
        "/.well-known/openid-configuration", headers={"If-None-Match": first.headers["ETag"]}
    )

    assert first.headers["Cache-Control"] == "public, max-age=3600"
    assert not first.headers["ETag"].startswith("W/")
    assert again.status_code == 304
