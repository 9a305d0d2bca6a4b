"""Sync one PR: fetch it, then store it with its metrics and a run record."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from fetcher.collect.rest import FetchFailed, GitHubSource
from fetcher.compute.metrics import METRIC_COLUMNS
from fetcher.db import safe_open, store
from fetcher.errors import MergelensError
from fetcher.extract.records import PullRequestBundle


@dataclass
class SyncResult:
    repo: str
    pr_number: int
    status: str  # complete | partial | failed
    trigger: str
    run_id: str
    db: str
    counts: dict[str, int | None] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    api_requests: int = 0
    retries: int = 0
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "pr_number": self.pr_number,
            "status": self.status,
            "trigger": self.trigger,
            "run_id": self.run_id,
            "db": self.db,
            "counts": self.counts,
            "errors": self.errors,
            "warnings": self.warnings,
            "metrics": self.metrics,
            "api_requests": self.api_requests,
            "retries": self.retries,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass
class FetchedPullRequest:
    """A PR fetched from GitHub, not yet stored (storing may be retried on a fresh copy of the DB)."""

    bundle: PullRequestBundle
    trigger: str
    started_at: datetime
    clock: float
    api_requests: int
    retries: int


def fetch_pull_request(source: GitHubSource, repo: str, number: int, trigger: str) -> FetchedPullRequest:
    """Fetch PR ``repo#number``. Raises FetchFailed (a MergelensError, with the classified
    failure) when the PR itself cannot be fetched."""
    started_at, clock = datetime.now(UTC), time.perf_counter()
    requests_before, retries_before = source.usage.requests, source.usage.retries
    try:
        bundle = source.fetch_pull_request(repo, number)
    except FetchFailed as exc:
        raise FetchFailed(str(exc), exc.failure) from None  # one line for the user, no PyGithub chain
    return FetchedPullRequest(
        bundle,
        trigger,
        started_at,
        clock,
        api_requests=source.usage.requests - requests_before,
        retries=source.usage.retries - retries_before,
    )


def store_pull_request(con: duckdb.DuckDBPyConnection, fetched: FetchedPullRequest, db: str) -> SyncResult:
    """Write a fetched PR, its metrics and its run record (one transaction) and say how it went."""
    return store_pull_requests(con, [fetched], db)[0]


def store_pull_requests(
    con: duckdb.DuckDBPyConnection,
    batch: list[FetchedPullRequest],
    db: str,
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> list[SyncResult]:
    """Write several fetched PRs in one transaction, each as store_pull_request writes it;
    ``then`` runs inside that transaction (see store.write_pull_requests)."""
    prepared = [_prepare(fetched, db) for fetched in batch]
    items = [(fetched.bundle, run, fetched.started_at) for fetched, (_, run) in zip(batch, prepared, strict=True)]
    store.write_pull_requests(con, items, then)
    results = []
    for fetched, (result, _) in zip(batch, prepared, strict=True):
        result.metrics = read_metrics(con, result.repo, result.pr_number)
        result.duration_s = time.perf_counter() - fetched.clock
        results.append(result)
    return results


def _prepare(fetched: FetchedPullRequest, db: str) -> tuple[SyncResult, store.SyncRun]:
    bundle = fetched.bundle
    result = SyncResult(
        repo=bundle.repo,
        pr_number=bundle.number,
        status=bundle.status,
        trigger=fetched.trigger,
        run_id=uuid.uuid4().hex,
        db=db,
        counts=bundle.counts(),
        errors=[error.as_dict() for error in bundle.errors],
        warnings=list(bundle.warnings),
        api_requests=fetched.api_requests,
        retries=fetched.retries,
    )
    run = store.SyncRun(
        run_id=result.run_id,
        repo=bundle.repo,
        pr_number=bundle.number,
        trigger=fetched.trigger,
        started_at=fetched.started_at,
        finished_at=datetime.now(UTC),
        status=result.status,
        counts=result.counts,
        errors=result.errors,
        warnings=result.warnings,
        api_requests=result.api_requests,
    )
    return result, run


def sync_pull_request(
    source: GitHubSource,
    db: str | Path,
    repo: str,
    number: int,
    trigger: str,
    con: duckdb.DuckDBPyConnection | None = None,
) -> SyncResult:
    """Fetch PR ``repo#number`` and store it in the DB file ``db``. Raises MergelensError when
    nothing could be written.

    ``con``: an open connection to ``db`` when syncing many PRs in one process (one open and
    one checkpoint for all of them instead of one per PR)."""
    if con is None and Path(db).exists():
        # Fail before spending API requests on a DB we could not write (locked, too new, not
        # DuckDB). A missing file is created only once there is something to store.
        with open_store(db):
            pass
    fetched = fetch_pull_request(source, repo, number, trigger)
    with nullcontext(con) if con is not None else open_store(db) as target:
        return store_pull_request(target, fetched, str(db))


@dataclass
class BatchOutcome:
    results: list[SyncResult] = field(default_factory=list)
    failures: dict[int, str] = field(default_factory=dict)  # PR number -> why nothing was written

    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in [result.status for result in self.results] + ["failed"] * len(self.failures):
            counts[status] = counts.get(status, 0) + 1
        return counts


def sync_many(
    source: GitHubSource,
    db: str | Path,
    repo: str,
    numbers: Iterable[int],
    trigger: str,
    on_result: Callable[[SyncResult], None] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> BatchOutcome:
    """Sync several PRs of one repository over one DB connection (``con``, else one opened on
    ``db``). A PR that fails is logged as a ``failed`` run and the batch goes on."""
    outcome = BatchOutcome()
    with nullcontext(con) if con is not None else open_store(db) as con:
        for number in numbers:
            started_at = datetime.now(UTC)
            try:
                result = sync_pull_request(source, db, repo, number, trigger, con=con)
            except MergelensError as exc:
                outcome.failures[number] = str(exc)
                failed = store.SyncRun(uuid.uuid4().hex, repo, number, trigger, started_at, datetime.now(UTC))
                failed.status, failed.errors = "failed", [{"section": None, "status": None, "message": str(exc)}]
                store.record_run(con, failed)
                continue
            outcome.results.append(result)
            if on_result is not None:
                on_result(result)
    return outcome


class open_store:
    """Open the DB for writing (``safe_open.open_migrated``: verified, migrated), turning DuckDB's
    failures, on opening or while in use, into one clear line of our own."""

    def __init__(self, db: str | Path, read_only: bool = False) -> None:
        self.db = str(db)
        self.read_only = read_only
        self.con: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        try:
            self.con = safe_open.open_migrated(self.db, read_only=self.read_only)
        except safe_open.DatabaseRefused as exc:  # our own words: nothing of the file's contents
            raise exc.at(f"cannot open database {self.db}: ") from None
        return self.con

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if self.con is not None:
            self.con.close()
        if isinstance(exc, duckdb.Error):
            # The catalog was verified on open, but the data can still be damaged (a truncated
            # file opens and fails at the first block it lacks). DuckDB's text can quote the
            # file: only the kind of error is named.
            # No path: inside a storage update it would be the working copy's, not --db's.
            raise MergelensError(
                f"DuckDB failed on the database ({type(exc).__name__}): the file may be damaged or truncated, "
                "or the disk full"
            ) from None


def read_metrics(con: duckdb.DuckDBPyConnection, repo: str, number: int) -> dict[str, Any]:
    columns = ", ".join(METRIC_COLUMNS)
    row = con.execute(f"SELECT {columns} FROM pr_metrics WHERE repo = ? AND number = ?", [repo, number]).fetchone()
    if row is None:
        return {}
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in zip(METRIC_COLUMNS, row, strict=True)
    }
