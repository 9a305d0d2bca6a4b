"""Opening a DuckDB file as data, not code, and migrating it forward.

A DuckDB file is more than rows: it can hold views, macros (which shadow built-in functions,
even count(*), LIKE and duckdb_tables(); checked on 2.0.1), column defaults, check constraints
and generated columns, all of which run inside our own queries. Every file is opened by
``open_database``: file system, network and extension loading off, the configuration locked, and
then its catalog must be exactly what ``schema.MIGRATIONS`` create before any row is read.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from fetcher.compute import metrics
from fetcher.db.schema import METRICS_CHANGED, MIGRATIONS, SCHEMA_VERSION, ensure_schema
from fetcher.errors import StorageError

_UNTRUSTED_FILE_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": "false",  # no read_text()/read_csv(), COPY, ATTACH, http, INSTALL
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
}


class DatabaseRefused(StorageError):
    """The file cannot be used as a mergelens database: one line, exit code 1. The message is
    ours alone: DuckDB's error texts can quote the file (a view's error(...), a catalog entry),
    so none is passed on; of the file's contents at most an object's name is shown. The
    ``reason`` alone; the caller that knows where the file is says so with ``at``."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        # locked | unreadable | unwritable | stray_wal | foreign | newer_schema; verifying a working
        # copy (fetcher.storage.verify): missing | other_version | shrank
        self.kind = kind
        self.reason = reason
        self.context = ("", "")

    def at(self, before: str, after: str = "") -> DatabaseRefused:
        """This refusal, its line saying where it happened: ``before`` the reason, ``after`` it."""
        self.context = (before, after)
        return self

    def __str__(self) -> str:
        return f"{self.context[0]}{self.reason}{self.context[1]}"


class SchemaError(DatabaseRefused):
    """The file holds a schema version newer than this mergelens."""

    def __init__(self, version: int) -> None:
        reason = f"database schema version {version} is newer than this mergelens ({SCHEMA_VERSION}): upgrade"
        super().__init__("newer_schema", reason)
        self.version = version


@dataclass(frozen=True)
class CatalogEntry:
    kind: str  # table | column | view | macro | sequence | index | type | schema
    name: str  # schema-qualified unless in main; columns as table.column


# What each catalog entry must be; for tables and columns their definition, else "".
CatalogEntries = dict[CatalogEntry, str]


def open_database(path: str | Path, read_only: bool = False) -> tuple[duckdb.DuckDBPyConnection, int]:
    """Open a DB file as data, not code, and return the connection with the file's schema
    version (0: no mergelens tables yet). Times come back in UTC. DatabaseRefused when the file
    is locked, unreadable, newer than this mergelens, or holds anything our migrations did not
    create; the caller adds where the file is."""
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=_UNTRUSTED_FILE_CONFIG)
    except duckdb.Error as exc:
        raise _refusal(Path(path), exc) from None
    with closed_on_error(con, functools.partial(_refusal, Path(path))):
        settings = dict(con.execute("SELECT name, value FROM system.main.duckdb_settings()").fetchall())
        if settings["lock_configuration"] != "true":  # else another connection of this process did
            # TimeZone is an ICU option, unknown to duckdb.connect's config: set it before locking.
            # GLOBAL: cursors (the dashboard's, one per query) are new connections and inherit it.
            con.execute("SET GLOBAL TimeZone = 'UTC'")
            con.execute("SET lock_configuration = true")
        version = verify_catalog(con, complete=not read_only)
    return con, version


def _refusal(path: Path, exc: duckdb.Error) -> DatabaseRefused:
    """DuckDB's error as one of our fixed messages (its text is only matched, never shown)."""
    text = str(exc)
    if "WAL does not match database file" in text:
        return DatabaseRefused("stray_wal", stray_wal_reason(path))
    if isinstance(exc, duckdb.IOException) and "Could not set lock" in text:
        pid = re.search(r"\(PID (\d+)\)", text)  # digits only: the process DuckDB names
        return DatabaseRefused("locked", "it is in use by another process" + (f" (PID {pid[1]})" if pid else ""))
    return DatabaseRefused(
        "unreadable",
        f"it does not open as a DuckDB database (damaged, truncated or not DuckDB; DuckDB: {type(exc).__name__})",
    )


def stray_wal_reason(path: Path) -> str:
    return f"a leftover {path.name}.wal beside it does not belong to it (DuckDB cannot use it): move that file away"


# Version 4 was never the newest version of the main line: two branches of issue 12 each wrote half
# of it, and the main line recorded 5 while lacking part of 4 for half an hour (30 Nov 2026). A
# writer completes such a file: when all it lacks are tables and columns migration 4 creates (and it
# holds nothing else), those are added, in their order, before anything else is read from it.
HALF_WRITTEN_VERSION = 4


def verify_catalog(con: duckdb.DuckDBPyConnection, complete: bool = False) -> int:
    """The file's schema version, once its catalog is exactly that version's (else DatabaseRefused).

    Reads only DuckDB's own catalog functions, qualified (``system.main.``: a macro in the file
    cannot shadow them) and with no function call of ours, then ``mergelens_schema``'s rows once
    that table is known to be ours. A version the file records and the catalog of that version
    must agree: verifying against the expected catalog of the file's own version (not migrating
    first) means nothing in the file runs before it passes, and the migration after it only
    adds our tables. ``complete`` (a writer): a half-written version 4 is completed first
    (``complete_half_written``)."""
    found = read_catalog(con)
    version = 0
    if CatalogEntry("table", "mergelens_schema") in found:
        if _table_part(found, "mergelens_schema") != _table_part(expected_catalog(1), "mergelens_schema"):
            raise DatabaseRefused("foreign", "its table mergelens_schema is not the one mergelens creates")
        recorded = [value for (value,) in con.execute("SELECT version FROM mergelens_schema").fetchall()]
        version = max((value for value in recorded if value is not None), default=0)
        if version > SCHEMA_VERSION:
            raise SchemaError(version)
        if version < 1:
            raise DatabaseRefused("foreign", "its table mergelens_schema records no schema version")
    problem = catalog_difference(found, expected_catalog(version))
    if problem is None:
        return version
    # Only our tables, part of version 4 missing: a reader sees an older version (the dashboard's
    # notice), a writer completes it here, before its migrations run.
    missing = half_written(found, version)
    if missing and (not complete or complete_half_written(con, missing, version)):
        return version
    if missing:
        problem += ": schema version 4 was only ever half written (docs/data-contract.md) and could not be completed"
    raise DatabaseRefused("foreign", problem)


def half_written(found: CatalogEntries, version: int) -> list[CatalogEntry]:
    """What migration 4 creates that the file lacks, when that is all that sets it apart from
    ``version``'s catalog but for the definitions of the tables those columns belong to (their
    CREATE text lists every column); [] for any other file."""
    if version < HALF_WRITTEN_VERSION:
        return []
    expected = expected_catalog(version)
    of_4 = set(expected_catalog(HALF_WRITTEN_VERSION)) - set(expected_catalog(HALF_WRITTEN_VERSION - 1))
    missing = [entry for entry in expected if entry not in found]
    lacking = {entry.name.rpartition(".")[0] for entry in missing if entry.kind == "column"}
    extra = [entry for entry in found if entry not in expected]
    changed = [
        entry
        for entry in found
        if entry in expected
        and found[entry] != expected[entry]
        and not (entry.kind == "table" and entry.name in lacking)
    ]
    if extra or changed or not all(entry in of_4 for entry in missing):
        return []
    return missing


def complete_half_written(con: duckdb.DuckDBPyConnection, missing: list[CatalogEntry], version: int) -> bool:
    """Add ``missing``, what a half-written version 4 lacks (``half_written``): its missing tables as migration 4
    creates them, its missing columns with their types, in the catalog's order; in one transaction,
    kept only when the file's catalog is then exactly ``version``'s. Only our DDL runs: the file
    holds nothing but our tables."""
    expected = expected_catalog(version)
    tables = {entry.name for entry in missing if entry.kind == "table"}
    con.execute("BEGIN")
    try:
        for table in sorted(tables):
            con.execute(MIGRATIONS[HALF_WRITTEN_VERSION][table])
        for entry in missing:
            table, _, column = entry.name.rpartition(".")
            if entry.kind == "column" and table not in tables:
                data_type = ast.literal_eval(expected[entry])[0]
                con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {data_type}')
        if catalog_difference(read_catalog(con), expected) is not None:
            con.execute("ROLLBACK")
            return False
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        return False
    return True


def _table_part(catalog: CatalogEntries, table: str) -> CatalogEntries:
    """The entries of one table: the table and its columns."""

    def table_of(entry: CatalogEntry) -> str | None:
        return {"table": entry.name, "column": entry.name.rpartition(".")[0]}.get(entry.kind)

    return {entry: definition for entry, definition in catalog.items() if table_of(entry) == table}


def read_catalog(con: duckdb.DuckDBPyConnection) -> CatalogEntries:
    """Every object the attached file defines. Filters are done here in Python (a file's
    macro can shadow functions and LIKE), except ``NOT internal``: NOT is an operator, which no
    macro replaces (checked on 2.0.1); without it listing DuckDB's 3,000 functions costs more."""
    listed = con.execute("SELECT database_name, internal FROM system.main.duckdb_databases()").fetchall()
    (database,) = [name for name, internal in listed if not internal]  # the file (or :memory:)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [row[1:] for row in con.execute(sql).fetchall() if row[0] == database]

    catalog: CatalogEntries = {}
    tables = rows("SELECT database_name, schema_name, table_name, sql, comment, tags FROM system.main.duckdb_tables()")
    for schema, table, sql, comment, tags in tables:
        catalog[CatalogEntry("table", qualified(schema, table))] = f"{sql} comment={comment!r} tags={tags!r}"
    names = {(schema, table) for schema, table, *_ in tables}
    for schema, table, column, *definition in rows(
        "SELECT database_name, schema_name, table_name, column_name, data_type, column_default, is_nullable, "
        "is_generated, comment FROM system.main.duckdb_columns() WHERE NOT internal"
    ):
        if (schema, table) in names:  # a view's columns: the view itself is reported
            catalog[CatalogEntry("column", f"{qualified(schema, table)}.{column}")] = repr(definition)
    return catalog | other_objects(con, database)


def qualified(schema: str, name: str) -> str:
    """An object's name in a CatalogEntries: bare in the main schema, else ``schema.name``."""
    return name if schema == "main" else f"{schema}.{name}"


def other_objects(con: duckdb.DuckDBPyConnection, database: str) -> CatalogEntries:
    """What ``database`` defines beside tables (views, sequences, indexes, types, schemas but main),
    and any function that is not DuckDB's own, in whatever database: a macro, mostly. The same
    listing for a file (read_catalog) and a DuckLake (dashboard.lake). The connection's own TEMP macros
    (the metric rules, ``fetcher.compute.rules``) are left out: no file can put one there."""
    listings = {
        "view": "SELECT database_name, schema_name, view_name, internal FROM system.main.duckdb_views()",
        "sequence": "SELECT database_name, schema_name, sequence_name, false FROM system.main.duckdb_sequences()",
        "index": "SELECT database_name, schema_name, index_name, false FROM system.main.duckdb_indexes()",
        "type": "SELECT database_name, schema_name, type_name, internal FROM system.main.duckdb_types()",
        "schema": "SELECT database_name, 'main', schema_name, internal FROM system.main.duckdb_schemas()",
    }
    catalog: CatalogEntries = {}
    for kind, sql in listings.items():
        for found_in, schema, name, internal in con.execute(sql).fetchall():
            if found_in == database and not internal and (kind, name) != ("schema", "main"):
                catalog[CatalogEntry(kind, qualified(schema, name))] = ""
    for schema, name in con.execute(
        "SELECT schema_name, function_name FROM system.main.duckdb_functions() "
        "WHERE NOT internal AND database_name <> 'temp'"
    ).fetchall():
        catalog[CatalogEntry("macro", qualified(schema, name))] = ""
    return catalog


@functools.cache
def expected_catalog(version: int) -> CatalogEntries:
    """What the migrations up to ``version`` create, read from an in-memory DB built with them."""
    con = duckdb.connect(":memory:")
    try:
        if version:
            ensure_schema(con, version)
        return read_catalog(con)
    finally:
        con.close()


_KIND_ORDER = ("view", "macro", "sequence", "index", "type", "schema", "table", "column")


def catalog_difference(found: CatalogEntries, expected: CatalogEntries) -> str | None:
    """The first way ``found`` differs from ``expected``, in words, naming one object (never its
    definition); None when they are the same."""
    order = {kind: rank for rank, kind in enumerate(_KIND_ORDER)}

    def ranked(entries: Iterable[CatalogEntry]) -> list[CatalogEntry]:
        return sorted(entries, key=lambda entry: (order[entry.kind], entry.name))

    extra_tables = {entry.name for entry in found if entry.kind == "table" and entry not in expected}
    extras = ranked(
        entry
        for entry in found
        if entry not in expected and not (entry.kind == "column" and entry.name.rpartition(".")[0] in extra_tables)
    )
    if extras:
        more = f" (and {len(extras) - 1} more)" if len(extras) > 1 else ""
        return f"it holds {_a(extras[0].kind)} {shown_name(extras[0].name)} that mergelens did not create{more}"
    missing = ranked(entry for entry in expected if entry not in found)
    if missing:
        return f"it lacks mergelens's {missing[0].kind} {shown_name(missing[0].name)}"
    # a changed column says more than the changed table around it: columns first
    changed = sorted((entry for entry in expected if found[entry] != expected[entry]), key=lambda e: e.kind != "column")
    if changed:
        why = "" if changed[0].kind == "column" else " (constraints, defaults or comments differ)"
        return f"its {changed[0].kind} {shown_name(changed[0].name)} is not defined as mergelens defines it{why}"
    return None


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def shown_name(name: str) -> str:
    """An object's name from an untrusted file, fit for one line of output: plain when it is a
    plain identifier, else quoted with every unusual character escaped, and cut short."""
    if re.fullmatch(r"[A-Za-z0-9_.]{1,80}", name):
        return name
    return json.dumps(name[:80])  # ASCII-only, newlines and control characters escaped


@contextmanager
def closed_on_error(con: duckdb.DuckDBPyConnection, failure: Callable[[duckdb.Error], BaseException]) -> Iterator[None]:
    """Run the body on ``con``; if it raises, close ``con`` first: DuckDB's error as
    ``failure(exc)`` (one line of ours: DuckDB's text can quote the file), anything else as it is."""
    try:
        yield
    except duckdb.Error as exc:
        con.close()
        raise failure(exc) from None
    except BaseException:
        con.close()
        raise


def open_migrated(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the DB file (open_database), migrating it forward unless read-only."""
    con, version = open_database(path, read_only=read_only)

    def unwritable(exc: duckdb.Error) -> DatabaseRefused:  # our own DDL on a verified file: a full disk, …
        reason = f"its schema could not be brought to version {SCHEMA_VERSION} (DuckDB: {type(exc).__name__})"
        return DatabaseRefused("unwritable", reason)

    with closed_on_error(con, unwritable):
        if not read_only and version < SCHEMA_VERSION:
            ensure_schema(con, SCHEMA_VERSION, current=version)
            if 0 < version < METRICS_CHANGED:  # the stored metrics follow the old definitions
                con.execute("BEGIN")
                metrics.recompute(con)
                con.execute("COMMIT")
    return con
