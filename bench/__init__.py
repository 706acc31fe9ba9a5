"""Speed benchmarks, run as ``python -m bench [NAME ...] [OPTIONS]`` from the repository root.

Every module of this package that defines ``main(argv) -> int`` is a benchmark;
``python -m bench`` runs them all, ``python -m bench layers`` only bench/layers.py.
"""
