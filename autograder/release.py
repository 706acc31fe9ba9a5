"""Generate the student release ``notebooks/`` from the source ``solutions/``.

Maintainer tool: ``make release``. Runs nbgrader's own ``generate_assignment``
(solution regions become stubs, check cells are locked and checksummed) in a
temporary course directory, so the real gradebook is never touched, then
stores every notebook clean (see :func:`normalize`). A test regenerates into a
temporary directory and fails on any difference with what is committed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def assignments(source: Path = SOLUTIONS) -> list[str]:
    """Assignment names: the folders of solutions/ that hold a notebook of their own name."""
    return sorted(p.name for p in source.iterdir() if (p / f"{p.name}.ipynb").is_file())


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A notebook stored clean: no outputs, no execution counts, stable ids and metadata."""
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    nb.nbformat, nb.nbformat_minor = 4, 5
    for i, cell in enumerate(nb.cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        cell["id"] = (grade_id or f"cell-{i:03d}").replace("_", "-")
        keep = {k: v for k, v in cell.metadata.items() if k in ("nbgrader", "tags")}
        cell.metadata = nbformat.from_dict(keep)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.pop("attachments", None) if not cell.get("attachments") else None
    return nb


def normalize_file(path: Path) -> bool:
    """Rewrite ``path`` normalized; True when it changed."""
    before = path.read_text(encoding="utf-8")
    nb = normalize(nbformat.reads(before, as_version=4))
    after = nbformat.writes(nb) + "\n"
    if after != before:
        path.write_text(after, encoding="utf-8")
        return True
    return False


def generate(target: Path, source: Path = SOLUTIONS) -> list[Path]:
    """Release every assignment of ``source`` into ``target`` with nbgrader; return the notebooks."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="rnn-release-") as tmp:
        course = Path(tmp)
        shutil.copytree(source, course / "source")
        shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
        for name in assignments(source):
            for nb_path in (course / "source" / name).glob("*.ipynb"):
                normalize_file(nb_path)
            cmd = [
                sys.executable,
                "-m",
                "nbgrader",
                "generate_assignment",
                name,
                "--force",
                "--CourseDirectory.source_directory=source",
                "--CourseDirectory.release_directory=release",
                f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}",
                "--log-level=WARN",
            ]
            # nbgrader runs the `alembic` command it installs beside the interpreter.
            env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
            proc = subprocess.run(cmd, cwd=course, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{proc.stdout}\n{proc.stderr}")
            out_dir = target / name
            if out_dir.exists():
                shutil.rmtree(out_dir)
            shutil.copytree(course / "release" / name, out_dir)
            for nb_path in sorted(out_dir.glob("*.ipynb")):
                normalize_file(nb_path)
                written.append(nb_path)
    return written


def main() -> int:
    for path in SOLUTIONS.glob("*/*.ipynb"):
        if normalize_file(path):
            print(f"normalized {path.relative_to(ROOT)}")
    for path in generate(NOTEBOOKS):
        print(f"released {path.relative_to(ROOT)}")
    return 0
