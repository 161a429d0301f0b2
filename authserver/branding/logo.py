"""The logo file: read once at start-up, its type known from its first bytes, served from memory.

Only image types every browser shows in an ``<img>`` are accepted: PNG, SVG, WebP and JPEG. The
type is taken from the content, never from the file name, and must agree with the name's
extension, so a mislabelled file stops start-up instead of being served under a wrong type.

An SVG is a document that can carry script. Shown through ``<img>`` it never runs, but opened
directly from our origin it would; so an SVG with a ``<script>`` element, an ``on...=`` event
attribute or a ``javascript:`` URL is refused, and the logo is served with ``nosniff`` and our
CSP, which allows no inline script anyway.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

# A logo is a small picture on every page; anything bigger is the wrong file.
MAX_LOGO_BYTES = 512 * 1024
_EXTENSIONS = {
    "image/png": (".png",),
    "image/svg+xml": (".svg",),
    "image/webp": (".webp",),
    "image/jpeg": (".jpg", ".jpeg"),
}
_SVG_ROOT = re.compile(rb"<svg[\s>]", re.IGNORECASE)
_SVG_ACTIVE = re.compile(rb"<script|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


class LogoProblem(ValueError):
    """The logo file is unusable; the message says why."""


@dataclass(frozen=True)
class Logo:
    content: bytes
    mimetype: str
    etag: str  # the content's SHA-256 prefix: also the version in the logo's URL


def sniff_type(content: bytes) -> str | None:
    """The image type the bytes hold, or None when they are none of ours."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    head = content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"<?xml", b"<svg", b"<!--", b"<!DOCTYPE svg")) and _SVG_ROOT.search(
        content
    ):
        return "image/svg+xml"
    return None


def read_logo(path: str) -> Logo:
    """The logo at ``path``, or :class:`LogoProblem` saying what is wrong with it."""
    file = Path(path)
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise LogoProblem(f"cannot read {path!r} ({exc.strerror or type(exc).__name__})") from None
    if len(content) > MAX_LOGO_BYTES:
        raise LogoProblem(f"{path!r} is larger than {MAX_LOGO_BYTES // 1024} KiB")
    mimetype = sniff_type(content)
    if mimetype is None:
        raise LogoProblem(f"{path!r} is not a PNG, SVG, WebP or JPEG image")
    if file.suffix.lower() not in _EXTENSIONS[mimetype]:
        raise LogoProblem(
            f"{path!r} holds {mimetype} but is named {file.suffix or 'without an extension'}"
        )
    if mimetype == "image/svg+xml" and _SVG_ACTIVE.search(content):
        raise LogoProblem(f"{path!r} is an SVG with script or event handlers")
    return Logo(content, mimetype, hashlib.sha256(content).hexdigest()[:16])
