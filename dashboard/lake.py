"""A DuckLake (``MERGELENS_DB=ducklake:CATALOG``) for the dashboard: read in place, read-only.

Nothing is copied: the lake is attached READ_ONLY by the fetcher's own ``LakeLocation.attach``
(the same extensions, ``MERGELENS_LAKE_DATA_PATH`` and AWS_* S3 settings as a writer), pinned at
one snapshot, so every query of a page reads one version of the lake, and the query cache is
keyed on that snapshot id (a lake has no file whose mtime would change). Each rerun asks the lake
for its current snapshot (one catalog query): a merge committed meanwhile is a new snapshot,
attached and checked before it is shown.

A lake the job did not write is untrusted input, as a file is: before any row is read, its
catalog must be exactly mergelens's (``fetcher.storage.lake.catalog.check_catalog``, the writers' check:
the migrations' tables and columns, plus the lake-only ``mergelens_compactions``), with no view
or macro (whose SQL would run inside our queries), no other schema, sequence or type;
``fetcher.db.safe_open.catalog_difference`` words the first difference. The connection reads no file
outside the lake's data path (``LakeLocation.attach``). The location is shown as its redacted
description (``password=***``), and DuckDB's errors only cleaned (``LakeLocation.explain``). Runs
on the DuckLake interpreter (``.venv-lake``, DuckDB 1.5 with the extension wheels); under the
main one a ``Problem`` says so.
No Streamlit here.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb

from dashboard.db import Problem
from fetcher.config import Environment
from fetcher.db import safe_open, schema
from fetcher.db.safe_open import closed_on_error
from fetcher.storage import StorageError
from fetcher.storage.lake.catalog import ALIAS, PREFIX, check_catalog
from fetcher.storage.lake.location import LakeLocation, sql_literal

OPEN_SNAPSHOTS = 2  # connections kept: the current snapshot and the one before (a session may still read it)
LAKE_PYTHON = (
    "run it with the DuckLake interpreter: make lake, then make dashboard (which runs .venv-lake/bin/python "
    "-m streamlit when MERGELENS_DB starts with ducklake:)"
)


def is_lake(spec: str) -> bool:
    return spec.startswith(PREFIX)


@dataclass(frozen=True)
class LakeKey:
    """One snapshot of one lake: what the query cache is keyed on."""

    identity: str  # a hash of the location, never its text (a DSN may hold a password)
    snapshot: int


def check_lake(con: duckdb.DuckDBPyConnection, shown: str) -> None:
    """The lake holds mergelens's schema at this version, and nothing else (else ``Problem``):
    the writers' own check (``fetcher.storage.lake.catalog.check_catalog``), which runs nothing of the
    lake before its catalog passes. A reader never migrates: an older lake waits for a writer."""
    try:
        version = check_catalog(con)
    except safe_open.SchemaError as exc:
        raise Problem(
            "newer_schema",
            "The DuckLake is newer than this dashboard",
            f"{shown} has schema version {exc.version}; this mergelens reads version {schema.SCHEMA_VERSION}. "
            "Update mergelens and reload.",
        ) from None
    except safe_open.DatabaseRefused as exc:
        raise _not_mergelens(shown, str(exc)) from None
    if version == 0:  # nothing at all: check_catalog refuses any table of a lake without mergelens_schema
        raise Problem(
            "empty", "The DuckLake is empty", f"{shown} has no tables yet: a sync writes mergelens's tables into it."
        )
    if version < schema.SCHEMA_VERSION:
        raise Problem(
            "older_schema",
            "The DuckLake was written by an older mergelens",
            f"{shown} has schema version {version}; this dashboard reads version {schema.SCHEMA_VERSION}. "
            "The dashboard reads a lake and never migrates it: the next sync into it brings it forward.",
        )


def _not_mergelens(shown: str, problem: str) -> Problem:
    return Problem(
        "not_mergelens",
        "Not a mergelens DuckLake",
        f"{shown} is not a DuckLake written by mergelens: {problem}. The dashboard shows only lakes that hold "
        "exactly mergelens's tables.",
    )


class LakeDatabase:
    """One lake, read at its current snapshot. Thread-safe (Streamlit sessions run in threads)."""

    def __init__(self, spec: str, location: LakeLocation) -> None:
        self.location = location
        self.shown = location.description  # the password as ***
        self.identity = hashlib.sha256(spec.encode()).hexdigest()[:16]
        self._lock = threading.Lock()
        self._probe: duckdb.DuckDBPyConnection | None = None  # attached at the latest snapshot: asks which
        self._open: dict[int, duckdb.DuckDBPyConnection] = {}  # snapshot id -> its checked connection

    def key(self) -> LakeKey:
        """The lake's current snapshot, attached and checked (``Problem`` when it cannot be shown)."""
        with self._lock:
            try:
                if self._probe is None:
                    self._probe = self.location.attach(read_only=True)
                # fetchall: a result left open keeps its transaction, which holds a SQLite catalog's lock
                rows = self._probe.execute(
                    f"SELECT id FROM system.main.ducklake_current_snapshot({sql_literal(ALIAS)})"
                ).fetchall()
            except duckdb.Error as exc:
                self._close_probe()
                raise self.unreachable(exc) from None
            snapshot = int(rows[0][0]) if rows else 0
            self._connection(snapshot)
        return LakeKey(self.identity, snapshot)

    def cursor(self, key: LakeKey) -> duckdb.DuckDBPyConnection:
        """A cursor on the lake at ``key``'s snapshot (a cursor per query: sessions run in threads)."""
        with self._lock:
            con = self._connection(key.snapshot)
        cursor = con.cursor()
        cursor.execute(f"USE {ALIAS}")  # a cursor starts in the in-memory database
        return cursor

    def unreachable(self, exc: BaseException) -> Problem:
        return Problem("unreachable", "Cannot read the DuckLake", f"{self.shown}: {self.location.explain(exc)}")

    def _connection(self, snapshot: int) -> duckdb.DuckDBPyConnection:
        con = self._open.get(snapshot)
        if con is not None:
            return con
        try:
            con = self.location.attach(read_only=True, snapshot=snapshot)
        except duckdb.Error as exc:
            raise self.unreachable(exc) from None
        with closed_on_error(con, self.unreachable):
            check_lake(con, self.shown)
        self._open[snapshot] = con
        # Forget the oldest snapshots but the one asked for (a session may still be rendering an
        # older one), without close(): closing a connection closes its cursors, and another
        # session's query may be running on one. A cursor keeps its database alive; the
        # connection is freed when its last cursor is.
        for old in sorted(s for s in self._open if s != snapshot)[: -(OPEN_SNAPSHOTS - 1) or None]:
            del self._open[old]
        return con

    def _close_probe(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None


def open_lake_database(spec: str, environ: Mapping[str, str] | None = None) -> LakeDatabase:
    """The LakeDatabase for ``MERGELENS_DB=spec``, set up from the environment as the fetcher's
    (data path, S3 settings). ``Problem`` when the spec is malformed or this interpreter has no
    DuckLake extension (the main venv's DuckDB 2.0)."""
    env = Environment.from_environ(environ)
    try:
        location = LakeLocation(spec, env.lake_data_path, env.s3)
    except StorageError as exc:  # a malformed spec, in the fetcher's words (the password as ***)
        raise Problem("unreachable", "Cannot read the DuckLake", str(exc)) from None
    try:
        location.require_extensions()
    except StorageError:
        raise Problem(
            "wrong_interpreter",
            "This dashboard cannot read a DuckLake",
            f"DuckDB {duckdb.__version__} here has no DuckLake extension: {LAKE_PYTHON}.",
        ) from None
    return LakeDatabase(spec, location)
