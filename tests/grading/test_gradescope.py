"""The Gradescope autograder zip runs on Gradescope's layout and writes results.json to its specification.

The test lays out ``/autograder`` as Gradescope does (the zip unpacked into ``source/``,
``run_autograder`` copied beside it, ``submission/``, ``results/``) in a temporary
folder, named by ``AUTOGRADER_ROOT``, and runs the zip's own scripts there, without
network:

* ``setup.sh`` runs with a PATH that stands for Ubuntu 22.04, Gradescope's newest base
  image: ``python3`` is 3.10 and ``apt-get`` is a stand-in that records what it is asked
  for and "installs" ``python3.11`` as a link to this machine's Python 3.11. setup.sh
  creates its venv with that Python and installs ``requirements.txt`` with
  ``PIP_NO_INDEX=1`` (and, where the OS allows, in a namespace with no network).
* The packages come from this machine: before setup.sh runs, the venv's site-packages
  links every distribution of the course's own ``.venv`` except pip and the course
  itself, so pip finds each requirement satisfied instead of downloading it; the course
  code that grades is the zip's own ``source/``.
* ``run_autograder`` then grades a full, a partial and a broken notebook.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import COURSE, FAST, LESSON

from autograder.grading import gradescope, samples, sandbox
from autograder.suites import LESSON_SUITES

# Gradescope's results.json (gradescope-autograders.readthedocs.io, "Autograder Specifications").
TOP_KEYS = {"score", "execution_time", "output", "output_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags", "visibility", "extra_data"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def test_gradescope_zip_has_its_entry_points_at_its_root(tmp_path):
    """Gradescope unpacks the zip into /autograder/source: setup.sh and run_autograder must be at
    the zip's root, beside the engine, requirements.txt and the source notebook (they were one
    folder too deep, under source/)."""
    path = gradescope.build_zip(LESSON, tmp_path)
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "requirements.txt"} <= names
        assert f"solutions/{LESSON}/{LESSON}.ipynb" in names
        assert "autograder/grading/child.py" in names
        assert not any(n.startswith("source/") for n in names)
        for script in ("setup.sh", "run_autograder"):
            assert z.getinfo(script).external_attr >> 16 & 0o111
        assert f"--assignment {LESSON}" in z.read("run_autograder").decode()
        assert z.read("requirements.txt").decode().split() == gradescope.requirements()


def test_gradescope_requirements_are_pyprojects():
    """requirements.txt is the grading part of pyproject.toml's dependencies, with the same specifiers."""
    import tomllib

    deps = tomllib.loads((COURSE / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(gradescope.requirements()) <= set(deps)
    assert "nbgrader==0.9.6" in gradescope.requirements()


def _base_python() -> str:
    """This machine's Python 3.11+ itself (not the course's venv), as apt would install it."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def _ubuntu_2204_path(folder: Path, log: Path) -> str:
    """A PATH with only what setup.sh may use: bash, a python3 that is 3.10, and an apt-get that
    records its arguments and provides python3.11 on `install python3.11`."""
    folder.mkdir()
    (folder / "bash").symlink_to(shutil.which("bash"))
    (folder / "python3").write_text("#!/bin/sh\necho 'Python 3.10.12'\nexit 1\n")
    (folder / "apt-get").write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        'case "$*" in *"install"*"python3.11 python3.11-venv"*)\n'
        f"    {shutil.which('ln')} -sf {_base_python()} {folder / 'python3.11'};;\n"
        "esac\n"
    )
    for name in ("python3", "apt-get"):
        (folder / name).chmod(0o755)
    return str(folder)


def _link_machine_packages(venv: Path) -> None:
    """The venv's site-packages, made of links to the course .venv's distributions (not pip, not the course)."""
    subprocess.run([_base_python(), "-m", "venv", "--without-pip", str(venv)], check=True)
    ours = Path(sysconfig.get_paths()["purelib"])
    (theirs,) = venv.glob("lib/python3.*/site-packages")
    for entry in ours.iterdir():
        name = entry.name.lower()
        if name.startswith(("pip", "__editable__", "rnn_from_scratch", "_rnn_from_scratch", "__pycache__")):
            continue
        (theirs / entry.name).symlink_to(entry)


def _offline(command: list[str]) -> list[str]:
    """In a network namespace of its own where the OS allows: no network at all."""
    unshare = shutil.which("unshare")
    if unshare and sandbox.namespaces_work():
        return [unshare, "--net", *command]
    return command


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """/autograder as Gradescope builds it from the zip: unpacked, set up by setup.sh."""
    tmp = tmp_path_factory.mktemp("gradescope")
    root = tmp / "autograder"
    with zipfile.ZipFile(gradescope.build_zip(LESSON, tmp / "dist")) as z:
        z.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):  # zipfile drops the modes; Gradescope keeps them
        (root / "source" / script).chmod(0o755)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    _link_machine_packages(root / "venv")
    log = tmp / "apt-get.log"
    env = {
        "PATH": _ubuntu_2204_path(tmp / "bin", log), "AUTOGRADER_ROOT": str(root), "HOME": str(tmp),
        "PIP_NO_INDEX": "1", "PIP_NO_COMPILE": "1", "LANG": "C.UTF-8",
    }
    setup = subprocess.run(
        _offline(["bash", str(root / "source" / "setup.sh")]), cwd=root / "source", env=env,
        capture_output=True, text=True, timeout=600,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return root, setup, log.read_text() if log.exists() else ""


@pytest.mark.slow
def test_setup_installs_python_311_where_python3_is_310(image):
    """On Ubuntu 22.04 (python3 is 3.10) setup.sh installs Ubuntu's python3.11 and python3.11-venv
    and builds its venv with it; the venv's Python is 3.11+."""
    root, setup, apt = image
    assert "install -y -qq python3.11 python3.11-venv" in apt
    assert "setup.sh: ready" in setup.stdout
    version = subprocess.run([str(root / "venv" / "bin" / "python"), "-c", "import sys; print(sys.version_info >= (3, 11))"],
                             capture_output=True, text=True, check=True)
    assert version.stdout.strip() == "True"


def _grade(image, tmp_path, notebook: Path | None) -> dict:
    """Gradescope's run: a fresh submission/ and results/, then /autograder/run_autograder from /autograder."""
    root, _, _ = image
    for folder in ("submission", "results"):
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir()
    if notebook is not None:
        shutil.copy(notebook, root / "submission" / notebook.name)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root)}
    run = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads((root / "results" / "results.json").read_text())


def _check_spec(data: dict, max_total: float) -> None:
    assert set(data) <= TOP_KEYS, set(data) - TOP_KEYS
    assert isinstance(data["score"], (int, float)) and isinstance(data["execution_time"], int)
    assert data["visibility"] in VISIBILITY and data["stdout_visibility"] in VISIBILITY
    for test in data["tests"]:
        assert set(test) <= TEST_KEYS, set(test) - TEST_KEYS
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert 0 <= test["score"] <= test["max_score"] and test["visibility"] in VISIBILITY
        assert test["status"] in ("passed", "failed")
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))
    assert sum(t["max_score"] for t in data["tests"]) == pytest.approx(max_total)


@pytest.mark.slow
def test_run_autograder_grades_full_partial_and_broken_notebooks(image, tmp_path):
    """results.json per Gradescope's specification: the expected score, one test per exercise with
    its points, visible; a broken notebook gets 0 and its reason once."""
    built = samples.build_samples(COURSE, tmp_path / "samples", LESSON)[LESSON]
    expected = samples.expected_scores(LESSON)
    full = expected["sample-full"]
    n_exercises = len(LESSON_SUITES[LESSON])
    for student in ("sample-full", "sample-partial", "sample-invalid"):
        (notebook,) = built[student].glob("*.ipynb")
        data = _grade(image, tmp_path, notebook)
        _check_spec(data, full)
        assert len(data["tests"]) == n_exercises, student
        assert data["score"] == expected[student], student
    assert data["output"].count("not valid JSON") == 1
    assert all("see above" in t["output"] for t in data["tests"])


@pytest.mark.slow
def test_run_autograder_without_a_notebook_says_so(image, tmp_path):
    """An upload with no .ipynb in it: 0, and the reason once."""
    data = _grade(image, tmp_path, None)
    _check_spec(data, samples.expected_scores(LESSON)["sample-full"])
    assert data["score"] == 0 and data["output"].count(f"{LESSON}.ipynb was not found in your submission") == 1


@pytest.mark.slow
def test_gradescope_run_in_process_writes_results(tmp_path):
    """The entry point run_autograder calls, in this process: the partial sample's score."""
    built = samples.build_samples(COURSE, tmp_path / "samples", LESSON)[LESSON]
    results = tmp_path / "results" / "results.json"
    gradescope.run_autograder(built["sample-partial"], results, LESSON, limits=FAST, seed=3)
    data = json.loads(results.read_text())
    assert data["score"] == samples.expected_scores(LESSON)["sample-partial"]
    assert len(data["tests"]) == 6 and all(t["visibility"] == "visible" for t in data["tests"])
