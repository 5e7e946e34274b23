"""Timing and the printed table."""

from __future__ import annotations

import statistics
import time
import traceback
from collections.abc import Callable

NAME_WIDTH = 38
BASELINE_WIDTH = 32


def measure(
    fn: Callable[[], object], *, repeats: int = 15, warmup: int = 2, number: int = 1
) -> float:
    """The median, over ``repeats``, of the seconds one call of ``fn`` takes.

    Each repeat times ``number`` calls and divides, for calls too quick to time one by one.
    """
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def compare(
    fn: Callable[[], object],
    baseline: Callable[[], object],
    *,
    repeats: int = 15,
    warmup: int = 2,
    number: int = 1,
    baseline_number: int = 1,
) -> tuple[float, float]:
    """The medians of ``fn`` and ``baseline``, timed in alternation.

    Alternating, rather than timing one and then the other, lets both see the same background
    load on a busy machine, so that their ratio stays meaningful.
    """
    for _ in range(warmup):
        fn()
        baseline()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for target, count, into in (
            (fn, number, samples[0]),
            (baseline, baseline_number, samples[1]),
        ):
            start = time.perf_counter()
            for _ in range(count):
                target()
            into.append((time.perf_counter() - start) / count)
    return statistics.median(samples[0]), statistics.median(samples[1])


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


class Report:
    def __init__(self, *, show_sql: bool = False) -> None:
        self.failed = False
        self.show_sql = show_sql

    def section(self, title: str) -> None:
        print(f"\n== {title}")

    def row(self, name: str, seconds: float, baseline_name: str, baseline: float) -> None:
        """A figure beside its baseline, and the ratio."""
        print(
            f"{name:<{NAME_WIDTH}} {format_seconds(seconds):>9}   "
            f"baseline {baseline_name:<{BASELINE_WIDTH}} {format_seconds(baseline):>9}   "
            f"ratio {seconds / baseline:6.2f}x"
        )

    def info(self, name: str, value: str) -> None:
        """A figure with no baseline of its own (a part of another, or a count)."""
        print(f"{name:<{NAME_WIDTH}} {value:>9}")

    def note(self, text: str) -> None:
        print(f"  note: {text}")

    def failure(self, title: str, exc: BaseException) -> None:
        self.failed = True
        last = traceback.extract_tb(exc.__traceback__)[-1]
        print(
            f"  FAILED: {title}: {type(exc).__name__}: {exc} "
            f"(at {last.filename}:{last.lineno} in {last.name})"
        )
