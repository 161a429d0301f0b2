"""Driving tests/interop/client.mjs: openid-client, a relying party we did not write, as a
subprocess that takes one JSON command and prints one JSON answer.

    answer = run_client("par_start", client=client, parameters={"scope": "openid"})
    answer.result["authorization_url"]

Its packages are installed by `make interop` (`npm ci` in tests/interop, from the committed
lock file); without them the test fails and says so rather than skipping.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

INTEROP_DIR = Path(__file__).resolve().parent.parent / "interop"
SCRIPT = INTEROP_DIR / "client.mjs"
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Answer:
    ok: bool
    result: dict[str, Any]  # Any: JSON values
    error: dict[str, Any]

    def value(self) -> dict[str, Any]:
        """The result of a command that must have succeeded."""
        assert self.ok, f"openid-client refused: {self.error}"
        return self.result


def run_client(command: str, **arguments: Any) -> Answer:  # Any: JSON values
    node = shutil.which("node")
    if node is None or not (INTEROP_DIR / "node_modules" / "openid-client").is_dir():
        pytest.fail("node and tests/interop's packages are needed: run `make interop`")
    completed = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps({"command": command, **arguments}),
        capture_output=True,
        text=True,
        cwd=INTEROP_DIR,
        timeout=TIMEOUT_SECONDS,
    )
    if completed.returncode != 0:
        pytest.fail(f"client.mjs {command} exited {completed.returncode}:\n{completed.stderr}")
    answer = json.loads(completed.stdout)
    return Answer(answer["ok"], answer.get("result", {}), answer.get("error", {}))
