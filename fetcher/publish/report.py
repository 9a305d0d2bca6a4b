"""What a run tells its user: one line per outcome on stderr, the JSON result on stdout, and in
GitHub Actions the step summary, annotations and step outputs.

PR titles and error texts are untrusted, and so is whatever an operator gives (a DB spec, an S3
key, a path): in the step summary (rendered as Markdown with inline HTML) they are escaped; in
annotations and outputs they are kept to one line; every line on stderr is made inert (``inert``),
so none can be a workflow command.
"""

from __future__ import annotations

import html
import json
import logging
import re
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from fetcher.compute.merge_runs import CAUSES, MergeRunCheck
from fetcher.errors import LEGACY_COMMAND, inert
from fetcher.pipeline.sync_pr import SyncResult
from fetcher.publish.result import RunResult
from fetcher.storage.prune import PruneReport

log = logging.getLogger("mergelens")

ICONS = {"complete": "✅", "partial": "⚠️", "failed": "❌", "skipped": "⏭️", "incomplete": "⏸️"}
MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")


class InertFormatter(logging.Formatter):
    """Each log record as one inert line, whatever a value in it holds."""

    def format(self, record: logging.LogRecord) -> str:
        return inert(super().format(record))


def configure_logging(stream: TextIO | None = None) -> None:
    """Progress and errors go to stderr, one plain line each, none a workflow command."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(InertFormatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def summary_line(result: SyncResult) -> str:
    counts = ", ".join(f"{name} {count}" for name, count in result.counts.items() if count is not None)
    failed = [error["section"] for error in result.errors]
    line = (
        f"{result.repo}#{result.pr_number}: {result.status} "
        f"({counts}; {result.api_requests} API requests, {round(result.duration_s, 3):.2f} s)"
    )
    if failed:
        line += f"; failed sections kept their previous rows: {', '.join(failed)}"
    return line


def print_json(document: Mapping[str, Any], stream: TextIO | None = None) -> None:
    """One line: JSON escapes control characters; a "##[" can only be inside a string, where
    ``\\u005b`` is the same "[" to a JSON reader and no command to the runner."""
    text = json.dumps(document, default=str).replace(LEGACY_COMMAND, "##\\u005b")
    (stream or sys.stdout).write(text + "\n")


# --- GitHub Actions ----------------------------------------------------------------------------


def markdown_text(text: object) -> str:
    """Untrusted text as inert Markdown: HTML escaped, Markdown syntax escaped, one line. Quotes
    stay as they are (no tag can open once ``<`` is escaped): their entity ``&#x27;`` would have its
    ``#`` escaped in turn and show as broken text."""
    one_line = " ".join(str(text).split())
    return MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(one_line, quote=False))


def annotation(level: str, title: str, message: str) -> str:
    """A workflow command (``::warning title=…::message``), escaped as the runner expects; ``##[``
    broken up as on every line (``inert``), though the runner reads a line starting with ``::`` as
    this command first."""

    def data(value: str) -> str:
        escaped = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return escaped.replace(LEGACY_COMMAND, "##\\[")

    def prop(value: str) -> str:
        return data(value).replace(":", "%3A").replace(",", "%2C")

    return f"::{level} title={prop(title)}::{data(message)}"


def repositories_line(run: RunResult) -> str:
    """Organisation mode: how each repository ended, in one line."""
    grouped = run.by_status()
    counts = ", ".join(f"{len(names)} {status}" for status, names in grouped.items())
    line = f"{run.command} over {len(run.repos or [])} repositories: {counts}"
    for status in ("partial", "failed"):
        if grouped.get(status):
            line += f"; {status}: {', '.join(grouped[status])}"
    return line


def annotations_for(run: RunResult) -> list[str]:
    lines = [line for each in run.repos or [] for line in annotations_for(each)]
    for result in run.results:
        where = f"{result.repo}#{result.pr_number}"
        for error in result.errors:
            lines.append(
                annotation("warning", f"mergelens: partial sync of {where}", f"{error['section']}: {error['message']}")
            )
        for warning in result.warnings:
            lines.append(annotation("warning", f"mergelens: {where}", warning))
    reconcile = run.reconcile or {}
    if reconcile.get("capped"):
        lines.append(annotation("warning", "mergelens: reconcile", capped_message(reconcile)))
    for warning in (run.open_prs or {}).get("warnings", []):
        lines.append(annotation("warning", "mergelens: digest", warning))
    for note in run.storage.notes if run.storage else []:
        lines.append(annotation("warning", "mergelens: database", note))
    check = run.merge_runs
    if check is not None and check.stopped:
        lines.append(annotation("error", "mergelens: merge runs stopped", check.notice()))
    for warning in check.warnings if check is not None else []:
        lines.append(annotation("warning", "mergelens: merge runs", warning))
    if run.status == "failed":
        lines.append(annotation("error", "mergelens failed", str(run.error or "unknown error")))
    return lines


def write_outputs(path: str, values: Mapping[str, object]) -> None:
    """Append ``name=value`` lines to $GITHUB_OUTPUT (a heredoc when a value spans lines)."""
    with open(path, "a", encoding="utf-8") as out:
        for name, value in values.items():
            text = "" if value is None else str(value)
            if "\n" in text:
                delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
                out.write(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")
            else:
                out.write(f"{name}={text}\n")


def outputs_for(run: RunResult) -> dict[str, object]:
    storage = run.storage
    values: dict[str, object] = {
        "status": run.status,
        "pr_number": run.pr_number or "",
        "db_path": str(storage.local_path) if storage else "",
        "db_verified": "true" if storage else "false",  # a stored DB was verified first
        # the upload step's artifact name: the NAME of artifact:NAME, so the next run finds it
        "artifact_name": (storage.artifact_name if storage else None) or "",
    }
    for name, value in (run.synced.metrics if run.synced else {}).items():
        values[name] = "" if value is None else value
    return values


def step_summary(run: RunResult, server_url: str = "https://github.com") -> str:
    """The Markdown report for $GITHUB_STEP_SUMMARY."""
    lines = ["## mergelens", ""]
    status = run.status
    icon = ICONS.get(status, "")
    if run.repos is not None:
        return repositories_summary(run, server_url)
    pr = run.synced
    if pr is not None:
        url = f"{server_url}/{pr.repo}/pull/{pr.pr_number}"
        title = markdown_text(run.title or "")
        lines.append(f"{icon} **{status}**: [{pr.repo}#{pr.pr_number}]({url}) {title}".rstrip())
        lines += ["", "| section | rows |", "|---|---:|"]
        for section, count in pr.counts.items():
            lines.append(f"| {section} | {'failed: kept previous rows' if count is None else count} |")
        if pr.metrics:
            lines += ["", "| metric | value |", "|---|---:|"]
            for name, value in pr.metrics.items():
                lines.append(f"| {name} | {_metric(value)} |")
        lines += ["", f"{run.api_requests} API requests, {run.duration:.2f} s."]
    else:
        lines.append(f"{icon} **{status}**: {markdown_text(run.reason or run.error or '')}")
    if pr is not None and pr.errors:
        lines += ["", "### Errors", ""]
        for error in pr.errors:
            request = f" (request {markdown_text(error['request_id'])})" if error.get("request_id") else ""
            lines.append(f"- **{error['section']}**: {markdown_text(error['message'])}{request}")
    if pr is not None and pr.warnings:
        lines += ["", "### Warnings", ""] + [f"- {markdown_text(w)}" for w in pr.warnings]
    reconcile = run.reconcile
    if reconcile:
        synced = ", ".join(f"{count} {status}" for status, count in reconcile["synced"].items()) or "nothing"
        lines += [
            "",
            "### Reconcile",
            "",
            f"Examined {reconcile['examined']} recently closed PRs; found {reconcile['found']} to sync; "
            f"synced: {synced}.",
        ]
        if reconcile.get("since"):
            since = datetime.fromisoformat(reconcile["since"]).astimezone(UTC)  # a time, not text: no escaping
            window = f" ({markdown_text(reconcile['window'])})" if reconcile.get("window") else ""
            lines[-1] += f" Window: updated since `{since:%Y-%m-%d %H:%M:%S} UTC`{window}."
        for number, reason in reconcile["prs"].items():
            lines.append(f"- #{number}: {markdown_text(reason)}")
        if reconcile.get("capped"):
            lines.append(f"\n> [!WARNING]\n> {markdown_text(capped_message(reconcile))}")
    history = run.backfill
    if history:
        synced = ", ".join(f"{count} {status}" for status, count in history["synced"].items()) or "nothing"
        left = history["remaining"]
        lines += [
            "",
            "### Backfill",
            "",
            f"Synced: {synced}; {history['up_to_date']} already up to date. {history['points']} GraphQL points in "
            f"{history['graphql_requests']} queries, {history['rest_requests']} REST requests, "
            f"{history['duration_s']:.1f} s. Left for the next run: {left} PRs"
            + ("" if history["listing_done"] else " and the rest of the listing")
            + ".",
        ]
        if history.get("stopped"):
            lines.append(f"\n> [!NOTE]\n> Stopped: {markdown_text(history['stopped'])}")
        if history.get("graphql_unavailable"):
            why = markdown_text(history["graphql_unavailable"])
            lines.append(f"\n> [!WARNING]\n> GraphQL unavailable ({why}): synced over REST")
    queue = run.open_prs
    if queue:
        abandoned = sum(1 for row in queue["closed"] if not row["merged"])
        lines += [
            "",
            f"{queue['open_prs']} open PRs stored; left the queue since the previous snapshot: "
            f"{len(queue['closed']) - abandoned} merged, {abandoned} closed without merge. "
            f"{queue['points']} GraphQL points.",
        ]
        lines += [f"\n> [!WARNING]\n> {markdown_text(w)}" for w in queue["warnings"]]
    if run.merge_runs is not None and run.merge_runs.stopped:
        lines += merge_runs_summary(run.merge_runs)
    if run.digest:
        lines += ["", run.digest.rstrip("\n")]  # built by fetcher.publish.digest, its PR text escaped there
    storage = run.storage
    if storage:
        lines += ["", "### Database", ""]
        size = storage.size_bytes
        size_text = f", {size / 1e6:.1f} MB" if size is not None else ""
        lines.append(f"{markdown_text(storage.location)}{size_text}")
        if storage.artifact_copies is not None:
            copies, zipped = storage.artifact_copies
            lines.append(
                f"\nGitHub held {copies} copies of this artifact ({zipped / 1e6:.1f} MB zipped) before this run's "
                "upload; prune-artifacts keeps the newest trusted ones."
            )
        for note in storage.notes:
            lines.append(f"\n> [!WARNING]\n> {markdown_text(note)}")
    return "\n".join(lines) + "\n"


def repositories_summary(run: RunResult, server_url: str) -> str:
    """Organisation mode: a table of the repositories and how each ended, then each one's report."""
    lines = [
        "## mergelens",
        "",
        f"{ICONS.get(run.status, '')} **{run.status}**: {markdown_text(repositories_line(run))}",
    ]
    lines += ["", "| repository | status | |", "|---|---|---|"]
    for each in run.repos or []:
        note = markdown_text(each.error) if each.status == "failed" else ""
        repo = markdown_text(each.repo)
        lines.append(f"| {repo} | {ICONS.get(each.status, '')} {each.status} | {note} |")
    for each in run.repos or []:
        if each.status != "failed":
            own = step_summary(each, server_url).replace("\n### ", "\n#### ")  # under the repository's heading
            lines += ["", own.replace("## mergelens", f"### {markdown_text(each.repo)}", 1)]
    return "\n".join(lines) + "\n"


def merge_runs_summary(check: MergeRunCheck) -> list[str]:
    """The step summary's section on stopped merge runs: what is wrong, the PRs, what to check."""
    lines = ["", "### ❌ Merge runs stopped", "", f"> [!CAUTION]\n> {markdown_text(check.problem())}.", ""]
    if check.missed:
        lines += ["| PR | merged | first stored | by |", "|---|---|---|---|"]
        for pr in check.missed:
            lines.append(
                f"| #{pr.number} | {pr.merged_at:%Y-%m-%d %H:%M} UTC | {pr.first_stored_at:%Y-%m-%d %H:%M} UTC "
                f"| {markdown_text(pr.first_stored_by)} |"
            )
        lines.append("")
    lines.append("Everything this run reconciled is stored. Check the merge runs (the runs of merged PRs):")
    lines += [f"- **{name}**: {how}." for name, how in CAUSES]  # our own text
    for warning in check.warnings:
        lines.append(f"\n> [!WARNING]\n> {markdown_text(warning)}")
    return lines


def capped_message(reconcile: Mapping[str, Any]) -> str:
    return (
        f"reconcile stopped at its cap of {reconcile['found']} PRs: more merged PRs need a sync, "
        "and the next run continues with them"
    )


def prune_summary(done: PruneReport) -> str:
    """prune-artifacts' report for $GITHUB_STEP_SUMMARY: the copies of the DB held, and each outcome."""
    name = markdown_text(done.name)
    lines = [
        "## mergelens: database copies",
        "",
        f"{ICONS.get(done.status, '')} **{done.status}**: {len(done.held)} copies of `{name}` held, "
        f"{done.held_bytes() / 1e6:.1f} MB (kept the newest {done.keep} trusted); "
        f"{len(done.deleted)} deleted, {done.api_requests} API requests.",
        "",
        "| artifact | created | size | outcome |",
        "|---:|---|---:|---|",
    ]
    outcomes = [(copy, "kept") for copy in done.kept] + [(copy, "deleted") for copy in done.deleted]
    outcomes += [(copy, f"untrusted, not deleted: {reason}") for copy, reason in done.untrusted]
    outcomes += [(copy, "not deleted this run") for copy in done.left]
    if done.failed is not None:
        outcomes.append((done.failed, f"delete failed: {done.failed['error']}"))
    for copy, outcome in outcomes:
        size = f"{copy['size_bytes'] / 1e6:.1f} MB" if copy.get("size_bytes") is not None else "–"
        lines.append(
            f"| {markdown_text(copy['id'])} | {markdown_text(copy['created_at'])} | {size} | {markdown_text(outcome)} |"
        )
    if done.expired:
        lines += ["", f"{len(done.expired)} expired copies listed: GitHub removed their content already."]
    return "\n".join(lines) + "\n"


def write_prune_summary(path: str, done: PruneReport) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(prune_summary(done))


def write_step_summary(path: str, run: RunResult, server_url: str = "https://github.com") -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(step_summary(run, server_url))


def _metric(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return markdown_text(value)
