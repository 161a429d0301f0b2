"""``serve``: run the production server (gunicorn), or Flask's reloader with ``--dev``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from werkzeug.serving import WSGIRequestHandler

from authserver.cli.output import fail
from authserver.config import ConfigError, Settings
from authserver.observability.logging import send_logs_to
from authserver.serving.gunicorn_metrics import prepare_multiprocess_dir

_PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# gunicorn's settings (worker class, timeouts, limits, JSON logs, no access log) from ours.
GUNICORN_CONFIG = "python:authserver.serving.gunicorn_config"


def gunicorn_argv(host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        bind_address(host, port),
        "--workers",
        str(workers),
        "--pythonpath",
        str(_PROJECT_ROOT),
        # Gunicorn's control socket lives in $HOME; we do not use it, and the container's root
        # filesystem is read-only.
        "--no-control-socket",
        # gunicorn itself believes X-Forwarded-Proto from 127.0.0.1 by default. The application
        # decides whom to believe (AUTHSERVER_TRUSTED_PROXIES, authserver/edges/proxies.py), so
        # gunicorn believes nobody.
        "--forwarded-allow-ips",
        "",
        # Our settings, JSON logging and the metrics hooks (authserver/serving/gunicorn_config.py).
        "--config",
        GUNICORN_CONFIG,
        "wsgi:app",
    ]


class _UnloggedRequestHandler(WSGIRequestHandler):
    """The development server's handler without its own request lines: the app writes one
    (observability/request_log.py), and werkzeug's would carry full URLs, query included."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(1, 64), help="Defaults to AUTHSERVER_WORKERS.")
@click.option(
    "--dev", is_flag=True, help="Flask's development server with reload (never in production)."
)
def serve(host: str, port: int, workers: int | None, dev: bool) -> None:
    """Serve the application over HTTP with gunicorn on wsgi:app."""
    # Validate here so a bad setting is a clear message before any worker starts; this also
    # creates the development secrets once, before several workers could race for them.
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        fail(*error.problems)
    if dev:
        if settings.is_production:
            fail("--dev is refused when AUTHSERVER_ENV=production")
        from authserver import create_app

        app = create_app(settings)
        send_logs_to("stdout")  # a server's log, like gunicorn's
        app.run(host=host, port=port, debug=True, request_handler=_UnloggedRequestHandler)
        return
    argv = gunicorn_argv(host, port, workers or settings.workers)
    # Workers share their metrics through files: a fresh folder per start (removed by on_exit).
    prepare_multiprocess_dir()
    os.execv(argv[0], argv)  # noqa: S606  (replace this process: signals go straight to gunicorn)


def register(group: click.Group) -> None:
    group.add_command(serve)
