"""Are the merge runs still storing merged PRs? The last merge run that stored one, and the merged
PRs the merge runs missed. Read by the scheduled run (``--check-merge-runs``: the step fails) and by
the dashboard's Data health page: one definition.

When merge runs stop succeeding nothing says so: a run whose upload fails ("Artifact storage quota
has been hit"), whose token or secret expired, that lost a permission, or that never starts (the
workflow disabled) leaves no row in the database it could not store. Its PRs are stored by the next
reconcile or backfill, hours or days later; that lateness, and the silence of the merge runs while
PRs are merged, is what this module reads from ``sync_runs`` and ``pull_requests``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb

# sync_runs.trigger of the row a catching-up merge run leaves (pr_number NULL): its start, and
# status complete only when its PR and everything it reconciled were stored complete. The PRs a
# merge run reconciles carry it too (with their pr_number): stored by a merge run (below).
CATCH_UP = "catch-up"

# sync_runs.trigger of the rows a merge run leaves: its own PR (the Actions event that started it)
# and what it caught up (the PRs, and its own catch-up row).
MERGE_EVENT_TRIGGERS = ("pull_request", "pull_request_target")
MERGE_RUN_TRIGGERS = (*MERGE_EVENT_TRIGGERS, CATCH_UP)
# A merged PR that no merge run stored within this long is missed (MERGELENS_MISSED_AFTER_HOURS).
# Merge runs store a PR within minutes of its merge; the margin covers a queue of runs and slow days.
DEFAULT_MISSED_AFTER = timedelta(hours=6)
LISTED = 5  # PR numbers the one-line notice names

# The base branches whose merges start merge runs, and since when: a merge run of a PR into that
# branch was recorded. GitHub runs pull_request_target from the workflow file of the PR's base
# branch: merges into a branch without it (an old release branch) start none, and the schedule
# storing their PRs is no sign of anything. Both statements below begin with it.
MERGE_RUN_BRANCHES = """
WITH merge_run_branches AS (
    SELECT s.repo, p.base_ref, min(s.started_at) AS since
    FROM sync_runs s JOIN pull_requests p ON p.repo = s.repo AND p.number = s.pr_number
    WHERE list_contains($merge_event_triggers, s.trigger)
    GROUP BY s.repo, p.base_ref
)"""

# Merged PRs the merge runs missed: merged into a branch while merge runs were in place for it
# (before, nothing could miss them), and stored first by another run (the scheduled reconcile or
# backfill, a sync by hand) more than $missed_after_hours after the merge. "Stored": a sync_runs
# row of the PR that did not fail.
MISSED_BY_MERGE_RUNS_SQL = (
    MERGE_RUN_BRANCHES
    + """, first_stored AS (
    SELECT repo, pr_number AS number, min(started_at) AS stored_at, arg_min(trigger, started_at) AS stored_by
    FROM sync_runs WHERE pr_number IS NOT NULL AND status <> 'failed'
    GROUP BY repo, pr_number
)
SELECT p.repo, p.number, p.title, p.merged_at, f.stored_at AS first_stored_at, f.stored_by AS first_stored_by,
       p.html_url
FROM pull_requests p
JOIN first_stored f USING (repo, number)
JOIN merge_run_branches b ON b.repo = p.repo AND b.base_ref = p.base_ref
WHERE (len($repos) = 0 OR list_contains($repos, p.repo))
  AND p.merged_at >= b.since
  AND NOT list_contains($merge_run_triggers, f.stored_by)
  AND f.stored_at > p.merged_at + to_seconds($missed_after_hours * 3600)
  AND f.stored_at >= $stored_since
ORDER BY p.merged_at, p.repo, p.number
"""
)

# Per repository: when merge runs were first recorded, the start of the last merge run that stored
# anything (partial counts: a failed section is not a stopped pipeline; a start in the future, a
# wrong clock or an edited file, is ignored as since-last-run ignores it), and how many PRs were
# merged after that run (into a branch of merge runs) and at least $missed_after_hours before $now
# that no merge run stored: merges the merge runs should have followed by now. A quiet repository
# (no merge since) counts 0.
MERGE_RUNS_SQL = (
    MERGE_RUN_BRANCHES
    + """, runs AS (
    SELECT repo, min(started_at) AS first_merge_run_at,
           max(started_at) FILTER (WHERE status <> 'failed' AND started_at <= $now) AS last_merge_run_at
    FROM sync_runs
    WHERE list_contains($merge_run_triggers, trigger) AND (len($repos) = 0 OR list_contains($repos, repo))
    GROUP BY repo
)
SELECT r.repo, r.first_merge_run_at, r.last_merge_run_at, count(p.number) AS merged_since_last_run
FROM runs r
LEFT JOIN pull_requests p
  ON p.repo = r.repo
 AND p.merged_at > coalesce(r.last_merge_run_at, r.first_merge_run_at)
 AND p.merged_at <= $now - to_seconds($missed_after_hours * 3600)
 AND EXISTS (
     SELECT 1 FROM merge_run_branches b WHERE b.repo = p.repo AND b.base_ref = p.base_ref AND p.merged_at >= b.since)
 AND NOT EXISTS (
     SELECT 1 FROM sync_runs s
     WHERE s.repo = p.repo AND s.pr_number = p.number AND s.status <> 'failed'
       AND list_contains($merge_run_triggers, s.trigger))
GROUP BY ALL
ORDER BY r.repo
"""
)

# Where to look, in the one line; CAUSES says it at length (the step summary, the dashboard, docs/troubleshooting.md).
CHECK = (
    'check the merge runs (the workflow\'s runs for merged PRs): "Artifact storage quota has been hit" in their '
    "logs, an expired token or secret, a removed permission, or the workflow disabled (docs/troubleshooting.md)"
)
CAUSES = (
    (
        "Artifact storage quota",
        'the merge runs\' "Save the database as an artifact" step fails with "Artifact storage quota has been '
        'hit" (private repositories): the database they wrote is lost. Wait for the billing month to reset '
        "or raise the spending limit, shorten retention-days, or move MERGELENS_DB to s3://",
    ),
    (
        "Expired token or secret",
        'the merge runs fail with "GitHub rejected the token (HTTP 401)" or an S3 or DuckLake credential error: '
        "renew the secret (MERGELENS_AWS_*, MERGELENS_LAKE_DB, MERGELENS_PGPASSWORD, the GitHub App's key)",
    ),
    (
        "A removed permission",
        "the merge runs fail with HTTP 403 or 404 (actions: read finds the database artifact; pull-requests, "
        "issues and checks: read fetch the PR): restore the job's permissions, or the organisation's or "
        "repository's default token permissions",
    ),
    (
        "A disabled workflow",
        "merged PRs start no run at all: the Actions tab shows the workflow disabled (by hand, or for "
        "inactivity in a public repository after 60 days): enable it",
    ),
)


def _prs(count: int) -> str:
    return f"{count} merged PR{'' if count == 1 else 's'}"


def missed_after(text: str | None) -> timedelta:
    """MERGELENS_MISSED_AFTER_HOURS: hours, above 0 (None: the default); ValueError otherwise."""
    if text is None:
        return DEFAULT_MISSED_AFTER
    try:
        hours = float(text)
    except ValueError:
        hours = math.nan
    if not (math.isfinite(hours) and 0 < hours <= 24 * 365):
        raise ValueError(f"MERGELENS_MISSED_AFTER_HOURS={text!r} is not a number of hours (above 0, at most a year)")
    return timedelta(hours=hours)


@dataclass(frozen=True)
class MissedPullRequest:
    number: int
    title: str | None  # untrusted text
    merged_at: datetime
    first_stored_at: datetime
    first_stored_by: str  # its sync_runs.trigger: reconcile, backfill, cli, workflow_dispatch, ...
    html_url: str | None


@dataclass
class MergeRunCheck:
    """What the database says of one repository's merge runs as of ``checked_at``."""

    repo: str
    checked_at: datetime
    missed_after: timedelta
    first_merge_run_at: datetime | None  # None: no merge run ever stored anything here: nothing to check
    last_merge_run_at: datetime | None  # the start of the last merge run that stored anything
    merged_since_last_run: int  # PRs merged after it, at least missed_after ago
    missed: list[MissedPullRequest] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the notice could not be posted

    @property
    def missed_since_last_run(self) -> list[MissedPullRequest]:
        """The missed PRs merged after the last merge run that stored anything: a PR missed before
        it (one failed run, the schedule caught it) is history once merge runs store PRs again."""
        last = self.last_merge_run_at
        return [pr for pr in self.missed if last is None or pr.merged_at > last]

    @property
    def stopped(self) -> bool:
        """Merge runs stopped: PRs they missed since they last stored one, or merges they have not
        followed for missed_after."""
        return bool(self.missed_since_last_run) or self.merged_since_last_run > 0

    def _hours_ago(self, when: datetime) -> str:
        return f"{(self.checked_at - when).total_seconds() / 3600:.0f} h ago"

    def problem(self, missed_by: str = "stored only by this run", repo: str | None = None) -> str:
        """What is wrong, in one sentence without the advice; ``repo``: the repository's name as
        the reader shows it (the dashboard: a code span)."""
        parts = []
        missed = self.missed_since_last_run
        if missed:
            numbers = ", ".join(f"#{pr.number}" for pr in missed[:LISTED])
            more = f" and {len(missed) - LISTED} more" if len(missed) > LISTED else ""
            latest = max(pr.first_stored_at - pr.merged_at for pr in missed)
            parts.append(
                f"{_prs(len(missed))} {'was' if len(missed) == 1 else 'were'} {missed_by}, "
                f"up to {latest.total_seconds() / 3600:.0f} h after their merge ({numbers}{more})"
            )
        if self.merged_since_last_run:
            last = self.last_merge_run_at
            since = f"since {last:%Y-%m-%d %H:%M} UTC ({self._hours_ago(last)})" if last else "yet"
            parts.append(
                f"no merge run has stored a PR {since}, and none stored the {_prs(self.merged_since_last_run)} "
                f"since then more than {self.missed_after.total_seconds() / 3600:g} h ago"
            )
        return f"merge runs of {repo or self.repo} stopped: " + "; ".join(parts)

    def notice(self) -> str:
        """The one line: what is wrong and where to look."""
        return f"{self.problem()}: {CHECK}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "stopped": self.stopped,
            "missed_after_hours": self.missed_after.total_seconds() / 3600,
            "first_merge_run_at": self.first_merge_run_at.isoformat() if self.first_merge_run_at else None,
            "last_merge_run_at": self.last_merge_run_at.isoformat() if self.last_merge_run_at else None,
            "merged_since_last_run": self.merged_since_last_run,
            "missed": {str(pr.number): pr.first_stored_by for pr in self.missed},
            "warnings": self.warnings,
        }


def _parameters(repos: list[str], missed_after: timedelta, **more: datetime) -> dict[str, Any]:
    """The named parameters both statements take, and ``more``."""
    return {
        "repos": repos,
        "merge_run_triggers": list(MERGE_RUN_TRIGGERS),
        "merge_event_triggers": list(MERGE_EVENT_TRIGGERS),
        "missed_after_hours": missed_after.total_seconds() / 3600,
        **more,
    }


def missed_by_merge_runs(
    con: duckdb.DuckDBPyConnection,
    repos: list[str],
    missed_after: timedelta,
    stored_since: datetime,
) -> list[dict[str, Any]]:
    """The merged PRs of ``repos`` (none: every repository) the merge runs missed, stored first
    since ``stored_since``."""
    cursor = con.execute(MISSED_BY_MERGE_RUNS_SQL, _parameters(repos, missed_after, stored_since=stored_since))
    columns = [column[0] for column in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def check_merge_runs(
    con: duckdb.DuckDBPyConnection,
    repos: list[str],
    now: datetime,
    missed_after: timedelta,
    stored_since: datetime,
) -> list[MergeRunCheck]:
    """Each repository of ``repos`` (none: every one) that ever recorded a merge run, checked as of
    ``now``; the missed PRs are those first stored since ``stored_since`` (the scheduled run: its
    own start; the dashboard: the last days)."""
    rows = con.execute(MERGE_RUNS_SQL, _parameters(repos, missed_after, now=now)).fetchall()
    checks = {repo: MergeRunCheck(repo, now, missed_after, first, last, merged) for repo, first, last, merged in rows}
    for row in missed_by_merge_runs(con, repos, missed_after, stored_since):
        checks[row["repo"]].missed.append(
            MissedPullRequest(
                row["number"],
                row["title"],
                row["merged_at"],
                row["first_stored_at"],
                row["first_stored_by"],
                row["html_url"],
            )
        )
    return list(checks.values())
