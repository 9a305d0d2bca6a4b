"""Backfill a repository's merged PRs in bulk through GraphQL, inside a token's points budget.

1. List the merged PRs of the window (``pullRequests(states: MERGED, orderBy: UPDATED_AT DESC)``,
   100 a query, 1 point): merged since/until, and/or updated since a lookback. PRs already stored
   ``complete`` and not updated on GitHub since their fetch are skipped (reconcile's rule), so no
   PR is fetched twice.
2. Fetch them in batches (fetcher.collect.graphql), follow-ups completing long lists; store each batch
   through the same code as ``sync`` in one transaction that also moves the checkpoint.
3. Before every query: stop cleanly if its estimated cost would take the remaining points under
   ``floor`` (kept for merge runs) or this run over ``budget``; the pending PRs stay in
   ``backfill_pending`` and ``--resume`` (or the next scheduled run) continues with them.
4. Timeouts and 502/504s (big nested queries do time out) halve the batch; calm batches grow it
   back. A PR whose single-PR query still fails, and everything once GraphQL is unavailable
   (404/403 on the endpoint, or failing for good), is synced over REST instead: slower, complete.

Modules: options (what the run is asked), run (the loop), checkpoints (where it stands, for
--resume), batch_size, progress, report (what it did).
"""

from __future__ import annotations

from fetcher.commands.backfill.options import BackfillOptions
from fetcher.commands.backfill.report import BackfillReport
from fetcher.commands.backfill.run import STORE_BATCH, Backfill, backfill

__all__ = ["STORE_BATCH", "Backfill", "BackfillOptions", "BackfillReport", "backfill"]
