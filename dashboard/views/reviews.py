"""The Review dynamics page: review rounds, fix response, reviewer load, PRs merged without a review."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.queries import Filters
from dashboard.ui import HOURS, PR_LINK, PR_NUMBER, PROFILE_LINK, Query, chart, fmt, linked, no_prs, period_caption


def render(q: Query, filters: Filters) -> None:
    st.header("Review dynamics")
    st.caption(period_caption(filters))
    if filters.clock == "work":
        st.caption(
            "The fix responses of single rounds and the reviewers' pickup below are wall-clock hours: "
            "they are measured from the rows here, not stored per PR."
        )
    rounds = q("review_rounds_distribution", filters)
    if rounds.empty:
        no_prs()
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Review rounds per PR")
        chart(
            alt.Chart(rounds)
            .mark_bar()
            .encode(
                x=alt.X("review_rounds:O", title="review rounds"),
                y=alt.Y("prs:Q", title="PRs"),
                tooltip=["review_rounds", "prs"],
            )
        )
    with right:
        fixes = q("fix_responses", filters)
        st.subheader("Fix response")
        if fixes.empty:
            st.info("No review rounds in this period.")
        else:
            st.caption(
                f"{len(fixes)} rounds: median {fmt(fixes['fix_response_hours'].median(), 'h')}, "
                f"p90 {fmt(fixes['fix_response_hours'].quantile(0.9), 'h')} from a change request to the next commit."
            )
            chart(
                alt.Chart(fixes)
                .mark_bar()
                .encode(
                    x=alt.X("fix_response_hours:Q", bin=alt.Bin(maxbins=30), title="hours"),
                    y=alt.Y("count():Q", title="rounds"),
                )
            )
    st.subheader("Reviewer load")
    load = q("reviewer_load", filters)
    if load.empty:
        st.info("No human reviews in this period.")
    else:
        st.caption("Per person (bots left out): PRs reviewed, and their median time from ready-for-review to their "
                   "first review on a PR.")  # fmt: skip
        chart(
            alt.Chart(load)
            .mark_bar()
            .encode(
                y=alt.Y("reviewer:N", sort="-x", title=None),
                x=alt.X("prs_reviewed:Q", title="PRs reviewed"),
                color=alt.Color(
                    "median_pickup_hours:Q", title="median pickup (h)", scale=alt.Scale(scheme="orangered")
                ),
                tooltip=["reviewer", "prs_reviewed", "reviews", alt.Tooltip("median_pickup_hours:Q", format=".1f")],
            )
        )
        st.dataframe(
            linked(load),
            hide_index=True,
            column_order=["reviewer", "reviewer_url", *(c for c in load.columns if c != "reviewer")],
            column_config={
                "median_pickup_hours": st.column_config.NumberColumn("median pickup (h)", format=HOURS),
                "reviewer_url": PROFILE_LINK,
            },
        )
    st.subheader("Merged without a human review")
    unreviewed = q("unreviewed_prs", filters)
    st.caption(f"{len(unreviewed)} PRs merged with no review by a person other than the author.")
    if not unreviewed.empty:
        st.dataframe(
            linked(unreviewed),
            hide_index=True,
            column_order=[
                "number", "html_url", "title", "author", "author_url", "merged_by", "merged_by_url", "merged_at",
                "size", "changed_files", "repo",
            ],
            column_config={
                "number": PR_NUMBER, "html_url": PR_LINK, "author_url": PROFILE_LINK, "merged_by_url": PROFILE_LINK,
            },
        )  # fmt: skip
