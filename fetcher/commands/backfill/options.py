"""What a backfill run is asked to do: its window of merged PRs, its limits, its batch size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fetcher.collect.graphql.fetch import ListedPullRequest


@dataclass
class BackfillOptions:
    since: datetime | None = None  # merged at or after
    until: datetime | None = None  # merged before
    updated_since: datetime | None = None  # --lookback: updated at or after (what reconcile looks at)
    max_prs: int | None = None
    budget: int | None = None  # points this run may spend
    floor: int = 200  # points left for merge runs
    resume: bool = False
    batch_size: int = 25
    max_seconds: float | None = None
    trigger: str = "backfill"
    progress_bar: bool | None = None  # None: a bar when stderr is a terminal

    @property
    def window(self) -> tuple[datetime | None, datetime | None, datetime | None]:
        return self.since, self.until, self.updated_since

    def includes(self, pr: ListedPullRequest) -> bool:
        merged = pr.merged_at
        if merged is None:
            return False
        if self.since is not None and merged < self.since:
            return False
        if self.until is not None and merged >= self.until:
            return False
        return not (self.updated_since is not None and (pr.updated_at is None or pr.updated_at < self.updated_since))

    @property
    def lower_bound(self) -> datetime | None:
        """Listing by updated_at (newest first) can stop below this: merged_at <= updated_at."""
        bounds = [b for b in (self.since, self.updated_since) if b is not None]
        return max(bounds) if bounds else None
