"""The one way a command writes the DB: open its location in a private temp workdir, fetch the
stored DB and check it (a file: read whole; a lake: attached, its catalog checked, migrated)
before the command spends any API request (``before``), then let ``apply`` write a working copy
under the location's ``update`` (verified, then stored: fetcher.storage), or, on a DuckLake, the
lake's tables in place."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb

from fetcher import storage
from fetcher.config import Environment
from fetcher.pipeline.sync_pr import open_store

T = TypeVar("T")


@dataclass(frozen=True)
class WorkingCopy:
    file: Path | None  # the copy ``apply`` writes (S3 may hand ``apply`` a fresh one after a conflict); a lake: None
    location: str  # where the DB lives (the location's description): what a sync run records

    @property
    def written(self) -> str:
        """What a command's results name as the DB they wrote: the working copy's path, or the lake."""
        return str(self.file) if self.file is not None else self.location


def update_db(
    spec: str,
    env: Environment,
    apply: Callable[[duckdb.DuckDBPyConnection, WorkingCopy], T],
    before: Callable[[], None] | None = None,
) -> storage.UpdateResult[T]:
    """Open the DB ``spec`` names (--db) and check it; then run ``before`` (sync: fetch the PR)
    once, so a destination that fails costs no API request and a re-apply after an S3 conflict
    costs none either; then ``apply`` on an open working copy under the location's update (the
    requests of reconcile, backfill and open-prs run in ``apply``: after the check too). The
    UpdateResult says what was stored."""
    with tempfile.TemporaryDirectory(prefix="mergelens-") as workdir:
        location = storage.open_location(spec, env, Path(workdir))
        if isinstance(location, storage.LakeLocation):  # no file: ``apply`` writes the lake's tables
            lake = WorkingCopy(None, location.description)
            return location.update_tables(lambda con: apply(con, lake), before)

        def on_copy(path: Path) -> T:
            with open_store(path) as con:
                value = apply(con, WorkingCopy(path, location.description))
                if isinstance(location, storage.ArtifactLocation):  # the copies GitHub holds, for Data health
                    location.record_copies(con)
                return value

        return location.update(on_copy, before)
