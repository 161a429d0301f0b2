"""A configured brand for tests: logo files of each accepted type, and the settings naming them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

BRAND_NAME = "Acme ID"
BRAND_COLOR = "#ffcc00"  # pale: black text on the buttons, and a darker tint for links
SUPPORT_URL = "https://help.acme.test/"
PRIVACY_URL = "https://acme.test/privacy"

SVG_LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="40" viewBox="0 0 96 40">'
    '<rect width="96" height="40" rx="8" fill="#1b1b1f"/>'
    '<path d="M14 30 L24 10 L34 30 Z" fill="#ffcc00"/>'
    '<rect x="42" y="12" width="40" height="5" rx="2" fill="#ffcc00"/>'
    '<rect x="42" y="23" width="28" height="5" rx="2" fill="#ffffff"/></svg>\n'
)


def png_bytes(
    width: int = 48, height: int = 24, rgb: tuple[int, int, int] = (255, 204, 0)
) -> bytes:
    """A real PNG (one colour) that browsers decode: signature, IHDR, IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width  # filter byte 0, then the pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def write_logo(folder: Path, name: str, content: bytes | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def brand_settings(logo: Path, **overrides: Any) -> dict[str, Any]:
    """Every branding setting, as make_app takes them."""
    return {
        "brand_name": BRAND_NAME,
        "brand_logo": str(logo),
        "brand_color": BRAND_COLOR,
        "support_url": SUPPORT_URL,
        "privacy_url": PRIVACY_URL,
        **overrides,
    }
