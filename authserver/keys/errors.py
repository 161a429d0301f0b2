"""Domain exceptions of the keys package. Messages never contain key material."""

from __future__ import annotations


class KeysError(Exception):
    """Base class for this package's errors."""


class UnsupportedAlgorithm(KeysError):
    def __init__(self, alg: str) -> None:
        super().__init__(f"unsupported signing algorithm {alg!r}")
        self.alg = alg


class NoActiveKey(KeysError):
    def __init__(self, alg: str) -> None:
        super().__init__(f"no active {alg} signing key (run `authserver init`)")
        self.alg = alg


class CorruptKey(KeysError):
    def __init__(self, alg: str) -> None:
        super().__init__(f"a stored signing key does not fit its algorithm {alg}")
        self.alg = alg


class ConcurrentKeyChange(KeysError):
    """Another process changed the signing keys at the same moment; nothing was changed here."""

    def __init__(self) -> None:
        super().__init__("another process changed the signing keys at the same time; run it again")


class UnknownKey(KeysError):
    def __init__(self, kid: str) -> None:
        super().__init__(f"no signing key with kid {kid!r} (see `authserver keys list`)")
        self.kid = kid


class KeyRetirementRefused(KeysError):
    """Retiring this key now would break something; the message says what to do instead."""
