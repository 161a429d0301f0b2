"""Each scenario's figures: requests, answers by status, latency, in and outside the fault.

    figures = measure(samples, window=(fault_started, fault_ended))
    publish("postgres-restart", figures, directory)   # a JSON file and a one-line summary

The JSON files are the "before" and "after" figures the issue asks to quote. The summary lines
are also printed at the end of the pytest run (conftest.py), passed or failed.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.faults.recorder import Sample

# Every scenario's one-line summary, in the order they ran, for the terminal summary.
SUMMARIES: list[str] = []
NO_ANSWER = "no answer"


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of values already sorted; 0 for none."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def statistics(samples: Iterable[Sample]) -> dict[str, Any]:  # Any: JSON values
    chosen = list(samples)
    seconds = sorted(sample.seconds for sample in chosen)
    statuses = Counter(
        str(sample.status) if sample.status is not None else NO_ANSWER for sample in chosen
    )
    return {
        "requests": len(chosen),
        "by_status": dict(sorted(statuses.items())),
        "errors": sum(1 for sample in chosen if sample.status is None or sample.status >= 500),
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 1),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 1),
        "max_ms": round((seconds[-1] if seconds else 0.0) * 1000, 1),
    }


def measure(
    samples: list[Sample], window: tuple[float, float] | None
) -> dict[str, Any]:  # Any: JSON values
    """Figures for the requests started inside the fault window and for all the others."""
    if window is None:
        return {"all": statistics(samples)}
    start, end = window
    inside = [sample for sample in samples if start <= sample.started <= end]
    outside = [sample for sample in samples if not start <= sample.started <= end]
    return {
        "window_seconds": round(end - start, 2),
        "during": statistics(inside),
        "outside": statistics(outside),
    }


def summary_line(name: str, figures: dict[str, Any]) -> str:  # Any: JSON values
    parts = []
    for part in ("during", "outside", "all"):
        if part in figures:
            stats = figures[part]
            parts.append(
                f"{part}: {stats['requests']} req, {stats['errors']} 5xx/no answer "
                f"{stats['by_status']}, p50 {stats['p50_ms']} ms, p99 {stats['p99_ms']} ms, "
                f"max {stats['max_ms']} ms"
            )
    return f"[faults] {name}: " + " | ".join(parts)


def publish(name: str, figures: dict[str, Any], directory: Path) -> str:  # Any: JSON values
    """Write `<directory>/<name>.json`, print the summary line and keep it for the end; returns
    the line, for the scenario's failure message."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    line = summary_line(name, figures)
    SUMMARIES.append(f"{line} ({path})")
    print(line)
    return line
