"""Delivering the logout outbox: retries with back-off, giving up, and workers racing.

The relying party is a real HTTP server on loopback; the session ends through the pages; the
worker's delivery pass (and, for the race, two of them in threads with app contexts of their
own) runs until the outcome or a deadline.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import jwt
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.backchannel.delivery import DeliveryReport, deliver_due
from authserver.backchannel.worker import DeliveryWorker
from authserver.cli import main
from authserver.config import app_settings
from authserver.extensions import db
from authserver.models import AuditEvent, LogoutMessage
from authserver.observability.metrics import app_metrics
from tests.conftest import AppFactory
from tests.oidc.test_backchannel_logout import id_token_claims, sign_out_button
from tests.support.logout_receiver import logout_receiver, verify_logout_token
from tests.support.metrics import METRICS_TOKEN, Scrape, bearer
from tests.support.oauth import ISSUER, make_relying_party, make_user, published_keys, sign_in

DEADLINE_SECONDS = 15
PENDING = "authserver_backchannel_logout_pending"
DELIVERIES = "authserver_backchannel_logout_deliveries_total"


def delivering_app(app: Flask, make_app: AppFactory, **settings: object) -> Flask:
    """An app on `app`'s database and secrets (its signing keys) with these delivery settings."""
    return make_app(encryption_keys=app_settings(app).encryption_keys, **settings)


def pending() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(LogoutMessage)) or 0


def run_until(done: Callable[[], bool], reports: list[DeliveryReport]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not done():
        assert time.monotonic() < deadline, f"not done in {DEADLINE_SECONDS}s: {reports}"
        reports.append(deliver_due())
        time.sleep(0.1)


def scrape(browser: FlaskClient) -> Scrape:
    response = browser.get("/metrics", headers=bearer())
    assert response.status_code == 200, response.text
    return Scrape.parse(response.text)


def deliveries(app: Flask, outcome: str) -> float:
    metrics = app_metrics(app)
    assert metrics is not None
    value = metrics.registry.get_sample_value(
        "authserver_backchannel_logout_deliveries_total", {"outcome": outcome}
    )
    return value or 0.0


def test_a_failing_receiver_is_retried_and_gets_the_token_once(
    app: Flask, make_app: AppFactory
) -> None:
    delivering = delivering_app(
        app, make_app, backchannel_logout_backoff=1, metrics_token=METRICS_TOKEN
    )
    with logout_receiver(statuses=(500, 200)) as receiver, delivering.app_context():
        make_user()
        rp = make_relying_party(backchannel_logout_uri=receiver.uri)
        browser = delivering.test_client()
        sign_in(browser)
        id_claims, _ = id_token_claims(browser, rp)
        sign_out_button(browser)
        assert scrape(browser).value(PENDING) == 1

        reports: list[DeliveryReport] = []
        first = deliver_due()
        assert (first.delivered, first.failed) == (0, 1)
        assert pending() == 1, "kept for a retry"
        assert deliver_due().delivered == 0, "not again before the back-off has passed"
        run_until(lambda: pending() == 0, reports)

        assert len(receiver.snapshot()) == 2  # the 500, then the 200
        second, third = [  # both attempts carried a valid token, signed afresh each time
            verify_logout_token(t, published_keys(browser), issuer=ISSUER, audience=rp.client_id)
            for t in receiver.tokens()
        ]
        assert second["sid"] == third["sid"] == id_claims["sid"]
        assert sum(r.delivered for r in reports) == 1
        time.sleep(1.2)
        assert deliver_due() == DeliveryReport(), "nothing left to send"
        assert len(receiver.snapshot()) == 2
        after = scrape(browser)
        assert after.value(PENDING) == 0
        assert after.value(DELIVERIES, outcome="delivered") == 1
        assert after.value(DELIVERIES, outcome="failed") == 1
        assert after.value(DELIVERIES, outcome="given_up") == 0


def test_a_receiver_that_never_answers_is_given_up_audited_and_counted(
    app: Flask, make_app: AppFactory
) -> None:
    delivering = delivering_app(
        app,
        make_app,
        backchannel_logout_timeout=1,
        backchannel_logout_backoff=1,
        backchannel_logout_retry_seconds=3,
    )
    with logout_receiver(hang=True) as receiver, delivering.app_context():
        make_user()
        rp = make_relying_party(backchannel_logout_uri=receiver.uri)
        browser = delivering.test_client()
        sign_in(browser)
        id_token_claims(browser, rp)
        sign_out_button(browser)

        started = time.monotonic()
        reports: list[DeliveryReport] = []
        run_until(lambda: pending() == 0, reports)

        assert time.monotonic() - started >= 1, "each attempt waited for its timeout"
        assert sum(r.given_up for r in reports) == 1
        assert sum(r.delivered for r in reports) == 0
        attempts = len(receiver.snapshot())
        assert attempts == sum(r.failed for r in reports) >= 2
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == "client:logout-token:failure")
        ).one()
        assert event.outcome == "failure"
        assert event.client_id == rp.client_id
        assert event.user_subject is not None  # the account is still there
        assert event.detail == {"attempts": attempts, "reason": "TimeoutError"}
        assert deliveries(delivering, "given_up") == 1
        assert deliveries(delivering, "failed") == attempts


def test_giving_up_after_an_account_deletion_does_not_bring_its_subject_back(
    app: Flask, make_app: AppFactory
) -> None:
    """Deletion pseudonymises the account's audit rows and queues the logout of its sessions;
    the row written when that delivery is given up, later, names no one."""
    delivering = delivering_app(
        app,
        make_app,
        backchannel_logout_timeout=1,
        backchannel_logout_backoff=1,
        backchannel_logout_retry_seconds=2,
    )
    with logout_receiver(hang=True) as receiver, delivering.app_context():
        user = make_user()
        subject = user.subject
        rp = make_relying_party(backchannel_logout_uri=receiver.uri)
        browser = delivering.test_client()
        sign_in(browser)
        id_token_claims(browser, rp)
        deleted = delivering.test_cli_runner().invoke(
            main, ["user", "delete", "ada@example.com", "--yes"]
        )
        assert deleted.exit_code == 0, deleted.output

        run_until(lambda: pending() == 0, [])

        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == "client:logout-token:failure")
        ).one()
        assert event.user_subject is None
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.user_subject == subject)
            )
            == 0
        )


def test_two_workers_racing_over_the_outbox_send_each_message_once(
    app: Flask, make_app: AppFactory
) -> None:
    clients = 8
    with logout_receiver() as receiver:
        make_user()
        rps = [
            make_relying_party(name=f"App {n}", backchannel_logout_uri=receiver.uri)
            for n in range(clients)
        ]
        browser: FlaskClient = app.test_client()
        sign_in(browser)
        for rp in rps:
            id_token_claims(browser, rp)
        sign_out_button(browser)
        assert pending() == clients
        db.session.commit()

        # Two processes' worth of delivery: separate apps (engines, pools), started together.
        workers = [DeliveryWorker(delivering_app(app, make_app), interval=0.05) for _ in "ab"]
        start = threading.Barrier(len(workers))

        def race(worker: DeliveryWorker) -> None:
            start.wait()
            deadline = time.monotonic() + DEADLINE_SECONDS
            while len(receiver.snapshot()) < clients and time.monotonic() < deadline:
                worker.run_once()

        threads = [threading.Thread(target=race, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE_SECONDS + 5)
        time.sleep(0.5)  # anything sent twice would arrive by now
        for worker in workers:
            worker.run_once()

        audiences = Counter(
            jwt.decode(t, options={"verify_signature": False})["aud"] for t in receiver.tokens()
        )
        assert audiences == Counter({rp.client_id: 1 for rp in rps})
        assert pending() == 0


def test_a_redirect_is_a_failed_attempt_and_never_followed(app: Flask) -> None:
    with (
        logout_receiver() as elsewhere,
        logout_receiver(statuses=(307,), location=elsewhere.uri) as receiver,
    ):
        make_user()
        rp = make_relying_party(backchannel_logout_uri=receiver.uri)
        browser = app.test_client()
        sign_in(browser)
        id_token_claims(browser, rp)
        sign_out_button(browser)

        report = deliver_due()

        assert (report.delivered, report.failed) == (0, 1)
        assert len(receiver.snapshot()) == 1
        time.sleep(0.3)
        assert elsewhere.snapshot() == [], "the redirect was not followed"
        assert pending() == 1, "kept for a retry"
