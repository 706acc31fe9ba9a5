"""Project-level promises: one set of dependencies, the commands the README names exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _normalize(spec: str) -> str:
    return re.sub(r"\s+", "", spec).lower().replace("_", "-")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    """environment.yml and pyproject.toml name the same packages with the same version specs."""
    # A regex, not tomllib: the course supports Python 3.10, which has no tomllib.
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M)
    wanted = {_normalize(d) for d in re.findall(r'"([^"]+)"', block.group(1))}
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
