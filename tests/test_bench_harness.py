"""The benchmark harness (bench/) imports and has its Lua scripts. It is never run here:
speed is measured by `make bench`, not by timed tests."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import bench
from bench.profiling import summarize
from bench.wrk import LUA_DIR


def test_every_harness_module_imports() -> None:
    names = [module.name for module in pkgutil.iter_modules(bench.__path__)]

    for name in names:
        if name != "__main__":  # running it would start a benchmark
            importlib.import_module(f"bench.{name}")

    assert {"run", "workloads", "servers", "report", "growth"} <= set(names)


def test_every_workload_script_exists() -> None:
    from bench.workloads import authserver_workloads

    assert len({workload.key for workload in authserver_workloads()}) == 11
    for script in ("static", "mint_codes", "code_exchange", "refresh", "full_flow", "common"):
        assert (Path(LUA_DIR) / f"{script}.lua").is_file()


def test_a_profile_summary_counts_inclusive_and_self_samples() -> None:
    raw = 'process 1:"gunicorn";a (x.py:1);b (y.py:2) 3\nprocess 1:"gunicorn";c (x.py:9) 1\n'

    lines = summarize(raw).splitlines()

    assert lines[0].startswith("4 samples")
    assert " 75.0   0.0  a (x.py)" in lines
    assert " 75.0  75.0  b (y.py)" in lines
    assert " 25.0  25.0  c (x.py)" in lines
