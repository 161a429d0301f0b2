"""The non-HTTP ceilings: raw signatures per second per core, argon2id verifications per second.

Both are measured with the libraries and parameters the server uses, in this run, on this
machine, so a workload's ratio to them survives a noisy machine better than absolute numbers.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from argon2 import Parameters, PasswordHasher
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from authserver.config import Settings, env_name
from authserver.keys.algorithms import RSA_KEY_BITS, RSA_PUBLIC_EXPONENT
from authserver.security.passwords import hash_parameters

SIGNING_SECONDS = 2.0
ARGON2_SECONDS = 4.0
# A typical access token's signing input: header + claims, base64url (about 400 bytes).
SIGNING_INPUT = b"e" * 400
ARGON2_PASSWORD = "purple tractor sings at dawn"


def _rate(operation: Callable[[], object], seconds: float) -> float:
    operation()  # warm
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while (now := time.perf_counter()) < deadline:
        for _ in range(10):
            operation()
        count += 10
    return count / (now - start)


def signing_rates(seconds: float = SIGNING_SECONDS) -> dict[str, float]:
    """Signatures per second on one core, straight from `cryptography` (no JOSE around them)."""
    rsa_key = rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=RSA_KEY_BITS)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    pkcs1, sha256, ecdsa = padding.PKCS1v15(), hashes.SHA256(), ec.ECDSA(hashes.SHA256())
    return {
        "RS256": _rate(lambda: rsa_key.sign(SIGNING_INPUT, pkcs1, sha256), seconds),
        "ES256": _rate(lambda: ec_key.sign(SIGNING_INPUT, ecdsa), seconds),
        "EdDSA": _rate(lambda: ed_key.sign(SIGNING_INPUT), seconds),
    }


# The argon2 settings pass through to the benchmark's servers (bench/servers.py), so the ceiling
# is measured at the parameters the server hashes with.
ARGON2_SETTINGS = ("argon2_time_cost", "argon2_memory_cost", "argon2_parallelism")


def configured_hash_parameters() -> Parameters:
    chosen = {
        name: int(os.environ[env_name(name)])
        for name in ARGON2_SETTINGS
        if env_name(name) in os.environ
    }
    return hash_parameters(replace(Settings(), **chosen))


def _verify_for(seconds: float, stored_hash: str, start: Barrier | None = None) -> float:
    """Verifications per second over at least ``seconds``, timed over exactly the ones counted.

    With ``start``, every process begins timing together: one that started early would run
    alone for a while, faster than under the contention the server sees, and inflate the bound.
    """
    hasher = PasswordHasher.from_parameters(configured_hash_parameters())
    hasher.verify(stored_hash, ARGON2_PASSWORD)  # the first call also sets up memory
    if start is not None:
        start.wait()
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        hasher.verify(stored_hash, ARGON2_PASSWORD)
        count += 1
    return count / (time.perf_counter() - started)


def _report_rate(seconds: float, stored_hash: str, start: Barrier, rates: Queue[float]) -> None:
    rates.put(_verify_for(seconds, stored_hash, start))


def argon2_rates(processes: int, seconds: float = ARGON2_SECONDS) -> dict[str, float]:
    """Verifications per second at the configured parameters: one process, and ``processes``
    at once (as many as the server has workers): the second is the sign-in bound."""
    stored_hash = PasswordHasher.from_parameters(configured_hash_parameters()).hash(ARGON2_PASSWORD)
    single = _verify_for(seconds, stored_hash)
    context = multiprocessing.get_context("spawn")
    start, rates = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=_report_rate, args=(seconds, stored_hash, start, rates))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    total = sum(rates.get(timeout=seconds * 10 + 60) for _ in workers)
    for worker in workers:
        worker.join()
    return {"one_process": single, "all_workers": total}


def argon2_parameters() -> dict[str, int]:
    parameters = configured_hash_parameters()
    return {
        "time_cost": parameters.time_cost,
        "memory_cost_kib": parameters.memory_cost,
        "parallelism": parameters.parallelism,
    }
