"""The Data health page: the last sync, the DB's size and its artifact copies, partial or truncated PRs,
recent sync runs."""

from __future__ import annotations

import streamlit as st

from dashboard.queries import Filters
from dashboard.ui import PR_LINK, PR_NUMBER, Query, fmt, linked


def render(q: Query, filters: Filters) -> None:
    st.header("Data health")
    summary = q("health_summary", filters.repos)
    cols = st.columns(4)
    cols[0].metric("Last successful sync", fmt(summary["last_successful_sync_at"]))
    cols[1].metric("PRs stored", fmt(summary["prs"]), help=f"{summary['merged_prs']:,} merged")
    cols[2].metric("Partial PRs", fmt(summary["partial_prs"]), help="some sections failed on the last sync")
    cols[3].metric("Failed runs", fmt(summary["failed_runs"]), help=f"of {summary['sync_runs']:,} sync runs")
    size, copies = q("database_size"), q("artifact_copies")
    if size is not None:
        stored = st.columns(2)
        stored[0].metric("Database size", f"{size / 1e6:,.1f} MB", help="the DuckDB file: what each run stores")
        if not copies.empty:
            held = f"{copies['size_bytes'].sum() / 1e6:,.1f} MB zipped"
            stored[1].metric(
                "Artifact copies held",
                fmt(len(copies)),
                help=f"{held}, as GitHub listed them on {fmt(copies['listed_at'].max())}, before that run "
                "uploaded its own copy; prune-artifacts then keeps the newest trusted ones (README, Artifact storage)",
            )
    lake = q("lake_health")
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
    partial = q("partial_prs", filters.repos)
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
    runs = q("recent_sync_runs", filters.repos)
    if runs.empty:
        st.caption("No sync has run yet.")
    else:
        st.dataframe(runs, hide_index=True)
