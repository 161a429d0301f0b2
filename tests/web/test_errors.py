"""Error responses never leak internals."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import AppFactory


def test_unknown_page_is_a_plain_html_page(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={"Accept": "text/html"})

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "<h1>Page not found</h1>" in response.text
    assert "There is no page at this address." in response.text
    # The way on, and the request id small (for support, not the first thing people read).
    assert '<a href="/">Go to the start page</a>' in response.text
    assert '<a href="/account">Your account</a>' in response.text
    request_id = response.headers["X-Request-Id"]
    assert '<p class="request-id small">' in response.text
    assert f"<code>{request_id}</code>" in response.text


def test_unknown_protocol_path_is_json(client: FlaskClient) -> None:
    response = client.get("/.well-known/no-such-document")

    assert response.status_code == 404
    assert response.json == {"error": "not_found", "error_description": "Not Found"}


def test_internal_error_shows_no_stack_trace(make_app: AppFactory) -> None:
    crashing = make_app()

    @crashing.get("/crash")
    def crash() -> str:
        raise RuntimeError("secret internal detail")

    response = crashing.test_client().get("/crash", headers={"Accept": "text/html"})

    assert response.status_code == 500
    assert "Internal Server Error" in response.text
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
