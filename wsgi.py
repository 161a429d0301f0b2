"""WSGI entry point: ``gunicorn wsgi:app``."""

import sys

from authserver import create_app
from authserver.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    for problem in error.problems:
        print(f"configuration error: {problem}", file=sys.stderr)
    # gunicorn stops (instead of restarting workers forever) when a worker exits with 4.
    raise SystemExit(4) from None
