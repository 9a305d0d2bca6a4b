"""``compact --db ducklake:…``: the lake's housekeeping (fetcher.storage.lake.compact)."""

from __future__ import annotations

import argparse
from datetime import timedelta

from fetcher.config import Environment
from fetcher.errors import (
    EXIT_COMPLETE,
    UsageError,
)
from fetcher.publish import report


def run_compact(args: argparse.Namespace, env: Environment) -> int:
    from fetcher.storage import LakeLocation, open_location
    from fetcher.storage.lake.compact import compact

    location = open_location(args.db, env)
    if not isinstance(location, LakeLocation):
        raise UsageError(f"--db {args.db}: compact works on a DuckLake (ducklake:CATALOG); a DuckDB file needs none")
    done = compact(location, timedelta(hours=args.keep_hours))
    report.log.info("%s", done.summary())
    if args.json:
        report.print_json(done.as_dict())
    return EXIT_COMPLETE
