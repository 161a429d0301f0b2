"""Verifications per second of the verifier kit with a cached JWKS, in-process, one thread.

    python -m bench.verifier_rate              # 5 rounds of 3000 per case
    python -m bench.verifier_rate -n 10000 -r 3

The issuer is the tests' loopback stand-in (tests/support/token_issuer.py): discovery and the
JWKS are fetched once over a loopback socket before timing starts, so what is timed is the
kit's own work per request: the header checks, one signature check, the claims, and for the
DPoP case the proof's checks, its signature and the replay store. Each case prints the median
round's rate and the JWKS fetch count (which must stay 1: no verification may fetch).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from authserver_verifier import Verifier
from tests.support.token_issuer import API, DPoPClient, LoopbackIssuer, loopback_issuer

URL = "https://api.example.test/orders"


def rate(work: Callable[[int], object], count: int, rounds: int) -> float:
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        for index in range(count):
            work(index)
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


def bearer_case(issuer: LoopbackIssuer, verifier: Verifier) -> Callable[[int], object]:
    header = [f"Bearer {issuer.mint()}"]
    return lambda _: verifier.authenticate(method="GET", url=URL, authorization=header)


def dpop_case(
    issuer: LoopbackIssuer, verifier: Verifier, count: int, rounds: int
) -> Callable[[int], object]:
    client = DPoPClient("ES256")
    token = issuer.mint(cnf={"jkt": client.jkt})
    # Proofs are made up front (each jti is spent once), so only verification is timed.
    proofs = [client.proof("GET", URL, token) for _ in range(count * rounds)]
    header, used = [f"DPoP {token}"], iter(proofs)
    return lambda _: verifier.authenticate(
        method="GET", url=URL, authorization=header, dpop=[next(used)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=3000)
    parser.add_argument("-r", "--rounds", type=int, default=5)
    args = parser.parse_args()
    for alg in ("RS256", "ES256", "EdDSA"):
        with loopback_issuer(alg) as issuer:
            verifier = Verifier(issuer.url, audience=API)
            token = issuer.mint()
            verifier.verify_token(token)  # the one JWKS fetch, outside the timing
            cases = {
                "token only": lambda _, t=token, v=verifier: v.verify_token(t),
                "Bearer request": bearer_case(issuer, verifier),
                "DPoP request (ES256 proof)": dpop_case(issuer, verifier, args.count, args.rounds),
            }
            for name, work in cases.items():
                per_second = rate(work, args.count, args.rounds)
                print(
                    f"{alg:6} {name:28} {per_second:9,.0f}/s  (JWKS fetches: {issuer.jwks_fetches})"
                )


if __name__ == "__main__":
    main()
