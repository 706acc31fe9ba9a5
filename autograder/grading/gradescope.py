"""``python -m autograder gradescope``: a Gradescope autograder zip, one per lesson.

The zip holds ``setup.sh`` (installs the Python packages), ``run_autograder``
(grades ``/autograder/submission/*.ipynb`` into
``/autograder/results/results.json``) and the course code the engine needs
(``autograder/``, ``rnncourse/``, ``data/`` and the lesson's source notebook).
Grading inside Gradescope's container uses the same engine and sandbox as
``make grade``; the container is also the outer wall a shared server lacks.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from autograder.grading import cli, sandbox
from autograder.grading.samples import lessons

COURSE = sandbox.COURSE
REQUIREMENTS = ["numpy>=1.26,<3", "matplotlib>=3.8", "tqdm>=4.66", "ipython>=8", "nbformat>=5.9", "nbgrader==0.9.6"]

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
set -euo pipefail
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv >/dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet -r /autograder/source/requirements.txt
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission.
cd /autograder/source
exec /autograder/venv/bin/python -m autograder.grading.gradescope run \\
    --assignment {lesson} --submission /autograder/submission --results /autograder/results/results.json
"""


def build_zip(lesson: str, dist: Path, course: Path = COURSE) -> Path:
    """dist/gradescope_<lesson>.zip, ready to upload as a Gradescope autograder."""
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
        (src / "requirements.txt").write_text("\n".join(REQUIREMENTS) + "\n")
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER.format(lesson=lesson))):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o755 << 16
                z.writestr(info, text)
            for path in sorted(src.rglob("*")):
                if path.is_file():
                    z.write(path, Path("source") / path.relative_to(src))
    return target


def run_autograder(submission: Path, results: Path, lesson: str, course: Path = COURSE, limits: sandbox.Limits | None = None, seed: int | None = None) -> dict:
    """Grade the notebooks in ``submission`` and write Gradescope's results.json to ``results``."""
    with tempfile.TemporaryDirectory(prefix="rnngrade-gs-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "submitted" / "student" / lesson
        folder.mkdir(parents=True)
        notebooks = sorted(submission.glob("*.ipynb")) or sorted(submission.rglob("*.ipynb"))
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
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(data, indent=1))
    return data


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        p = argparse.ArgumentParser(prog="python -m autograder.grading.gradescope run")
        p.add_argument("--assignment", required=True)
        p.add_argument("--submission", type=Path, default=Path("/autograder/submission"))
        p.add_argument("--results", type=Path, default=Path("/autograder/results/results.json"))
        p.add_argument("--course", type=Path, default=COURSE)
        args = p.parse_args(argv[1:])
        run_autograder(args.submission, args.results, args.assignment, args.course)
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
