"""The one way a command writes the DB: open its location in a private temp workdir, check a
local DB before any API request is spent, then let ``apply`` write a working copy under the
location's ``update`` (verified, then stored: fetcher.storage), or, on a DuckLake, the lake's
tables in place."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb

from fetcher import storage
from fetcher.config import Environment
from fetcher.sync import open_store

T = TypeVar("T")


@dataclass(frozen=True)
class WorkingCopy:
    path: Path  # the copy ``apply`` writes (S3 may hand ``apply`` a fresh one after a conflict; a lake: its name)
    location: str  # where the DB lives (the location's description): what a sync run records


def check_local_db(spec: str) -> None:
    """Fail before spending API requests on a local DB we could not write (locked, newer schema,
    not DuckDB). Read-only: the write itself happens under the storage lock. Remote DBs are
    checked when they are downloaded."""
    if storage.is_local(spec) and Path(spec).exists():
        with open_store(spec, read_only=True):
            pass


def update_db(
    spec: str,
    env: Environment,
    apply: Callable[[duckdb.DuckDBPyConnection, WorkingCopy], T],
    before: Callable[[], None] | None = None,
    check_first: bool = True,
) -> storage.UpdateResult[T]:
    """Open the DB ``spec`` names (--db), check it, run ``before`` (sync: fetch the PR, so a
    re-apply after an S3 conflict costs no API request), then ``apply`` on an open working copy
    under the location's update; the UpdateResult says what was stored.

    ``check_first``: False for a command that spends no API requests (metrics --recompute): the
    update's own check of the stored file speaks for it."""
    with tempfile.TemporaryDirectory(prefix="mergelens-") as workdir:
        location = storage.open_location(spec, env, Path(workdir))
        if check_first:
            check_local_db(spec)
        if before is not None:
            before()
        if isinstance(location, storage.LakeLocation):  # no file: ``apply`` writes the lake's tables
            lake = WorkingCopy(Path(location.description), location.description)
            return location.update_tables(lambda con: apply(con, lake))

        def on_copy(path: Path) -> T:
            with open_store(path) as con:
                value = apply(con, WorkingCopy(path, location.description))
                if isinstance(location, storage.ArtifactLocation):  # the copies GitHub holds, for Data health
                    location.record_copies(con)
                return value

        return location.update(on_copy)
