"""The Now page: the open queue, its history, abandoned PRs and the working agreements.

The open queue is each repository's latest open-PR snapshot (``open-prs``), classified by
``fetcher.compute.whose_move`` as of the latest snapshot of the repositories shown (not the wall clock:
the page says what the last snapshot saw). The sidebar's repositories, authors and bot switch
apply; its merge dates do not (these PRs are not merged).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from dashboard.agreements import Agreements, merged_measures, open_measures, working_days
from dashboard.queries.common import Connection, Filters, filtered_frame, run
from fetcher.compute.whose_move import STALE_WORKING_DAYS, WHOSE_MOVE_SQL
from fetcher.publish.digest import ORDER as DIGEST_ORDER

_QUEUE_FILTER = """(len($repos) = 0 OR list_contains($repos, repo))
    AND (len($authors) = 0 OR list_contains($authors, login_or_ghost(author_login)))
    AND ($bots OR NOT is_bot(author_login, author_type))"""


def latest_snapshot(con: Connection, repos: tuple[str, ...] = ()) -> datetime | None:
    """When the latest open-PR snapshot of these repositories (all when empty) was taken; None: never."""
    row = run(
        con,
        "SELECT max(snapshot_at) FROM open_pr_snapshot_runs WHERE len($repos) = 0 OR list_contains($repos, repo)",
        {"repos": list(repos)},
    ).fetchone()
    return row[0] if row else None


def _queue_params(filters: Filters, as_of: datetime) -> dict[str, Any]:
    return {
        "repo": None,
        "as_of": as_of,
        "stale_days": STALE_WORKING_DAYS,
        "repos": list(filters.repos),
        "authors": list(filters.authors),
        "bots": filters.include_bots,
    }


def _queue_cte() -> str:
    """``queue AS (...)``: the open PRs of the latest snapshots with their move, as of ``$as_of``."""
    return f"""queue AS (
        SELECT *, login_or_ghost(author_login) AS author, coalesce(additions, 0) + coalesce(deletions, 0) AS size
        FROM ({WHOSE_MOVE_SQL}) WHERE {_QUEUE_FILTER})"""


def open_queue(con: Connection, filters: Filters) -> pd.DataFrame:
    """Every open PR of the latest snapshots that the filters select, with whose move it is and
    how long it has waited (``waited_days``, calendar days since ``waiting_since``), in the
    digest's order of moves, longest waiting first."""
    as_of = latest_snapshot(con, filters.repos)
    if as_of is None:
        return pd.DataFrame()
    params = {**_queue_params(filters, as_of), "order": list(DIGEST_ORDER)}
    return run(
        con,
        f"""WITH {_queue_cte()}
        SELECT move, repo, number, title, author, waiting_since,
               (epoch($as_of::TIMESTAMPTZ) - epoch(waiting_since)) / 86400 AS waited_days, idle_working_days,
               draft, size, human_reviews, checks_state, mergeable, created_at, snapshot_at, html_url
        FROM queue ORDER BY list_position($order, move), waiting_since NULLS LAST, repo, number""",
        params,
    ).df()


def queue_over_time(con: Connection, filters: Filters) -> pd.DataFrame:
    """Per snapshot run: the open PRs it saw that the filters select, ready and drafts (a run
    that saw none counts 0)."""
    return run(
        con,
        f"""WITH seen AS (SELECT * FROM open_pr_snapshots WHERE {_QUEUE_FILTER})
        SELECT r.repo, r.snapshot_at, count(s.number) FILTER (WHERE NOT s.draft) AS ready,
               count(s.number) FILTER (WHERE s.draft) AS drafts, count(s.number) AS open_prs
        FROM open_pr_snapshot_runs r
        LEFT JOIN seen s ON s.repo = r.repo AND s.snapshot_at = r.snapshot_at
        WHERE len($repos) = 0 OR list_contains($repos, r.repo)
        GROUP BY ALL ORDER BY r.snapshot_at, r.repo""",
        {"repos": list(filters.repos), "authors": list(filters.authors), "bots": filters.include_bots},
    ).df()


def abandoned_prs(con: Connection, filters: Filters, days: int = 30) -> pd.DataFrame:
    """PRs closed without merge (``open_pr_closures.merged = false``) in the ``days`` days up to the
    latest snapshot, newest first, with what their last snapshot said about them."""
    as_of = latest_snapshot(con, filters.repos)
    if as_of is None:
        return pd.DataFrame()
    return run(
        con,
        f"""WITH last_seen AS (
            SELECT repo, number, arg_max(title, snapshot_at) AS title, arg_max(html_url, snapshot_at) AS html_url,
                   arg_max(author_login, snapshot_at) AS author_login, arg_max(author_type, snapshot_at) AS author_type,
                   min(created_at) AS created_at
            FROM open_pr_snapshots GROUP BY repo, number
        ), closed AS (
            SELECT c.*, l.* EXCLUDE (repo, number) FROM open_pr_closures c LEFT JOIN last_seen l USING (repo, number)
            WHERE NOT c.merged AND c.closed_at > $since
        )
        SELECT repo, number, title, login_or_ghost(author_login) AS author, created_at, closed_at,
               {working_days("created_at", "closed_at")} AS open_working_days, state_reason,
               closed_by_login AS closed_by, html_url
        FROM closed WHERE {_QUEUE_FILTER} ORDER BY closed_at DESC, repo, number""",
        {
            "since": as_of - timedelta(days=days),
            "repos": list(filters.repos),
            "authors": list(filters.authors),
            "bots": filters.include_bots,
        },
    ).df()


def agreement_weekly(con: Connection, filters: Filters, agreed: Agreements) -> pd.DataFrame:
    """Per ISO week of the merge and agreement: the merged PRs it applies to (``prs``), how many
    met it, and the share (docs/metrics.md "Working agreements")."""
    active = agreed.active()
    if not active:
        return pd.DataFrame(columns=["week", "agreement", "label", "prs", "met", "share"])
    measures = merged_measures()
    parts = [
        f"SELECT date_trunc('week', merged_at) AS week, {position} AS position, '{name}' AS agreement, ? AS label, "
        f"{measures[name]} AS measure, ? AS target FROM filtered"
        for position, name in enumerate(active)
    ]
    params = [value for name, limit in active.items() for value in (agreed.label(name), limit)]
    return filtered_frame(
        con,
        filters,
        f""", measured AS ({" UNION ALL ".join(parts)})
        SELECT week, agreement, label, count(measure) AS prs, count(*) FILTER (WHERE measure <= target) AS met,
               met / nullif(prs, 0) AS share
        FROM measured GROUP BY week, position, agreement, label ORDER BY week, position""",
        params,
    )


def agreement_breaches(con: Connection, filters: Filters, agreed: Agreements) -> pd.DataFrame:
    """The open PRs of the latest snapshots that break an agreement now: a row per PR and agreement
    broken, with the PR's measure (``value``) and the limit."""
    as_of = latest_snapshot(con, filters.repos)
    active = agreed.active()
    if as_of is None or not active:
        return pd.DataFrame()
    measures = open_measures("$as_of")
    parts = [
        f"SELECT repo, number, title, author, move, '{name}' AS agreement, ${name}_label AS label, "
        f"{measures[name]} AS value, ${name} AS target, html_url FROM queue"
        for name in active
    ]
    params = {**_queue_params(filters, as_of), **active, **{f"{n}_label": agreed.label(n) for n in active}}
    return run(
        con,
        f"""WITH {_queue_cte()}, measured AS ({" UNION ALL ".join(parts)})
        SELECT * EXCLUDE (target), target AS "limit" FROM measured WHERE value > target
        ORDER BY list_position($names, agreement), value DESC, repo, number""",
        {**params, "names": list(active)},
    ).df()
