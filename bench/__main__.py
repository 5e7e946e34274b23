"""Run every benchmark: ``python -m bench``."""

from __future__ import annotations

import argparse
import os
import sys

from bench.environment import django_environment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sql", action="store_true", help="print the gallery page's SQL queries")
    parser.add_argument(
        "--only", default="", help="comma-separated modules to run (e.g. service,renderer)"
    )
    parser.add_argument(
        "--million",
        action="store_true",
        help="also measure search at 1,000,000 images (minutes to build; or BENCH_MILLION=1)",
    )
    args = parser.parse_args(argv)
    if args.million:
        os.environ["BENCH_MILLION"] = "1"
    with django_environment() as workdir:
        # Imported only once Django is set up: they import models.
        from bench import (
            endpoint,
            gallery_page,
            gallery_store,
            organise,
            renderer,
            search,
            service,
        )
        from bench.timing import Report

        report = Report(show_sql=args.sql)
        print(f"Novisurf benchmarks (throwaway database and media under {workdir})")
        print("median of several repeats after a warm-up; ratio = figure / baseline\n")
        modules = [renderer, endpoint, gallery_store, gallery_page, search, service, organise]
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


if __name__ == "__main__":
    sys.exit(main())
