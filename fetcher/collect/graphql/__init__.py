"""Fetch merged PRs in batches through GitHub's GraphQL API, as the same rows REST sync makes.

- queries: the text of the queries (batch, follow-up, listing) and what GitHub charges for them
- client: the endpoint, metered in points; failures classified by fetcher.collect.policy
- paging: what came back for each PR so far, and the follow-up pages still to fetch
- fetch: the merged PRs of a repository, listed page by page and fetched in batches
- adapter: the answers as the REST payloads records.py reads (identical rows to sync's)
"""

from __future__ import annotations

from fetcher.collect.graphql.queries import batch_query, batch_requests, points

__all__ = ["batch_query", "batch_requests", "points"]
