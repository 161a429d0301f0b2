"""QR codes drawn on the server as inline SVG: no image service, no script, CSP-friendly."""

from __future__ import annotations

from markupsafe import Markup, escape
from qrcode import QRCode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.svg import SvgPathFillImage


def qr_code_svg(data: str, *, label: str) -> Markup:
    """An ``<svg>`` element (no XML declaration) showing ``data``, announced as ``label``.

    The fill image paints a white background, so the code stays scannable in dark mode.
    """
    code = QRCode(error_correction=ERROR_CORRECT_M, border=4, image_factory=SvgPathFillImage)
    code.add_data(data)
    code.make(fit=True)
    svg: str = code.make_image().to_string(encoding="unicode")
    # Size comes from the stylesheet, and assistive technology reads the label.
    attributes = f'class="qr-code" role="img" aria-label="{escape(label)}" '
    return Markup(svg.replace("<svg ", "<svg " + attributes, 1))  # noqa: S704  # our own SVG
