"""The Now page: what is waiting right now (the latest open-PR snapshot, by whose move), how the
queue grew or shrank, the PRs given up on, and the working agreements (MERGELENS_AGREEMENTS):
the weekly share of merged PRs meeting each, and the open PRs breaking one."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import agreements
from dashboard.queries import Filters
from dashboard.queries import now as queries
from dashboard.safe import literal
from dashboard.ui import COUNT_AXIS, PR_LINK, PR_NUMBER, UTC_X, Query, chart, fmt, linked, no_prs, period_caption
from fetcher.publish.digest import HEADINGS, ORDER, WHOSE

ABANDONED_DAYS = 30
GET_SNAPSHOTS = "python -m fetcher open-prs --repo OWNER/NAME --db mergelens.duckdb"
DAYS = "%.1f"


def render(q: Query, filters: Filters) -> None:
    st.header("Now")
    agreed, problem = agreements.from_environ()
    if problem:
        st.warning(problem)  # our own words: the setting's value is never shown
    as_of = q(queries.latest_snapshot, filters.repos)
    if as_of is None:
        st.info(
            "**No open-PR snapshots yet.** The open queue comes from `open-prs`, which stores a snapshot of "
            "every open PR (the scheduled workflow runs it after its backfill). Run it once:"
        )
        st.code(GET_SNAPSHOTS, language="bash")
    else:
        open_queue(q, filters, as_of)
        breaches(q, filters, agreed)
        queue_history(q, filters)
        abandoned(q, filters)
    weekly_agreements(q, filters, agreed)


def open_queue(q: Query, filters: Filters, as_of: pd.Timestamp) -> None:
    queue = q(queries.open_queue, filters)
    st.caption(
        f"Open PRs of the latest snapshot ({fmt(as_of)}), classified as of then; the sidebar's repositories, "
        "authors and bot switch apply, its merge dates do not. Definitions: docs/metrics.md, “Now: whose move”."
    )
    counts = queue["move"].value_counts() if not queue.empty else pd.Series(dtype=int)
    columns = [column for _ in range(2) for column in st.columns(4)]
    columns[0].metric("Open PRs", f"{len(queue):,}", border=True)
    for column, move in zip(columns[1:], ORDER, strict=True):
        column.metric(HEADINGS[move], f"{int(counts.get(move, 0)):,}", help=WHOSE[move].capitalize(), border=True)
    st.subheader("The queue, by whose move")
    if queue.empty:
        st.info("No open PR matches these filters in the latest snapshot.")
        return
    table = linked(queue).assign(
        move=queue["move"].map(HEADINGS), whose=queue["move"].map(WHOSE), waiting_since=queue["waiting_since"]
    )
    st.dataframe(
        table[
            [
                "move",
                "whose",
                "repo",
                "number",
                "title",
                "author",
                "waited_days",
                "idle_working_days",
                "size",
                "waiting_since",
                "html_url",
            ]
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "number": PR_NUMBER,
            "html_url": PR_LINK,
            "waited_days": st.column_config.NumberColumn("waiting (days)", format=DAYS),
            "idle_working_days": st.column_config.NumberColumn("idle (working days)"),
            "waiting_since": st.column_config.DatetimeColumn("waiting since (UTC)", format="YYYY-MM-DD HH:mm"),
            "size": st.column_config.NumberColumn("lines changed"),
        },
    )


def breaches(q: Query, filters: Filters, agreed: agreements.Agreements) -> None:
    st.subheader("Open PRs breaking an agreement")
    frame = q(queries.agreement_breaches, filters, agreed)
    if frame.empty:
        st.success("No open PR breaks an agreement." if agreed.active() else "Every agreement is off.")
        return
    st.dataframe(
        linked(frame)[["label", "repo", "number", "title", "author", "value", "limit", "html_url"]],
        hide_index=True,
        width="stretch",
        column_config={
            "label": st.column_config.TextColumn("agreement"),
            "number": PR_NUMBER,
            "value": st.column_config.NumberColumn("now", help="working days, or lines changed for size"),
            "html_url": PR_LINK,
        },
    )


def queue_history(q: Query, filters: Filters) -> None:
    st.subheader("Open PRs over time")
    history = q(queries.queue_over_time, filters)
    long = history.melt(
        id_vars=["repo", "snapshot_at"], value_vars=["ready", "drafts"], var_name="kind", value_name="prs"
    )
    chart(
        alt.Chart(long)
        .mark_area(opacity=0.8, interpolate="step-after")
        .encode(
            x=alt.X("snapshot_at:T", **UTC_X),
            y=alt.Y("sum(prs):Q", title="open PRs", axis=COUNT_AXIS, stack=True),
            color=alt.Color("kind:N", title=None, legend=alt.Legend(orient="top")),
            tooltip=[alt.Tooltip("snapshot_at:T", format="%Y-%m-%d %H:%M"), "kind:N", alt.Tooltip("sum(prs):Q")],
        )
    )
    st.caption("One point per `open-prs` snapshot; several repositories add up.")


def abandoned(q: Query, filters: Filters) -> None:
    st.subheader(f"Closed without merge, last {ABANDONED_DAYS} days")
    frame = q(queries.abandoned_prs, filters, ABANDONED_DAYS)
    if frame.empty:
        st.info(f"No PR was closed without merge in the {ABANDONED_DAYS} days up to the latest snapshot.")
        return
    st.dataframe(
        linked(frame)[
            [
                "repo",
                "number",
                "title",
                "author",
                "closed_at",
                "open_working_days",
                "state_reason",
                "closed_by",
                "html_url",
            ]
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "number": PR_NUMBER,
            "closed_at": st.column_config.DatetimeColumn("closed (UTC)", format="YYYY-MM-DD HH:mm"),
            "open_working_days": st.column_config.NumberColumn("open (working days)"),
            "html_url": PR_LINK,
        },
    )


def weekly_agreements(q: Query, filters: Filters, agreed: agreements.Agreements) -> None:
    st.subheader("Working agreements: merged PRs meeting each, per week")
    st.caption(
        f"{period_caption(filters)} Agreements: {literal(agreed.describe())} (set `MERGELENS_AGREEMENTS`). "
        "Working days are Monday to Friday (UTC). Pickup counts only PRs with a human review."
    )
    if not agreed.active():
        st.info("Every agreement is off.")
        return
    weekly = q(queries.agreement_weekly, filters, agreed)
    if weekly.empty:
        no_prs()
        return
    totals = weekly.groupby("label", sort=False)[["prs", "met"]].sum()
    for column, (label, row) in zip(st.columns(len(totals)), totals.iterrows(), strict=True):
        share = f"{row.met / row.prs:.0%}" if row.prs else "—"
        column.metric(str(label).capitalize(), share, help=f"{row.met} of {row.prs} merged PRs", border=True)
    chart(
        alt.Chart(weekly)
        .mark_line(point=True)
        .encode(
            x=alt.X("week:T", **UTC_X),
            y=alt.Y("share:Q", title="share met", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("label:N", title=None, legend=alt.Legend(orient="top")),
            tooltip=["week:T", "label:N", alt.Tooltip("share:Q", format=".0%"), "met:Q", "prs:Q"],
        )
    )
