"""The Repositories page: the repositories of the DB side by side, and all of them rolled up (an
organisation's DuckLake holds many; a file DB may too). Every figure is ``queries.repository_comparison``'s."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.queries import Filters
from dashboard.queries.repositories import repository_comparison
from dashboard.ui import HOURS, Query, chart, no_prs, period_caption
from fetcher.compute.metrics import METRIC_BY_NAME, STAGES

ALL = "All repositories"  # the roll-up row (a repository's name always has a slash)


def label(metric: str) -> str:
    return METRIC_BY_NAME[metric].label


def render(q: Query, filters: Filters) -> None:
    st.header("Repositories")
    st.caption(period_caption(filters))
    frame = q(repository_comparison, filters)
    repos = frame[~frame["total"]]
    if repos.empty:
        no_prs()
        return
    if len(repos) == 1:
        st.info("One repository in this view: the roll-up is that repository. Sync more into the same DB to compare.")
    shown = frame.assign(repo=frame["repo"].where(~frame["total"], ALL)).drop(columns="total")
    hours = {
        "cycle_time_median": f"{label('cycle_time_hours')}, median",
        **{f"{name}_median": f"{label(name)}, median" for name in STAGES},
        "first_review_median": f"{label('time_to_first_review_hours')}, median",
    }
    st.dataframe(
        shown,
        hide_index=True,
        column_order=[
            column for column in shown.columns if not column.endswith("_mean") or column.startswith("review")
        ],
        column_config={
            "repo": st.column_config.TextColumn("repository", pinned=True),
            "merged_prs": st.column_config.NumberColumn("merged PRs", format="%d"),
            **{column: st.column_config.NumberColumn(text, format=HOURS) for column, text in hours.items()},
            "review_rounds_median": st.column_config.NumberColumn(f"{label('review_rounds')}, median", format="%.1f"),
            "review_rounds_mean": st.column_config.NumberColumn(f"{label('review_rounds')} per PR", format="%.2f"),
            "ci_failure_rate": st.column_config.NumberColumn(
                "CI failure rate", format="percent", help="failed check runs of those with a conclusion"
            ),
            "open_prs": st.column_config.NumberColumn(
                "open PRs now", format="%d", help="in the latest open-PR snapshot (the merge dates do not apply)"
            ),
        },
    )
    st.caption(
        f"**{ALL}** is computed over all their PRs together (the median of every PR, not the median of the "
        "repositories' medians), so it is not an average of the rows above. The sidebar's filters apply to every "
        "row; click a column's name to sort. Durations in hours; medians of stages do not add up to the median "
        "cycle time."
    )
    st.subheader("Median cycle time by repository, and its stages")
    chart(stage_bars(frame.assign(repo=frame["repo"].where(~frame["total"], ALL))))
    st.caption(
        "Each bar is the median cycle time, divided among the stages in proportion to the hours the PRs spent in "
        "each (the stages' means, as on the Trends page). "
        + " ".join(f"{label(name)}: {METRIC_BY_NAME[name].definition}." for name in STAGES)
    )


def stage_bars(frame: pd.DataFrame) -> alt.Chart:
    """A bar per repository (slowest first, the roll-up last) as long as its median cycle time,
    split among the stages by their share of its PRs' hours."""
    order = [*frame[frame["repo"] != ALL].sort_values("cycle_time_median", ascending=False)["repo"], ALL]
    means = frame[[f"{name}_mean" for name in STAGES]]
    shares = means.div(means.sum(axis=1).where(lambda total: total > 0), axis=0)
    parts = pd.concat(
        [
            pd.DataFrame(
                {
                    "repo": frame["repo"],
                    "order": index,
                    "stage": label(name),
                    "share": shares[f"{name}_mean"],
                    "hours": shares[f"{name}_mean"] * frame["cycle_time_median"],
                    "cycle_time_median": frame["cycle_time_median"],
                }
            )
            for index, name in enumerate(STAGES)
        ],
        ignore_index=True,
    )
    return (
        alt.Chart(parts)
        .mark_bar()
        .encode(
            y=alt.Y("repo:N", sort=order, title=None),
            x=alt.X("hours:Q", title="median cycle time (hours)", stack="zero"),
            color=alt.Color(
                "stage:N", title=None, sort=[label(name) for name in STAGES], legend=alt.Legend(orient="top")
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                "repo:N",
                alt.Tooltip("cycle_time_median:Q", format=".1f", title="median cycle time (h)"),
                "stage:N",
                alt.Tooltip("share:Q", format=".0%", title="share of the PRs' hours"),
            ],
        )
    )
