"""mergelens dashboard: how the team's PRs really go, and why a given PR took as long as it did.

    MERGELENS_DB=demo.duckdb streamlit run dashboard/app.py

The DB (``MERGELENS_DB``, default ``mergelens.duckdb``) is opened read-only. This file only lays
out: the numbers come from ``dashboard.queries`` (plain SQL functions), cached per version of the
file, so a sync that replaces it shows up on the next reload. Text from the DB or the URL is
never Markdown or HTML: PR text goes through st.text / st.dataframe, names inside a Markdown
string through ``literal`` (dashboard.safe); only https links to the GitHub host are links.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # `streamlit run dashboard/app.py` from anywhere
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import altair as alt
import duckdb
import pandas as pd
import streamlit as st

from dashboard import db, queries, safe
from dashboard.queries import Filters
from dashboard.safe import literal

PAGES = {
    "overview": "Overview",
    "trends": "Trends",
    "reviews": "Review dynamics",
    "ci": "CI",
    "prs": "PR explorer",
    "health": "Data health",
}
DEFAULT_DAYS = 90  # the default period: the 90 days up to the latest merge
PICKER_LIMIT = 1000  # PRs offered in the "open a PR" picker (the table offers every one)
TABLE_LIMIT = 5000  # rows sent to the browser in the PR table (the CSV has them all)
TABLE_COLUMNS = [
    "number",
    "html_url",
    "title",
    "author",
    "merged_at",
    "size",
    "changed_files",
    "cycle_time_hours",
    "pickup_hours",
    "review_rounds",
    "avg_fix_response_hours",
    "total_comments",
    "force_pushes",
    "repo",
    "base_ref",
]


# --------------------------------------------------------------------------- data access


class ConnectionSlot:
    """The open connection to one path, and which version of the file it reads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: db.DbKey | None = None
        self.con: duckdb.DuckDBPyConnection | None = None


@st.cache_resource(show_spinner=False)
def connection_slot(path: str) -> ConnectionSlot:
    return ConnectionSlot()


def connection(key: db.DbKey) -> duckdb.DuckDBPyConnection:
    """The read-only connection for this version of the file, shared by every session.

    A sync replaces the file (a new inode): the old connection is closed before the new one
    opens, because DuckDB hands out its already-open database for a path it still holds."""
    slot = connection_slot(key.path)
    with slot.lock:
        if slot.key != key or slot.con is None:
            if slot.con is not None:
                slot.con.close()
            slot.key, slot.con = None, None
            slot.con = db.connect(key.path)
            slot.key = key
        return slot.con


@st.cache_data(max_entries=512, show_spinner=False)
def run_query(key: db.DbKey, name: str, *args: Any) -> Any:
    """``queries.<name>(connection, *args)``, cached until the file changes."""
    with connection(key).cursor() as cursor:  # a cursor per call: sessions run in threads (UTC: db.connect)
        return getattr(queries, name)(cursor, *args)


@st.cache_data(max_entries=16, show_spinner=False)
def table_csv(key: db.DbKey, filters: Filters) -> bytes:
    return safe.csv_bytes(run_query(key, "pr_table", filters))


# --------------------------------------------------------------------------- formatting


def missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str | list | tuple) and bool(pd.isna(value)))


def fmt(value: Any, unit: str = "") -> str:
    if missing(value):
        return "—"
    if isinstance(value, datetime | pd.Timestamp):
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    if unit == "h":
        return f"{value:.1f} h"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.2f}"


def fmt_change(value: Any, unit: str) -> str | None:
    if missing(value):
        return None
    sign = "+" if value >= 0 else "-"  # ASCII: Streamlit reads the arrow's direction from it
    return f"{sign}{fmt(abs(value), unit)}"


def utc_label(frame: pd.DataFrame, column: str, label: str = "when") -> pd.DataFrame:
    return frame.assign(**{label: frame[column].dt.strftime("%Y-%m-%d %H:%M UTC")})


def linked(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``html_url`` kept only where it is an https link to the GitHub host."""
    return frame.assign(html_url=safe.github_links(frame["html_url"], safe.server_url()))


def chart(spec: alt.Chart | alt.LayerChart) -> None:
    st.altair_chart(spec, width="stretch")


UTC_X = {"scale": alt.Scale(type="utc"), "axis": alt.Axis(format="%b %d", title=None)}
WEEK_BAND = alt.X("utcyearmonthdate(week):O", title=None, axis=alt.Axis(format="%b %d", labelAngle=-45))
WEEK_TOOLTIP = [alt.Tooltip("utcyearmonthdate(week):T", title="week of"), alt.Tooltip("merged_prs:Q", title="PRs")]
COUNT_AXIS = alt.Axis(tickMinStep=1, format="d")
PR_NUMBER = st.column_config.NumberColumn("PR", format="#%d")
PR_LINK = st.column_config.LinkColumn(
    "GitHub", display_text="open ↗", help="empty when the stored URL is not an https link to GITHUB_SERVER_URL's host"
)
HOURS = "%.1f"


# --------------------------------------------------------------------------- filters and the URL


def parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def default_period(options: queries.FilterOptions) -> tuple[date, date]:
    last = options.last_merge or date.today()
    first = options.first_merge or last
    return max(first, last - timedelta(days=DEFAULT_DAYS - 1)), last


def init_state(options: queries.FilterOptions) -> None:
    """On a session's first run, take the filters and the selected PR from the URL."""
    state = st.session_state
    if state.get("_initialized"):
        return
    params = st.query_params
    page = params.get("page", "overview")
    state["page"] = page if page in PAGES else "overview"
    state["repos"] = [r for r in params.get_all("repo") if r in options.repos]
    state["authors"] = [a for a in params.get_all("author") if a in options.authors]
    state["bases"] = [b for b in params.get_all("base") if b in options.base_refs]
    state["bots"] = params.get("bots", "0").lower() in ("1", "true", "yes")
    start, end = default_period(options)
    start = parse_date(params.get("from")) or start
    end = parse_date(params.get("to")) or end
    state["dates"] = (min(start, end), max(start, end))
    state["_pr"] = params.get("pr")
    state["_initialized"] = True


def all_time(options: queries.FilterOptions) -> None:
    if options.first_merge and options.last_merge:
        st.session_state["dates"] = (options.first_merge, options.last_merge)


def sidebar(options: queries.FilterOptions) -> Filters:
    side = st.sidebar
    side.title("mergelens")
    side.radio("Page", list(PAGES), key="page", format_func=PAGES.__getitem__)
    side.divider()
    if len(options.repos) > 1:
        side.multiselect("Repositories", options.repos, key="repos", placeholder="all repositories")
    picked = side.date_input("Merged between (UTC)", key="dates")
    side.button("All time", on_click=all_time, args=(options,), disabled=not options.last_merge)
    side.multiselect("Authors", options.authors, key="authors", placeholder="everyone")
    if len(options.base_refs) > 1:
        side.multiselect("Base branch", options.base_refs, key="bases", placeholder="any branch")
    side.checkbox("Include bots", key="bots", help="PRs authored by bots (type Bot or a login ending in [bot])")
    dates = tuple(picked) if isinstance(picked, list | tuple) else (picked,)
    start = dates[0] if dates else None
    end = dates[1] if len(dates) > 1 else start  # while a range is being picked
    return Filters(
        repos=tuple(st.session_state.get("repos", ())),
        start=start,
        end=end,
        authors=tuple(st.session_state["authors"]),
        base_refs=tuple(st.session_state.get("bases", ())),
        include_bots=bool(st.session_state["bots"]),
    )


def write_url(filters: Filters) -> None:
    """The view in the URL, so a link shared in chat opens the same view."""
    params: dict[str, Any] = {"page": st.session_state["page"]}
    if filters.repos:
        params["repo"] = list(filters.repos)
    if filters.start and filters.end:
        params["from"], params["to"] = filters.start.isoformat(), filters.end.isoformat()
    if filters.authors:
        params["author"] = list(filters.authors)
    if filters.base_refs:
        params["base"] = list(filters.base_refs)
    if filters.include_bots:
        params["bots"] = "1"
    if st.session_state.get("_pr"):
        params["pr"] = st.session_state["_pr"]
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    wanted = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    if current != wanted:
        st.query_params.from_dict(params)


def parse_pr(text: str | None, options: queries.FilterOptions) -> tuple[str, int] | None:
    """'owner/name#123' (or '123' when the DB holds one repository)."""
    if not text:
        return None
    repo, _, number = text.rpartition("#")
    if not repo and len(options.repos) == 1:
        repo = options.repos[0]
    return (repo, int(number)) if repo and number.isdigit() else None


# --------------------------------------------------------------------------- pages

Query = Callable[..., Any]


def period_caption(filters: Filters) -> str:
    if not (filters.start and filters.end):
        return "All merged PRs."
    text = f"PRs merged {filters.start:%Y-%m-%d} – {filters.end:%Y-%m-%d} ({filters.days} days)"
    previous = filters.previous()
    if previous and previous.start and previous.end:
        text += (
            f", compared with the previous {filters.days} days ({previous.start:%Y-%m-%d} – {previous.end:%Y-%m-%d})"
        )
    return text + "."


def no_prs() -> None:
    st.info("No merged PRs match these filters. Widen the date range (or press **All time**) or clear a filter.")


def page_overview(q: Query, filters: Filters) -> None:
    st.header("Overview")
    st.caption(period_caption(filters))
    frame = q("overview", filters)
    columns = [column for _ in range(2) for column in st.columns(3)]
    for column, row in zip(columns, frame.itertuples(), strict=True):
        column.metric(
            row.label,
            fmt(row.current, row.unit),
            delta=fmt_change(row.change, row.unit),
            delta_color="inverse" if row.lower_is_better else "normal",
            delta_description="vs previous period",
            border=True,
        )
    weekly = q("weekly_trends", filters)
    if weekly.empty:
        no_prs()
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Merged PRs per week")
        chart(
            alt.Chart(weekly)
            .mark_bar()
            .encode(x=WEEK_BAND, y=alt.Y("merged_prs:Q", title="PRs", axis=COUNT_AXIS), tooltip=WEEK_TOOLTIP)
        )
    with right:
        st.subheader("Cycle time and pickup, weekly median")
        chart(hours_lines(weekly, {"cycle_time_hours": "cycle time", "pickup_hours": "pickup"}))
    st.caption(
        "Cycle time: merged − created. Pickup: first human review − ready for review. Review rounds: change "
        "requests answered by a later commit. Fix response: review → first commit after it. Bots' PRs are "
        "left out unless **Include bots** is on; bots' reviews and comments never count."
    )


def hours_lines(weekly: pd.DataFrame, columns: dict[str, str], title: str = "hours") -> alt.Chart:
    long = weekly.melt(id_vars="week", value_vars=list(columns), var_name="metric", value_name="value")
    long["metric"] = long["metric"].map(columns)
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("week:T", **UTC_X),
            y=alt.Y("value:Q", title=title),
            color=alt.Color("metric:N", title=None, legend=alt.Legend(orient="top")),
            tooltip=["week:T", "metric:N", alt.Tooltip("value:Q", format=".1f")],
        )
    )


def page_trends(q: Query, filters: Filters) -> None:
    st.header("Trends")
    st.caption(period_caption(filters) + " Weeks start on Monday (UTC).")
    weekly = q("weekly_trends", filters)
    if weekly.empty:
        no_prs()
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Cycle time and pickup (median, hours)")
        chart(hours_lines(weekly, {"cycle_time_hours": "cycle time", "pickup_hours": "pickup"}))
        st.subheader("Throughput (merged PRs)")
        chart(
            alt.Chart(weekly)
            .mark_bar()
            .encode(x=WEEK_BAND, y=alt.Y("merged_prs:Q", title="PRs", axis=COUNT_AXIS), tooltip=WEEK_TOOLTIP)
        )
    with right:
        st.subheader("Review rounds per PR")
        chart(
            hours_lines(weekly, {"review_rounds_median": "median", "review_rounds_mean": "mean"}, title="review rounds")
        )
        st.subheader("PR size (lines added + deleted, median)")
        chart(hours_lines(weekly, {"size_median": "lines changed"}, title="lines"))
    sizes = q("size_distribution", filters)
    st.subheader("PRs by size")
    st.caption("XS ≤ 10 lines, S ≤ 50, M ≤ 250, L ≤ 1000, XL more; with the median cycle time of each.")
    chart(
        alt.Chart(sizes)
        .mark_bar()
        .encode(
            x=alt.X("bucket:N", sort=[name for name, _ in queries.SIZE_BUCKETS], title=None),
            y=alt.Y("prs:Q", title="PRs"),
            tooltip=["bucket", "prs", alt.Tooltip("cycle_time_hours:Q", format=".1f", title="median cycle (h)")],
        )
    )


def page_reviews(q: Query, filters: Filters) -> None:
    st.header("Review dynamics")
    st.caption(period_caption(filters))
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
            load,
            hide_index=True,
            column_config={"median_pickup_hours": st.column_config.NumberColumn("median pickup (h)", format=HOURS)},
        )
    st.subheader("Merged without a human review")
    unreviewed = q("unreviewed_prs", filters)
    st.caption(f"{len(unreviewed)} PRs merged with no review by a person other than the author.")
    if not unreviewed.empty:
        st.dataframe(
            linked(unreviewed),
            hide_index=True,
            column_order=[
                "number", "html_url", "title", "author", "merged_by", "merged_at", "size", "changed_files", "repo",
            ],
            column_config={"number": PR_NUMBER, "html_url": PR_LINK},
        )  # fmt: skip


def page_ci(q: Query, filters: Filters) -> None:
    st.header("CI")
    st.caption(period_caption(filters) + " Check runs of the PRs' head commits, re-runs included.")
    checks = q("check_summary", filters)
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
    flaky = q("flaky_checks", filters)
    if flaky.empty:
        st.caption("None in this period.")
    else:
        st.caption("same commit: a failing and a later passing run share a head commit (a re-run, not a fix).")
        st.dataframe(flaky, hide_index=True)


def pick_from_table(keys: list[str]) -> None:
    selection = st.session_state.get("pr_table", {}).get("selection", {}).get("rows", [])
    if selection and selection[0] < len(keys):
        st.session_state["_pr"] = keys[selection[0]]


def remember_pick() -> None:
    st.session_state["_pr"] = st.session_state.get("pr_pick")


def page_explorer(q: Query, key: db.DbKey, filters: Filters, options: queries.FilterOptions) -> None:
    st.header("PR explorer")
    table = q("pr_table", filters)
    st.caption(period_caption(filters) + " Click a row (or pick a PR below) to see how it went.")
    st.download_button(
        f"Download CSV ({len(table):,} PRs)",
        data=lambda: table_csv(key, filters),
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
            "title": st.column_config.TextColumn("title", width="large"),
            "cycle_time_hours": st.column_config.NumberColumn("cycle (h)", format=HOURS),
            "pickup_hours": st.column_config.NumberColumn("pickup (h)", format=HOURS),
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
        pr_detail(q, *target)


def pr_detail(q: Query, repo: str, number: int) -> None:
    pr = q("pull_request", repo, number)
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
    row = st.columns(6)
    for column, (label, name, unit) in zip(
        row,
        [
            ("Cycle time", "cycle_time_hours", "h"),
            ("Pickup", "pickup_hours", "h"),
            ("Review rounds", "review_rounds", ""),
            ("Fix response", "avg_fix_response_hours", "h"),
            ("Comments", "total_comments", ""),
            ("Commits after 1st review", "commits_after_first_review", ""),
        ],
        strict=True,
    ):
        column.metric(label, fmt(p[name], unit))

    st.subheader("Timeline")
    timeline = q("pr_timeline", repo, number)
    if timeline.empty:
        st.caption("Nothing recorded.")
    else:
        timeline = utc_label(timeline, "at")
        lanes = [kind for kind in queries.TIMELINE_KINDS if kind in set(timeline["kind"])]
        base = alt.Chart(timeline).encode(
            y=alt.Y("kind:N", sort=lanes, title=None),
            color=alt.Color("kind:N", legend=None, sort=lanes),
            tooltip=["when:N", "kind:N", "actor:N", "detail:N"],
        )
        time_x = alt.X("at:T", scale=alt.Scale(type="utc"), title="time (UTC)")
        runs = base.transform_filter("datum.end_at != null").mark_rule(strokeWidth=6, opacity=0.6)
        chart(
            alt.layer(
                runs.encode(x=time_x, x2="end_at:T"),
                base.mark_circle(size=90, opacity=0.85).encode(x=time_x),
            ).properties(height=40 + 28 * len(lanes))
        )
        st.dataframe(
            timeline,
            hide_index=True,
            column_order=["when", "kind", "actor", "detail", "is_bot"],
            key="timeline_table",
        )

    st.subheader("Where each number comes from")
    for evidence in q("metric_evidence", repo, number):
        unit = "h" if evidence.metric.endswith("_hours") else ""
        with st.expander(f"{evidence.label}: {fmt(evidence.value, unit)}"):
            st.caption(f"Definition: {evidence.definition}. Rows marked counted are the ones used.")
            if evidence.rows.empty:
                st.caption("No rows.")
            else:
                st.dataframe(evidence.rows, hide_index=True)
    if p["body"]:
        with st.expander("Description"):
            st.text(p["body"])


def page_health(q: Query, filters: Filters) -> None:
    st.header("Data health")
    summary = q("health_summary", filters.repos)
    cols = st.columns(4)
    cols[0].metric("Last successful sync", fmt(summary["last_successful_sync_at"]))
    cols[1].metric("PRs stored", fmt(summary["prs"]), help=f"{summary['merged_prs']:,} merged")
    cols[2].metric("Partial PRs", fmt(summary["partial_prs"]), help="some sections failed on the last sync")
    cols[3].metric("Failed runs", fmt(summary["failed_runs"]), help=f"of {summary['sync_runs']:,} sync runs")
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


# --------------------------------------------------------------------------- main


def show_problem(problem: db.Problem) -> None:
    st.title("mergelens")
    severe = problem.kind in ("unreadable", "not_mergelens", "newer_schema")
    (st.error if severe else st.warning)(f"**{problem.title}.** {literal(problem.detail)}")
    if problem.hint:
        st.code(problem.hint, language="bash" if problem.kind != "locked" else None)


def main() -> None:
    st.set_page_config(page_title="mergelens", page_icon=":material/merge:", layout="wide")
    path = db.configured_path()
    try:
        key = db.file_key(path)
        connection(key)
    except db.Problem as problem:
        show_problem(problem)
        return
    q: Query = lambda name, *args: run_query(key, name, *args)  # noqa: E731
    options: queries.FilterOptions = q("filter_options")
    init_state(options)
    filters = sidebar(options)
    write_url(filters)
    st.sidebar.caption(f"Database: {literal(path)} · {options.merged_prs:,} merged PRs, {fmt(options.first_merge)} to "
                       f"{fmt(options.last_merge)}")  # fmt: skip
    if options.merged_prs == 0:
        st.warning(
            f"**No merged PRs yet.** {literal(path)} has the mergelens tables but no merged pull request in them."
        )
        st.code(db.GET_DATA.format(db=path), language="bash")
    page = st.session_state["page"]
    if page == "overview":
        page_overview(q, filters)
    elif page == "trends":
        page_trends(q, filters)
    elif page == "reviews":
        page_reviews(q, filters)
    elif page == "ci":
        page_ci(q, filters)
    elif page == "prs":
        page_explorer(q, key, filters, options)
    else:
        page_health(q, filters)


main()
