"""gunicorn's configuration for `authserver serve`, from the AUTHSERVER_* settings.

`authserver serve` passes ``--config python:authserver.serving.gunicorn_config``; an operator who
runs gunicorn by hand can pass the same. gunicorn applies this module first, then
GUNICORN_CMD_ARGS, then its command line, so both of those still override any value here
(`serve --workers`, the benchmark's ``--worker-class``). gunicorn reads the module's global
names: importing this module reads the settings and sets up logging (it is not for importing
elsewhere; the values come from authserver/serving/gunicorn_options.py).
"""

from __future__ import annotations

import logging
import sys
import warnings

from authserver.config import ConfigError, Settings
from authserver.observability.logging import configure_logging
from authserver.serving.gunicorn_options import gunicorn_options


def _load() -> dict[str, object]:
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        # `serve` checked the same settings before starting gunicorn; this is for gunicorn run
        # by hand. gunicorn lets SystemExit through with its code.
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(1) from None
    # The master's own messages (and every worker's, which inherit the handler) are JSON lines;
    # so are Python's warnings, which would otherwise be bare text on stderr.
    configure_logging(settings)
    logging.captureWarnings(True)
    # gunicorn imports ssl before its gevent worker patches it, and importing our app here
    # brings in redis' asyncio client, which keeps its own `from ssl import` names. We never use
    # that client, so gevent's warning about it (one per worker start) is noise.
    warnings.filterwarnings(
        "ignore", message=r"(?s)Monkey-patching ssl after ssl .*'redis\.asyncio\.connection "
    )
    return gunicorn_options(settings)


globals().update(_load())

# gunicorn server hooks, found by name like the settings above: mark a dead worker's metric
# files and remove the shared folder at exit (authserver/serving/gunicorn_metrics.py).
# In each worker: start and stop the back-channel logout delivery loop
# (authserver/serving/background_work.py).
from authserver.serving.background_work import post_worker_init, worker_exit  # noqa: E402, F401
from authserver.serving.gunicorn_metrics import child_exit, on_exit  # noqa: E402, F401
