"""The transactional writes: one or many fetched PRs, a run record, the artifact copies.

One PR is written in one transaction: its row, its child rows replaced section by section
(only the sections that were fetched successfully; a failed section keeps what it held),
its metrics recomputed from the stored rows, and a ``sync_runs`` row. A crash before
COMMIT leaves the previous state: DuckDB discards an uncommitted transaction from its WAL.
The schema is ``fetcher.db.schema``; opening a file, ``fetcher.db.safe_open``.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from fetcher.compute import metrics
from fetcher.db.schema import CHILD_TABLES, ChildTable
from fetcher.extract.records import PullRequestBundle, Row


@dataclass
class SyncRun:
    run_id: str
    repo: str
    pr_number: int | None
    trigger: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "complete"
    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    api_requests: int = 0


def write_pull_request(
    con: duckdb.DuckDBPyConnection, bundle: PullRequestBundle, run: SyncRun, fetched_at: datetime
) -> None:
    """Store one fetched PR, its metrics and its run record, all in one transaction."""
    write_pull_requests(con, [(bundle, run, fetched_at)])


def write_pull_requests(
    con: duckdb.DuckDBPyConnection,
    items: list[tuple[PullRequestBundle, SyncRun, datetime]],
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """Store several fetched PRs in one transaction, each exactly as write_pull_request would
    (row, sections replaced, metrics, run record); ``then`` runs last, inside the transaction
    (backfill: its checkpoint moves with the PRs it stored). Metrics of PRs of one repository
    are recomputed in one statement: the same rows, a fraction of the time."""
    by_repo: dict[str, list[int]] = {}
    for bundle, _, _ in items:
        by_repo.setdefault(bundle.repo, []).append(bundle.number)

    def write() -> None:
        _write_rows(con, items)
        for repo, numbers in by_repo.items():
            if len(numbers) == 1:
                metrics.recompute(con, repo=repo, number=numbers[0])
            else:
                metrics.recompute(con, repo=repo, numbers=numbers)
        if then is not None:
            then(con)

    in_transaction(con, write, [(bundle.repo, bundle.number) for bundle, _, _ in items])


# How a transaction runs: BEGIN, the body, COMMIT (ROLLBACK when it raises). A DuckLake sets its
# own for the length of an update (fetcher/storage/lake/location.py): there a write conflict surfaces at
# COMMIT, is rolled back and the body replayed, and writers of the same PR (``keys``: repo,
# number) take turns. So a body must be SQL only: safe to run again from the start.
Transaction = Callable[[duckdb.DuckDBPyConnection, Callable[[], None], Sequence[tuple[str, int]]], None]


def _plain_transaction(
    con: duckdb.DuckDBPyConnection, body: Callable[[], None], keys: Sequence[tuple[str, int]]
) -> None:
    con.execute("BEGIN")
    try:
        body()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


TRANSACTION: contextvars.ContextVar[Transaction] = contextvars.ContextVar("TRANSACTION", default=_plain_transaction)


def in_transaction(
    con: duckdb.DuckDBPyConnection, body: Callable[[], None], keys: Sequence[tuple[str, int]] = ()
) -> None:
    """Run ``body`` (SQL only: it may be replayed) in one transaction, the way the DB in use
    runs them; ``keys``: the PRs it writes."""
    TRANSACTION.get()(con, body, keys)


def _write_rows(con: duckdb.DuckDBPyConnection, items: list[tuple[PullRequestBundle, SyncRun, datetime]]) -> None:
    """The rows of one or more PRs, one statement per table for all of them: the PR rows
    replaced, each fetched section's rows replaced (a PR whose section failed keeps its rows),
    the run records added. Rows keyed by the repository rather than the PR (a check run of a
    head commit two PRs share) move to the PR written last, as when PRs are written one by one."""
    bundles = [bundle for bundle, _, _ in items]
    _delete_prs(con, "pull_requests", "number", bundles, {})
    pr_rows = [_pull_request_row(bundle, fetched_at) for bundle, _, fetched_at in items]
    if len(pr_rows) == 1:  # one row with list columns: bound parameters are 4x faster than Arrow
        (row,) = pr_rows
        placeholders = ", ".join("?" * len(row))
        con.execute(f"INSERT INTO pull_requests ({', '.join(row)}) VALUES ({placeholders})", list(row.values()))
    else:
        insert_rows(con, "pull_requests", pr_rows)
    for section, child in CHILD_TABLES.items():
        fetched = [bundle for bundle in bundles if section in bundle.sections]
        if not fetched:
            continue
        _delete_prs(con, child.table, "pr_number", fetched, child.scope)
        rows = [
            {"repo": bundle.repo, "pr_number": bundle.number, **child.scope, **row}
            for bundle in fetched
            for row in bundle.sections[section]
        ]
        full_rows = unique_by_key(rows, child.key)
        if "pr_number" not in child.key and full_rows:
            _delete_keys(con, child, full_rows)
        insert_rows(con, child.table, full_rows)
    record_runs(con, [run for _, run, _ in items])


def _delete_prs(
    con: duckdb.DuckDBPyConnection, table: str, column: str, bundles: list[PullRequestBundle], scope: dict[str, Any]
) -> None:
    by_repo: dict[str, list[int]] = {}
    for bundle in bundles:
        by_repo.setdefault(bundle.repo, []).append(bundle.number)
    extra = "".join(f" AND {name} = ?" for name in scope)
    for repo, numbers in by_repo.items():
        # BETWEEN lets DuckDB skip row groups by their min/max (a batch's numbers are close)
        con.execute(
            f"DELETE FROM {table} WHERE repo = ? AND {column} BETWEEN ? AND ? "
            f"AND list_contains(?::INTEGER[], {column}){extra}",
            [repo, min(numbers), max(numbers), numbers, *scope.values()],
        )


def _pull_request_row(bundle: PullRequestBundle, fetched_at: datetime) -> Row:
    return {
        **bundle.pull_request,
        "fetched_at": fetched_at,
        "sync_status": bundle.status,
        "failed_sections": [error.section for error in bundle.errors],
        "truncated_sections": bundle.pull_request.get("truncated_sections", []),
    }


def _run_row(run: SyncRun) -> Row:
    return {
        "run_id": run.run_id,
        "repo": run.repo,
        "pr_number": run.pr_number,
        "trigger": run.trigger,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": run.status,
        "counts": json.dumps(run.counts),
        "errors": json.dumps(run.errors),
        "warnings": json.dumps(run.warnings),
        "api_requests": run.api_requests,
    }


def record_run(con: duckdb.DuckDBPyConnection, run: SyncRun) -> None:
    record_runs(con, [run])


def record_runs(con: duckdb.DuckDBPyConnection, runs: list[SyncRun]) -> None:
    if len(runs) == 1:  # one row: bound parameters beat an Arrow batch
        row = _run_row(runs[0])
        con.execute(
            f"INSERT INTO sync_runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
        )
    else:  # many: executemany costs ~1 ms a row, an Arrow batch a fraction of that
        insert_rows(con, "sync_runs", [_run_row(run) for run in runs])


def replace_artifact_copies(con: duckdb.DuckDBPyConnection, rows: list[Row]) -> None:
    """The artifact copies a run listed (``artifact_copies``), in place of those the last one listed."""

    def write() -> None:
        con.execute("DELETE FROM artifact_copies")
        if rows:
            insert_rows(con, "artifact_copies", rows)

    in_transaction(con, write)


def unique_by_key(rows: Iterable[Row], key: tuple[str, ...]) -> list[Row]:
    """Drop repeated keys, keeping the last. Offset pagination can serve an item twice when
    something is added while the pages are read, and one INSERT must not carry a key twice."""
    return list({tuple(row[column] for column in key): row for row in rows}.values())


def _delete_keys(con: duckdb.DuckDBPyConnection, child: ChildTable, rows: list[Row]) -> None:
    keys = [{column: row[column] for column in child.key} for row in rows]
    match = " AND ".join(f"{child.table}.{column} = keys.{column}" for column in child.key)
    with _arrow_view(con, "keys", keys):
        con.execute(f"DELETE FROM {child.table} USING keys WHERE {match}")


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[Row], or_ignore: bool = False) -> None:
    """Add ``rows`` (dicts keyed by column) to ``table`` in one statement; ``or_ignore``: a row
    whose key is already there is left out."""
    if rows:
        with _arrow_view(con, "batch", rows):
            con.execute(f"INSERT {'OR IGNORE ' if or_ignore else ''}INTO {table} BY NAME SELECT * FROM batch")


@contextmanager
def _arrow_view(con: duckdb.DuckDBPyConnection, name: str, rows: list[Row]) -> Iterator[None]:
    """Expose rows to SQL as a view over an Arrow table. Registering it explicitly is twice as
    fast as DuckDB's replacement scan, which searches the Python stack for the variable."""
    con.register(name, pa.Table.from_pylist(rows))
    try:
        yield
    finally:
        con.unregister(name)
