"""A short, human description of a browser from its User-Agent header ("Firefox on Windows").

Deliberately simple: enough for people to recognise their own devices in a list, not a device
database. The header is whatever the client sent, so the answer is a hint, never evidence.
Order matters in both tables: many browsers name the engines they imitate (Edge says
"Chrome" and "Safari"; Android says "Linux"), so the more specific marker comes first.
"""

from __future__ import annotations

import re

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

UNKNOWN_DEVICE = "Unknown device"
UNKNOWN_BROWSER = "Unknown browser"
UNKNOWN_SYSTEM = "an unknown system"

_BROWSERS = (
    (re.compile(r"\bEdg(e|A|iOS)?/"), "Edge"),
    (re.compile(r"\b(OPR|Opera)/"), "Opera"),
    (re.compile(r"\bSamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"\b(Firefox|FxiOS)/"), "Firefox"),
    # Automation, or someone else's script, signed in as this person: worth telling apart.
    (re.compile(r"\bHeadlessChrome/"), "Headless Chrome"),
    (re.compile(r"\b(Chrome|CriOS|Chromium)/"), "Chrome"),
    (re.compile(r"\bVersion/[\d.]+.*\bSafari/"), "Safari"),
    (re.compile(r"\bcurl/"), "curl"),
)
_SYSTEMS = (
    (re.compile(r"\bWindows\b"), "Windows"),
    (re.compile(r"\b(iPhone|iPad|iPod)\b"), "iOS"),
    (re.compile(r"\bAndroid\b"), "Android"),
    (re.compile(r"\bCrOS\b"), "ChromeOS"),
    (re.compile(r"\b(Macintosh|Mac OS X)\b"), "macOS"),
    (re.compile(r"\bLinux\b"), "Linux"),
)


def describe_device(user_agent: str | None) -> str:
    """``"<browser> on <system>"``, or "Unknown device" when the header says nothing we know.

    English, for the audit trail and the data export; :func:`device_label` is for people.
    """
    browser, system = _parts(user_agent)
    if browser is None and system is None:
        return UNKNOWN_DEVICE
    return f"{browser or UNKNOWN_BROWSER} on {system or UNKNOWN_SYSTEM}"


def device_label(user_agent: str | None) -> LazyString:
    """The same description as a whole phrase in the reader's language, rendered when it is
    shown: on a page in the page's language, in a mail in the recipient's. The names come from
    the tables above, never from the header itself, so the lazy string holds nothing foreign."""
    browser, system = _parts(user_agent)
    if browser is not None and system is not None:
        return _l("%(browser)s on %(system)s", browser=browser, system=system)
    if browser is not None:
        return _l("%(browser)s on an unknown system", browser=browser)
    if system is not None:
        return _l("Unknown browser on %(system)s", system=system)
    return _l("Unknown device")


def _parts(user_agent: str | None) -> tuple[str | None, str | None]:
    if not user_agent:
        return None, None
    return _first_match(_BROWSERS, user_agent), _first_match(_SYSTEMS, user_agent)


def _first_match(table: tuple[tuple[re.Pattern[str], str], ...], user_agent: str) -> str | None:
    return next((name for pattern, name in table if pattern.search(user_agent)), None)
