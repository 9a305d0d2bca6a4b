"""A DuckLake (``MERGELENS_DB=ducklake:CATALOG``) for the dashboard: read in place, read-only.

Nothing is copied: the lake is attached READ_ONLY by the fetcher's own ``LakeLocation.connect``
(the same extensions, ``MERGELENS_LAKE_DATA_PATH`` and AWS_* S3 settings as a writer), pinned at
one snapshot, so every query of a page reads one version of the lake, and the query cache is
keyed on that snapshot id (a lake has no file whose mtime would change). Each rerun asks the lake
for its current snapshot (one catalog query): a merge committed meanwhile is a new snapshot,
attached and checked before it is shown.

A lake the job did not write is untrusted input, as a file is: before any row is read, its
catalog must be exactly mergelens's (``expected_tables``: the migrations' tables and columns,
plus the lake-only ``mergelens_compactions``), with no view or macro (whose SQL would run inside
our queries), no other schema, sequence or type; ``fetcher.store.catalog_difference`` words the
first difference. The location is shown as its redacted description (``password=***``), and
DuckDB's errors only cleaned (``LakeLocation.explain``). Runs on the DuckLake interpreter
(``.venv-lake``, DuckDB 1.5 with the extension wheels); under the main one a ``Problem`` says so.
No Streamlit here.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb

from dashboard.db import Problem
from fetcher import store
from fetcher.compact import COMPACTIONS_DDL
from fetcher.config import Environment
from fetcher.storage import StorageError
from fetcher.storage.lake import ALIAS, PREFIX, Columns, LakeLocation, expected_tables, lake_tables, sql_literal
from fetcher.store import Catalog, CatalogEntry

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


@functools.cache
def compactions_columns() -> Columns:
    """``mergelens_compactions`` as ``fetcher compact`` creates it (a lake-only table)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(COMPACTIONS_DDL)
        return lake_tables(con, "memory")
    finally:
        con.close()


def lake_catalog(con: duckdb.DuckDBPyConnection) -> Catalog:
    """Every object the attached lake defines, as ``fetcher.store.Catalog`` entries (a column's
    definition: its type and nullability), and any function that is not DuckDB's own. Only
    DuckDB's catalog functions, qualified ``system.main.``: a macro of the lake cannot shadow them."""

    catalog: Catalog = {}
    for table, columns in lake_tables(con, ALIAS).items():
        catalog |= _table_entries(table, columns)
    for database, schema, table in con.execute(
        "SELECT database_name, schema_name, table_name FROM system.main.duckdb_tables()"
    ).fetchall():
        if database == ALIAS and schema != "main":
            catalog[CatalogEntry("table", store.qualified(schema, table))] = ""
    # The connection is in memory with nothing of its own: a function that is not DuckDB's is the lake's.
    return catalog | store.other_objects(con, ALIAS)


def _table_entries(table: str, columns: list[tuple[object, ...]]) -> Catalog:
    entries: Catalog = {CatalogEntry("table", table): ""}
    for name, *definition in columns:
        entries[CatalogEntry("column", f"{table}.{name}")] = repr(definition)
    return entries


def expected_lake_catalog(found: Catalog) -> Catalog:
    """What a lake mergelens wrote holds: the migrations' tables, and ``mergelens_compactions``
    once a compaction has run."""
    expected: Catalog = {}
    tables = dict(expected_tables())
    if CatalogEntry("table", "mergelens_compactions") in found:
        tables |= compactions_columns()
    for table, columns in tables.items():
        expected |= _table_entries(table, columns)
    return expected


def check_lake(con: duckdb.DuckDBPyConnection, shown: str) -> None:
    """The lake holds mergelens's schema at this version, and nothing else (else ``Problem``).
    Nothing of the lake runs before its catalog passes: its version is read after."""
    found = lake_catalog(con)
    problem = store.catalog_difference(found, expected_lake_catalog(found))
    if any(entry.kind not in ("table", "column") for entry in found):  # a view, a macro, …: never run
        raise _not_mergelens(shown, problem or "it holds objects mergelens did not create")
    if not found:
        raise Problem(
            "empty", "The DuckLake is empty", f"{shown} has no tables yet: a sync writes mergelens's tables into it."
        )
    schema_table = {entry: text for entry, text in found.items() if entry.name.split(".")[0] == "mergelens_schema"}
    if schema_table != _table_entries("mergelens_schema", expected_tables()["mergelens_schema"]):
        raise _not_mergelens(shown, problem or "its table mergelens_schema is not the one mergelens creates")
    versions = [value for (value,) in con.execute("SELECT version FROM mergelens_schema").fetchall()]
    version = max((value for value in versions if value is not None), default=0)
    if version > store.SCHEMA_VERSION:
        raise Problem(
            "newer_schema",
            "The DuckLake is newer than this dashboard",
            f"{shown} has schema version {version}; this mergelens reads version {store.SCHEMA_VERSION}. "
            "Update mergelens and reload.",
        )
    if version < store.SCHEMA_VERSION:
        raise Problem(
            "older_schema",
            "The DuckLake was written by an older mergelens",
            f"{shown} has schema version {version}; this dashboard reads version {store.SCHEMA_VERSION}. "
            "The dashboard reads a lake and never migrates it: the next sync into it brings it forward.",
        )
    if problem:
        raise _not_mergelens(shown, problem)


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
                    self._probe = self.location.connect(read_only=True)
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
            con = self.location.connect(read_only=True, snapshot=snapshot)
        except duckdb.Error as exc:
            raise self.unreachable(exc) from None
        try:
            check_lake(con, self.shown)
        except duckdb.Error as exc:
            con.close()
            raise self.unreachable(exc) from None
        except BaseException:
            con.close()
            raise
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
    env = Environment.from_environ(os.environ if environ is None else environ)
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
