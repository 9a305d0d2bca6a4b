"""The Review dynamics page: review rounds, fix response, reviewer load, reviewer response from the request,
first-time contributors against the rest, PRs merged without a review."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.queries import Filters
from dashboard.queries import reviews as queries
from dashboard.ui import (
    COUNT_AXIS,
    HOURS,
    PR_LINK,
    PR_NUMBER,
    PROFILE_LINK,
    Query,
    chart,
    fmt,
    linked,
    no_prs,
    period_caption,
)


def render(q: Query, filters: Filters) -> None:
    st.header("Review dynamics")
    st.caption(period_caption(filters))
    rounds = q(queries.review_rounds_distribution, filters)
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
        fixes = q(queries.fix_responses, filters)
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
    load = q(queries.reviewer_load, filters)
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
    reviewer_response(q, filters)
    first_time_contributors(q, filters)
    st.subheader("Merged without a human review")
    unreviewed = q(queries.unreviewed_prs, filters)
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


def reviewer_response(q: Query, filters: Filters) -> None:
    st.subheader("Reviewer response from the request")
    response = q(queries.reviewer_response, filters)
    if response.empty:
        st.info("No review requests on these PRs.")
        return
    st.caption(
        "Per person or team asked to review (bots left out; a team as owner/slug, answered by anyone but the "
        "author): hours from the request to their next review or comment. A request removed, or still "
        "unanswered at the merge, has no response time and is counted apart. A re-request after an answer "
        "is a new request."
    )
    outcomes = response.melt(
        id_vars=["reviewer"],
        value_vars=["answered", "removed", "merged_unanswered"],
        var_name="outcome",
        value_name="count",
    ).replace({"outcome": {"merged_unanswered": "unanswered at the merge"}})
    chart(
        alt.Chart(outcomes)
        .mark_bar()
        .encode(
            y=alt.Y("reviewer:N", sort=response["reviewer"].tolist(), title=None),
            x=alt.X("count:Q", title="review requests", axis=COUNT_AXIS),
            color=alt.Color(
                "outcome:N",
                sort=["answered", "removed", "unanswered at the merge"],
                scale=alt.Scale(range=["#4c78a8", "#bab0ac", "#e45756"]),
            ),
            tooltip=["reviewer", "outcome", alt.Tooltip("count:Q", title="requests")],
        )
    )
    answered = response[response["median_response_hours"].notna()]
    if not answered.empty:
        chart(
            alt.Chart(answered)
            .mark_bar()
            .encode(
                y=alt.Y("reviewer:N", sort="x", title=None),
                x=alt.X("median_response_hours:Q", title="median response (h)"),
                tooltip=[
                    "reviewer",
                    "answered",
                    alt.Tooltip("median_response_hours:Q", format=".1f", title="median (h)"),
                    alt.Tooltip("p90_response_hours:Q", format=".1f", title="p90 (h)"),
                ],
            )
        )
    st.dataframe(
        linked(response),
        hide_index=True,
        column_order=[
            "reviewer", "reviewer_url", "is_team", "requests", "answered", "reviewed", "commented", "removed",
            "merged_unanswered", "median_response_hours", "p90_response_hours",
        ],
        column_config={
            "reviewer_url": PROFILE_LINK,
            "is_team": st.column_config.CheckboxColumn("team"),
            "merged_unanswered": st.column_config.NumberColumn("unanswered at the merge"),
            "median_response_hours": st.column_config.NumberColumn("median response (h)", format=HOURS),
            "p90_response_hours": st.column_config.NumberColumn("p90 response (h)", format=HOURS),
        },
    )  # fmt: skip


def first_time_contributors(q: Query, filters: Filters) -> None:
    st.subheader("First-time contributors")
    groups = q(queries.first_time_contributors, filters)
    st.caption(
        "A first-time contributor's PR: GitHub called its author a first-time contributor (FIRST_TIME_CONTRIBUTOR, "
        "FIRST_TIMER), or it is the earliest merged PR stored of an author who is no owner, member or collaborator "
        'of the repository (so it depends on how far back this database goes). Bots never count. "Not known": '
        "stored before GitHub's association was."
    )
    st.dataframe(
        groups,
        hide_index=True,
        column_config={
            "median_cycle_time_hours": st.column_config.NumberColumn("median cycle time (h)", format=HOURS),
            "median_pickup_hours": st.column_config.NumberColumn("median pickup (h)", format=HOURS),
            "review_rounds_mean": st.column_config.NumberColumn("review rounds per PR", format="%.2f"),
            "share_with_rounds": st.column_config.NumberColumn("PRs with a round", format="percent"),
        },
    )
    long = groups.melt(
        id_vars=["authors"], value_vars=["median_cycle_time_hours", "median_pickup_hours"], var_name="measure"
    ).replace({"measure": {"median_cycle_time_hours": "cycle time", "median_pickup_hours": "pickup"}})
    long = long[pd.notna(long["value"])]
    if not long.empty:
        chart(
            alt.Chart(long)
            .mark_bar()
            .encode(
                x=alt.X("authors:N", title=None, sort=groups["authors"].tolist()),
                y=alt.Y("value:Q", title="median (h)"),
                xOffset="measure:N",
                color=alt.Color("measure:N", title=None),
                tooltip=["authors", "measure", alt.Tooltip("value:Q", format=".1f", title="median (h)")],
            )
        )
