"""How fast the dashboard answers on a big database. Prints figures; asserts nothing.

    python -m benchmarks.dashboard_speed [--prs 100000] [--repeat 5] [--db PATH]

1. Builds a DB of N PRs with realistic children (~10 commits, 8 files, 6 comments, 3 reviews,
   4 check runs, 12 timeline events each; ``benchmarks.sync_speed.fill_with_prs``).
2. Times each page's queries (``dashboard.queries``, uncached), for the default period (the 90
   days up to the latest merge) and for all time.
3. Times full Streamlit ``AppTest`` renders of ``dashboard/app.py``: the first render (empty
   caches, a new connection), a filter change (new queries), a rerun with warm caches (layout
   only), and each page's first render.
Goals (issue 4): first render < 1.5 s, filter change < 0.5 s.
4. With ``--s3``: the same DB as an S3 object on moto's server (``tests.support.services.moto_server``), the
   first render with a cold cache (download, check, open) and with a warm one (a restarted
   dashboard: one conditional GET, 304, nothing downloaded), and their ratio.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.sync_speed import fill_with_prs
from benchmarks.sync_speed import median_ms as timed
from dashboard import db as dashboard_db
from dashboard import queries, remote
from dashboard.queries import Filters
from fetcher.db import safe_open
from tests.support.services import moto_server

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
REPO = "bench/history"


def build(path: Path, prs: int) -> float:
    started = time.perf_counter()
    con = safe_open.open_migrated(path)
    try:
        fill_with_prs(con, prs)
    finally:
        con.close()
    return time.perf_counter() - started


def page_queries(number: int) -> dict[str, list[tuple[str, tuple[Any, ...]]]]:
    """What each page asks for (its filters added where a query takes them)."""
    return {
        "sidebar": [("filter_options", ())],
        "overview": [("overview", ()), ("weekly_trends", ())],
        "trends": [("weekly_trends", ()), ("size_distribution", ())],
        "reviews": [("review_rounds_distribution", ()), ("fix_responses", ()), ("reviewer_load", ()),
                    ("unreviewed_prs", ())],
        "ci": [("check_summary", ()), ("flaky_checks", ())],
        "prs": [("pr_table", ())],
        "pr detail": [("pull_request", (REPO, number)), ("pr_timeline", (REPO, number)),
                      ("metric_evidence", (REPO, number))],
        "health": [("health_summary", ()), ("partial_prs", ()), ("recent_sync_runs", ())],
    }  # fmt: skip


FILTERLESS = {"filter_options", "pull_request", "pr_timeline", "metric_evidence"}
REPO_ONLY = {"health_summary", "partial_prs", "recent_sync_runs"}


def call(con: Any, name: str, filters: Filters, extra: tuple[Any, ...]) -> Any:
    function = getattr(queries, name)
    if name in FILTERLESS:
        return function(con, *extra)
    if name in REPO_ONLY:
        return function(con, filters.repos)
    return function(con, filters, *extra)


def time_queries(path: Path, repeat: int, number: int) -> None:
    con = dashboard_db.connect(path)
    try:
        options = queries.filter_options(con)
        assert options.last_merge is not None and options.first_merge is not None
        default = Filters(start=options.last_merge - timedelta(days=89),
                          end=options.last_merge)  # fmt: skip
        everything = Filters()
        rows = len(queries.pr_table(con, default)), len(queries.pr_table(con, everything))
        print(f"queries per page, median of {repeat} (ms), uncached; default period {rows[0]:,} PRs | "
              f"all time {rows[1]:,} PRs")  # fmt: skip
        for page, calls in page_queries(number).items():
            parts = []
            totals = []
            for filters in (default, everything):
                per = {name: timed(functools.partial(call, con, name, filters, args), repeat) for name, args in calls}
                totals.append(sum(per.values()))
                parts.append(per)
            detail = ", ".join(f"{name} {parts[0][name]:.0f}|{parts[1][name]:.0f}" for name, _ in calls)
            print(f"  {page:<10} {totals[0]:7.1f} | {totals[1]:7.1f}   ({detail})")
    finally:
        con.close()


def serve_locally() -> None:
    """Streamlit's ``server.address`` as ``make dashboard`` sets it (this machine only): otherwise
    the dashboard, without login, shows its refusal instead of the data (dashboard/auth.py)."""
    from streamlit import config

    config.set_option("server.address", "127.0.0.1")


def time_app(path: Path, repeat: int) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    serve_locally()

    os.environ["MERGELENS_DB"] = str(path)

    def fresh(**params: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=120)
        for name, value in params.items():
            at.query_params[name] = value
        return at

    def clear() -> None:
        st.cache_data.clear()
        st.cache_resource.clear()

    # import the app's modules once, as a running server has
    fresh().run()

    def first_render() -> None:
        clear()
        at = fresh().run()
        assert not at.exception, at.exception

    first = timed(first_render, repeat)
    at = fresh().run()
    warm = timed(lambda: at.run(), repeat)

    def filter_change() -> None:
        box = at.sidebar.checkbox(key="bots")
        st.cache_data.clear()  # every toggle asks new questions, as a new filter value does
        box.set_value(not box.value).run()
        assert not at.exception

    change = timed(filter_change, repeat)

    def author_change() -> None:
        st.cache_data.clear()
        authors = at.sidebar.multiselect(key="authors")
        (authors.unselect("dev1") if "dev1" in authors.value else authors.select("dev1")).run()

    author = timed(author_change, repeat)
    print(f"AppTest renders of dashboard/app.py, median of {repeat} (ms):")
    print(f"  first render (empty caches, new connection), overview:   {first:7.1f}")
    print(f"  filter change (include bots), overview, queries uncached: {change:7.1f}")
    print(f"  filter change (an author), overview, queries uncached:    {author:7.1f}")
    print(f"  rerun with warm caches (layout + AppTest only):           {warm:7.1f}")
    for page in ("trends", "reviews", "ci", "prs", "health"):

        def render(page: str = page) -> None:
            st.cache_data.clear()
            result = fresh(page=page).run()
            assert not result.exception, result.exception

        print(f"  first render of {page:<8} (default period, queries uncached): {timed(render, repeat):7.1f}")

    def all_time_explorer() -> None:
        st.cache_data.clear()
        result = fresh(page="prs", **{"from": "2000-01-01", "to": "2100-01-01"}).run()
        assert not result.exception, result.exception

    print(f"  PR explorer, all time (table capped at 5,000 rows):       {timed(all_time_explorer, repeat):7.1f}")

    def pr_detail() -> None:
        st.cache_data.clear()
        result = fresh(page="prs", pr=f"{REPO}#50000").run()
        assert not result.exception, result.exception

    print(f"  PR explorer with one PR's timeline and evidence open:     {timed(pr_detail, repeat):7.1f}")


def time_s3(path: Path, repeat: int, workdir: Path) -> None:
    """First render of the Overview on an S3-hosted DB: cold cache vs warm cache."""
    import boto3
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    serve_locally()
    with moto_server() as endpoint:
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=str(workdir / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-credentials"),
        )
        client = boto3.client("s3")
        client.create_bucket(Bucket="mergelens-bench")
        started = time.perf_counter()
        client.upload_file(str(path), "mergelens-bench", "mergelens.duckdb")
        upload = time.perf_counter() - started
        cache = workdir / "cache"
        spec = "s3://mergelens-bench/mergelens.duckdb"
        os.environ.update(MERGELENS_CACHE_DIR=str(cache), MERGELENS_REFRESH_SECONDS="300")

        def render() -> None:
            st.cache_data.clear()
            st.cache_resource.clear()  # a new dashboard process: no copy known in memory
            at = AppTest.from_file(str(APP), default_timeout=300).run()
            assert not at.exception and not at.error, (at.exception, at.error)

        def cold() -> None:
            shutil.rmtree(cache, ignore_errors=True)
            render()

        def snapshot(empty: bool) -> None:
            if empty:
                shutil.rmtree(cache, ignore_errors=True)
            remote.open_remote_database(spec).snapshot()

        os.environ["MERGELENS_DB"] = str(path)
        render()  # imports, as a running server has them
        local_ms = timed(render, repeat)
        os.environ["MERGELENS_DB"] = spec
        cold_ms = timed(cold, repeat)
        warm_ms = timed(render, repeat)
        fetch_cold = timed(functools.partial(snapshot, True), repeat)
        fetch_warm = timed(functools.partial(snapshot, False), repeat)
        print(f"S3 on moto_server (loopback), {path.stat().st_size / 1e6:.0f} MB object (uploaded in {upload:.1f} s);")
        print(f"first render of the Overview (a new process: empty Streamlit caches), median of {repeat} (ms):")
        print(f"  local file, read in place (the baseline):            {local_ms:8.1f}")
        print(f"  S3, cold cache (GET the object, catalog check, open): {cold_ms:8.1f}")
        print(f"  S3, warm cache (conditional GET -> 304, open):       {warm_ms:8.1f}")
        print(f"  cold / warm: {cold_ms / warm_ms:.1f}x")
        print(f"of which dashboard.remote (S3 client, request, download, check), cold | warm: {fetch_cold:.1f} | "
              f"{fetch_warm:.1f} (ratio {fetch_cold / fetch_warm:.1f}x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", help="reuse (or create) this DB file instead of a temporary one")
    parser.add_argument("--s3", action="store_true", help="only the S3 timings (cold and warm cache), on moto_server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "dashboard-bench.duckdb"
        if not path.exists():
            seconds = build(path, args.prs)
            print(f"built {path.name}: {args.prs:,} PRs in {seconds:.1f} s, {path.stat().st_size / 1e6:.0f} MB")
        if args.s3:
            time_s3(path, args.repeat, Path(tmp))
            return
        time_queries(path, args.repeat, number=min(50_000, args.prs))
        time_app(path, args.repeat)


if __name__ == "__main__":
    main()
