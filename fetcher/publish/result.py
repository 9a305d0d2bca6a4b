"""What a run did, typed: built by each command (fetcher.cli), read by fetcher.publish.report (stderr,
step summary, annotations, outputs) and fetcher.publish.alerts (Sentry). ``as_dict`` is the ``--json``
document, key for key as each command has always printed it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fetcher.compute.merge_runs import MergeRunCheck
from fetcher.pipeline.sync_pr import SyncResult
from fetcher.storage import UpdateResult


@dataclass
class RunResult:
    command: str  # sync | reconcile | backfill | metrics | open-prs: the shape of the JSON document
    status: str  # complete | partial | incomplete (backfill stopped cleanly) | skipped | failed
    repo: str | None = None
    pr_number: int | None = None
    synced: SyncResult | None = None  # sync: the PR the run was asked for
    title: str | None = None  # of that PR (untrusted text)
    reason: str | None = None  # skipped: why
    error: str | None = None  # failed: the one line
    since: datetime | None = None  # reconcile: its window
    window: dict[str, str | None] | None = None  # backfill: its window
    reconcile: dict[str, Any] | None = None  # the reconcile part (ReconcileReport.as_dict, or backfill's)
    backfill: dict[str, Any] | None = None  # BackfillReport.as_dict
    reconciled: list[SyncResult] | None = None  # PRs a reconcile synced that need attention; None: none run
    merge_runs: MergeRunCheck | None = None  # --check-merge-runs: are merge runs storing merged PRs?
    recomputed: int | None = None  # metrics --recompute: PRs recomputed
    open_prs: dict[str, Any] | None = None  # open-prs: OpenPrsReport.as_dict
    digest: str | None = None  # open-prs: the digest's Markdown, for the step summary
    storage: UpdateResult[Any] | None = None
    repos: list[RunResult] | None = None  # organisation mode (--repos, --org): each repository's run, in order
    api_requests: int = 0
    duration_s: float = 0.0

    @classmethod
    def skipped(cls, command: str, reason: str) -> RunResult:
        return cls(command, "skipped", reason=reason)

    @classmethod
    def failed(cls, command: str, error: str, repo: str | None, pr_number: int | None) -> RunResult:
        return cls(command, "failed", repo=repo, pr_number=pr_number, error=error)

    @property
    def results(self) -> list[SyncResult]:
        """Every PR this run synced that is reported on its own: the PR asked for, then the reconciled."""
        return ([self.synced] if self.synced else []) + (self.reconciled or [])

    @property
    def duration(self) -> float:
        """The run's duration as reported (a sync reports its PR's)."""
        return round(self.synced.duration_s if self.synced else self.duration_s, 3)

    def by_status(self) -> dict[str, list[str]]:
        """Organisation mode: the repositories of each status (complete, partial, failed, ...)."""
        grouped: dict[str, list[str]] = {}
        for run in self.repos or []:
            grouped.setdefault(run.status, []).append(str(run.repo))
        return grouped

    def as_dict(self) -> dict[str, Any]:
        if self.repos is not None:
            return {
                "status": self.status,
                "command": self.command,
                "repositories": self.by_status(),
                "repos": {str(run.repo): run.as_dict() for run in self.repos},
                "api_requests": self.api_requests,
                "duration_s": round(self.duration_s, 3),
            }
        if self.status == "failed":
            return {"status": "failed", "error": self.error, "repo": self.repo, "pr_number": self.pr_number}
        if self.status == "skipped":
            return {"status": "skipped", "reason": self.reason, "api_requests": self.api_requests}
        if self.command == "open-prs":
            return {
                "status": self.status,
                "repo": self.repo,
                **(self.open_prs or {}),
                "storage": self._storage(),
                "api_requests": self.api_requests,
                "duration_s": self.duration,
            }
        if self.command == "metrics":
            return {"status": self.status, "recomputed": self.recomputed, "storage": self._storage()}
        if self.command == "sync":
            assert self.synced is not None
            document = {**self.synced.as_dict(), "title": self.title}
            document.update(self._reconcile_parts())
            document["storage"] = self._storage()
            document["api_requests"] = self.api_requests  # the run's, the PR's and the reconciled PRs'
            return document
        if self.command == "reconcile":
            return {
                "status": self.status,
                "repo": self.repo,
                "since": self.since.isoformat() if self.since else None,
                **self._reconcile_parts(),
                **self._merge_runs(),
                "storage": self._storage(),
                "api_requests": self.api_requests,
                "duration_s": self.duration,
            }
        document = {
            "status": self.status,
            "repo": self.repo,
            "window": self.window,
            "backfill": self.backfill,
            "reconciled": [result.as_dict() for result in self.reconciled or []],
            "storage": self._storage(),
            "api_requests": self.api_requests,
            "duration_s": self.duration,
        }
        if self.reconcile is not None:  # the scheduled run (--lookback): reported as the reconcile it is
            document["reconcile"] = self.reconcile
        document.update(self._merge_runs())
        return document

    def _merge_runs(self) -> dict[str, Any]:
        return {} if self.merge_runs is None else {"merge_runs": self.merge_runs.as_dict()}

    def _reconcile_parts(self) -> dict[str, Any]:
        if self.reconcile is None:
            return {}
        return {
            "reconcile": self.reconcile,
            # the PRs that need attention, for annotations and Sentry
            "reconciled": [result.as_dict() for result in self.reconciled or []],
        }

    def _storage(self) -> dict[str, Any] | None:
        update = self.storage
        if update is None:
            return None
        return {
            "location": update.location,
            "local_path": str(update.local_path),
            "size_bytes": update.size_bytes,
            "counts": update.counts,
            "created": update.created,
            "attempts": update.attempts,
            "notes": update.notes,
            "artifact_name": update.artifact_name,
            "artifact_copies": list(update.artifact_copies) if update.artifact_copies is not None else None,
            "verified": True,
        }
