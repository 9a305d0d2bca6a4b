"""mergelens dashboard: how the team's PRs really go, and why a given PR took as long as it did.

    MERGELENS_DB=demo.duckdb streamlit run dashboard/app.py

The DB (``MERGELENS_DB``, default ``mergelens.duckdb``; ``s3://…`` and ``artifact:NAME`` are read
through a local copy, ``dashboard.remote``; ``ducklake:…`` in place, ``dashboard.lake``, on the
DuckLake interpreter) is opened read-only. This file is the
shell: the connection and the query cache, the sidebar filters kept in the URL, and which page
to show. Each page is a module of ``dashboard.views``; the numbers come from ``dashboard.queries``
(typed functions the pages import and call through ``cached_queries``), cached per version of the
file (of a lake: per snapshot), so a sync that replaces it shows up on the next reload. Text from the DB or the URL is
never Markdown or HTML: PR text goes through st.text / st.dataframe, names inside a Markdown
string through ``literal`` (dashboard.safe); only https links to the GitHub host are links.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Concatenate
from urllib.parse import urlencode

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # `streamlit run dashboard/app.py` from anywhere
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb
import streamlit as st

from dashboard import auth, db, lake, remote, safe
from dashboard.queries.common import CLOCKS, Filters
from dashboard.queries.options import FilterOptions, filter_options, work_calendar_spec
from dashboard.queries.prs import pr_table
from dashboard.safe import literal
from dashboard.ui import Args, Query, Result, fmt
from dashboard.views import ci, explorer, health, now, overview, repositories, reviews, trends

# URL value -> the page's name in the sidebar
PAGES = {
    "overview": "Overview",
    "repositories": "Repositories",
    "now": "Now",
    "trends": "Trends",
    "reviews": "Review dynamics",
    "ci": "CI",
    "prs": "PR explorer",
    "health": "Data health",
}
# every page but the explorer draws from the query function and the filters alone
RENDER: dict[str, Callable[[Query, Filters], None]] = {
    "overview": overview.render,
    "repositories": repositories.render,
    "now": now.render,
    "trends": trends.render,
    "reviews": reviews.render,
    "ci": ci.render,
    "health": health.render,
}
DEFAULT_DAYS = 90  # the default period: the 90 days up to the latest merge
# Which version of the DB the cached numbers are of: a file's identity, or a lake's snapshot.
Key = db.DbKey | lake.LakeKey


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


@st.cache_resource(show_spinner=False)
def remote_database(spec: str) -> remote.RemoteDatabase:
    """One local copy per remote location, shared by every session (Problem: not cached)."""
    return remote.open_remote_database(spec)


def show_freshness(snapshot: remote.Snapshot) -> None:
    """How old the data is (when the remote version was stored) and when the remote was last asked."""
    checked = fmt(snapshot.checked_at) if snapshot.checked_at else "not yet"
    st.sidebar.caption(f"Data stored {fmt(snapshot.version.stored_at)} · checked {checked}")
    if snapshot.warning:
        st.warning(f"**Showing the last copy fetched; refreshing it failed.** {literal(snapshot.warning)}")


@st.cache_resource(show_spinner=False)
def lake_database(spec: str) -> lake.LakeDatabase:
    """One reader per lake, shared by every session (Problem: not cached)."""
    return lake.open_lake_database(spec)


def cursor(key: Key) -> duckdb.DuckDBPyConnection:
    """A cursor per call (sessions run in threads; UTC: db.connect, LakeLocation.attach)."""
    if isinstance(key, lake.LakeKey):
        return lake_database(db.configured_location()).cursor(key)
    return connection(key).cursor()


@st.cache_data(max_entries=512, show_spinner=False)
def run_query(key: Key, name: str, _function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``_function(connection, *args)``, cached under the function's ``name`` (its arguments are hashed, the
    function itself is not: Streamlit skips a leading underscore) until the file changes (a lake: its snapshot)."""
    with cursor(key) as cur:
        return _function(cur, *args, **kwargs)


def cached_queries(key: Key) -> Query:
    """The query function the pages call (``dashboard.ui.Query``), on the DB version ``key``."""

    def q(
        function: Callable[Concatenate[duckdb.DuckDBPyConnection, Args], Result],
        /,
        *args: Args.args,
        **kwargs: Args.kwargs,
    ) -> Result:
        result: Result = run_query(key, f"{function.__module__}.{function.__qualname__}", function, *args, **kwargs)
        return result

    return q


@st.cache_data(max_entries=16, show_spinner=False)
def table_csv(key: Key, filters: Filters) -> bytes:
    return safe.csv_bytes(cached_queries(key)(pr_table, filters))


# --------------------------------------------------------------------------- filters and the URL


def parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def default_period(options: FilterOptions) -> tuple[date, date]:
    last = options.last_merge or date.today()
    first = options.first_merge or last
    return max(first, last - timedelta(days=DEFAULT_DAYS - 1)), last


def init_state(options: FilterOptions) -> None:
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
    state["clock"] = params.get("clock") if params.get("clock") in CLOCKS else "wall"
    start, end = default_period(options)
    start = parse_date(params.get("from")) or start
    end = parse_date(params.get("to")) or end
    state["dates"] = (min(start, end), max(start, end))
    state["_pr"] = params.get("pr")
    state["_initialized"] = True


def all_time(options: FilterOptions) -> None:
    if options.first_merge and options.last_merge:
        st.session_state["dates"] = (options.first_merge, options.last_merge)


def sidebar(options: FilterOptions, calendar: str) -> Filters:
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
    side.radio(
        "Durations in",
        list(CLOCKS),
        key="clock",
        format_func=CLOCKS.__getitem__,
        horizontal=True,
        help=f"Working hours count only the hours of this calendar (MERGELENS_WORK_CALENDAR): {literal(calendar)}",
    )
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
        clock=st.session_state["clock"],
    )


def write_url(filters: Filters) -> dict[str, Any]:
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
    if filters.clock != "wall":
        params["clock"] = filters.clock
    if st.session_state.get("_pr"):
        params["pr"] = st.session_state["_pr"]
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    wanted = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    if current != wanted:
        st.query_params.from_dict(params)
    return params


def copy_link(params: dict[str, Any]) -> None:
    """The page's full URL with its filters, to copy (st.code has a copy button): the app's address
    as the browser sees it (``st.context.url``, no query) and the parameters just written."""
    base = st.context.url or ""
    st.sidebar.caption("Link to this view")
    st.sidebar.code(f"{base}?{urlencode(params, doseq=True)}", language=None, wrap_lines=True)


# --------------------------------------------------------------------------- main


def show_problem(problem: db.Problem) -> None:
    st.title("mergelens")
    severe = problem.kind in ("unreadable", "not_mergelens", "newer_schema", "wrong_interpreter")
    (st.error if severe else st.warning)(f"**{problem.title}.** {literal(problem.detail)}")
    if problem.hint:
        st.code(problem.hint, language="bash" if problem.kind != "locked" else None)


def main() -> None:
    st.set_page_config(page_title="mergelens", page_icon=":material/merge:", layout="wide")
    auth.enforce()  # before anything opens the database: a visitor who may not see it gets a login button
    path = db.configured_location()
    try:
        if lake.is_lake(path):
            reader = lake_database(path)
            key: Key = reader.key()
            shown, snapshot = reader.shown, None  # never the DSN as written: its password
        else:
            snapshot = remote_database(path).snapshot() if remote.is_remote(path) else None
            key = db.file_key(snapshot.path if snapshot else Path(path))
            connection(key)
            shown = path
    except db.Problem as problem:
        show_problem(problem)
        return
    if snapshot:
        show_freshness(snapshot)
    try:
        show(key, shown)
    except duckdb.Error as exc:
        if not isinstance(key, lake.LakeKey):
            raise
        show_problem(lake_database(path).unreachable(exc))  # a lake read failed midway: one line, cleaned
    except db.Problem as problem:  # a lake snapshot reopened for a query could not be
        show_problem(problem)


def show(key: Key, path: str) -> None:
    """The sidebar and the page, on the DB version ``key`` (``path``: what to call the DB)."""
    q = cached_queries(key)
    options = q(filter_options)
    init_state(options)
    filters = sidebar(options, q(work_calendar_spec))
    copy_link(write_url(filters))
    st.sidebar.caption(f"Database: {literal(path)} · {options.merged_prs:,} merged PRs, {fmt(options.first_merge)} to "
                       f"{fmt(options.last_merge)}")  # fmt: skip
    if options.merged_prs == 0:
        st.warning(
            f"**No merged PRs yet.** {literal(path)} has the mergelens tables but no merged pull request in them."
        )
        st.code(db.GET_DATA.format(db=path), language="bash")
    page = st.session_state["page"]
    if page == "prs":
        explorer.render(q, filters, options, csv=lambda: table_csv(key, filters))
    else:
        RENDER[page](q, filters)


main()
