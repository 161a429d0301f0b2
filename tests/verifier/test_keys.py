"""The kit's JWKS cache: discovery, max-age, refetch on an unknown kid, rate limits, threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from authserver_verifier import CachePolicy, InvalidToken, Verifier, VerifierUnavailable
from tests.support.token_issuer import API, LoopbackIssuer, loopback_issuer


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer() -> Iterator[LoopbackIssuer]:
    with loopback_issuer("ES256") as issuer:
        yield issuer


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_verifier(issuer: LoopbackIssuer, clock: Clock, **policy: float) -> Verifier:
    return Verifier(issuer.url, audience=API, cache_policy=CachePolicy(**policy), monotonic=clock)


def test_the_jwks_is_kept_for_its_max_age(issuer: LoopbackIssuer, clock: Clock) -> None:
    issuer.cache_control = "public, max-age=900"
    verifier = make_verifier(issuer, clock)
    token = issuer.mint()

    for _ in range(50):
        verifier.verify_token(token)
    clock.now += 899
    verifier.verify_token(token)
    assert (issuer.discovery_fetches, issuer.jwks_fetches) == (1, 1)

    clock.now += 1
    verifier.verify_token(token)
    assert (issuer.discovery_fetches, issuer.jwks_fetches) == (1, 2)


def test_the_age_header_counts_against_the_max_age(issuer: LoopbackIssuer, clock: Clock) -> None:
    issuer.cache_control, issuer.age = "max-age=900", "800"
    verifier = make_verifier(issuer, clock)
    verifier.verify_token(issuer.mint())

    clock.now += 100
    verifier.verify_token(issuer.mint())
    assert issuer.jwks_fetches == 2


@pytest.mark.parametrize(
    ("cache_control", "kept_seconds"),
    [
        ("max-age=5", 60),  # below the minimum: kept for the minimum
        ("no-store", 60),
        (None, 60),  # no header: the minimum
        ("public, max-age=86400", 3600),  # above the maximum: a removed key goes within an hour
    ],
)
def test_the_lifetime_is_bounded(
    issuer: LoopbackIssuer, clock: Clock, cache_control: str | None, kept_seconds: int
) -> None:
    issuer.cache_control = cache_control
    verifier = make_verifier(issuer, clock)
    token = issuer.mint()
    verifier.verify_token(token)

    clock.now += kept_seconds - 1
    verifier.verify_token(token)
    assert issuer.jwks_fetches == 1
    clock.now += 1
    verifier.verify_token(token)
    assert issuer.jwks_fetches == 2


def test_a_new_kid_is_fetched_at_once(issuer: LoopbackIssuer, clock: Clock) -> None:
    verifier = make_verifier(issuer, clock, refetch_interval_seconds=10)
    verifier.verify_token(issuer.mint())
    clock.now += 10

    new_kid = issuer.add_key("EdDSA")
    assert verifier.verify_token(issuer.mint(kid=new_kid)).subject == "user-123"
    assert issuer.jwks_fetches == 2


def test_made_up_kids_cost_one_fetch_per_interval(issuer: LoopbackIssuer, clock: Clock) -> None:
    verifier = make_verifier(issuer, clock, refetch_interval_seconds=10)
    verifier.verify_token(issuer.mint())
    clock.now += 10

    for number in range(200):
        with pytest.raises(InvalidToken) as refused:
            verifier.verify_token(issuer.mint(header={"kid": f"forged-{number}"}))
        assert refused.value.reason == "unknown_kid"
        clock.now += 0.01  # 200 forged tokens over 2 seconds
    assert issuer.jwks_fetches == 2

    clock.now += 10
    with pytest.raises(InvalidToken):
        verifier.verify_token(issuer.mint(header={"kid": "forged-again"}))
    assert issuer.jwks_fetches == 3


def test_a_key_published_right_after_a_refetch_waits_for_the_interval(
    issuer: LoopbackIssuer, clock: Clock
) -> None:
    verifier = make_verifier(issuer, clock, refetch_interval_seconds=10)
    verifier.verify_token(issuer.mint())
    new_kid = issuer.add_key("ES256")
    token = issuer.mint(kid=new_kid)

    with pytest.raises(InvalidToken):
        verifier.verify_token(token)
    clock.now += 10
    assert verifier.verify_token(token).subject == "user-123"
    assert issuer.jwks_fetches == 2


def test_threads_meeting_a_new_kid_share_one_fetch(issuer: LoopbackIssuer, clock: Clock) -> None:
    verifier = make_verifier(issuer, clock, refetch_interval_seconds=10)
    verifier.verify_token(issuer.mint())
    clock.now += 10
    token = issuer.mint(kid=issuer.add_key("ES256"))
    start = threading.Barrier(16)
    outcomes: list[str] = []

    def verify() -> None:
        start.wait()
        try:
            outcomes.append(verifier.verify_token(token).subject)
        except InvalidToken as error:
            outcomes.append(error.reason)

    threads = [threading.Thread(target=verify) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert outcomes == ["user-123"] * 16
    assert issuer.jwks_fetches == 2
    assert verifier.keys.fetch_count == 2


def test_a_failed_refetch_keeps_the_last_keys_for_a_while(
    issuer: LoopbackIssuer, clock: Clock
) -> None:
    issuer.cache_control = "max-age=60"
    verifier = make_verifier(issuer, clock, stale_if_error_seconds=300)
    token = issuer.mint()
    verifier.verify_token(token)

    issuer.jwks_status = 500
    clock.now += 60 + 299
    assert verifier.verify_token(token).subject == "user-123"
    clock.now += 1
    with pytest.raises(VerifierUnavailable) as refused:
        verifier.verify_token(token)
    assert refused.value.status == 503

    issuer.jwks_status = 200
    clock.now += 10
    assert verifier.verify_token(token).subject == "user-123"


def test_no_keys_at_all_is_unavailable_not_invalid(issuer: LoopbackIssuer, clock: Clock) -> None:
    issuer.jwks_status = 503
    verifier = make_verifier(issuer, clock)
    with pytest.raises(VerifierUnavailable):
        verifier.verify_token(issuer.mint())


def test_a_discovery_document_naming_another_issuer_is_not_used(
    issuer: LoopbackIssuer, clock: Clock
) -> None:
    issuer.discovery_issuer = "https://evil.example.test"
    verifier = make_verifier(issuer, clock)
    with pytest.raises(VerifierUnavailable):
        verifier.verify_token(issuer.mint())
    assert issuer.jwks_fetches == 0


def test_an_unreachable_issuer_is_unavailable() -> None:
    with loopback_issuer() as issuer:
        token = issuer.mint()
        url = issuer.url
    verifier = Verifier(url, audience=API, cache_policy=CachePolicy(timeout_seconds=1))
    with pytest.raises(VerifierUnavailable) as refused:
        verifier.verify_token(token)
    assert str(refused.value) == "The access token cannot be checked right now."
