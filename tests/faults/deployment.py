"""The deployment under test: two `authserver serve` instances on one PostgreSQL database and
one Redis, behind a balancer on loopback, with a client, an API client and a person made by the
CLI as an operator would.

    with deployment(tmp_path) as system:
        system.balancer.url("/healthz")
        system.instances[0].kill()

The database is one of the suite's own on the configured server (created and dropped here), the
Redis a `redis-server` of its own. Everything started here is stopped here, by PID, on the way
out, whatever happened inside the block.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authserver.dev_secrets import new_encryption_key
from tests.faults.balancer import Balancer
from tests.faults.instances import Instance, start_instance
from tests.faults.redis_server import RedisServer
from tests.faults.traffic import Credentials
from tests.support.databases import fresh_postgres_database
from tests.support.live_server import free_port, run_cli, server_environment

WORKERS_PER_INSTANCE = 2
REDIRECT_URI = "https://rp.example.test/cb"
SCOPE = "openid profile email offline_access"
API_SCOPE = "api.read"
PASSWORD = "correct horse battery staple"
# The load signs in and asks for tokens far more often than one person or client would; only
# the reset limit stays low, because the Redis scenario measures shared counting with it.
UNREACHED_LIMIT = "100000/minute"
RESET_LIMIT_PER_MINUTE = 5


@dataclass
class Deployment:
    balancer: Balancer
    instances: list[Instance]
    redis: RedisServer
    credentials: Credentials
    env: dict[str, str]
    workdir: Path

    def cli_json(self, *args: str, stdin: str | None = None) -> Any:  # Any: the command's JSON
        result = run_cli(self.env, self.workdir, *args, "--json", stdin=stdin)
        return json.loads(result.stdout)

    def new_person(self) -> str:
        email = f"person-{secrets.token_hex(5)}@example.test"
        self.cli_json("user", "create", email, "--password-stdin", "--verified",
                      stdin=PASSWORD + "\n")  # fmt: skip
        return email


def deployment_environment(workdir: Path, *, issuer: str, database_url: str, redis_url: str
                           ) -> dict[str, str]:  # fmt: skip
    return server_environment(
        workdir,
        AUTHSERVER_ISSUER=issuer,
        AUTHSERVER_DATABASE_URL=database_url,
        AUTHSERVER_REDIS_URL=redis_url,
        # Both instances sign sessions and encrypt keys with the same secrets, as in production.
        AUTHSERVER_SECRET_KEY=secrets.token_urlsafe(48),
        AUTHSERVER_ENCRYPTION_KEYS=new_encryption_key(),
        AUTHSERVER_WORKERS=str(WORKERS_PER_INSTANCE),
        AUTHSERVER_KEY_AUTO_ROTATE="false",
        AUTHSERVER_MAIL_BACKEND="file",
        AUTHSERVER_MAIL_FILE_DIR=str(workdir / "mail"),
        # Cheap hashing: the machine is small, and the suite is about faults, not argon2.
        AUTHSERVER_ARGON2_TIME_COST="2",
        AUTHSERVER_ARGON2_MEMORY_COST="8192",
        AUTHSERVER_ARGON2_PARALLELISM="1",
        AUTHSERVER_RATELIMIT_SIGNIN=UNREACHED_LIMIT,
        AUTHSERVER_RATELIMIT_MFA=UNREACHED_LIMIT,
        AUTHSERVER_RATELIMIT_TOKEN=UNREACHED_LIMIT,
        AUTHSERVER_RATELIMIT_RESET=f"{RESET_LIMIT_PER_MINUTE}/minute",
    )


@contextmanager
def deployment(workdir: Path) -> Iterator[Deployment]:
    with ExitStack() as stack:
        database_url = stack.enter_context(fresh_postgres_database())
        redis = RedisServer(workdir / "redis")
        stack.callback(redis.stop)
        redis.start()
        ports = [free_port(), free_port()]
        balancer = stack.enter_context(Balancer(ports))
        env = deployment_environment(
            workdir, issuer=balancer.base_url, database_url=database_url, redis_url=redis.url
        )
        run_cli(env, workdir, "init")
        credentials = make_credentials(env, workdir)
        instances = []
        for number, port in enumerate(ports, start=1):
            name = f"instance-{number}"
            own = {**env, "AUTHSERVER_INSTANCE_PATH": str(workdir / name / "instance")}
            instance = start_instance(name, port, own, workdir / name)
            stack.callback(instance.stop)
            instances.append(instance)
        yield Deployment(balancer, instances, redis, credentials, env, workdir)


def make_credentials(env: dict[str, str], workdir: Path) -> Credentials:
    def cli_json(*args: str, stdin: str | None = None) -> Any:  # Any: the command's JSON
        return json.loads(run_cli(env, workdir, *args, "--json", stdin=stdin).stdout)

    api = cli_json("client", "create", "--name", "fault-suite API",
                   "--grant-type", "client_credentials", "--scope", API_SCOPE)  # fmt: skip
    app = cli_json(
        "client", "create", "--name", "fault-suite app", "--redirect-uri", REDIRECT_URI,
        "--scope", SCOPE, "--token-endpoint-auth-method", "client_secret_basic",
    )  # fmt: skip
    email = f"load-{secrets.token_hex(5)}@example.test"
    cli_json("user", "create", email, "--password-stdin", "--verified", stdin=PASSWORD + "\n")
    return Credentials(
        api_client_id=api["client_id"],
        api_client_secret=api["client_secret"],
        app_client_id=app["client_id"],
        app_client_secret=app["client_secret"],
        email=email,
        password=PASSWORD,
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        api_scope=API_SCOPE,
    )
