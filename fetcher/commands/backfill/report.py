"""What a backfill run did: counts, failures, points and requests, why it stopped; as a summary
line and as the JSON document's ``backfill`` part."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fetcher.pipeline.sync_pr import SyncResult


@dataclass
class BackfillReport:
    repo: str
    listed: int = 0  # merged PRs in the window(s) listed in this run
    resumed: int = 0  # PRs taken over from the checkpoint
    up_to_date: int = 0  # listed but already stored complete and unchanged: skipped
    results: list[SyncResult] = field(default_factory=list)
    failures: dict[int, str] = field(default_factory=dict)
    over_rest: list[int] = field(default_factory=list)  # PRs synced over REST (fallback)
    rest_files: list[int] = field(default_factory=list)  # PRs whose files section came over REST
    reasons: dict[int, str] = field(default_factory=dict)  # why each PR to sync needed it
    remaining: int = 0  # PRs left for --resume
    listing_done: bool = True
    stopped: str | None = None  # why the run stopped before the end
    graphql_unavailable: str | None = None
    points: int = 0
    graphql_requests: int = 0
    rest_requests: int = 0
    rate_remaining: int | None = None
    reset_at: datetime | None = None
    batch_sizes: list[int] = field(default_factory=list)
    shrinks: int = 0
    duration_s: float = 0.0

    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in [r.status for r in self.results] + ["failed"] * len(self.failures):
            counts[status] = counts.get(status, 0) + 1
        return counts

    @property
    def synced(self) -> int:
        return len(self.results)

    @property
    def complete(self) -> bool:
        return not self.failures and all(r.status == "complete" for r in self.results)

    @property
    def status(self) -> str:
        """complete | partial (a PR failed or ended partial) | incomplete (stopped cleanly: floor,
        budget, time, --max-prs; --resume continues)."""
        if self.failures or not self.complete:
            return "partial"
        if self.remaining or not self.listing_done:
            return "incomplete"
        return "complete"

    def as_reconcile(self) -> dict[str, Any]:
        """A --lookback run as the reconcile it is: the JSON document's ``reconcile`` part."""
        return {
            "examined": self.listed,
            "found": len(self.reasons),
            "synced": self.statuses(),
            "prs": {str(number): reason for number, reason in self.reasons.items()},
            "failures": {str(number): reason for number, reason in self.failures.items()},
        }

    def summary(self) -> str:
        left = f"{self.remaining} left for --resume" if self.remaining or not self.listing_done else "nothing left"
        if not self.listing_done:
            left += " (listing unfinished)"
        line = (
            f"backfill {self.repo}: {self.synced} PRs synced "
            f"({', '.join(f'{n} {s}' for s, n in self.statuses().items()) or 'none'}), "
            f"{self.up_to_date} already up to date; {self.points} points in {self.graphql_requests} GraphQL "
            f"queries, {self.rest_requests} REST requests; {self.duration_s:.1f} s; {left}"
        )
        if self.stopped:
            line += f"; stopped: {self.stopped}"
        return line

    def as_dict(self) -> dict[str, Any]:
        per_pr = self.points / self.synced if self.synced else None
        return {
            "listed": self.listed,
            "resumed": self.resumed,
            "up_to_date": self.up_to_date,
            "synced": self.statuses(),
            "remaining": self.remaining,
            "listing_done": self.listing_done,
            "stopped": self.stopped,
            "graphql_unavailable": self.graphql_unavailable,
            "over_rest": self.over_rest,
            "files_over_rest": self.rest_files,
            "failures": {str(n): reason for n, reason in self.failures.items()},
            "points": self.points,
            "points_per_pr": round(per_pr, 3) if per_pr is not None else None,
            "graphql_requests": self.graphql_requests,
            "rest_requests": self.rest_requests,
            "rate_limit_remaining": self.rate_remaining,
            "rate_limit_reset_at": self.reset_at.isoformat() if self.reset_at else None,
            "batch_sizes": self.batch_sizes,
            "shrinks": self.shrinks,
            "duration_s": round(self.duration_s, 3),
        }
