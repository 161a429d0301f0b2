"""The kit is a distribution of its own: it declares only PyJWT and cryptography, and its core
imports in a service that has none of the server's dependencies."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The server's own dependencies (and the server itself): a service has none of them.
SERVER_ONLY = ("flask", "werkzeug", "authlib", "sqlalchemy", "authserver", "redis", "requests")


def test_it_depends_on_pyjwt_and_cryptography_only() -> None:
    requirements = metadata.requires("authserver-verifier") or []
    runtime = sorted(
        req.split(";")[0].split("<")[0].split(">")[0] for req in requirements if "extra" not in req
    )
    assert runtime == ["cryptography", "pyjwt[crypto]"]


def test_the_core_and_the_asgi_middleware_import_without_the_server_dependencies() -> None:
    # A module set to None in sys.modules cannot be imported: any attempt raises ImportError.
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in SERVER_ONLY)
    program = (
        f"import sys; {blocked}; "
        "import authserver_verifier, authserver_verifier.asgi; "
        "print([name for name, module in sys.modules.items() if module is not None "
        f"and name.split('.')[0] in {SERVER_ONLY!r}])"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_it_builds_into_a_wheel_without_the_server(tmp_path: Path) -> None:
    # Built from a copy: pip builds in the source folder, and the checkout stays as it was.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT / "verifier",
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel", "--no-deps",
         "--no-build-isolation", "--quiet", "-w", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    [wheel] = tmp_path.glob("authserver_verifier-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if not name.endswith(".dist-info/RECORD")}
    assert {name for name in packages if not name.endswith(".dist-info")} == {"authserver_verifier"}
    assert "authserver_verifier/py.typed" in names
