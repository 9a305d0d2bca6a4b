"""``copy --from SPEC --to SPEC``: a DB into a DuckLake and back (fetcher.storage.lake.copy)."""

from __future__ import annotations

import argparse

from fetcher.config import Environment
from fetcher.errors import (
    EXIT_COMPLETE,
)
from fetcher.publish import report


def run_copy(args: argparse.Namespace, env: Environment) -> int:
    from fetcher.storage.lake.copy import copy_db

    done = copy_db(args.source, args.target, env, args.replace)
    report.log.info("%s", done.summary())
    if args.json:
        report.print_json({"status": "complete", "from": done.source, "to": done.target, "counts": done.counts})
    return EXIT_COMPLETE
