"""The PR explorer: the filtered PRs (and their CSV), and one PR's timeline and the rows behind its numbers."""

from __future__ import annotations

from collections.abc import Callable

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import safe
from dashboard.queries import TIMELINE_KINDS, FilterOptions, Filters, clocked
from dashboard.queries.evidence import metric_evidence
from dashboard.queries.prs import pr_stages, pr_table, pr_timeline, pull_request
from dashboard.safe import literal
from dashboard.ui import (
    HOURS,
    PR_LINK,
    PR_NUMBER,
    PROFILE_LINK,
    TIMELINE_LINK,
    Query,
    bot_rule,
    chart,
    fmt,
    linked,
    metric_unit,
    missing,
    period_caption,
    utc_label,
)
from fetcher.compute.metrics import METRIC_BY_NAME, STAGES

PICKER_LIMIT = 1000  # PRs offered in the "open a PR" picker (the table offers every one)
TABLE_LIMIT = 5000  # rows sent to the browser in the PR table (the CSV has them all)
TABLE_COLUMNS = [
    "number",
    "html_url",
    "title",
    "author",
    "author_url",
    "merged_at",
    "size",
    "changed_files",
    "cycle_time_hours",
    "pickup_hours",
    "time_to_first_response_hours",
    "review_rounds",
    "avg_fix_response_hours",
    "total_comments",
    "force_pushes",
    "repo",
    "base_ref",
]
# the metrics shown as cards above one PR's timeline
PR_CARDS = (
    "cycle_time_hours",
    "time_to_first_review_hours",
    "time_to_first_response_hours",
    "pickup_hours",
    "review_rounds",
    "avg_fix_response_hours",
    "total_comments",
    "commits_after_first_review",
)


def parse_pr(text: str | None, options: FilterOptions) -> tuple[str, int] | None:
    """'owner/name#123' (or '123' when the DB holds one repository)."""
    if not text:
        return None
    repo, _, number = text.rpartition("#")
    if not repo and len(options.repos) == 1:
        repo = options.repos[0]
    return (repo, int(number)) if repo and number.isdigit() else None


def pick_from_table(keys: list[str]) -> None:
    selection = st.session_state.get("pr_table", {}).get("selection", {}).get("rows", [])
    if selection and selection[0] < len(keys):
        st.session_state["_pr"] = keys[selection[0]]


def remember_pick() -> None:
    st.session_state["_pr"] = st.session_state.get("pr_pick")


def render(q: Query, filters: Filters, options: FilterOptions, csv: Callable[[], bytes]) -> None:
    st.header("PR explorer")
    table = q(pr_table, filters)
    st.caption(period_caption(filters) + " Click a row (or pick a PR below) to see how it went.")
    st.download_button(
        f"Download CSV ({len(table):,} PRs)",
        data=csv,
        file_name="mergelens-prs.csv",
        mime="text/csv",
        on_click="ignore",
        disabled=table.empty,
    )
    shown = linked(table.head(TABLE_LIMIT))
    keys = [f"{repo}#{number}" for repo, number in zip(shown["repo"], shown["number"], strict=True)]
    if len(table) > TABLE_LIMIT:
        st.caption(f"Showing the {TABLE_LIMIT:,} most recent merges; the CSV has all {len(table):,}.")
    st.dataframe(
        shown,
        key="pr_table",
        hide_index=True,
        on_select=lambda: pick_from_table(keys),
        selection_mode="single-row",
        column_order=TABLE_COLUMNS,
        column_config={
            "number": PR_NUMBER,
            "html_url": PR_LINK,
            "author_url": PROFILE_LINK,
            "title": st.column_config.TextColumn("title", width="large"),
            "cycle_time_hours": st.column_config.NumberColumn("cycle (h)", format=HOURS),
            "pickup_hours": st.column_config.NumberColumn("pickup (h)", format=HOURS),
            "time_to_first_response_hours": st.column_config.NumberColumn("first response (h)", format=HOURS),
            "avg_fix_response_hours": st.column_config.NumberColumn("fix response (h)", format=HOURS),
            "merged_at": st.column_config.DatetimeColumn("merged (UTC)", format="YYYY-MM-DD HH:mm"),
        },
    )
    titles = dict(zip(keys[:PICKER_LIMIT], shown["title"].head(PICKER_LIMIT), strict=True))
    selected = st.session_state.get("_pr")
    choices = list(titles)
    if selected and selected not in titles and parse_pr(selected, options):
        choices.insert(0, selected)  # from the URL, outside the filters
    st.session_state["pr_pick"] = selected if selected in choices else None
    st.selectbox(
        "Open a PR",
        choices,
        index=None,
        key="pr_pick",
        on_change=remember_pick,
        format_func=lambda k: f"{k}  {titles.get(k) or ''}",
        placeholder="pick a PR (type its number or a word of its title)",
    )
    target = parse_pr(st.session_state.get("_pr"), options)
    if target:
        pr_detail(q, *target, clock=filters.clock)


def stage_spans(stages: pd.DataFrame, clock: str) -> pd.DataFrame:
    """One merged PR's stages (``queries.pr_stages``: the bounds the metrics use) as spans on the time
    axis (``at`` to ``end_at``, wall clock), each with its hours under ``clock``."""
    return pd.DataFrame(
        {
            "kind": "stages",
            "stage": stages["label"],
            "at": stages["from_at"],
            "end_at": stages["to_at"],
            "hours": stages["work_hours" if clock == "work" else "hours"],
        }
    )


def pr_detail(q: Query, repo: str, number: int, clock: str = "wall") -> None:
    pr = q(pull_request, repo, number)
    if pr.empty:
        st.warning(f"{literal(f'{repo}#{number}')} is not in this database.")
        return
    p = pr.iloc[0]
    st.divider()
    st.subheader(literal(f"{repo}#{number}"))
    st.text(p["title"] or "")  # plain text: a title like <script> stays text
    st.caption(
        f"by {literal(p['author'])} · {literal(p['head_ref'])} → {literal(p['base_ref'])} · "
        f"+{p['additions']} −{p['deletions']} in {p['changed_files']} files · state {literal(p['state'])} · "
        f"synced {fmt(p['fetched_at'])} ({literal(p['sync_status'])})"
    )
    server = safe.server_url()
    link = safe.github_link(p["html_url"], server)
    if link:
        st.link_button("Open on GitHub", link)
    author = safe.profile_link(p["author"], server)
    if author:
        st.link_button(f"{p['author']} on GitHub", author)
    else:
        st.caption(f"No GitHub link: the stored URL is not an https link on {literal(server)}.")
    if p["sync_status"] == "partial":
        st.warning(
            f"The last sync of this PR was partial: {literal(', '.join(p['failed_sections'] or []))} kept older rows."
        )
    if not missing(p["force_pushes"]) and p["force_pushes"] > 0:
        st.warning(
            f"Force-pushed {int(p['force_pushes'])} time(s): after a rebase, commit dates are rewrite dates, so "
            "commits after first review, review rounds and fix response (all based on commit dates) may be off."
        )
    for column, name in zip(st.columns(len(PR_CARDS)), PR_CARDS, strict=True):
        column.metric(METRIC_BY_NAME[name].label, fmt(p[clocked(name, clock)], metric_unit(name)))
    if clock == "work":
        st.caption("Durations in working hours; the timeline and the rows below are in wall-clock time (UTC).")

    st.subheader("Timeline")
    timeline = q(pr_timeline, repo, number)
    if timeline.empty:
        st.caption("Nothing recorded.")
    else:
        timeline = utc_label(timeline, "at")
        spans = stage_spans(q(pr_stages, repo, number), clock)
        lanes = ["stages"] * (not spans.empty) + [kind for kind in TIMELINE_KINDS if kind in set(timeline["kind"])]
        base = alt.Chart(timeline).encode(
            y=alt.Y("kind:N", sort=lanes, title=None),
            color=alt.Color("kind:N", legend=None, sort=lanes),
            tooltip=["when:N", "kind:N", "actor:N", "detail:N"],
        )
        time_x = alt.X("at:T", scale=alt.Scale(type="utc"), title="time (UTC)")
        runs = base.transform_filter("datum.end_at != null").mark_rule(strokeWidth=6, opacity=0.6)
        stages = (
            alt.Chart(spans)
            .mark_bar(height=16)
            .encode(
                x=time_x,
                x2="end_at:T",
                y=alt.Y("kind:N", sort=lanes, title=None),
                color=alt.Color("stage:N", sort=[METRIC_BY_NAME[name].label for name in STAGES], title="stage"),
                tooltip=["stage:N", alt.Tooltip("hours:Q", format=".1f", title=f"hours ({clock})")],
            )
        )
        layers = [runs.encode(x=time_x, x2="end_at:T"), base.mark_circle(size=90, opacity=0.85).encode(x=time_x)]
        chart(
            alt.layer(*([stages] if not spans.empty else []), *layers)
            .resolve_scale(color="independent")
            .properties(height=40 + 28 * len(lanes))
        )
        st.dataframe(
            linked(timeline),  # only https links on the GitHub host stay links
            hide_index=True,
            column_order=["when", "kind", "actor", "detail", "is_bot", "html_url"],
            column_config={"html_url": TIMELINE_LINK},
            key="timeline_table",
        )

    st.subheader("Where each number comes from")
    st.caption(bot_rule(q))
    for evidence in q(metric_evidence, repo, number):
        value = p[clocked(evidence.metric, clock)]  # a duration under the sidebar's clock, as the cards
        with st.expander(f"{evidence.label}: {fmt(value, metric_unit(evidence.metric))}"):
            how = (
                "Rows marked counted are the ones used."
                if "counted" in evidence.rows.columns
                else "The instants that bound it (as the metrics compute them), what each fell on, and its hours "
                "on both clocks."
            )
            st.caption(f"Definition: {evidence.definition}. {how}")
            if evidence.rows.empty:
                st.caption("No rows.")
            else:
                st.dataframe(evidence.rows, hide_index=True)
    if p["body"]:
        with st.expander("Description"):
            st.text(p["body"])
