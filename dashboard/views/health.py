"""The Data health page: the merge runs (red when they stopped), the last sync, the DB's size and
its artifact copies, partial or truncated PRs, recent sync runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard.queries import Filters
from dashboard.queries import health as queries
from dashboard.safe import literal
from dashboard.ui import PR_LINK, PR_NUMBER, Query, fmt, linked
from fetcher.compute import merge_runs
from fetcher.config import Environment

MISSED_DAYS = 7  # the missed PRs shown: those first stored in the last week (the schedule looks back 7 days)


def render(q: Query, filters: Filters) -> None:
    st.header("Data health")
    show_merge_runs(q, filters)
    summary = q(queries.health_summary, filters.repos)
    cols = st.columns(4)
    cols[0].metric("Last successful sync", fmt(summary["last_successful_sync_at"]))
    cols[1].metric("PRs stored", fmt(summary["prs"]), help=f"{summary['merged_prs']:,} merged")
    cols[2].metric("Partial PRs", fmt(summary["partial_prs"]), help="some sections failed on the last sync")
    cols[3].metric("Failed runs", fmt(summary["failed_runs"]), help=f"of {summary['sync_runs']:,} sync runs")
    size, copies = q(queries.database_size), q(queries.artifact_copies)
    if size is not None:
        stored = st.columns(2)
        stored[0].metric("Database size", f"{size / 1e6:,.1f} MB", help="the DuckDB file: what each run stores")
        if not copies.empty:
            held = f"{copies['size_bytes'].sum() / 1e6:,.1f} MB zipped"
            stored[1].metric(
                "Artifact copies held",
                fmt(len(copies)),
                help=f"{held}, as GitHub listed them on {fmt(copies['listed_at'].max())}, before that run "
                "uploaded its own copy; prune-artifacts then keeps the newest trusted ones "
                "(docs/operations.md, Artifact storage)",
            )
    lake = q(queries.lake_health)
    if lake is not None:  # a DuckLake: every commit adds small files until it is compacted
        files, compacted = st.columns(2)
        files.metric("Data files", fmt(lake["data_files"]), help="the DuckLake's live Parquet files")
        compacted.metric(
            "Last compaction",
            fmt(lake["last_compaction_at"]) if lake["last_compaction_at"] is not None else "never",
            help=f"python -m fetcher compact; {fmt(lake['data_files_after_compaction'])} data files after it",
        )
    if not copies.empty:
        st.subheader("Database copies on GitHub")
        st.caption("The artifact copies the last run listed; untrusted ones are never used or deleted.")
        st.dataframe(copies.drop(columns="listed_at"), hide_index=True)
    st.subheader("Partial or truncated PRs")
    partial = q(queries.partial_prs, filters.repos)
    if partial.empty:
        st.caption("None: every stored PR was fetched completely on its last sync.")
    else:
        st.caption("Failed sections keep the rows of an earlier sync; the next sync of the PR retries them.")
        st.dataframe(
            linked(partial),
            hide_index=True,
            column_config={"number": PR_NUMBER, "html_url": PR_LINK},
            column_order=[c for c in partial.columns],
        )
    st.subheader("Recent sync runs")
    runs = q(queries.recent_sync_runs, filters.repos)
    if runs.empty:
        st.caption("No sync has run yet.")
    else:
        st.dataframe(runs, hide_index=True)


def show_merge_runs(q: Query, filters: Filters) -> None:
    """In red when merge runs stopped storing merged PRs: what the scheduled run's
    ``--check-merge-runs`` says (fetcher.compute.merge_runs), the PRs they missed, and what to check."""
    try:
        missed_after = merge_runs.missed_after(Environment.from_environ().missed_after_hours)
    except ValueError as exc:
        missed_after = merge_runs.DEFAULT_MISSED_AFTER
        st.warning(f"{literal(exc)}: {missed_after.total_seconds() / 3600:g} h is used")
    # the next whole minute: cached for a minute at most, and never before a run that just began
    as_of = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    checks = q(queries.merge_runs_health, filters.repos, as_of, missed_after, MISSED_DAYS)
    stopped = [check for check in checks if check.stopped]
    for check in stopped:
        # our words, numbers and times; the repository's name (from the DB) as a code span
        problem = check.problem(missed_by="first stored by another run", repo=literal(check.repo))
        st.error(f"**{problem[0].upper()}{problem[1:]}.**")
    if stopped:
        causes = "\n".join(f"- **{name}**: {how}." for name, how in merge_runs.CAUSES)  # our own text
        st.markdown(f"Check the merge runs (the workflow's runs for merged PRs):\n\n{causes}")
    if checks:
        last = max((c.last_merge_run_at for c in checks if c.last_merge_run_at is not None), default=None)
        st.caption(f"Merge runs: the last one that stored a PR began {fmt(last)}.")
    missed = pd.DataFrame(
        [{"repo": check.repo, **vars(pr)} for check in checks for pr in check.missed],
        columns=["repo", "number", "title", "merged_at", "first_stored_at", "first_stored_by", "html_url"],
    )
    if not missed.empty:
        st.caption(f"Merged PRs the merge runs missed, first stored by another run in the last {MISSED_DAYS} days:")
        st.dataframe(linked(missed), hide_index=True, column_config={"number": PR_NUMBER, "html_url": PR_LINK})
