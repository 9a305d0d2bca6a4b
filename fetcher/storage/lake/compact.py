"""``python -m fetcher compact --db ducklake:…``: the lake's housekeeping, safe while writers run.

Every commit to a DuckLake adds small Parquet files (a PR's rows, its deletes), and every
commit is a snapshot kept forever. Compaction, DuckLake's own steps (checked on 1.5.5):

1. ``ducklake_flush_inlined_data``: 1.5.5 keeps a commit's rows in the catalog itself when a
   table gets at most 10 (most of a PR's tables), deletes too: they are written out as Parquet;
2. ``ducklake_rewrite_data_files(delete_threshold => 0)``: every file with deleted rows is
   rewritten without them (1.5.5 leaves a file alone below 95 % deleted by default, and
   ``merge_adjacent_files`` never merges a file that has deletes: a lake written one PR at a time
   would keep every file);
3. ``ducklake_merge_adjacent_files``: small files of a table merged into few;
4. ``ducklake_expire_snapshots(older_than => now - keep)``: the snapshots older than ``keep``
   are dropped, and the files only they read are scheduled for deletion;
   ``ducklake_cleanup_old_files(older_than => now - keep)``: the files scheduled more than
   ``keep`` ago are deleted (those of this run's expiry by a later run, unless ``keep`` is 0);
   only files under the data path: a path the catalog schedules elsewhere stops the compaction
   before anything is deleted (``refuse_deletions_outside``).
   A reader reads the snapshot it started on; with ``keep`` longer than any reader takes, no
   file goes away under it (default: one hour).

Safe while writers run because no writer runs during it: on 1.5.5 a rewrite (steps 1 to 3)
does not conflict with a writer deleting the rows it rewrites, and they come back (a PR stored
twice; found by tests/test_lake_ops.py). So every lake transaction holds the lake's compaction
lock shared (``fetcher/storage/lake/locks.py``: a PostgreSQL advisory lock, or a byte-range lock beside
a SQLite or DuckDB catalog), and compaction holds it alone: writers wait for it (seconds), none
fails. The lake's catalog is checked before any of its statements run (``LakeLocation.open``), and
no row changes: the lake is verified after it as after any command. When it ran is
recorded in the lake's ``mergelens_compactions`` (a lake-only table: the file DB has no such
housekeeping), with the file counts before and after.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from fetcher.db import schema
from fetcher.db.safe_open import shown_name
from fetcher.errors import StorageError
from fetcher.storage.lake.catalog import ALIAS, COMPACTIONS_DDL
from fetcher.storage.lake.location import LakeLocation, inside, sql_literal

DEFAULT_KEEP = timedelta(hours=1)


@dataclass(frozen=True)
class CompactReport:
    data_files_before: int
    data_files_after: int
    snapshots_expired: int
    files_deleted: int
    duration_s: float
    location: str

    def summary(self) -> str:
        return (
            f"compacted {self.location}: data files {self.data_files_before} -> {self.data_files_after}, "
            f"{self.snapshots_expired} snapshots expired, {self.files_deleted} old files deleted "
            f"in {self.duration_s:.1f} s"
        )

    def as_dict(self) -> dict[str, object]:
        return {"status": "complete", **self.__dict__}


def data_files(con: duckdb.DuckDBPyConnection, database: str = ALIAS) -> int:
    """The lake's live Parquet files: data files and delete files of every table."""
    row = con.execute(
        f"SELECT sum(file_count) + sum(delete_file_count) FROM ducklake_table_info({sql_literal(database)})"
    ).fetchone()
    return int(row[0] or 0) if row else 0


def _in_transaction(con: duckdb.DuckDBPyConnection, statement: str, params: list[object] | None = None) -> int:
    """One step in a transaction of its own; the rows it returned (snapshots expired, files deleted)."""
    con.execute("BEGIN")
    try:
        rows = len(con.execute(statement, params or []).fetchall())
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    return rows


def refuse_deletions_outside(location: LakeLocation, con: duckdb.DuckDBPyConnection, horizon: datetime) -> None:
    """Only the lake's own files may go: DuckLake deletes whatever path its catalog schedules
    (``ducklake_files_scheduled_for_deletion``), and anyone who can write the catalog can schedule
    any file. What the cleanup would delete is listed first (its dry run, at the same horizon);
    a path outside the data path stops the compaction before anything is deleted."""
    folder = location.data_folder(con)
    scheduled = con.execute(
        f"CALL ducklake_cleanup_old_files({sql_literal(ALIAS)}, older_than => ?, dry_run => true)", [horizon]
    ).fetchall()
    outside = [str(path) for (path, *_) in scheduled if not inside(str(path), folder)]
    if outside:
        raise StorageError(
            f"{location.description}: not deleting old files: the catalog schedules {len(outside)} file(s) outside "
            f"the data path {folder or '(none)'} for deletion, e.g. {shown_name(outside[0])}; nothing was deleted "
            "(remove them from the catalog's ducklake_files_scheduled_for_deletion)"
        )


def compact(location: LakeLocation, keep: timedelta = DEFAULT_KEEP) -> CompactReport:
    """Compact the lake (the module's steps) with every writer waiting, and record it."""
    clock = time.perf_counter()
    started = datetime.now(UTC)
    lake = sql_literal(ALIAS)
    location.require_extensions()
    with location.key_locks() as locks:  # the locks the lake's writers take
        con, version = location.open()  # its catalog checked before anything of it runs
        try:
            if version != schema.SCHEMA_VERSION:
                raise StorageError(f"{location.description}: no mergelens tables at version {schema.SCHEMA_VERSION}")
            prs = con.execute("SELECT count(*) FROM pull_requests").fetchone()
            with locks.alone():  # running transactions end first; new ones wait until this is done
                before = data_files(con)
                for step in (
                    f"CALL ducklake_flush_inlined_data({lake})",
                    f"CALL ducklake_rewrite_data_files({lake}, delete_threshold => 0.0)",
                    f"CALL ducklake_merge_adjacent_files({lake})",
                ):
                    _in_transaction(con, step)
                # Each horizon taken when its step starts: expiring schedules the files of the expired
                # snapshots for deletion at that moment, and with keep 0 they go at once.
                expire, cleanup = "ducklake_expire_snapshots", "ducklake_cleanup_old_files"
                expired = _in_transaction(con, f"CALL {expire}({lake}, older_than => ?)", [datetime.now(UTC) - keep])
                horizon = datetime.now(UTC) - keep
                refuse_deletions_outside(location, con, horizon)
                deleted = _in_transaction(con, f"CALL {cleanup}({lake}, older_than => ?)", [horizon])
                after = data_files(con)
                con.execute("BEGIN")
                con.execute(COMPACTIONS_DDL)
                con.execute(
                    "INSERT INTO mergelens_compactions VALUES (?, now(), ?, ?, ?, ?)",
                    [started, before, after, expired, deleted],
                )
                con.execute("COMMIT")
            location.verify(con, int(prs[0]) if prs else 0)  # no row lost, none twice
        except duckdb.Error as exc:
            raise location.failure(exc) from None
        finally:
            con.close()
    duration = round(time.perf_counter() - clock, 2)
    return CompactReport(before, after, expired, deleted, duration, location.description)


def last_compaction(con: duckdb.DuckDBPyConnection, database: str = ALIAS) -> tuple[datetime, int] | None:
    """When the lake was last compacted and its data files then (None: never)."""
    tables = con.execute(
        "SELECT table_name FROM system.main.duckdb_tables() WHERE database_name = ? "
        "AND schema_name = 'main' AND table_name = 'mergelens_compactions'",
        [database],
    ).fetchall()
    if not tables:
        return None
    row = con.execute(
        f'SELECT finished_at, data_files_after FROM "{database}".main.mergelens_compactions '
        "ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    return (row[0], int(row[1])) if row else None
