"""Debian's Apache httpd with mod_auth_openidc on loopback, configured from docs/gateways.md.

    blocks = documented_blocks()                          # the page's tested blocks, by name
    site = Site(port, localised(blocks["relying-party"], {...}))
    with running_apache(folder, [site, ...], env={...}) as apache:
        ...                                              # https://127.0.0.1:<port> answers

The configuration is the test's own (ServerRoot, pid file, logs and runtime files in `folder`):
the system's /etc/apache2 is never read, and only the loopback ports named by the sites are
bound. Every site is a TLS virtual host with the test's self-signed certificate. Apache runs in
the foreground as a child of the test, in a process group of its own, and is stopped by its
PID: SIGTERM (Apache's own stop, which ends its children), then SIGKILL to that group.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

APACHE = Path("/usr/sbin/apache2")
MODULES = Path("/usr/lib/apache2/modules")
OPENIDC_MODULE = MODULES / "mod_auth_openidc.so"
DOC = Path(__file__).resolve().parents[2] / "docs" / "gateways.md"
# A tested block is an ```apache fence right after this marker; the marker names it.
TESTED_BLOCK = re.compile(r"<!-- gateway-test: ([\w-]+) -->\n```apache\n(.*?)```", re.DOTALL)
# Only what a recipe's reader replaces too: host names, the backend, the CA bundle.
PLACEHOLDER = re.compile(
    r"https://[\w.-]*example\.com[^\s\"]*|127\.0\.0\.1:8080|/etc/ssl/certs/[\w.-]+"
)

# mpm_event, and what the blocks use: authentication, authorization, the module, TLS, proxying.
LOADED_MODULES = (
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authn_core_module", "mod_authn_core.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("authz_user_module", "mod_authz_user.so"),
    ("auth_openidc_module", "mod_auth_openidc.so"),
    ("ssl_module", "mod_ssl.so"),
    ("proxy_module", "mod_proxy.so"),
    ("proxy_http_module", "mod_proxy_http.so"),
    ("headers_module", "mod_headers.so"),
)
# Apache refuses to serve as root: its children switch to this user (Debian's, from base-passwd).
UNPRIVILEGED_USER = "www-data"
CHECK_TIMEOUT_SECONDS = 30
STARTUP_DEADLINE_SECONDS = 30
SHUTDOWN_GRACE_SECONDS = 20
POLL_INTERVAL_SECONDS = 0.1


def apache_or_skip() -> Path:
    """The apache2 binary with mod_auth_openidc; a skip on a developer's machine without them,
    a failure in CI (CI is set there), where a skip would let the recipe go untested."""
    missing = [str(path) for path in (APACHE, OPENIDC_MODULE) if not path.exists()]
    if not missing:
        return APACHE
    message = (
        f"{' and '.join(missing)} not found: the gateway recipe's test (docs/gateways.md) needs "
        "Debian's apache2 and libapache2-mod-auth-openidc packages. `make apache` (part of "
        "`make test`) installs them without starting the system's Apache"
    )
    if os.environ.get("CI"):
        pytest.fail(message + "; CI never skips this test", pytrace=False)
    pytest.skip(message)


def documented_blocks() -> dict[str, str]:
    return {name: body for name, body in TESTED_BLOCK.findall(DOC.read_text(encoding="utf-8"))}


def localised(block: str, replacements: Mapping[str, str]) -> str:
    """`block` with the doc's placeholders replaced: each key of `replacements` wherever it
    appears (a URL's path stays). Every placeholder must start with a key: a host name added to
    the page without a value here fails, rather than leaving Apache to look it up."""
    unknown = sorted(
        found
        for found in set(PLACEHOLDER.findall(block))
        if not any(found.startswith(key) for key in replacements)
    )
    assert not unknown, f"docs/gateways.md uses placeholders the test does not replace: {unknown}"
    # Longest first, so https://api.example.com/orders is replaced before a prefix of it.
    pattern = re.compile("|".join(re.escape(key) for key in sorted(replacements, key=len)[::-1]))
    return pattern.sub(lambda found: replacements[found[0]], block)


@dataclass(frozen=True)
class Certificate:
    cert_path: Path
    key_path: Path


def self_signed_certificate(folder: Path) -> Certificate:
    """A certificate for 127.0.0.1 and localhost that is its own CA, so clients (curl in the
    module, requests) can trust exactly it and keep verifying the server."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "authserver gateway test")])
    now = datetime.datetime.now(datetime.UTC)
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "gateway.crt", folder / "gateway.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


@dataclass(frozen=True)
class Site:
    """One TLS virtual host on 127.0.0.1:`port`; `directives` go inside it."""

    port: int
    directives: str

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def server_config(folder: Path, certificate: Certificate, sites: Sequence[Site]) -> str:
    modules = "\n".join(f"LoadModule {name} {MODULES / file}" for name, file in LOADED_MODULES)
    # Only root can switch users; anyone else's Apache simply runs as them.
    user = f"User {UNPRIVILEGED_USER}\nGroup {UNPRIVILEGED_USER}" if os.geteuid() == 0 else ""
    hosts = "\n".join(_virtual_host(site, certificate) for site in sites)
    listen = "\n".join(f"Listen 127.0.0.1:{site.port}" for site in sites)
    return f"""\
ServerRoot "{folder}"
ServerName 127.0.0.1
PidFile "{folder}/apache.pid"
DefaultRuntimeDir "{folder}/run"
ErrorLog "{folder}/error.log"
LogLevel warn auth_openidc:info
LogFormat "%h \\"%r\\" %>s %b %D" brief
CustomLog "{folder}/access.log" brief
{user}
{modules}
# Small: the tests send a handful of requests at a time.
StartServers 1
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
SSLSessionCache none
{listen}
{hosts}
"""


def _virtual_host(site: Site, certificate: Certificate) -> str:
    return f"""\
<VirtualHost 127.0.0.1:{site.port}>
    ServerName 127.0.0.1:{site.port}
    SSLEngine on
    SSLCertificateFile "{certificate.cert_path}"
    SSLCertificateKeyFile "{certificate.key_path}"
{site.directives}
</VirtualHost>
"""


@dataclass(frozen=True)
class RunningApache:
    folder: Path
    pid: int

    def error_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        """Everything Apache said, for a failure message."""
        parts = []
        for name in ("apache.out", "error.log", "access.log"):
            path = self.folder / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')}")
        return "\n".join(parts)


@contextmanager
def running_apache(
    folder: Path,
    certificate: Certificate,
    sites: Sequence[Site],
    *,
    env: Mapping[str, str],
) -> Iterator[RunningApache]:
    """Apache serving `sites` until the block ends; `env` fills the blocks' ${NAME}s."""
    (folder / "run").mkdir(parents=True, exist_ok=True)
    config = folder / "apache.conf"
    config.write_text(server_config(folder, certificate, sites), encoding="utf-8")
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", **env}
    checked = subprocess.run(
        [str(APACHE), "-t", "-f", str(config)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT_SECONDS,
    )
    if checked.returncode != 0:
        pytest.fail(f"apache2 -t refused the configuration:\n{checked.stderr}\n{config}")
    with (folder / "apache.out").open("wb") as out:
        process = subprocess.Popen(
            [str(APACHE), "-f", str(config), "-DFOREGROUND"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the last resort kills all of it
        )
    apache = RunningApache(folder, process.pid)
    try:
        _wait_until_listening(apache, process, [site.port for site in sites])
        yield apache
    finally:
        _stop(process)


def _wait_until_listening(
    apache: RunningApache, process: subprocess.Popen[bytes], ports: Sequence[int]
) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    waiting = list(ports)
    while waiting and time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"apache2 exited early ({process.returncode}):\n{apache.logs()}")
        try:
            socket.create_connection(("127.0.0.1", waiting[0]), timeout=1).close()
            waiting.pop(0)
        except OSError:
            time.sleep(POLL_INTERVAL_SECONDS)
    if waiting:
        pytest.fail(f"apache2 did not listen on {waiting} in time:\n{apache.logs()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # Apache's stop: it ends its children, then itself
    try:
        process.wait(timeout=SHUTDOWN_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        # The parent is not reaped yet, so its PID (the group's id) cannot have been reused.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=SHUTDOWN_GRACE_SECONDS)
