"""The CI page: failure rate per check, and checks that failed and then passed on the same PR."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.queries import Filters
from dashboard.queries.ci import check_summary, flaky_checks
from dashboard.ui import CHECK_LINK, Query, chart, linked, period_caption


def render(q: Query, filters: Filters) -> None:
    st.header("CI")
    st.caption(period_caption(filters) + " Check runs of the PRs' head commits, re-runs included.")
    checks = q(check_summary, filters)
    if checks.empty:
        st.info("No check runs for the PRs these filters select.")
        return
    chart(
        alt.Chart(checks)
        .mark_bar()
        .encode(
            y=alt.Y("name:N", sort="-x", title=None),
            x=alt.X("failure_rate:Q", axis=alt.Axis(format="%"), title="failure rate"),
            tooltip=["name", "runs", "failures", alt.Tooltip("failure_rate:Q", format=".1%"), "flaky_prs"],
        )
    )
    st.dataframe(
        checks,
        hide_index=True,
        column_config={
            "failure_rate": st.column_config.ProgressColumn("failure rate", format="percent", min_value=0, max_value=1),
            "median_duration_s": st.column_config.NumberColumn("median duration (s)", format="%.0f"),
            "flaky_prs": st.column_config.NumberColumn(
                "likely flaky on PRs", help="failed, then passed on the same PR"
            ),
        },
    )
    st.subheader("Failed, then passed on the same PR (likely flaky)")
    flaky = q(flaky_checks, filters)
    if flaky.empty:
        st.caption("None in this period.")
    else:
        st.caption("same commit: a failing and a later passing run share a head commit (a re-run, not a fix).")
        st.dataframe(linked(flaky), hide_index=True, column_config={"html_url": CHECK_LINK})
