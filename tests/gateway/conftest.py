"""One gateway for the module: authserver behind Apache's TLS proxy, and Apache as the app's
relying party and the API's resource server, with the blocks of docs/gateways.md.

    browser / requests ──https──► Apache ──► echo backend (the app, the API)
                                    │
                                    └──https──► Apache TLS proxy ──http──► authserver

The issuer is the proxy's https URL, as in production, because the module calls nothing of ours
over plain http. Apache trusts the test's certificate through the documented
`OIDCCABundlePath` line, so certificate checking stays on.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.gateway.apache import (
    Certificate,
    RunningApache,
    Site,
    apache_or_skip,
    documented_blocks,
    localised,
    running_apache,
    self_signed_certificate,
)
from tests.gateway.backend import EchoBackend, echo_backend
from tests.support.chromium import WatchedPage, slug
from tests.support.live_server import LiveServer, free_port, live_server

# The doc's names for the API and its scopes; the callers' client asks for either scope.
API_IDENTIFIER = "https://api.example.com/orders"
READ_SCOPE, WRITE_SCOPE = "orders.read", "orders.write"
APP_SCOPE = "openid profile email"
# Another API of this server: the documented block, set up for it, refuses the Orders API's
# tokens, and the Orders API's block refuses its tokens.
ANOTHER_API = "https://another-api.example.test"
ANOTHER_SCOPE = "another.read"
MODES = ("jwks", "introspection")
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
ARTEFACTS = Path("test-artifacts", "gateway")


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Gateway:
    server: LiveServer
    issuer: str
    app: Site
    # (mode, audience) -> the API's site; audience "ours" is the one the tokens carry.
    apis: dict[tuple[str, str], Site]
    backend: EchoBackend
    apache: RunningApache
    certificate: Certificate
    app_client: Client
    caller: Client
    # The same, with access tokens signed with Ed25519, which the module cannot read.
    eddsa_caller: Client

    def api(self, mode: str, *, audience: str = "ours") -> str:
        return self.apis[mode, audience].origin + "/orders/"


@pytest.fixture(scope="package")
def readable_ca_bundle() -> Iterator[Path]:
    """A folder Apache's unprivileged children can read (pytest's own is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="authserver-gateway-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def create_client(server: LiveServer, name: str, *options: str) -> Client:
    created = server.cli_json("client", "create", "--name", name, *options)
    return Client(created["client_id"], created["client_secret"])


@pytest.fixture(scope="package")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, readable_ca_bundle: Path
) -> Iterator[Gateway]:
    apache_or_skip()
    folder = tmp_path_factory.mktemp("gateway")
    (folder / "authserver").mkdir()
    certificate = self_signed_certificate(folder)
    ca_bundle = readable_ca_bundle / "ca.crt"
    shutil.copyfile(certificate.cert_path, ca_bundle)
    ca_bundle.chmod(0o644)

    proxy = Site(free_port(), "")
    issuer = proxy.origin
    app_origin = f"https://127.0.0.1:{free_port()}"
    with ExitStack() as stack:
        backend = stack.enter_context(echo_backend())
        server = stack.enter_context(
            live_server(
                folder / "authserver",
                issuer=issuer,
                # Apache connects from loopback: its X-Forwarded-Proto makes requests https.
                AUTHSERVER_TRUSTED_PROXIES="127.0.0.1",
            )
        )
        app_client = create_client(
            server, "Orders",
            "--redirect-uri", f"{app_origin}/app/redirect_uri",
            "--post-logout-redirect-uri", f"{app_origin}/signed-out",
            "--scope", APP_SCOPE,
        )  # fmt: skip
        # The API the gateway protects, and another one, whose tokens it must refuse.
        server.cli_json(
            "api", "create", "--identifier", API_IDENTIFIER, "--name", "Orders API",
            "--scope", READ_SCOPE, "--scope", WRITE_SCOPE,
        )  # fmt: skip
        server.cli_json(
            "api", "create", "--identifier", ANOTHER_API, "--name", "Another API",
            "--scope", ANOTHER_SCOPE,
        )  # fmt: skip
        caller = create_client(
            server, "Warehouse",
            "--grant-type", "client_credentials",
            "--scope", f"{READ_SCOPE} {WRITE_SCOPE} {ANOTHER_SCOPE}",
        )  # fmt: skip
        eddsa_caller = create_client(
            server, "Warehouse (EdDSA)",
            "--grant-type", "client_credentials", "--scope", READ_SCOPE,
            "--access-token-alg", "EdDSA",
        )  # fmt: skip
        # RFC 7662 §4: the gateway introspects as the Orders API's resource server.
        introspector = create_client(
            server, "Orders API gateway", "--grant-type", "client_credentials",
            "--scope", READ_SCOPE, "--introspect-api", API_IDENTIFIER,
        )  # fmt: skip

        blocks = documented_blocks()
        common = {
            "https://id.example.com": issuer,
            "127.0.0.1:8080": backend.origin.removeprefix("http://"),
            CA_BUNDLE: str(ca_bundle),
        }
        proxy = Site(
            proxy.port,
            f"ProxyPass / {server.base_url}/\n"
            "ProxyPreserveHost On\n"
            "RequestHeader set X-Forwarded-Proto https\n",
        )
        app = Site(
            int(app_origin.rsplit(":", 1)[1]),
            localised(blocks["relying-party"], {**common, "https://app.example.com": app_origin}),
        )
        audiences = {"ours": API_IDENTIFIER, "another": ANOTHER_API}
        apis = {
            (mode, audience): Site(
                free_port(),
                localised(blocks[f"resource-server-{mode}"], {**common, API_IDENTIFIER: value}),
            )
            for mode in MODES
            for audience, value in audiences.items()
        }
        apache = stack.enter_context(
            running_apache(
                folder / "apache",
                certificate,
                [proxy, app, *apis.values()],
                env={
                    "APP_OIDC_CLIENT_ID": app_client.client_id,
                    "APP_OIDC_CLIENT_SECRET": app_client.client_secret,
                    "APP_OIDC_CRYPTO_PASSPHRASE": secrets.token_urlsafe(32),
                    "API_INTROSPECTION_CLIENT_ID": introspector.client_id,
                    "API_INTROSPECTION_CLIENT_SECRET": introspector.client_secret,
                },
            )
        )
        yield Gateway(
            server=server,
            issuer=issuer,
            app=app,
            apis=apis,
            backend=backend,
            apache=apache,
            certificate=certificate,
            app_client=app_client,
            caller=caller,
            eddsa_caller=eddsa_caller,
        )
    # Every refusal the tests expected is a 4xx; an error the server logged is a bug.
    assert server.error_lines() == [], server.log()


@pytest.fixture
def tab(request: pytest.FixtureRequest, chromium: Browser) -> Iterator[WatchedPage]:
    """A tab in a fresh browser context (no cookies), screenshotting into the test's folder."""
    folder = request.config.rootpath / ARTEFACTS / slug(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    context = chromium.new_context(
        viewport={"width": 1024, "height": 768},
        locale="en-GB",
        # Test only: our pages and the app are served with the test's self-signed certificate,
        # which Chromium has no way to trust otherwise.
        ignore_https_errors=True,
    )
    try:
        # Each `arrive` checks what the browser reported so far, the test's last step included.
        yield WatchedPage(context.new_page(), folder)
    finally:
        context.close()
