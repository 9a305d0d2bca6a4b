"""Is a DB file fit to store? (``verify_database``, ``apply_and_verify``)

Open read-write and ``CHECKPOINT`` (folds the WAL into the file, so the single file we store
is complete), reopen read-only, check the schema version and count the rows of every
mergelens table. ``pull_requests`` may never shrink. The DB as found is checked first, every
value of it read (DuckDB checks each block as it reads it: a damaged or truncated file fails
there, before ``before`` spends the command's requests to GitHub, not halfway through a write).
Every open, of the stored DB as found too, goes through ``safe_open.open_database``: the file is
data, not code (its catalog must be exactly mergelens's), and DuckDB's error texts, which can
quote the file, are never passed on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from fetcher.db import safe_open, schema
from fetcher.db.safe_open import DatabaseRefused
from fetcher.errors import StorageError

T = TypeVar("T")

# Every mergelens table (the version table first), as the migrations declare them: the one list.
MERGELENS_TABLES: tuple[str, ...] = schema.TABLES


def _check(path: Path, previous_counts: dict[str, int] | None) -> dict[str, int]:
    if not path.is_file():
        raise DatabaseRefused("missing", "the database file is missing")
    try:
        con, _ = safe_open.open_database(path)
        try:
            con.execute("CHECKPOINT")  # fold the WAL into the file: the file alone is the DB
        finally:
            con.close()
        con, version = safe_open.open_database(path, read_only=True)
        try:
            counts = _table_counts(con)
        finally:
            con.close()
    except duckdb.Error as exc:  # its text can quote the file: only the kind of error is named
        raise DatabaseRefused(
            "unreadable", f"it does not open as a DuckDB database (DuckDB: {type(exc).__name__})"
        ) from None
    if version != schema.SCHEMA_VERSION:
        raise DatabaseRefused("other_version", f"schema version is {version}, expected {schema.SCHEMA_VERSION}")
    before = (previous_counts or {}).get("pull_requests", 0)
    if counts["pull_requests"] < before:
        raise DatabaseRefused("shrank", f"pull_requests would shrink from {before} to {counts['pull_requests']} rows")
    return counts


def _table_counts(con: duckdb.DuckDBPyConnection, whole: bool = False) -> dict[str, int]:
    """Rows in each mergelens table the file has (an older schema may lack some). ``whole``: every
    value of every column read on the way (a hash of each: a quarter of a second for 220 MB), so
    a block that is missing or damaged fails here."""
    read = ", max(hash(COLUMNS(*)))" if whole else ""
    present = {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    return {
        table: int(con.execute(f'SELECT count(*){read} FROM "{table}"').fetchone()[0])  # type: ignore[index]
        for table in MERGELENS_TABLES
        if table in present
    }


def verify_database(path: Path, previous_counts: dict[str, int] | None = None) -> dict[str, int]:
    """Checkpoint ``path``, reopen it read-only and return the row count of every mergelens
    table. StorageError when it does not open, has another schema version, lacks a table, or
    has fewer ``pull_requests`` rows than ``previous_counts`` says there were."""
    try:
        return _check(Path(path), previous_counts)
    except DatabaseRefused as exc:
        raise exc.at(f"{path}: ") from None


def _count_existing(path: Path, description: str) -> dict[str, int]:
    """Row counts of the DB as found, before apply (tables of an older schema may be absent),
    every block of it read."""
    try:
        con, _ = safe_open.open_database(path, read_only=True)
        try:
            return _table_counts(con, whole=True)
        finally:
            con.close()
    except DatabaseRefused as exc:
        raise exc.at(f"{description}: the stored database cannot be used: ", "; nothing changed") from None
    except duckdb.Error as exc:
        reason = f"it does not read back whole: damaged or truncated (DuckDB: {type(exc).__name__})"
        raise StorageError(f"{description}: the stored database cannot be used: {reason}; nothing changed") from None


def apply_and_verify(
    work: Path, apply: Callable[[Path], T], description: str, before: Callable[[], None] | None = None
) -> tuple[T, dict[str, int], bool]:
    """Check the working copy ``work`` as found (absent: a fresh DB), run ``before`` (the
    command's requests to GitHub: only once the destination is known to be usable), then
    ``apply`` on it, and verify the result against the DB as found: (what apply returned, row
    counts, whether the DB was created)."""
    created = not work.exists()
    previous = None if created else _count_existing(work, description)
    if before is not None:
        before()
    value = apply(work)
    try:
        counts = _check(work, previous)
    except DatabaseRefused as exc:
        raise exc.at(f"not storing {description}: ", "; the stored database is unchanged") from None
    return value, counts, created
