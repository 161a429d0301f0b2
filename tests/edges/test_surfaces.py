"""The two surfaces: every request is a program's or a person's, and runs only its own hooks."""

from __future__ import annotations

import pytest
from flask import Flask, Response, request, session
from flask.testing import FlaskClient

from authserver.edges.surfaces import Surface, hooks_for, surface_of
from tests.conftest import AppFactory
from tests.support.oauth import make_user, sign_in


@pytest.mark.parametrize(
    ("path", "surface"),
    [
        ("/oauth/token", Surface.MACHINE),
        ("/oauth/introspect", Surface.MACHINE),
        ("/oauth/revoke", Surface.MACHINE),
        ("/oauth/userinfo", Surface.MACHINE),
        ("/oauth/no-such-endpoint", Surface.MACHINE),
        ("/.well-known/jwks.json", Surface.MACHINE),
        ("/.well-known/openid-configuration", Surface.MACHINE),
        ("/csp-report", Surface.MACHINE),
        ("/healthz", Surface.MACHINE),
        ("/readyz", Surface.MACHINE),
        ("/metrics", Surface.MACHINE),
        ("/oauth/authorize", Surface.PEOPLE),
        ("/oauth/logout", Surface.PEOPLE),
        ("/login", Surface.PEOPLE),
        ("/account", Surface.PEOPLE),
        ("/reset/some-token", Surface.PEOPLE),
        ("/static/style.css", Surface.PEOPLE),
        ("/no-such-page", Surface.PEOPLE),
    ],
)
def test_every_path_belongs_to_one_surface(path: str, surface: Surface) -> None:
    assert surface_of(path) is surface


def _names(hooks: list[object]) -> list[str]:
    return [getattr(hook, "__name__", repr(hook)) for hook in hooks]


def test_each_surface_registers_only_the_hooks_it_needs(app: Flask) -> None:
    machine, people = hooks_for(app, Surface.MACHINE), hooks_for(app, Surface.PEOPLE)

    assert _names(machine.before) == ["answer_preflight"]
    assert _names(machine.after) == ["apply_to_machine", "add_cors_headers"]
    assert machine.teardown == []
    assert _names(people.before) == ["protect_forms"]
    assert _names(people.after) == ["apply_to_page", "apply_cookie_change", "apply_cookie_change"]
    assert _names(people.teardown) == ["forget_request_state", "forget_cookie_change"]


def test_the_hooks_both_surfaces_share_are_the_ones_a_program_needs(make_app: AppFactory) -> None:
    """A page-only hook registered app-wide would run on every token request: this list is the
    machine surface's whole per-request work outside its view (docs/architecture.md)."""
    app = make_app(key_auto_rotate=True)  # the default outside tests
    shared_before = _names(app.before_request_funcs[None])
    shared_after = _names(app.after_request_funcs[None])
    shared_teardown = _names(app.teardown_request_funcs[None])

    assert shared_before == [
        "_start_timer",
        "_assign_request_id",
        "refuse_unusable_host",
        "reject_oversized_body",
        "refuse_unexpected_bodies",
        "run_before",
        "csrf_protect",  # Flask-WTF's own; a no-op with WTF_CSRF_CHECK_DEFAULT off
        "advance_if_due",
    ]
    assert shared_after == [
        "_log_request",
        "_echo_request_id",
        "count_request",
        "run_after",
        "_deduct",
    ]
    assert shared_teardown == ["run_teardown", "_keep_request_id"]


def test_a_machine_request_runs_none_of_the_page_hooks(app: Flask, client: FlaskClient) -> None:
    seen: list[tuple[str, str]] = []

    def note(surface: str) -> None:
        seen.append((surface, request.path))

    def note_after(surface: str) -> object:
        def hook(response: Response) -> Response:
            note(surface)
            return response

        return hook

    for surface in Surface:
        hooks = hooks_for(app, surface)
        hooks.before_request(lambda surface=surface: note(f"{surface.value} before"))
        hooks.after_request(note_after(f"{surface.value} after"))  # type: ignore[arg-type]

    client.post("/oauth/token", data={"grant_type": "client_credentials"})
    client.get("/.well-known/jwks.json")
    client.get("/login")

    assert seen == [
        ("machine before", "/oauth/token"),
        ("machine after", "/oauth/token"),
        ("machine before", "/.well-known/jwks.json"),
        ("machine after", "/.well-known/jwks.json"),
        ("people before", "/login"),
        ("people after", "/login"),
    ]


def test_a_signed_in_browser_calling_a_machine_endpoint_gets_no_cookie_work(
    app: Flask, client: FlaskClient
) -> None:
    """The browser's cookies travel with its call; the machine surface neither reads nor
    renews them, and a form-less POST is judged by the protocol, not refused as CSRF."""
    with app.app_context():
        make_user()
    assert sign_in(client).status_code == 303
    assert client.get_cookie("session") is not None

    null_sessions: list[bool] = []
    hooks_for(app, Surface.MACHINE).before_request(
        lambda: null_sessions.append(app.session_interface.is_null_session(session))
    )
    userinfo = client.get("/oauth/userinfo")
    revoke = client.post("/oauth/revoke", data={"token": "anything"})

    assert null_sessions == [True, True]  # the cookie was never read

    assert (userinfo.status_code, revoke.status_code) == (401, 401)
    assert revoke.json is not None and revoke.json["error"] == "invalid_client"
    for response in (userinfo, revoke):
        assert "Set-Cookie" not in response.headers
        assert "Cookie" not in response.vary
        assert "nonce-" not in response.headers["Content-Security-Policy"]
