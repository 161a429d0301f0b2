"""Where raw setting values come from: the environment, ``*_FILE`` twins, a development .env.

Values are returned as the text they were given; config_fields.py parses them. Also here:
prometheus-client's own multiprocess variable, the one other variable the package reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from dotenv import dotenv_values

from authserver.config_fields import PREFIX, env_name

FILE_SUFFIX = "_FILE"
# Not an AUTHSERVER_ setting: prometheus-client's own variable. `authserver serve` sets it for
# gunicorn's workers, so that they share their counters (serving/gunicorn_metrics.py).
METRICS_MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def metrics_multiprocess_dir(environ: Mapping[str, str] | None = None) -> str | None:
    """The folder gunicorn's workers share their metrics in; None in a single process."""
    source = os.environ if environ is None else environ
    return source.get(METRICS_MULTIPROCESS_VARIABLE) or None


def variables_with_dotenv(
    environ: Mapping[str, str] | None, dotenv_path: str | Path
) -> dict[str, str]:
    """The environment, plus a .env file's values in development (the environment wins)."""
    source = dict(os.environ if environ is None else environ)
    if source.get(PREFIX + "ENV", "development") == "development":
        for key, value in dotenv_values(dotenv_path).items():
            if value is not None:
                source.setdefault(key, value)
    return source


def variable_names(setting_names: Iterable[str]) -> set[str]:
    """Every variable these settings may be given by: the name and its ``_FILE`` twin."""
    names = {env_name(name) for name in setting_names}
    return names | {name + FILE_SUFFIX for name in names}


def raw_values(
    source: Mapping[str, str], setting_names: Iterable[str], problems: list[str]
) -> dict[str, str]:
    """Each setting's text by setting name; what cannot be read is added to ``problems``."""
    raw: dict[str, str] = {}
    for setting_name in setting_names:
        name = env_name(setting_name)
        file_name = name + FILE_SUFFIX
        if name in source and file_name in source:
            problems.append(f"{name}: set either {name} or {file_name}, not both")
            continue
        if file_name in source:
            try:
                # Secrets files usually end with a newline that is not part of the value.
                text = Path(source[file_name]).read_text(encoding="utf-8")
                raw[setting_name] = text.rstrip("\r\n")
            except OSError as exc:
                problems.append(f"{file_name}: cannot read {source[file_name]!r} ({exc.strerror})")
            except UnicodeDecodeError:
                problems.append(f"{file_name}: {source[file_name]!r} is not UTF-8 text")
        elif name in source:
            raw[setting_name] = source[name]
    return raw
