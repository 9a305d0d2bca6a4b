"""A DuckLake's catalog: where it lives (``CatalogAddress``: PostgreSQL, SQLite or a DuckDB file,
its password never shown) and what it must hold (``check_catalog``: exactly the tables mergelens's
migrations create, keys dropped by ``lake_ddl``). The file DB's rule (``fetcher.db.safe_open``),
for a lake; the writers (``fetcher.storage.lake.location``) and the dashboard check it before
anything of the lake runs."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from fetcher.db import safe_open, schema
from fetcher.db.safe_open import CatalogEntries, CatalogEntry
from fetcher.errors import StorageError

PREFIX = "ducklake:"
ALIAS = "lake"  # the name the lake is attached under (and made the default database)

# A lake-only table (not in schema.MIGRATIONS: a file DB is rewritten whole on every write and
# needs no compaction), created by the first compaction (fetcher/storage/lake/compact.py).
COMPACTIONS_DDL = """CREATE TABLE IF NOT EXISTS mergelens_compactions (
    started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
    data_files_before INTEGER, data_files_after INTEGER,   -- live data + delete files
    snapshots_expired INTEGER, files_deleted INTEGER)"""

# A password in a libpq DSN (password=… or password='…') or in a URI (scheme://user:password@).
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URI_PASSWORD = re.compile(r"(://[^/:@\s]*:)[^@\s]*@")
# A migration's keys: ", PRIMARY KEY (a, b)" ending a table (a comment may follow the comma),
# "PRIMARY KEY" after a column.
_TABLE_KEY = re.compile(r",([ \t]*--[^\n]*)?\s*PRIMARY KEY\s*\([^)]*\)", re.IGNORECASE)
_COLUMN_KEY = re.compile(r"\s+PRIMARY KEY\b", re.IGNORECASE)


def redacted(text: str) -> str:
    """``text`` with any password of a DSN or URI in it replaced by ***."""
    return _URI_PASSWORD.sub(r"\1***@", _DSN_PASSWORD.sub(r"\1***", text))


def lake_ddl(statement: str) -> str:
    """A migration's CREATE TABLE as a DuckLake takes it: without PRIMARY KEY (DuckLake has no
    keys; the writers keep them unique: one transaction per PR write, same-PR writers in turn)."""
    ddl = _COLUMN_KEY.sub("", _TABLE_KEY.sub(lambda match: (match[1] or "") + "\n", statement))
    if re.search(r"\b(PRIMARY KEY|UNIQUE)\b", ddl, re.IGNORECASE):
        raise AssertionError(f"a key lake_ddl does not know how to drop: {ddl[:80]}")
    return ddl


@dataclass(frozen=True)
class CatalogAddress:
    """Where the lake's catalog lives: ``kind`` postgres | sqlite | duckdb."""

    attach: str  # what ATTACH takes after ducklake:
    kind: str
    target: str  # the libpq DSN, or the catalog file's path

    @classmethod
    def parse(cls, spec: str) -> CatalogAddress:
        attach = spec[len(PREFIX) :].strip()
        kind, _, rest = attach.partition(":")
        if kind in ("postgres", "sqlite") and rest.strip():
            return cls(attach, kind, rest.strip())
        if not attach or kind in ("postgres", "sqlite"):
            raise StorageError(
                f"--db {redacted(spec)}: expected ducklake:postgres:DSN, ducklake:sqlite:PATH or ducklake:PATH"
            )
        return cls(attach, "duckdb", attach)

    @property
    def description(self) -> str:
        return PREFIX + redacted(self.attach)


def check_catalog(con: duckdb.DuckDBPyConnection) -> int:
    """The lake's schema version (0: no mergelens tables yet), once its catalog is exactly what
    the migrations to that version create (``expected_lake_catalog``): nothing else, no view or
    macro whose SQL would run inside our queries, no other schema, sequence or type. Until then
    only DuckDB's catalog functions are read (``read_lake_catalog``); ``mergelens_schema``'s rows once
    that table is known to be ours. The file DB's rule (``safe_open.verify_catalog``), for a lake:
    ``safe_open.SchemaError`` for a newer version, else ``safe_open.DatabaseRefused`` wording the first
    difference. Every command checks it before its first statement on the lake, and the
    dashboard before it reads a row."""
    found = read_lake_catalog(con)
    if any(entry.kind not in ("table", "column") for entry in found):  # a view, a macro, …: never run
        problem = safe_open.catalog_difference(found, expected_lake_catalog(schema.SCHEMA_VERSION, found))
        raise safe_open.DatabaseRefused("foreign", problem or "it holds objects mergelens did not create")
    version = 0
    if CatalogEntry("table", "mergelens_schema") in found:
        schema_table = {entry: text for entry, text in found.items() if entry.name.split(".")[0] == "mergelens_schema"}
        if schema_table != _table_entries("mergelens_schema", expected_tables(1)["mergelens_schema"]):
            raise safe_open.DatabaseRefused("foreign", "its table mergelens_schema is not the one mergelens creates")
        recorded = [value for (value,) in con.execute("SELECT version FROM mergelens_schema").fetchall()]
        version = max((value for value in recorded if value is not None), default=0)
        if version > schema.SCHEMA_VERSION:
            raise safe_open.SchemaError(version)
        if version < 1:
            raise safe_open.DatabaseRefused("foreign", "its table mergelens_schema records no schema version")
    problem = safe_open.catalog_difference(found, expected_lake_catalog(version, found))
    if problem:
        recorded_as = f" (mergelens_schema records version {version})" if version else ""
        raise safe_open.DatabaseRefused("foreign", problem + recorded_as)
    return version


def read_lake_catalog(con: duckdb.DuckDBPyConnection) -> CatalogEntries:
    """Every object the attached lake defines, as ``fetcher.db.safe_open.CatalogEntries`` (a column's
    definition: its type and nullability), and any function that is not DuckDB's own. Only
    DuckDB's catalog functions, qualified ``system.main.``: a macro of the lake cannot shadow them."""
    catalog: CatalogEntries = {}
    for table, columns in lake_tables(con, ALIAS).items():
        catalog |= _table_entries(table, columns)
    for database, schema_name, table in con.execute(
        "SELECT database_name, schema_name, table_name FROM system.main.duckdb_tables()"
    ).fetchall():
        if database == ALIAS and schema_name != "main":
            catalog[CatalogEntry("table", safe_open.qualified(schema_name, table))] = ""
    # The connection is in memory with nothing of its own: a function that is not DuckDB's is the lake's.
    return catalog | safe_open.other_objects(con, ALIAS)


def _table_entries(table: str, columns: list[tuple[object, ...]]) -> CatalogEntries:
    entries: CatalogEntries = {CatalogEntry("table", table): ""}
    for name, *definition in columns:
        entries[CatalogEntry("column", f"{table}.{name}")] = repr(definition)
    return entries


def expected_lake_catalog(version: int, found: CatalogEntries) -> CatalogEntries:
    """What a lake mergelens wrote holds at ``version``: the migrations' tables, and
    ``mergelens_compactions`` once a compaction has run."""
    expected: CatalogEntries = {}
    tables = dict(expected_tables(version))
    if CatalogEntry("table", "mergelens_compactions") in found:
        tables |= compactions_columns()
    for table, columns in tables.items():
        expected |= _table_entries(table, columns)
    return expected


Columns = dict[str, list[tuple[Any, ...]]]


def lake_tables(con: duckdb.DuckDBPyConnection, database: str) -> Columns:
    """The tables of ``database``'s main schema: name, type, nullability and default of each
    column, in order (no default: None; a lake says 'NULL' for some columns, a DuckDB file None)."""
    columns: Columns = {}
    for table, name, data_type, nullable, default in con.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default FROM system.main.duckdb_columns() "
        "WHERE database_name = ? AND schema_name = 'main' ORDER BY table_name, column_index",
        [database],
    ).fetchall():
        columns.setdefault(table, []).append((name, data_type, nullable, None if default == "NULL" else default))
    return columns


@functools.cache
def expected_tables(version: int = schema.SCHEMA_VERSION) -> Columns:
    """What the migrations up to ``version`` create in a lake: built in memory with lake_ddl,
    read as a lake is."""
    return _built(lambda con: schema.ensure_schema(con, version, ddl=lake_ddl))


@functools.cache
def compactions_columns() -> Columns:
    """``mergelens_compactions`` as ``fetcher compact`` creates it (a lake-only table)."""
    return _built(lambda con: con.execute(COMPACTIONS_DDL))


def _built(build: Callable[[duckdb.DuckDBPyConnection], object]) -> Columns:
    con = duckdb.connect(":memory:")
    try:
        build(con)
        return lake_tables(con, "memory")
    finally:
        con.close()
