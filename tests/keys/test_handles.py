"""The per-process signing cache: parsed keys per kid, the active kid for a few seconds."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ed25519

from authserver.keys.handles import SigningKeyCache, SigningKeyHandle
from authserver.models.keys import SigningAlg


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def handle(kid: str) -> SigningKeyHandle:
    return SigningKeyHandle(kid=kid, alg=SigningAlg.EDDSA, key=ed25519.Ed25519PrivateKey.generate())


def test_the_active_kid_is_remembered_for_the_ttl_only() -> None:
    clock = Clock()
    cache = SigningKeyCache(active_ttl_seconds=5, clock=clock)
    cache.remember_active_kid(SigningAlg.ES256, "kid-1")

    clock.now += 4.9
    assert cache.find_active_kid(SigningAlg.ES256) == "kid-1"
    assert cache.find_active_kid(SigningAlg.RS256) is None
    clock.now += 0.1
    assert cache.find_active_kid(SigningAlg.ES256) is None


def test_forgetting_active_kids_takes_effect_at_once() -> None:
    cache = SigningKeyCache(clock=Clock())
    cache.remember_active_kid(SigningAlg.ES256, "kid-1")

    cache.forget_active_kids()

    assert cache.find_active_kid(SigningAlg.ES256) is None


def test_a_handle_is_found_only_for_its_own_kid() -> None:
    cache = SigningKeyCache()
    first = handle("kid-1")
    cache.remember_handle(first)

    assert cache.find_handle(SigningAlg.EDDSA, "kid-1") is first
    assert cache.find_handle(SigningAlg.EDDSA, "kid-2") is None
    assert cache.find_handle(SigningAlg.ES256, "kid-1") is None


def test_a_new_handle_replaces_the_old_one_of_its_algorithm() -> None:
    cache = SigningKeyCache()
    cache.remember_handle(handle("kid-1"))
    second = handle("kid-2")

    cache.remember_handle(second)

    assert cache.find_handle(SigningAlg.EDDSA, "kid-1") is None
    assert cache.find_handle(SigningAlg.EDDSA, "kid-2") is second
