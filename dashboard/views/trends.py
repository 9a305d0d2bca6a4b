"""The Trends page: weekly medians, throughput, PR size, and PR size against cycle time."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.queries import SIZE_BUCKETS, Filters
from dashboard.queries.overview import size_and_cycle_time, size_distribution, weekly_stages, weekly_trends
from dashboard.ui import (
    Query,
    chart,
    cycle_and_pickup_lines,
    hours_lines,
    no_prs,
    period_caption,
    stage_bars,
    throughput_bars,
)


def render(q: Query, filters: Filters) -> None:
    st.header("Trends")
    st.caption(period_caption(filters) + " Weeks start on Monday (UTC).")
    weekly = q(weekly_trends, filters)
    if weekly.empty:
        no_prs()
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Cycle time and pickup (median, hours)")
        chart(cycle_and_pickup_lines(weekly))
        st.subheader("Throughput (merged PRs)")
        chart(throughput_bars(weekly))
    with right:
        st.subheader("Review rounds per PR")
        chart(
            hours_lines(weekly, {"review_rounds_median": "median", "review_rounds_mean": "mean"}, title="review rounds")
        )
        st.subheader("PR size (lines added + deleted, median)")
        chart(hours_lines(weekly, {"size_median": "lines changed"}, title="lines"))
    st.subheader("Where the time went, per week")
    st.caption(
        "Each merged PR's cycle time split into draft, pickup (to the first response by a person), review (to "
        "the last approval) and merge; the mean of each stage, so a bar is the week's mean cycle time."
    )
    chart(stage_bars(q(weekly_stages, filters)))
    sizes = q(size_distribution, filters)
    st.subheader("PRs by size")
    st.caption("XS ≤ 10 lines, S ≤ 50, M ≤ 250, L ≤ 1000, XL more; with the median cycle time of each.")
    chart(
        alt.Chart(sizes)
        .mark_bar()
        .encode(
            x=alt.X("bucket:N", sort=[name for name, _ in SIZE_BUCKETS], title=None),
            y=alt.Y("prs:Q", title="PRs"),
            tooltip=["bucket", "prs", alt.Tooltip("cycle_time_hours:Q", format=".1f", title="median cycle (h)")],
        )
    )
    st.subheader("PR size against cycle time")
    scatter = q(size_and_cycle_time, filters)
    st.caption(
        "Each PR: lines added + deleted against hours from opening to merge, both on log scales "
        "(PRs of 0 lines are left out)."
    )
    if not scatter.empty:
        chart(
            alt.Chart(scatter)
            .mark_circle(opacity=0.6)
            .encode(
                x=alt.X("size:Q", scale=alt.Scale(type="log"), title="lines changed (log)"),
                y=alt.Y("cycle_time_hours:Q", scale=alt.Scale(type="log"), title="cycle time, hours (log)"),
                tooltip=[
                    "repo",
                    "number",
                    "author",
                    "size",
                    alt.Tooltip("cycle_time_hours:Q", format=".1f", title="cycle (h)"),
                ],
            )
        )
