"""Check that CI's two passes together collect every test of the whole suite with the services.

    .venv/bin/python .ci/check_selection.py     (the two service variables must be set)

Collects three lists of test ids (no test runs): the whole suite with PostgreSQL and Redis, the
SQLite pass (`make test`: no service variable) and the services pass (`--services-only`). The
union of the two passes must equal the whole suite: this catches a service variant the
selection does not know (a new backend parameter value). An id collected by both passes is one
the SQLite pass skips for want of a service (Redis, or marked `services`); that skip itself fails
when --services-only would leave the test out (tests/support/databases.py, skip_for_want_of).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

SERVICE_VARIABLES = ("AUTHSERVER_TEST_DATABASE_URL", "AUTHSERVER_TEST_REDIS_URL")


def collect(*options: str, services: bool) -> Counter[str]:
    env = dict(os.environ)
    if not services:
        for name in SERVICE_VARIABLES:
            env.pop(name, None)
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    listing = subprocess.run(
        [*command, *options],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ids: Counter[str] = Counter()
    for line in listing.splitlines():
        if "::" in line:
            ids[line] += 1
    return ids


def main() -> int:
    missing = [name for name in SERVICE_VARIABLES if not os.environ.get(name)]
    if missing:
        print(f"set {' and '.join(missing)}", file=sys.stderr)
        return 2
    whole = collect(services=True)
    sqlite_pass = collect(services=False)
    services_pass = collect("--services-only", services=True)
    both = sqlite_pass & services_pass
    union = sqlite_pass + services_pass - both
    print(
        f"whole suite with services {whole.total()}, SQLite pass {sqlite_pass.total()}, "
        f"services pass {services_pass.total()}, in both {both.total()} (Redis or marked "
        f"'services': skipped in the SQLite pass), union {union.total()}"
    )
    for name, ids in (("not run by either pass", whole - union), ("unknown", union - whole)):
        for test_id in sorted(ids.elements()):
            print(f"{name}: {test_id}")
    return 0 if union == whole else 1


if __name__ == "__main__":
    sys.exit(main())
