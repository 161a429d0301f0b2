"""Where a page may send the browser next: only back into this site (no open redirects)."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_local_path(target: str) -> bool:
    """True for a path on this site, such as ``/account?tab=mfa``.

    Browsers read ``//host`` and ``/\\host`` as another host, and drop tabs and newlines before
    parsing (``/<TAB>/host``), so backslashes and control characters are refused outright.
    """
    if not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_redirect_target(target: str | None, *, default: str) -> str:
    """``target`` when it stays on this site, otherwise ``default``."""
    return target if target and is_local_path(target) else default
