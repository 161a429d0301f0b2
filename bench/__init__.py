"""The benchmark harness (issue 6), run by `make bench` and `make bench-growth`, never by tests.

    python -m bench            every workload on SQLite (and PostgreSQL + Redis when
                               AUTHSERVER_TEST_DATABASE_URL / AUTHSERVER_TEST_REDIS_URL are set),
                               the ceilings, the server comparison; writes BENCHMARKS.md + JSON
    python -m bench.growth     the growth run on PostgreSQL (10^3 against 10^6 rows)

Speed is measured here, by load against a real server on loopback, never by timed tests.
"""
