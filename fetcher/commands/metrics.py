"""``metrics``: recompute the stored metrics (after a changed definition, bot list or calendar)."""

from __future__ import annotations

import argparse

from duckdb import DuckDBPyConnection

from fetcher.collect.repositories import check_repo
from fetcher.commands.common import stored_settings
from fetcher.compute import metrics
from fetcher.config import Environment
from fetcher.db import store
from fetcher.errors import (
    EXIT_COMPLETE,
)
from fetcher.pipeline.update import WorkingCopy, update_db
from fetcher.publish import report
from fetcher.publish.result import RunResult


def run_metrics(args: argparse.Namespace, env: Environment) -> tuple[int, RunResult]:
    repo = check_repo(args.repo) if args.repo else None
    settings = stored_settings(args, env)

    def apply(con: DuckDBPyConnection, copy: WorkingCopy) -> int:
        def recompute() -> int:
            # a changed setting changes every PR's metrics
            changed = metrics.replace_settings(con, settings.bots, settings.calendar)
            return metrics.recompute(con, repo=None if changed else repo)

        counted: list[int] = []
        store.in_transaction(con, lambda: counted.append(recompute()))
        return counted[-1]

    # Through the storage layer like every write: a copy, checked, then stored (local, S3, artifact).
    update = update_db(args.db or env.db, env, apply)
    report.log.info("recomputed metrics of %d PRs in %s", update.value, update.location)
    return EXIT_COMPLETE, RunResult("metrics", "complete", recomputed=update.value, storage=update)
