"""Report permanent failures to Sentry when ``SENTRY_DSN`` is set (sentry-sdk)."""

from __future__ import annotations

from typing import Any

from fetcher.publish.result import RunResult

FLUSH_TIMEOUT_S = 5.0


def permanent_failures(run: RunResult) -> list[dict[str, Any]]:
    """What went wrong for good in a run: failed sections (after retries), stopped merge runs
    (--check-merge-runs) and failed runs."""
    failures = [failure for each in run.repos or [] for failure in permanent_failures(each)]
    for result in run.results:
        for error in result.errors:
            failures.append(
                {
                    "repo": result.repo,
                    "pr_number": result.pr_number,
                    "section": error.get("section"),
                    "message": error.get("message"),
                }
            )
    if run.merge_runs is not None and run.merge_runs.stopped:
        failures.append(
            {"repo": run.repo, "pr_number": None, "section": "merge runs", "message": run.merge_runs.notice()}
        )
    if run.status == "failed":
        failures.append({"repo": run.repo, "pr_number": run.pr_number, "section": "run", "message": run.error})
    return failures


def report_to_sentry(dsn: str | None, run: RunResult) -> int:
    """Send one Sentry event per permanent failure, tagged with repo, PR and section."""
    failures = permanent_failures(run)
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
