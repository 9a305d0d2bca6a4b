"""``prune-artifacts``: delete the superseded copies of an ``artifact:NAME`` DB (fetcher.storage.prune)."""

from __future__ import annotations

import argparse

from fetcher.collect.rest import ClientSettings
from fetcher.commands.arguments import COPIES
from fetcher.config import Environment
from fetcher.errors import (
    EXIT_COMPLETE,
    EXIT_FAILED,
    EXIT_PARTIAL,
    UsageError,
)
from fetcher.publish import report
from fetcher.storage.artifact_client import ArtifactClient
from fetcher.storage.prune import DEFAULT_KEEP, prune_artifacts


def run_prune_artifacts(args: argparse.Namespace, env: Environment) -> int:
    spec = args.db or env.db
    if not spec.startswith("artifact:"):
        raise UsageError(f"--db {spec}: prune-artifacts works on an artifact:NAME database")
    keep = args.keep if args.keep is not None else artifact_keep(env)
    settings = ClientSettings(api_url=env.api_url, token=env.token or "", request_interval=args.request_interval)
    artifacts = ArtifactClient(spec.removeprefix("artifact:"), env, settings=settings)
    done = prune_artifacts(artifacts, keep, args.max_deletes)
    for line in done.lines():
        report.log.info("%s", line)
    if (failure := done.failure()) is not None:
        report.log.error("%s%s", "mergelens: error: " if done.status == "failed" else "warning: ", failure)
    report.log.info("%s", done.summary())
    if args.json:
        report.print_json(done.as_dict())
    if env.in_actions and done.status != "complete":
        level = "error" if done.status == "failed" else "warning"
        print(report.annotation(level, "mergelens: prune-artifacts", done.summary()))
    if env.step_summary:
        report.write_prune_summary(env.step_summary, done)
    return {"complete": EXIT_COMPLETE, "partial": EXIT_PARTIAL}.get(done.status, EXIT_FAILED)


def artifact_keep(env: Environment) -> int:
    """MERGELENS_ARTIFACT_KEEP, else the default; a usage error when it is not a count of at least 1."""
    if env.artifact_keep is None:
        return DEFAULT_KEEP
    try:
        return int(COPIES(env.artifact_keep))
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"MERGELENS_ARTIFACT_KEEP: {exc}") from None
