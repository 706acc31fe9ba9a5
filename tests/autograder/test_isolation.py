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


def _shipped_functions():
    """Public functions of the rnncourse modules the grader ships to students' code (all but nn)."""
    import importlib
    import inspect
    import pkgutil

    import rnncourse

    found = []
    for info in pkgutil.walk_packages(rnncourse.__path__, "rnncourse."):
        if info.name == "rnncourse.nn" or info.name.startswith("rnncourse.nn."):
            continue
        module = importlib.import_module(info.name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or fn.__module__ != info.name:
                continue
            required = [
                p for p in inspect.signature(fn).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            if required:  # a loader or a figure without arguments cannot stand in for an exercise
                found.append((f"{info.name}.{name}", fn))
    return found


def test_the_library_shipped_to_graded_code_solves_no_exercise():
    """The grader's child gets rnncourse without rnncourse.nn (which implements exercises of lessons
    03 and 04 and the fast layers of later lessons). No function of what it does get may pass the
    public cases of any exercise: a student could call it instead of writing the exercise."""
    import warnings

    import numpy as np

    from autograder.checks.runner import evaluate, load_fixture
    from autograder.reference import REFERENCE
    from autograder.suites import EXERCISES

    solved = []
    for qualified, fn in _shipped_functions():
        for exercise in EXERCISES.values():
            helpers = {k: REFERENCE[k] for k in exercise.needs}
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                try:
                    result = evaluate(exercise, fn, *load_fixture(exercise), helpers)
                except Exception:  # noqa: BLE001 — a function that breaks the check solves nothing
                    continue
            if result["status"] == "pass":
                solved.append(f"{qualified} passes {exercise.name}")
    assert not solved, solved
