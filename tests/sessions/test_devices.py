"""Naming a browser from its User-Agent header, for the account page's session list."""

from __future__ import annotations

import pytest

from authserver.sessions.user_agents import describe_device

UA = {
    "firefox-linux": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "chrome-windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36"
    ),
    "edge-windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68"
    ),
    "safari-iphone": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
    ),
    "chrome-iphone": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1"
    ),
    "chrome-android": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.6478.71 Mobile Safari/537.36"
    ),
    "samsung-android": (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36"
    ),
    "safari-mac": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15"
    ),
    "opera-mac": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.0.0 Safari/537.36 OPR/111.0.0.0"
    ),
    "chrome-chromeos": (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36"
    ),
    # Found by the browser tests, whose own session showed as "Unknown browser on Linux".
    "headless-chrome-linux": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/156.0.0.0 Safari/537.36"
    ),
}


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (UA["firefox-linux"], "Firefox on Linux"),
        (UA["chrome-windows"], "Chrome on Windows"),
        (UA["edge-windows"], "Edge on Windows"),
        (UA["safari-iphone"], "Safari on iOS"),
        (UA["chrome-iphone"], "Chrome on iOS"),
        (UA["chrome-android"], "Chrome on Android"),
        (UA["samsung-android"], "Samsung Internet on Android"),
        (UA["safari-mac"], "Safari on macOS"),
        (UA["opera-mac"], "Opera on macOS"),
        (UA["chrome-chromeos"], "Chrome on ChromeOS"),
        (UA["headless-chrome-linux"], "Headless Chrome on Linux"),
        ("curl/8.5.0", "curl on an unknown system"),
        ("SomeBot/1.0 (Linux)", "Unknown browser on Linux"),
        ("Werkzeug/3.1.3", "Unknown device"),
        ("", "Unknown device"),
        (None, "Unknown device"),
    ],
)
def test_describe_device(user_agent: str | None, expected: str) -> None:
    assert describe_device(user_agent) == expected
