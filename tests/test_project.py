"""Project-level promises: one set of dependencies, the commands the README names exist."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _normalize(spec: str) -> str:
    return re.sub(r"\s+", "", spec).lower().replace("_", "-")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    """environment.yml and pyproject.toml name the same packages with the same version specs."""
    wanted = {_normalize(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert len(wanted) >= 8
    conda = set()
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^\s+-\s+(\S.*)$", line)
        if in_deps and m:
            conda.add(_normalize(m.group(1)))
    conda -= {s for s in conda if s.startswith(("python", "pip"))}
    assert conda == wanted


def test_makefile_has_the_documented_targets():
    """Every target the README documents exists in the Makefile."""
    makefile = (ROOT / "Makefile").read_text()
    for target in ("setup", "test", "lab", "release", "fixtures", "grade", "gradescope", "bench"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    readme = (ROOT / "README.md").read_text()
    for command in ("make test", "make grade", "make lab", "make release"):
        assert command in readme


def test_ci_runs_make_test():
    """.ci/run is executable and calls make test."""
    ci = ROOT / ".ci" / "run"
    assert ci.stat().st_mode & 0o111
    assert "make test" in ci.read_text()


def test_python_311_is_the_minimum_everywhere_it_is_stated():
    """nbgrader 0.9.6 needs Python 3.11: pyproject, ruff, environment.yml, the Makefile's check, the
    README and .ci/run all say 3.11, and none still says 3.10."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == ">=3.11"
    assert project["tool"]["ruff"]["target-version"] == "py311"
    assert "  - python>=3.11\n" in (ROOT / "environment.yml").read_text()
    assert "sys.version_info >= (3, 11)" in (ROOT / "Makefile").read_text()
    assert "Python 3.11+" in (ROOT / "README.md").read_text()
    assert "Python 3.11+" in (ROOT / ".ci" / "run").read_text()
    for name in ("pyproject.toml", "environment.yml", "Makefile", "README.md", ".ci/run"):
        assert not re.search(r"3\.10\+|>=\s*3\.10|py310|\(3, 10\)", (ROOT / name).read_text()), name


@pytest.mark.parametrize("version, ok", [((3, 10, 12), False), ((3, 11, 0), True), ((3, 13, 1), True)])
def test_the_makefiles_python_check_refuses_310_with_a_message(tmp_path, version, ok):
    """The check `make` runs before creating .venv refuses Python 3.10 (where installing nbgrader
    fails later, less clearly) and says which Python to name instead."""
    line = next(x for x in (ROOT / "Makefile").read_text().splitlines() if "sys.version_info" in x)
    check = re.search(r"-c '(.*)'", line).group(1)
    fake = f"import sys\nsys.version_info = {version!r}\nsys.version = {'.'.join(map(str, version))!r}\n"
    result = subprocess.run([sys.executable, "-c", fake + check], capture_output=True, text=True)
    assert (result.returncode == 0) is ok
    if not ok:
        assert "Python 3.11+ is needed" in result.stderr and "3.10.12" in result.stderr and "PYTHON=python3.11" in result.stderr


def test_instructor_state_is_ignored_by_git():
    """What grading, nbgrader export and the exchange leave in the course folder never shows up in git status."""
    paths = ["gradebook.db", "grades.csv", "grading_output/report.json", "autograded/a/b/x.ipynb", "feedback/a/b/x.html",
             "submitted/a/b/x.ipynb", "dist/gradescope_01_rnn_cell.zip"]
    done = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True)
    assert sorted(done.stdout.split()) == sorted(paths)
