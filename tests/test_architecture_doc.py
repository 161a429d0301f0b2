"""docs/architecture.md's table of packages is the code's own description of itself: each row is
the first paragraph of that package's (or top-level module's) docstring, and every one is there.
A package added, removed or re-described without the map following fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "authserver"
ROW = re.compile(r"^\| `authserver/([\w/.]+)` \| (.+) \|$")


def summary(source: Path) -> str:
    """The docstring's first paragraph on one line (reStructuredText ``code`` as Markdown)."""
    docstring = ast.get_docstring(ast.parse(source.read_text(encoding="utf-8"))) or ""
    first = " ".join(docstring.split("\n\n")[0].split())
    return first.replace("``", "`")


def described_in_code() -> dict[str, str]:
    described: dict[str, str] = {}
    for path in sorted(PACKAGE.iterdir()):
        if (path / "__init__.py").is_file():
            described[path.name + "/"] = summary(path / "__init__.py")
        elif path.suffix == ".py" and path.name != "__init__.py":
            described[path.name] = summary(path)
    return described


def described_in_docs() -> dict[str, str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("\n## Packages\n", 1)[1].split("\n## ", 1)[0]
    rows = [ROW.match(line) for line in section.splitlines()]
    return {row[1]: row[2] for row in rows if row is not None}


def test_the_table_of_packages_is_what_their_docstrings_say() -> None:
    assert described_in_docs() == described_in_code()
