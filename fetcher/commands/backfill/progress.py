"""Progress of a backfill run: a tqdm bar on a terminal, a plain line now and then otherwise."""

from __future__ import annotations

import logging
import sys
import time

from fetcher.collect.graphql.client import Meter
from fetcher.commands.backfill.batch_size import BatchSize

log = logging.getLogger("mergelens")

LOG_EVERY_S = 30.0  # plain progress lines (Actions logs) at most this often


class Progress:
    """A tqdm bar on a terminal; a plain line every LOG_EVERY_S seconds otherwise (Actions logs)."""

    def __init__(self, repo: str, total: int, bar: bool | None, meter: Meter, size: BatchSize) -> None:
        self.repo, self.total, self.meter, self.size, self.done = repo, total, meter, size, 0
        self.last = time.monotonic()
        use_bar = sys.stderr.isatty() if bar is None else bar
        self.bar = None
        if use_bar and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="PR", desc=f"backfill {repo}", file=sys.stderr, leave=False)
        log.info("backfill %s: %d PRs to sync", repo, total)

    def advance(self, count: int) -> None:
        self.done += count
        meter = self.meter
        if self.bar is not None:
            self.bar.set_postfix(points=meter.points, left=meter.remaining, batch=self.size.size, refresh=False)
            self.bar.update(count)
        elif time.monotonic() - self.last >= LOG_EVERY_S or self.done == self.total:
            self.last = time.monotonic()
            log.info(
                "backfill %s: %d/%d PRs, %d points (%s left), batch %d",
                self.repo,
                self.done,
                self.total,
                meter.points,
                meter.remaining if meter.remaining is not None else "?",
                self.size.size,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
