"""Dispatch: ``python -m bench [NAME ...] [OPTIONS]``.

NAME selects benchmark modules of this package (a module is a benchmark if it
defines ``main(argv) -> int``); without names all of them run, in alphabetical
order. OPTIONS (e.g. ``--quick``) are passed unchanged to every selected module.
"""

import importlib
import pkgutil
import sys

import bench


def available():
    """Names of the benchmark modules in this package."""
    names = []
    for info in pkgutil.iter_modules(bench.__path__):
        if info.ispkg or info.name.startswith("_"):
            continue
        if callable(getattr(importlib.import_module(f"bench.{info.name}"), "main", None)):
            names.append(info.name)
    return sorted(names)


def main(argv):
    names = available()
    if argv and argv[0] in ("-h", "--help") and len(argv) == 1:
        print(__doc__.strip())
        print("benchmarks:", ", ".join(names))
        return 0
    selected = []
    while argv and not argv[0].startswith("-"):
        name = argv.pop(0)
        if name not in names:
            print(f"unknown benchmark {name!r}; available: {', '.join(names)}", file=sys.stderr)
            return 2
        selected.append(name)
    status = 0
    for name in selected or names:
        module = importlib.import_module(f"bench.{name}")
        status = module.main(list(argv)) or status
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
