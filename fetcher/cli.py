"""``python -m fetcher`` (installed: ``mergelens``): parse the command line, run the command
(fetcher.commands, one module each), and publish its result (fetcher.publish); one line and a
documented exit code for any expected failure (fetcher.errors)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fetcher.commands.arguments import build_parser, parse
from fetcher.commands.backfill.run import run_backfill
from fetcher.commands.compact import run_compact
from fetcher.commands.copy import run_copy
from fetcher.commands.dashboard import run_dashboard
from fetcher.commands.metrics import run_metrics
from fetcher.commands.open_prs import run_open_prs
from fetcher.commands.prune import run_prune_artifacts
from fetcher.commands.reconcile import run_reconcile
from fetcher.commands.sync import run_sync
from fetcher.config import Environment
from fetcher.errors import (
    MergelensError,
)
from fetcher.publish import alerts, report
from fetcher.publish.result import RunResult

MAINTENANCE = {
    "copy": run_copy,
    "compact": run_compact,
    "prune-artifacts": run_prune_artifacts,
    "dashboard": run_dashboard,
}

COMMANDS = {
    "sync": run_sync,
    "reconcile": run_reconcile,
    "backfill": run_backfill,
    "metrics": run_metrics,
    "open-prs": run_open_prs,
}


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    report.configure_logging()
    args = parse(build_parser(), argv)
    env = env or Environment.from_environ()
    try:
        env.check()  # a GitHub URL no request can use: before any request
        if args.command in MAINTENANCE:
            return MAINTENANCE[args.command](args, env)
    except MergelensError as exc:
        report.log.error("mergelens: error: %s", exc)
        return exc.exit_code
    try:
        code, run = COMMANDS[args.command](args, env)
    except MergelensError as exc:
        report.log.error("mergelens: error: %s", exc)
        repo = getattr(args, "repo", None) or env.repository
        run = RunResult.failed(args.command, str(exc), repo, getattr(args, "pr", None))
        code = exc.exit_code
    publish(args, env, run)
    return code


def publish(args: argparse.Namespace, env: Environment, run: RunResult) -> None:
    """The result where its readers look: stdout (--json), and in Actions the annotations, the
    step summary, the step outputs, and Sentry for permanent failures."""
    if env.in_actions:
        for line in report.annotations_for(run):
            print(line)
    if getattr(args, "json", False):
        report.print_json(run.as_dict())
    if env.step_summary:
        report.write_step_summary(env.step_summary, run, env.server_url)
    if env.output:
        report.write_outputs(env.output, report.outputs_for(run))
    alerts.report_to_sentry(env.sentry_dsn, run)


if __name__ == "__main__":
    sys.exit(main())
