"""Run every benchmark: ``python -m bench``."""

from __future__ import annotations

import argparse
import os
import sys

from bench.environment import django_environment, scale_environment

SCALE_IMAGES = 100_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sql", action="store_true", help="print the gallery page's SQL queries")
    parser.add_argument(
        "--only", default="", help="comma-separated modules to run (e.g. service,renderer)"
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="on PostgreSQL, Redis and S3 started for the run: the gallery at "
        f"{SCALE_IMAGES:,} images, and generations per minute with 1 and 2 workers",
    )
    parser.add_argument(
        "--million",
        action="store_true",
        help="also measure the gallery pages and search at 1,000,000 images (minutes to build)",
    )
    args = parser.parse_args(argv)
    if args.million:
        os.environ["NOVISURF_BENCH_MILLION"] = "1"
        os.environ["BENCH_MILLION"] = "1"
    if args.scale:
        return scale(args)
    with django_environment() as workdir:
        # Imported only once Django is set up: they import models.
        from bench import (
            endpoint,
            engines,
            gallery_live,
            gallery_page,
            gallery_store,
            hotpaths,
            keeping,
            organise,
            renderer,
            search,
            service,
            svg_draw,
        )
        from bench.timing import Report

        report = Report(show_sql=args.sql)
        print(f"Novisurf benchmarks (throwaway database and media under {workdir})")
        print("median of several repeats after a warm-up; ratio = figure / baseline\n")
        modules = [
            renderer,
            endpoint,
            keeping,
            gallery_store,
            gallery_page,
            gallery_live,
            hotpaths,
            search,
            service,
            organise,
            engines,
            svg_draw,
        ]
        if args.only:
            wanted = set(args.only.split(","))
            modules = [m for m in modules if m.__name__.rsplit(".", 1)[1] in wanted]
        for module in modules:
            report.section(module.TITLE)
            try:
                module.run(report)
            except Exception as exc:  # one broken benchmark must not hide the others
                report.failure(module.TITLE, exc)
        print()
        return 1 if report.failed else 0


def scale(args) -> int:
    from tests.servers import ServersUnavailable

    try:
        with scale_environment() as servers_env:
            return _scale(args, servers_env)
    except ServersUnavailable as exc:
        print(f"\n!!! SKIPPED: the scale benchmarks need PostgreSQL, Redis and moto: {exc}\n")
        return 0


def _scale(args, servers_env: dict[str, str]) -> int:
    """Run inside Django on the real servers (imports need Django set up)."""
    from django.db import connection

    from bench import gallery_page, throughput
    from bench.timing import Report

    report = Report(show_sql=args.sql)
    print(
        f"Novisurf scale benchmarks on PostgreSQL {connection.pg_version // 10000}, Redis "
        f"and S3 (moto), started for this run"
    )
    print("median of several repeats after a warm-up; ratio = figure / baseline\n")
    sections = [
        (
            f"Gallery page on PostgreSQL: GET / with {SCALE_IMAGES:,} images of one user",
            lambda: gallery_page.run(report, images_count=SCALE_IMAGES),
        ),
        (throughput.TITLE, lambda: throughput.run(report, servers_env=servers_env)),
    ]
    for title, run in sections:
        report.section(title)
        try:
            run()
        except Exception as exc:
            report.failure(title, exc)
    print()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
