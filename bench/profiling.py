"""Profiles of the server's workers under load, with py-spy (sampling; the server is not changed).

`python -m bench --profile KEY` records the first measured run of workload KEY. The summary
lists the frames where the workers spent their time, inclusive ("in this call or below"), which
is what says whether signing, the database, Authlib or Flask bounds a workload.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PY_SPY = str(Path(sys.executable).parent / "py-spy")
SAMPLES_PER_SECOND = 200
TOP_FRAMES = 45
TRUNK_SHARE = 0.9


@dataclass
class Recording:
    process: subprocess.Popen[bytes]
    raw_path: Path


def start(pid: int, raw_path: Path, seconds: float) -> Recording:
    argv = [
        PY_SPY, "record",
        "--pid", str(pid),
        "--subprocesses",
        "--nonblocking",  # never pause the workers: the run's numbers stay as they are
        "--rate", str(SAMPLES_PER_SECOND),
        "--duration", str(max(1, int(seconds) - 1)),
        "--format", "raw",
        "--output", str(raw_path),
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Recording(process, raw_path)


def finish(recording: Recording) -> str:
    try:
        recording.process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        recording.process.kill()
        recording.process.wait()
    if not recording.raw_path.exists():
        return "(py-spy recorded nothing: is ptrace allowed here?)"
    return summarize(recording.raw_path.read_text())


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/module.py:123)"; keep function and file.
    name, _, where = frame.partition(" (")
    module = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "wt-bench/", "/authserver/"):
        if marker in module:
            module = module.split(marker, 1)[1]
    return f"{name} ({module})"


def summarize(raw: str, top: int = TOP_FRAMES) -> str:
    """Inclusive and self share of samples per frame, from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # With --subprocesses each stack names its process; that is not a frame of code.
        frames = [_frame_name(f) for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if total == 0:
        return "(no samples)"
    lines = [
        f"{total} samples; inclusive % / self % of all samples "
        f"(frames in more than {TRUNK_SHARE:.0%} of samples, the server's main loop, left out)",
        "",
    ]
    frames = [(f, c) for f, c in inclusive.most_common() if c <= TRUNK_SHARE * total]
    for frame, count in frames[:top]:
        lines.append(f"{100 * count / total:5.1f} {100 * own[frame] / total:5.1f}  {frame}")
    return "\n".join(lines)
