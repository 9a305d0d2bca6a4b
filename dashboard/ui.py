"""What every page shares: number and date formatting, links, charts, column settings, the period caption."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import altair as alt
import duckdb
import pandas as pd
import streamlit as st

from dashboard import safe
from dashboard.queries import Filters
from dashboard.queries.options import extra_bots

Args = ParamSpec("Args")
Result = TypeVar("Result")


class Query(Protocol):
    """``q(function, *args)``: ``function(connection, *args)`` for a query of ``dashboard.queries``, cached per
    version of the DB (``dashboard.app.cached_queries``); typed as the function is."""

    def __call__(
        self,
        function: Callable[Concatenate[duckdb.DuckDBPyConnection, Args], Result],
        /,
        *args: Args.args,
        **kwargs: Args.kwargs,
    ) -> Result: ...


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


def metric_unit(metric: str) -> str:
    """ "h" for a metric in hours (its name ends in ``_hours``), else no unit."""
    return "h" if metric.endswith("_hours") else ""


def fmt_change(value: Any, unit: str) -> str | None:
    if missing(value):
        return None
    sign = "+" if value >= 0 else "-"  # ASCII: Streamlit reads the arrow's direction from it
    return f"{sign}{fmt(abs(value), unit)}"


def utc_label(frame: pd.DataFrame, column: str, label: str = "when") -> pd.DataFrame:
    return frame.assign(**{label: frame[column].dt.strftime("%Y-%m-%d %H:%M UTC")})


# people columns that get a link to their GitHub page in ``<column>_url``
PEOPLE = ("author", "reviewer", "merged_by")


def linked(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``html_url`` kept only where it is an https link to the GitHub host, and for each
    people column a ``<column>_url`` to that person's GitHub page."""
    server = safe.server_url()
    links = {
        c: frame[c].map(lambda login: safe.profile_link(login, server)).astype(object) for c in PEOPLE if c in frame
    }
    if "html_url" in frame:
        links["html_url"] = safe.github_links(frame["html_url"], server)
    return frame.assign(**{(c if c == "html_url" else f"{c}_url"): v for c, v in links.items()})


def chart(spec: alt.Chart | alt.LayerChart | alt.FacetChart) -> None:
    st.altair_chart(spec, width="stretch")


UTC_X: dict[str, Any] = {"scale": alt.Scale(type="utc"), "axis": alt.Axis(format="%b %d", title=None)}
WEEK_BAND = alt.X("utcyearmonthdate(week):O", title=None, axis=alt.Axis(format="%b %d", labelAngle=-45))
WEEK_TOOLTIP = [alt.Tooltip("utcyearmonthdate(week):T", title="week of"), alt.Tooltip("merged_prs:Q", title="PRs")]
COUNT_AXIS = alt.Axis(tickMinStep=1, format="d")
PR_NUMBER = st.column_config.NumberColumn("PR", format="#%d")
PR_LINK = st.column_config.LinkColumn(
    "GitHub", display_text="open ↗", help="empty when the stored URL is not an https link to GITHUB_SERVER_URL's host"
)
PROFILE_LINK = st.column_config.LinkColumn("profile", display_text="↗", help="their GitHub page", width="small")
CHECK_LINK = st.column_config.LinkColumn("run", display_text="open ↗", help="the check run on GitHub")
TIMELINE_LINK = st.column_config.LinkColumn(
    "GitHub", display_text="open ↗", help="the PR or the check run on GitHub (empty for other rows)"
)
HOURS = "%.1f"


def period_caption(filters: Filters) -> str:
    clock = " Durations in working hours (the calendar is in the sidebar)." if filters.clock == "work" else ""
    return _period(filters) + clock


def _period(filters: Filters) -> str:
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


def cycle_and_pickup_lines(weekly: pd.DataFrame) -> alt.Chart:
    return hours_lines(weekly, {"cycle_time_hours": "cycle time", "pickup_hours": "pickup"})


def stage_bars(stages: pd.DataFrame) -> alt.Chart:
    """``dashboard.queries.overview.weekly_stages``: a bar per week, its stages stacked in order (mean hours)."""
    labels = list(dict.fromkeys(stages["label"]))
    return (
        alt.Chart(stages)
        .mark_bar()
        .encode(
            x=WEEK_BAND,
            y=alt.Y("hours:Q", title="hours (mean)", stack="zero"),
            color=alt.Color("label:N", title=None, sort=labels, legend=alt.Legend(orient="top")),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("utcyearmonthdate(week):T", title="week of"),
                alt.Tooltip("label:N", title="stage"),
                alt.Tooltip("hours:Q", format=".1f", title="mean hours"),
            ],
        )
    )


def throughput_bars(weekly: pd.DataFrame) -> alt.Chart:
    """Merged PRs per week, a bar per week."""
    return (
        alt.Chart(weekly)
        .mark_bar()
        .encode(x=WEEK_BAND, y=alt.Y("merged_prs:Q", title="PRs", axis=COUNT_AXIS), tooltip=WEEK_TOOLTIP)
    )


def bot_rule(q: Query) -> str:
    """Who counts as a bot, in words (Markdown), for the pages that explain a metric."""
    listed = ", ".join(safe.literal(login) for login in q(extra_bots)) or "none (set MERGELENS_BOTS)"
    return (
        "Bots (accounts GitHub types Bot, logins ending in [bot], and the extra bot logins listed for this "
        f"database: {listed}) never count: neither their reviews nor their comments."
    )
