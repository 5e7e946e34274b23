"""Novisurf's benchmarks: ``python -m bench`` (or ``make bench``).

Every figure is printed beside a baseline measured in the same run, and the ratio between them,
so that the numbers mean something on any machine. See bench/README.md.
"""
