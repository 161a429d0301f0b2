"""Server CPU and memory from /proc, for a server process and everything it forked.

CPU is user + system time. A worker that has exited and been reaped is still counted: its
time moves into the parent's ``cutime``/``cstime``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; everything after its ")" is fixed-format.
    return raw[raw.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """Direct children (every thread's list), from /proc/PID/task/*/children."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    pending, found = children(pid), []
    while pending:
        child = pending.pop()
        found.append(child)
        pending += children(child)
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and all of its descendants, live or reaped."""
    total = 0
    fields = _stat_fields(pid)
    if fields is not None:
        # Fields 14-17 of stat (utime, stime, cutime, cstime) are 11-14 here (0-based from field 3).
        total += sum(int(value) for value in fields[11:15])
    for child in descendants(pid):
        child_fields = _stat_fields(child)
        if child_fields is not None:
            total += int(child_fields[11]) + int(child_fields[12])
    return total / CLOCK_TICKS


def _status_kib(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class MemorySample:
    peak_rss_mib: float  # the largest VmHWM among the workers: peak RSS of one worker so far
    rss_mib: float  # the largest current VmRSS among the workers


def worker_memory(pid: int) -> MemorySample:
    """Per worker: peak and current RSS of the largest one (the master if it has no children)."""
    workers = descendants(pid) or [pid]
    peak = max(_status_kib(worker, "VmHWM") for worker in workers)
    current = max(_status_kib(worker, "VmRSS") for worker in workers)
    return MemorySample(peak_rss_mib=peak / 1024, rss_mib=current / 1024)


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (all cores, not idle)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields)
    busy = user + nice + system + irq + softirq + steal
    return busy / os.sysconf("SC_CLK_TCK")
