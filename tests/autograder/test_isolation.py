"""autograder.checks ships to learners: it must not import the reference or the grader."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("autograder.reference", "autograder.grading", "autograder.fixtures", "autograder.release")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_checks_and_suites_do_not_import_reference_statically():
    """No module of autograder.checks or autograder.suites names a forbidden package."""
    for package in ("checks", "suites"):
        for path in (ROOT / "autograder" / package).rglob("*.py"):
            bad = [n for n in _imports(path) if n.startswith(FORBIDDEN)]
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_checks_do_not_load_reference_at_runtime():
    """Importing the checks and running one leaves no reference or grading module loaded."""
    code = (
        "import sys\n"
        "from autograder.checks import check\n"
        "import numpy as np\n"
        "def softmax(scores):\n"
        "    e = np.exp(scores - scores.max(-1, keepdims=True))\n"
        "    return e / e.sum(-1, keepdims=True)\n"
        "check.softmax(softmax)\n"
        f"print([m for m in sys.modules if m.startswith({FORBIDDEN!r})])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
