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
4. ``ducklake_expire_snapshots(older_than => now - keep)`` and
   ``ducklake_cleanup_old_files(older_than => now - keep)``: the files no snapshot newer than
   ``keep`` reads are deleted. A writer reads the snapshot it started on; with ``keep`` longer
   than any writer's transaction none of its files goes away under it (default: one hour).

Steps 1 to 3 commit like any writer and conflict like one (a writer deleting rows of a file
being rewritten): they are replayed after a backoff as a PR write is (``store.in_transaction``
under the lake's ``update_tables``). No row changes: the lake is verified after it as after any
command. When it ran is recorded in the lake's ``mergelens_compactions`` (a lake-only table:
the file DB has no such housekeeping), with the file counts before and after.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from fetcher import store
from fetcher.storage.lake import ALIAS, LakeLocation, sql_literal

# A lake-only table (not in store.MIGRATIONS: a file DB is rewritten whole on every write and
# needs no compaction), created by the first compaction.
COMPACTIONS_DDL = """CREATE TABLE IF NOT EXISTS mergelens_compactions (
    started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
    data_files_before INTEGER, data_files_after INTEGER,   -- live data + delete files
    snapshots_expired INTEGER, files_deleted INTEGER)"""

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


# A writer that changed inlined rows while they were being flushed: DuckLake 1.5.5 finds fewer
# of them to delete from its catalog than it wrote out, and fails the flush (rolled back: the
# Parquet file it wrote is an orphan). Not a "conflict" by its text, but one all the same.
FLUSH_RACE = "Failed to delete flushed inlined data"
MAX_ATTEMPTS = 30


def _run(con: duckdb.DuckDBPyConnection, statement: str) -> None:
    con.execute(statement).fetchall()


def _replayed(con: duckdb.DuckDBPyConnection, statement: str) -> None:
    """One step in a transaction of its own (a conflict replayed by the lake), a flush that a
    writer raced replayed here after the lake's backoff."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            store.in_transaction(con, functools.partial(_run, con, statement))
            return
        except duckdb.Error as exc:
            if FLUSH_RACE not in str(exc) or attempt == MAX_ATTEMPTS:
                raise
        LakeLocation._back_off(attempt)


def compact(location: LakeLocation, keep: timedelta = DEFAULT_KEEP) -> CompactReport:
    """Compact the lake (the module's steps) and record it; the counts before and after."""
    clock = time.perf_counter()
    started = datetime.now(UTC)
    lake = sql_literal(ALIAS)
    horizon = started - keep
    done: dict[str, int] = {}

    def apply(con: duckdb.DuckDBPyConnection) -> None:
        done["before"] = data_files(con)
        for statement in (
            f"CALL ducklake_flush_inlined_data({lake})",
            f"CALL ducklake_rewrite_data_files({lake}, delete_threshold => 0.0)",
            f"CALL ducklake_merge_adjacent_files({lake})",
        ):
            _replayed(con, statement)
        expired: list[int] = []
        deleted: list[int] = []

        def expire() -> None:
            expired[:] = [
                len(con.execute(f"CALL ducklake_expire_snapshots({lake}, older_than => ?)", [horizon]).fetchall())
            ]

        def clean() -> None:
            deleted[:] = [
                len(con.execute(f"CALL ducklake_cleanup_old_files({lake}, older_than => ?)", [horizon]).fetchall())
            ]

        store.in_transaction(con, expire)
        store.in_transaction(con, clean)
        done["after"] = data_files(con)
        done["expired"], done["deleted"] = expired[0], deleted[0]

        def record() -> None:
            con.execute(COMPACTIONS_DDL)
            con.execute(
                "INSERT INTO mergelens_compactions VALUES (?, now(), ?, ?, ?, ?)",
                [started, done["before"], done["after"], done["expired"], done["deleted"]],
            )

        store.in_transaction(con, record)

    location.update_tables(apply)
    return CompactReport(
        done["before"],
        done["after"],
        done["expired"],
        done["deleted"],
        round(time.perf_counter() - clock, 2),
        location.description,
    )


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
