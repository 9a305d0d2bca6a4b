"""Report permanent failures to Sentry when ``SENTRY_DSN`` is set (sentry-sdk)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FLUSH_TIMEOUT_S = 5.0


def permanent_failures(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What went wrong for good in a run: failed sections (after retries) and failed runs."""
    failures = []
    for result in [document, *document.get("reconciled", [])]:
        for error in result.get("errors", []):
            failures.append(
                {
                    "repo": result.get("repo"),
                    "pr_number": result.get("pr_number"),
                    "section": error.get("section"),
                    "message": error.get("message"),
                }
            )
    if document.get("status") == "failed":
        failures.append(
            {
                "repo": document.get("repo"),
                "pr_number": document.get("pr_number"),
                "section": document.get("section", "run"),
                "message": document.get("error"),
            }
        )
    return failures


def report_to_sentry(dsn: str | None, document: Mapping[str, Any]) -> int:
    """Send one Sentry event per permanent failure, tagged with repo, PR and section."""
    failures = permanent_failures(document)
    if not dsn or not failures:
        return 0
    import sentry_sdk  # imported only when used: most runs have no DSN

    # No default integrations: no logging, threading or excepthook hooks in a CLI that already
    # reports everything itself.
    sentry_sdk.init(dsn=dsn, default_integrations=False, traces_sample_rate=0.0)
    try:
        for failure in failures:
            with sentry_sdk.new_scope() as scope:
                for tag in ("repo", "pr_number", "section"):
                    if failure[tag] is not None:
                        scope.set_tag(tag, str(failure[tag]))
                scope.fingerprint = ["mergelens", str(failure["repo"]), str(failure["section"])]
                sentry_sdk.capture_message(f"mergelens: {failure['section']} failed: {failure['message']}", "error")
    finally:
        sentry_sdk.flush(timeout=FLUSH_TIMEOUT_S)
    return len(failures)
