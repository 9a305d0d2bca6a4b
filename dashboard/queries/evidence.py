"""The evidence behind each metric of one PR: the rows it was computed from, the ones counted marked,
so a surprising number can be checked by eye. Which rows count is the rules' (``fetcher/compute/sql/rules.sql``):
the same macros the metrics are computed with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashboard.queries.common import Connection, fetch_frame
from dashboard.queries.prs import pr_stages, pull_request
from fetcher.compute.metrics import METRIC_BY_NAME, metrics_scope


@dataclass(frozen=True)
class Evidence:
    """One metric of one PR, with the rows it was computed from (``counted`` marks the ones used)."""

    metric: str
    label: str
    value: Any
    definition: str
    rows: pd.DataFrame


def metric_evidence(con: Connection, repo: str, number: int) -> list[Evidence]:
    """Each metric of one PR next to the rows that produced it (docs/metrics.md definitions)."""
    pr = pull_request(con, repo, number)
    if pr.empty:
        return []
    p = pr.iloc[0]
    key = [repo, number]
    reviews = fetch_frame(
        con,
        """SELECT r.id, login_or_ghost(r.reviewer_login) AS reviewer, r.reviewer_type, r.state, r.submitted_at,
                   review_excluded_because(r.state, r.submitted_at, r.reviewer_login, r.reviewer_type,
                                           p.author_login, p.merged_at) AS excluded_because,
                   left(coalesce(r.body, ''), 200) AS body
            FROM pr_reviews r JOIN pull_requests p ON p.repo = r.repo AND p.number = r.pr_number
            WHERE r.repo = ? AND r.pr_number = ? ORDER BY r.submitted_at NULLS LAST, r.id""",
        key,
    )
    reviews["counted"] = reviews["excluded_because"].isna()
    first_review_at = p["first_review_at"]
    reviews["first_review"] = reviews["counted"] & (reviews["submitted_at"] == first_review_at)

    ready_events = fetch_frame(
        con,
        "SELECT seq, event, actor_login, created_at FROM pr_events "
        "WHERE repo = ? AND pr_number = ? AND event = 'ready_for_review' ORDER BY created_at, seq",
        key,
    )
    ready_events["counted"] = ready_events["created_at"] == p["ready_for_review_at"]

    commits = fetch_frame(
        con,
        "SELECT sha, coalesce(author_login, author_name) AS author, authored_at, committed_at, "
        "is_merge_commit(c.parents) AS merge_commit, split_part(coalesce(message, ''), chr(10), 1) AS message "
        "FROM pr_commits c WHERE repo = ? AND pr_number = ? ORDER BY committed_at, position, sha",
        key,
    )
    commits["counted"] = ~commits["merge_commit"] & (
        commits["committed_at"] > first_review_at if pd.notna(first_review_at) else False
    )  # after the first review, and no merge commit

    with metrics_scope(con, repo, [number]):  # the rounds as the metrics count them, one row per change request
        rounds = fetch_frame(
            con,
            """SELECT r.id AS review_id, login_or_ghost(r.reviewer_login) AS reviewer, r.submitted_at,
                       min(c.committed_at) AS first_commit_after,
                       arg_min(c.sha, c.committed_at) AS fix_sha,
                       hours_between(r.submitted_at, min(c.committed_at)) AS fix_response_hours
                FROM human_reviews() r
                LEFT JOIN fix_commits() c
                  ON c.repo = r.repo AND c.pr_number = r.pr_number AND c.committed_at > r.submitted_at
                WHERE r.state = 'CHANGES_REQUESTED'
                GROUP BY r.id, r.reviewer_login, r.submitted_at ORDER BY r.submitted_at""",
        )
    rounds["counted"] = rounds["first_commit_after"].notna()

    comments = fetch_frame(
        con,
        """SELECT 'issue comment' AS kind, id, login_or_ghost(author_login) AS author, author_type, created_at,
                   NOT is_bot(author_login, author_type) AS counted, left(coalesce(body, ''), 200) AS body
            FROM pr_comments WHERE repo = ? AND pr_number = ? AND comment_type = 'issue'
            UNION ALL
            SELECT 'review comment', id, login_or_ghost(author_login), author_type, created_at,
                   NOT is_bot(author_login, author_type), left(coalesce(body, ''), 200)
            FROM pr_comments WHERE repo = ? AND pr_number = ? AND comment_type = 'review'
            UNION ALL
            SELECT 'review body', r.id, login_or_ghost(r.reviewer_login), r.reviewer_type, r.submitted_at,
                   is_counted_review_body(r.reviewer_login, r.reviewer_type, r.body), left(coalesce(r.body, ''), 200)
            FROM pr_reviews r WHERE r.repo = ? AND r.pr_number = ?
            ORDER BY created_at NULLS LAST, id""",
        key * 3,
    )

    responses = fetch_frame(
        con,
        """SELECT m.comment_type || ' comment' AS kind, m.id, login_or_ghost(m.author_login) AS author,
                   m.author_type, m.created_at AS at,
                   comment_excluded_because(m.author_login, m.author_type, m.created_at, p.author_login, p.merged_at)
                       AS excluded_because
            FROM pr_comments m JOIN pull_requests p ON p.repo = m.repo AND p.number = m.pr_number
            WHERE m.repo = ? AND m.pr_number = ?""",
        key,
    )
    review_rows = reviews.rename(columns={"reviewer": "author", "reviewer_type": "author_type", "submitted_at": "at"})
    responses = pd.concat(
        [responses, review_rows.assign(kind="review")[list(responses.columns)]], ignore_index=True
    ).sort_values(["at", "id"], na_position="last", ignore_index=True)
    responses["counted"] = responses["excluded_because"].isna() & (responses["at"] == p["first_response_at"])

    force_pushes = fetch_frame(
        con,
        "SELECT seq, actor_login, created_at FROM pr_events "
        "WHERE repo = ? AND pr_number = ? AND event = 'head_ref_force_pushed' ORDER BY created_at, seq",
        key,
    )
    force_pushes["counted"] = True
    stages = pr_stages(con, repo, number)

    cycle = pd.DataFrame([{"created_at": p["created_at"], "merged_at": p["merged_at"]}])
    ready_rows = pd.concat(
        [
            pd.DataFrame(
                [{"event": "opened", "actor_login": p["author"], "created_at": p["created_at"], "counted": False}]
            ),
            ready_events.drop(columns="seq"),
        ],
        ignore_index=True,
    )
    if not ready_rows["counted"].any():
        ready_rows.loc[0, "counted"] = True  # no ready_for_review event before the review: created_at
    rows = {
        "cycle_time_hours": cycle,
        "first_review_at": reviews,
        "ready_for_review_at": ready_rows,
        "pickup_hours": reviews[reviews["first_review"]],
        "first_response_at": responses,
        "review_rounds": rounds,
        "avg_fix_response_hours": rounds[rounds["counted"]],
        "commits_after_first_review": commits,
        "total_comments": comments,
        "force_pushes": force_pushes,
        **{
            row.stage: stages[stages["stage"] == row.stage].drop(columns=["stage", "label"])
            for row in stages.itertuples()
        },
    }
    return [
        Evidence(name, METRIC_BY_NAME[name].label, p[name], METRIC_BY_NAME[name].definition, frame)
        for name, frame in rows.items()
    ]
