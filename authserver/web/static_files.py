"""Links to the stylesheet and icon that every page, the error page above all, can always build.

``url_for`` needs the URL adapter Flask binds to the request's ``Host``. When Werkzeug cannot
encode that Host (a label over 63 characters, an empty label) there is no adapter: the request
is answered 400 (BadHost), and the error page saying so must not need one. The static folder's
URL is fixed when the app is made, so the link is built from it directly.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Flask, current_app, request


def static_path(filename: str) -> str:
    return f"{request.script_root}{current_app.static_url_path}/{quote(filename)}"


def init_app(app: Flask) -> None:
    app.jinja_env.globals["static_path"] = static_path
