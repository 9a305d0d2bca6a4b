"""A DuckLake writer for tests/test_storage_lake_location.py, run by the DuckLake interpreter (``.venv-lake``):
``python -m tests.support.lake_writer CONFIG.json``. It runs the real CLI (``fetcher.cli.main``) against
the test's fake GitHub, with GITHUB_API_URL, GITHUB_TOKEN, MERGELENS_LAKE_DATA_PATH and AWS_*
from its environment, and prints one JSON object: what each command returned.

CONFIG: ``{"mode": "write", "writer": 0, "writers": 6, "db": "ducklake:…", "repo": "o/r",
"race": [PR, …], "argv": [[…], …], "barrier": DIR}``: first every ``race`` PR is synced by all
writers at once (a file barrier in DIR holds each writer right before the transaction that
writes the PR), then each ``argv`` is run as a command line. ``{"mode": "dump", "db": …}``
prints the lake's rows instead (``dump_rows``)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from fetcher.db import schema, store

# Columns whose value depends on when or by whom a row was written, not on the PR.
VOLATILE = ("fetched_at", "computed_at")
# The tables holding what was fetched and computed per PR (not the run records, checkpoints or
# snapshots): pull_requests and the pr_* tables, in schema.TABLES's order.
PR_TABLES = tuple(table for table in schema.TABLES if table == "pull_requests" or table.startswith("pr_"))


def dump_rows(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every row of the PR tables as sorted JSON text, without the volatile columns: the same
    text for the same rows on DuckDB 1.5 and 2.0."""
    out = {}
    for table in PR_TABLES:
        columns = [
            name
            for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND table_catalog = current_database() ORDER BY ordinal_position",
                [table],
            ).fetchall()
            if name not in VOLATILE
        ]
        rows = con.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
        out[table] = sorted(json.dumps(list(row), default=str) for row in rows)
    return out


def wait_at(barrier: Path, name: str, writer: int, writers: int, timeout_s: float = 300.0) -> None:
    """Arrive at barrier ``name`` and wait until all ``writers`` have."""
    folder = barrier / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(writer)).touch()
    deadline = time.monotonic() + timeout_s
    while len(list(folder.iterdir())) < writers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"barrier {name}: only {len(list(folder.iterdir()))} of {writers} writers arrived")
        time.sleep(0.005)


def run_cli(argv: Sequence[str]) -> dict[str, Any]:
    from fetcher.cli import main

    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    json_flag = [] if argv[0] == "metrics" else ["--json"]  # metrics has no JSON result
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([*argv, *json_flag])
        except SystemExit as exc:  # a usage error
            code = int(exc.code or 0)
    result = json.loads(out.getvalue()) if out.getvalue().strip() else {}
    seconds = round(time.monotonic() - started, 2)
    return {"argv": list(argv), "exit": code, "stderr": err.getvalue()[-2000:], "result": result, "seconds": seconds}


def write(config: dict[str, Any]) -> list[dict[str, Any]]:
    writer, writers, barrier = config["writer"], config["writers"], Path(config["barrier"])
    race: set[int] = set(config["race"])
    real: Callable[..., None] = store.in_transaction

    def racing(con: duckdb.DuckDBPyConnection, body: Callable[[], None], keys: Sequence[tuple[str, int]] = ()) -> None:
        for _, number in keys:
            if number in race:
                wait_at(barrier, f"race-{number}", writer, writers)
        real(con, body, keys)

    store.in_transaction = racing  # type: ignore[assignment]
    fast = ["--request-interval", "0", "--retry-backoff", "0.01"]
    results = []
    for number in config["race"]:
        results.append(run_cli(["sync", "--repo", config["repo"], "--pr", str(number), "--db", config["db"], *fast]))
        if results[-1]["exit"]:  # failed before its write: the others must not wait for it
            (barrier / f"race-{number}").mkdir(parents=True, exist_ok=True)
            (barrier / f"race-{number}" / str(writer)).touch()
    store.in_transaction = real  # type: ignore[assignment]
    for argv in config["argv"]:
        results.append(run_cli([*argv, "--db", config["db"], *(fast if argv[0] != "metrics" else [])]))
    return results


def dump(config: dict[str, Any]) -> dict[str, list[str]]:
    from fetcher.config import Environment
    from fetcher.storage.lake.location import LakeLocation

    env = Environment.from_environ()
    con = LakeLocation(config["db"], env.lake_data_path, env.s3).attach()
    try:
        return dump_rows(con)
    finally:
        con.close()


if __name__ == "__main__":
    settings = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    print(json.dumps(write(settings) if settings["mode"] == "write" else dump(settings)))
