"""The Overview page: the headline numbers against the previous period, and the weekly picture."""

from __future__ import annotations

import streamlit as st

from dashboard.queries import Filters
from dashboard.queries.overview import overview, stage_medians, weekly_trends
from dashboard.ui import (
    Query,
    bot_rule,
    chart,
    cycle_and_pickup_lines,
    fmt,
    fmt_change,
    no_prs,
    period_caption,
    throughput_bars,
)
from fetcher.compute.metrics import HEADLINE, METRIC_BY_NAME


def render(q: Query, filters: Filters) -> None:
    st.header("Overview")
    st.caption(period_caption(filters))
    frame = q(overview, filters)
    columns = [column for _ in range(2) for column in st.columns(4)]
    for column, row in zip(columns, frame.itertuples(), strict=True):
        column.metric(
            row.label,
            fmt(row.current, row.unit),
            delta=fmt_change(row.change, row.unit),
            delta_color="inverse" if row.lower_is_better else "normal",
            delta_description="vs previous period",
            border=True,
        )
    slowest_stage(q, filters)
    weekly = q(weekly_trends, filters)
    if weekly.empty:
        no_prs()
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Merged PRs per week")
        chart(throughput_bars(weekly))
    with right:
        st.subheader("Cycle time and pickup, weekly median")
        chart(cycle_and_pickup_lines(weekly))
    definitions = " ".join(f"{METRIC_BY_NAME[name].label}: {METRIC_BY_NAME[name].definition}." for name in HEADLINE)
    st.caption(f"{definitions} Bots' PRs are left out unless **Include bots** is on. {bot_rule(q)}")


def slowest_stage(q: Query, filters: Filters) -> None:
    """The stage with the largest median in the period, called out."""
    stages = q(stage_medians, filters).dropna(subset=["median"])
    if stages.empty:
        return
    slowest = stages.loc[stages["median"].idxmax()]
    st.info(
        f"**Slowest stage: {slowest['label'].lower()}**, median {fmt(slowest['median'], 'h')} "
        f"(medians of the other stages: "
        + ", ".join(
            f"{row.label.lower()} {fmt(row.median, 'h')}"
            for row in stages.itertuples()
            if row.stage != slowest["stage"]
        )
        + ")."
    )
