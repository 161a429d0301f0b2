"""The brand colour's stylesheet: the accent, a text colour that reads on it, and a link tint.

Contrast is WCAG 2.2's (relative luminance, SC 1.4.3 and 1.4.11). Text on the accent (buttons,
badges) is white or black, whichever contrasts more. No colour needs refusing: the better of the
two is never below 4.58:1, the value where white and black contrast equally (the luminance L
with 1.05 / (L + 0.05) = (L + 0.05) / 0.05), so every ``#rrggbb`` gets AA text (4.5:1).

Links and focus rings sit on the light page background itself, where a pale brand colour would
fail; there they take the brand colour darkened just enough to reach 4.5:1. The dark scheme keeps
the stylesheet's own light link tint.
"""

from __future__ import annotations

WHITE = "#ffffff"
BLACK = "#000000"
# templates/static/style.css: the light scheme's --bg, which links and focus rings sit on.
LIGHT_BACKGROUND = WHITE
# WCAG 2.2 SC 1.4.3 (AA): normal text needs a contrast ratio of at least 4.5:1.
TEXT_CONTRAST = 4.5


def _channels(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _hex(red: int, green: int, blue: int) -> str:
    return f"#{red:02x}{green:02x}{blue:02x}"


def relative_luminance(color: str) -> float:
    """WCAG 2.2's relative luminance of an sRGB ``#rrggbb``."""

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in _channels(color))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_color_on(background: str) -> str:
    """White or black, whichever contrasts more with ``background`` (never below 4.58:1)."""
    on_white = contrast_ratio(background, WHITE)
    return WHITE if on_white >= contrast_ratio(background, BLACK) else BLACK


def readable_on(background: str, color: str) -> str:
    """``color``, darkened in steps of 1% until it reaches 4.5:1 on ``background`` (light)."""
    red, green, blue = _channels(color)
    for percent in range(100, -1, -1):
        candidate = _hex(*(channel * percent // 100 for channel in (red, green, blue)))
        if contrast_ratio(candidate, background) >= TEXT_CONTRAST:
            return candidate
    return BLACK  # not reached for a white background: black is 21:1 there


def brand_stylesheet(color: str) -> str:
    """The stylesheet overriding templates/static/style.css's colour variables with ``color``."""
    on_accent = text_color_on(color)
    link = readable_on(LIGHT_BACKGROUND, color)
    return (
        f"/* AUTHSERVER_BRAND_COLOR {color}: text on it is {on_accent} "
        f"({contrast_ratio(color, on_accent):.2f}:1); links on the light page are {link} "
        f"({contrast_ratio(link, LIGHT_BACKGROUND):.2f}:1). */\n"
        f":root {{ --accent: {color}; --on-accent: {on_accent}; }}\n"
        "@media not (prefers-color-scheme: dark) {\n"
        f"  :root {{ --link: {link}; --focus: {link}; }}\n"
        "}\n"
    )
