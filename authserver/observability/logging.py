"""Process-wide logging set-up."""

from __future__ import annotations

import logging
import sys

from authserver.config import Settings

_HANDLER_NAME = "authserver"


def configure_logging(settings: Settings) -> None:
    """One stderr handler for the process, however many apps are created (tests make many)."""
    root = logging.getLogger()
    root.setLevel(settings.log_level)
    if any(handler.get_name() == _HANDLER_NAME for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
