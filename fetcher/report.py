"""What a run tells its user: one line per outcome on stderr, the JSON result on stdout, and in
GitHub Actions the step summary, annotations and step outputs.

PR titles and error texts are untrusted: in the step summary (rendered as Markdown with inline
HTML) they are escaped; in annotations and outputs they are kept to one line.
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

log = logging.getLogger("mergelens")

MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")


def configure_logging(stream: TextIO | None = None) -> None:
    """Progress and errors go to stderr, one plain line each."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def summary_line(result: Mapping[str, Any]) -> str:
    counts = ", ".join(f"{name} {count}" for name, count in result["counts"].items() if count is not None)
    failed = [error["section"] for error in result["errors"]]
    line = (
        f"{result['repo']}#{result['pr_number']}: {result['status']} "
        f"({counts}; {result['api_requests']} API requests, {result['duration_s']:.2f} s)"
    )
    if failed:
        line += f"; failed sections kept their previous rows: {', '.join(failed)}"
    return line


def print_json(document: Mapping[str, Any], stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(json.dumps(document, default=str) + "\n")


# --- GitHub Actions ----------------------------------------------------------------------------


def markdown_text(text: object) -> str:
    """Untrusted text as inert Markdown: HTML escaped, Markdown syntax escaped, one line."""
    one_line = " ".join(str(text).split())
    return MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(one_line, quote=True))


def annotation(level: str, title: str, message: str) -> str:
    """A workflow command (``::warning title=…::message``), escaped as the runner expects."""

    def data(value: str) -> str:
        return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(value: str) -> str:
        return data(value).replace(":", "%3A").replace(",", "%2C")

    return f"::{level} title={prop(title)}::{data(message)}"


def annotations_for(document: Mapping[str, Any]) -> list[str]:
    lines = []
    for result in [document, *document.get("reconciled", [])]:
        if "pr_number" not in result or "errors" not in result:
            continue
        where = f"{result['repo']}#{result['pr_number']}"
        for error in result["errors"]:
            lines.append(
                annotation("warning", f"mergelens: partial sync of {where}", f"{error['section']}: {error['message']}")
            )
        for warning in result.get("warnings", []):
            lines.append(annotation("warning", f"mergelens: {where}", warning))
    reconcile = document.get("reconcile") or {}
    if reconcile.get("capped"):
        lines.append(annotation("warning", "mergelens: reconcile", capped_message(reconcile)))
    for note in document.get("storage", {}).get("notes", []):
        lines.append(annotation("warning", "mergelens: database", note))
    if document.get("status") == "failed":
        lines.append(annotation("error", "mergelens failed", str(document.get("error", "unknown error"))))
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


def outputs_for(document: Mapping[str, Any]) -> dict[str, object]:
    storage = document.get("storage", {})
    values: dict[str, object] = {
        "status": document.get("status"),
        "pr_number": document.get("pr_number") or "",
        "db_path": storage.get("local_path", ""),
        "db_verified": "true" if storage.get("verified") else "false",
        # the upload step's artifact name: the NAME of artifact:NAME, so the next run finds it
        "artifact_name": storage.get("artifact_name") or "",
    }
    for name, value in (document.get("metrics") or {}).items():
        values[name] = "" if value is None else value
    return values


def step_summary(document: Mapping[str, Any], server_url: str = "https://github.com") -> str:
    """The Markdown report for $GITHUB_STEP_SUMMARY."""
    lines = ["## mergelens", ""]
    status = document.get("status", "unknown")
    icon = {"complete": "✅", "partial": "⚠️", "failed": "❌", "skipped": "⏭️", "incomplete": "⏸️"}.get(status, "")
    if "pr_number" in document and "counts" in document:
        url = f"{server_url}/{document['repo']}/pull/{document['pr_number']}"
        title = markdown_text(document.get("title") or "")
        lines.append(f"{icon} **{status}**: [{document['repo']}#{document['pr_number']}]({url}) {title}".rstrip())
        lines += ["", "| section | rows |", "|---|---:|"]
        for section, count in document["counts"].items():
            lines.append(f"| {section} | {'failed: kept previous rows' if count is None else count} |")
        if document.get("metrics"):
            lines += ["", "| metric | value |", "|---|---:|"]
            for name, value in document["metrics"].items():
                lines.append(f"| {name} | {_metric(value)} |")
        lines += ["", f"{document['api_requests']} API requests, {document['duration_s']:.2f} s."]
    else:
        lines.append(f"{icon} **{status}**: {markdown_text(document.get('reason') or document.get('error') or '')}")
    if document.get("errors"):
        lines += ["", "### Errors", ""]
        for error in document["errors"]:
            request = f" (request {markdown_text(error['request_id'])})" if error.get("request_id") else ""
            lines.append(f"- **{error['section']}**: {markdown_text(error['message'])}{request}")
    if document.get("warnings"):
        lines += ["", "### Warnings", ""] + [f"- {markdown_text(w)}" for w in document["warnings"]]
    reconcile = document.get("reconcile")
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
    history = document.get("backfill")
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
    storage = document.get("storage")
    if storage:
        lines += ["", "### Database", ""]
        size = storage.get("size_bytes")
        size_text = f", {size / 1e6:.1f} MB" if size is not None else ""
        lines.append(f"{markdown_text(storage.get('location', ''))}{size_text}")
        for note in storage.get("notes", []):
            lines.append(f"\n> [!WARNING]\n> {markdown_text(note)}")
    return "\n".join(lines) + "\n"


def capped_message(reconcile: Mapping[str, Any]) -> str:
    return (
        f"reconcile stopped at its cap of {reconcile['found']} PRs: more merged PRs need a sync, "
        "and the next run continues with them"
    )


def write_step_summary(path: str, document: Mapping[str, Any], server_url: str = "https://github.com") -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(step_summary(document, server_url))


def _metric(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return markdown_text(value)
