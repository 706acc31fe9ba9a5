"""``python -m autograder <command>``: the course's maintainer and instructor tools.

Commands:
  release     regenerate notebooks/ from solutions/ (nbgrader generate_assignment)
  fixtures    regenerate data/fixtures/ from autograder.reference
  grade       grade submissions (see ``python -m autograder grade --help``)
  gradescope  build a Gradescope autograder zip
  report      rebuild the class reports from a grading run's records (no grading)
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "release":
        from autograder.release import main as run
    elif command == "fixtures":
        from autograder.fixtures import main as run
    elif command == "grade":
        from autograder.grading.cli import grade_main as run
    elif command == "gradescope":
        from autograder.grading.cli import gradescope_main as run
    elif command == "report":
        from autograder.grading.class_report import report_main as run
    else:
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    return (run(rest) if command in ("grade", "gradescope", "report") else run()) or 0


if __name__ == "__main__":
    sys.exit(main())
