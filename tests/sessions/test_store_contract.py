"""The session store's contract (sessions/store.py), held by the database store.

Each test runs once per database backend. The first half drives the SessionStore interface
directly; the second half drives sign-in, timeouts and sign-out through HTTP.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import User
from authserver.sessions.cookies import COOKIE_NAME
from authserver.sessions.service import ACR_MFA, hash_token, session_store
from authserver.sessions.store import ListedSession, StoredSession
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.web import sign_in, sign_out

START = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
IDLE_SECONDS = 600
ABSOLUTE_SECONDS = 3600


def new_hash() -> str:
    return hash_token(secrets.token_urlsafe(32))


def stored_session(user: User, **changes: object) -> StoredSession:
    base = StoredSession(
        public_id=secrets.token_urlsafe(16),
        user_id=user.id,
        auth_time=START,
        amr=("pwd", "otp", "mfa"),
        acr=ACR_MFA,
        created_at=START,
        last_seen_at=START,
        expires_at=START + timedelta(seconds=ABSOLUTE_SECONDS),
        revoked_at=None,
        ip="2001:db8::1",
        user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    )
    return replace(base, **changes)


def keep(user: User, **changes: object) -> tuple[str, StoredSession]:
    token_hash, session = new_hash(), stored_session(user, **changes)
    session_store().add(token_hash, session)
    db.session.commit()  # stores never commit; the service's unit of work does
    return token_hash, session


def test_a_kept_session_is_found_exactly_as_it_was(app: Flask) -> None:
    token_hash, session = keep(make_user())

    assert session_store().find(token_hash) == session


def test_missing_optional_values_come_back_missing(app: Flask) -> None:
    token_hash, session = keep(make_user(), ip=None, user_agent=None, amr=("pwd",))

    found = session_store().find(token_hash)

    assert found == session
    assert found is not None and found.ip is None and found.user_agent is None


def test_an_unknown_hash_finds_nothing(app: Flask) -> None:
    keep(make_user())

    assert session_store().find(new_hash()) is None


def test_touch_records_activity(app: Flask) -> None:
    token_hash, session = keep(make_user())
    later = START + timedelta(minutes=5)

    session_store().touch(token_hash, seen_at=later)
    db.session.commit()

    assert session_store().find(token_hash) == replace(session, last_seen_at=later)


def test_revoking_keeps_the_first_revocation_time(app: Flask) -> None:
    token_hash, session = keep(make_user())
    first, second = START + timedelta(minutes=1), START + timedelta(minutes=2)

    session_store().revoke(token_hash, revoked_at=first)
    session_store().revoke(token_hash, revoked_at=second)
    db.session.commit()

    assert session_store().find(token_hash) == replace(session, revoked_at=first)


def test_renewing_moves_a_live_session_to_its_new_token(app: Flask) -> None:
    token_hash, session = keep(make_user(), amr=("pwd",))
    later = START + timedelta(minutes=5)
    renewed = replace(
        session, amr=("pwd", "otp", "mfa"), auth_time=later, created_at=later, last_seen_at=later
    )
    new_token_hash = new_hash()

    session_store().renew(token_hash, new_token_hash, renewed)
    db.session.commit()

    assert session_store().find(token_hash) is None
    assert session_store().find(new_token_hash) == renewed


def test_a_revoked_session_is_not_renewed(app: Flask) -> None:
    token_hash, session = keep(make_user(), revoked_at=START)
    new_token_hash = new_hash()

    session_store().renew(token_hash, new_token_hash, replace(session, revoked_at=None))
    db.session.commit()

    assert session_store().find(token_hash) == session
    assert session_store().find(new_token_hash) is None


def test_touching_or_revoking_an_unknown_session_creates_nothing(app: Flask) -> None:
    user = make_user()
    token_hash = new_hash()

    session_store().touch(token_hash, seen_at=START)
    session_store().revoke(token_hash, revoked_at=START)
    db.session.commit()

    assert session_store().find(token_hash) is None
    assert session_store().list_for_user(user.id, now=START) == []


def test_list_for_user_gives_that_users_open_sessions(app: Flask) -> None:
    alice, bob = make_user(), make_user("bob@example.org")
    first = keep(alice)
    second = keep(alice, created_at=START + timedelta(minutes=1))
    revoked, _ = keep(alice)
    session_store().revoke(revoked, revoked_at=START)
    keep(bob)
    db.session.commit()

    listed = session_store().list_for_user(alice.id, now=START)

    assert sorted(listed) == sorted([ListedSession(*first), ListedSession(*second)])
    assert session_store().list_for_user(12345, now=START) == []


def test_list_for_user_leaves_out_sessions_past_their_absolute_end(app: Flask) -> None:
    user = make_user()
    end = START + timedelta(minutes=5)
    short = keep(user, expires_at=end)

    assert session_store().list_for_user(user.id, now=end - timedelta(seconds=1)) == [
        ListedSession(*short)
    ]
    assert session_store().list_for_user(user.id, now=end) == []


def test_revoke_all_for_user_ends_only_that_users_sessions(app: Flask) -> None:
    alice, bob = make_user(), make_user("bob@example.org")
    alice_hashes = [keep(alice)[0] for _ in range(3)]
    session_store().revoke(alice_hashes[0], revoked_at=START)
    bob_hash, bob_session = keep(bob)
    db.session.commit()
    moment = START + timedelta(minutes=3)

    ended = session_store().revoke_all_for_user(alice.id, revoked_at=moment)
    db.session.commit()

    assert ended == 2
    assert session_store().list_for_user(alice.id, now=START) == []
    found = [session_store().find(token_hash) for token_hash in alice_hashes]
    assert [each.revoked_at for each in found if each] == [START, moment, moment]
    assert session_store().find(bob_hash) == bob_session
    assert session_store().revoke_all_for_user(alice.id, revoked_at=moment) == 0


def test_list_all_for_user_includes_revoked_sessions_oldest_first(app: Flask) -> None:
    alice, bob = make_user(), make_user("bob@example.org")
    _, later = keep(alice, created_at=START + timedelta(minutes=2))
    revoked_hash, _ = keep(alice, created_at=START + timedelta(minutes=1))
    first = keep(alice)[1]
    keep(bob)
    session_store().revoke(revoked_hash, revoked_at=START + timedelta(minutes=3))
    db.session.commit()

    listed = session_store().list_all_for_user(alice.id)

    revoked = session_store().find(revoked_hash)
    assert revoked is not None and revoked.revoked_at == START + timedelta(minutes=3)
    assert listed == [first, revoked, later]
    assert session_store().list_all_for_user(12345) == []


def test_forget_all_for_user_deletes_only_that_users_sessions(app: Flask) -> None:
    alice, bob = make_user(), make_user("bob@example.org")
    alice_hashes = [keep(alice)[0] for _ in range(2)]
    session_store().revoke(alice_hashes[0], revoked_at=START)
    bob_hash, bob_session = keep(bob)
    db.session.commit()

    forgotten = session_store().forget_all_for_user(alice.id)
    db.session.commit()

    assert forgotten == 2
    assert [session_store().find(token_hash) for token_hash in alice_hashes] == [None, None]
    assert session_store().list_all_for_user(alice.id) == []
    assert session_store().find(bob_hash) == bob_session
    assert session_store().forget_all_for_user(alice.id) == 0


# --- the same behaviour through the service and HTTP -------------------------------------------


@pytest.fixture
def timed_app(app: Flask, make_app: AppFactory) -> Iterator[Flask]:
    """The app with short, round timeouts, used while the clock is frozen at START.

    It asks for ``app`` only for its clean database (PostgreSQL is emptied there).
    """
    app = make_app(
        session_idle_ttl=IDLE_SECONDS,
        session_absolute_ttl=ABSOLUTE_SECONDS,
    )
    with time_machine.travel(START, tick=False), app.app_context():
        make_user()
        yield app


def is_signed_in(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie is not None, "no session cookie"
    return cookie.value


def test_signing_in_keeps_only_the_tokens_hash(timed_app: Flask) -> None:
    client = timed_app.test_client()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    token = session_cookie(client)

    found = session_store().find(hash_token(token))

    assert found is not None
    assert found.created_at == found.auth_time == START
    assert found.expires_at == START + timedelta(seconds=ABSOLUTE_SECONDS)
    assert token not in (found.public_id, hash_token(found.public_id))
    assert is_signed_in(client)


def test_signing_in_again_rotates_the_session(timed_app: Flask) -> None:
    client = timed_app.test_client()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    first = session_cookie(client)

    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    assert session_cookie(client) != first
    assert is_signed_in(client)
    client.set_cookie(COOKIE_NAME, first)
    assert not is_signed_in(client)


def test_signing_out_ends_the_session(timed_app: Flask) -> None:
    client = timed_app.test_client()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    token = session_cookie(client)

    assert sign_out(client).status_code == 303

    client.set_cookie(COOKIE_NAME, token)
    assert not is_signed_in(client)
    found = session_store().find(hash_token(token))
    assert found is not None and found.revoked_at == START


def test_the_idle_timeout_applies(timed_app: Flask) -> None:
    client = timed_app.test_client()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    first_visit = START + timedelta(seconds=IDLE_SECONDS - 1)
    with time_machine.travel(first_visit, tick=False):
        assert is_signed_in(client)  # and this visit restarts the idle clock
    second_visit = first_visit + timedelta(seconds=IDLE_SECONDS - 1)
    with time_machine.travel(second_visit, tick=False):
        assert is_signed_in(client)
    with time_machine.travel(second_visit + timedelta(seconds=IDLE_SECONDS), tick=False):
        assert not is_signed_in(client)


def test_the_absolute_timeout_applies_to_an_active_session(timed_app: Flask) -> None:
    client = timed_app.test_client()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    step = timedelta(seconds=IDLE_SECONDS // 2)
    moment = START
    while moment + step < START + timedelta(seconds=ABSOLUTE_SECONDS):
        moment += step
        with time_machine.travel(moment, tick=False):
            assert is_signed_in(client), moment
    with time_machine.travel(START + timedelta(seconds=ABSOLUTE_SECONDS), tick=False):
        assert not is_signed_in(client)


def test_tokens_valid_after_ends_sessions_in_the_store(timed_app: Flask) -> None:
    client = timed_app.test_client()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    user = db.session.scalars(select(User)).one()
    user.tokens_valid_after = START + timedelta(seconds=1)
    db.session.commit()

    assert not is_signed_in(client)
