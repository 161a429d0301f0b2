"""What the branding settings must meet beyond their own parsing: a usable logo, an existing
template folder.

Called by authserver/config_checks.py with the rest of the start-up checks, so every problem is
reported at once and the server never starts with a logo it would fail to serve.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from authserver.branding.logo import LogoProblem, read_logo
from authserver.config_fields import env_name

if TYPE_CHECKING:
    from authserver.config import Settings


def branding_problems(settings: Settings) -> list[str]:
    problems = []
    if settings.brand_logo:
        try:
            read_logo(settings.brand_logo)
        except LogoProblem as exc:
            problems.append(f"{env_name('brand_logo')}: {exc}")
    if settings.templates_dir and not Path(settings.templates_dir).is_dir():
        problems.append(f"{env_name('templates_dir')}: no such folder")
    return problems
