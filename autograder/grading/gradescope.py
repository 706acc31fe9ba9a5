"""``python -m autograder gradescope``: a Gradescope autograder zip, one per lesson.

Gradescope unpacks the zip into ``/autograder/source`` (so ``setup.sh`` and
``run_autograder`` sit at the zip's root), runs ``setup.sh`` once, as root, when it
builds the image, copies ``run_autograder`` to ``/autograder/run_autograder`` and runs
it for every submission: the student's upload is in ``/autograder/submission``, the
grade goes to ``/autograder/results/results.json``. The zip holds those two scripts,
``requirements.txt`` (the grading part of ``pyproject.toml``'s dependencies) and the
course code the engine needs (``autograder/``, ``rnncourse/``, ``data/`` and the
lesson's source notebook). Grading inside Gradescope's container uses the same engine
and sandbox as ``make grade``; the container is also the outer wall a shared server
lacks.

The course needs Python 3.11 (nbgrader 0.9.6 does); Gradescope's newest Ubuntu base
image, 22.04, has 3.10 as ``python3``, so ``setup.sh`` installs Ubuntu's own
``python3.11`` and ``python3.11-venv`` packages when no Python 3.11+ is there.
Both scripts take the root from ``AUTOGRADER_ROOT`` (default ``/autograder``), so
that a test can run them on that layout in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import tomllib
import traceback
import zipfile
from pathlib import Path

from autograder.grading import cli, sandbox
from autograder.grading.samples import lessons

COURSE = sandbox.COURSE
# What grading needs of pyproject.toml's dependencies (the rest is for notebooks, tests and lint).
GRADING_NEEDS = ("numpy", "matplotlib", "tqdm", "nbformat", "nbgrader")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04 base image).
# AUTOGRADER_ROOT (default /autograder) lets a test run it on a copy of Gradescope's layout;
# RNNGRADE_PYTHON names the Python to use instead of looking for one.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"

# The grader needs Python 3.11+ (nbgrader 0.9.6 does); Ubuntu 22.04's python3 is 3.10.
python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }
find_python() {
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            echo "$candidate"
            return
        fi
    done
}
PY="${RNNGRADE_PYTHON:-$(find_python)}"
if [ -z "$PY" ]; then
    echo "setup.sh: no Python 3.11+; installing Ubuntu's python3.11 and python3.11-venv"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3.11 python3.11-venv
    PY=python3.11
fi
if ! python_ok "$PY"; then
    echo "setup.sh: $PY is not Python 3.11 or newer" >&2
    exit 1
fi
echo "setup.sh: using $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')"

"$PY" -m venv "$ROOT/venv"
# Ubuntu's venv starts with its own, older pip; a newer one knows the newest wheels' tags and metadata.
"$ROOT/venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip \\
    || echo "setup.sh: pip was not upgraded; going on with $("$ROOT/venv/bin/python" -m pip --version)"
"$ROOT/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/source/requirements.txt"
# Fail the build here, not at the first student's submission.
cd "$ROOT/source"
"$ROOT/venv/bin/python" -c 'import autograder.grading.gradescope, nbgrader, numpy, matplotlib'
echo "setup.sh: ready"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission (AUTOGRADER_ROOT as in setup.sh).
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
cd "$ROOT/source"
exec "$ROOT/venv/bin/python" -m autograder.grading.gradescope run --assignment {lesson} \\
    --submission "$ROOT/submission" --results "$ROOT/results/results.json"
"""


def requirements(course: Path = COURSE) -> list[str]:
    """pyproject.toml's dependencies that grading needs, with their version specifiers."""
    deps = tomllib.loads((course / "pyproject.toml").read_text())["project"]["dependencies"]
    chosen = [d for d in deps if d.split("=")[0].split("<")[0].split(">")[0].strip().lower() in GRADING_NEEDS]
    if len(chosen) != len(GRADING_NEEDS):
        raise RuntimeError(f"pyproject.toml does not list all of {GRADING_NEEDS}: {chosen}")
    return chosen


def build_zip(lesson: str, dist: Path, course: Path = COURSE) -> Path:
    """dist/gradescope_<lesson>.zip, ready to upload as a Gradescope autograder.

    Everything sits at the zip's root: Gradescope unpacks it into /autograder/source.
    """
    dist.mkdir(parents=True, exist_ok=True)
    target = dist / f"gradescope_{lesson}.zip"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "source"
        shutil.copytree(course / "autograder", src / "autograder", ignore=ignore)
        if (course / "rnncourse").is_dir():
            shutil.copytree(course / "rnncourse", src / "rnncourse", ignore=ignore)
        if (course / "data").is_dir():
            shutil.copytree(course / "data", src / "data", ignore=ignore)
        shutil.copytree(course / "solutions" / lesson, src / "solutions" / lesson, ignore=ignore)
        (src / "requirements.txt").write_text("\n".join(requirements(course)) + "\n")
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER.format(lesson=lesson))):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o755 << 16
                z.writestr(info, text)
            for path in sorted(src.rglob("*")):
                if path.is_file():
                    z.write(path, path.relative_to(src))
    return target


def run_autograder(submission: Path, results: Path, lesson: str, course: Path = COURSE, limits: sandbox.Limits | None = None, seed: int | None = None) -> dict:
    """Grade the notebooks in ``submission`` and write Gradescope's results.json to ``results``."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rnngrade-gs-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "submitted" / "student" / lesson
        folder.mkdir(parents=True)
        notebooks = sorted(submission.glob("*.ipynb")) or sorted(
            p for p in submission.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
        )
        for nb in notebooks:
            shutil.copy(nb, folder / nb.name)
        options = cli.Options(
            submitted=tmp / "submitted",
            assignment=lesson,
            course=course,
            db_url="",
            output=tmp / "out",
            autograded=tmp / "autograded",
            feedback=tmp / "feedback",
            jobs=1,
            seed=seed,
            limits=limits or sandbox.Limits(),
            quiet=True,
        )
        run = cli.run_grading(options)
        produced = tmp / "out" / "results" / "student" / lesson / "results.json"
        if produced.exists():
            data = json.loads(produced.read_text())
        else:
            data = {"score": 0.0, "output": "No notebook (.ipynb) was found in your submission.", "tests": []}
        if run.faults:
            data["output"] = data.get("output", "") + "\nThe grader itself failed; please tell your instructor."
    data["execution_time"] = round(time.monotonic() - start)
    write_results(results, data)
    return data


def write_results(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


GRADER_FAILED = {
    "score": 0.0,
    "output": "The grader itself failed on this submission (not your code's fault); please tell your instructor. "
    "Your notebook is kept: it will be graded again.",
    "tests": [],
}


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        p = argparse.ArgumentParser(prog="python -m autograder.grading.gradescope run")
        p.add_argument("--assignment", required=True)
        p.add_argument("--submission", type=Path, default=Path("/autograder/submission"))
        p.add_argument("--results", type=Path, default=Path("/autograder/results/results.json"))
        p.add_argument("--course", type=Path, default=COURSE)
        args = p.parse_args(argv[1:])
        try:
            run_autograder(args.submission, args.results, args.assignment, args.course)
        except BaseException:  # Gradescope shows a results.json to the student, the traceback to the instructor
            traceback.print_exc()
            write_results(args.results, GRADER_FAILED)
            return 1
        return 0
    p = argparse.ArgumentParser(prog="python -m autograder gradescope", description="Build Gradescope autograder zips into dist/.")
    p.add_argument("--assignment", help="one lesson, e.g. 01_rnn_cell (default: every lesson with a source notebook)")
    p.add_argument("--dist", type=Path, default=COURSE / "dist")
    args = p.parse_args(argv)
    for lesson in [args.assignment] if args.assignment else lessons(COURSE):
        print(f"wrote {build_zip(lesson, args.dist)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
