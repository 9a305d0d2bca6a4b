"""A DuckLake: ``--db ducklake:CATALOG``, an organisation's shared DB that many jobs write at once.

CATALOG is what DuckDB's ATTACH takes after ``ducklake:``: ``postgres:dbname=… host=…`` (many
writers on many machines), ``sqlite:PATH`` (several processes on one machine) or the path of a
DuckDB file (one process). The rows live as Parquet files under ``MERGELENS_LAKE_DATA_PATH`` (a
directory or ``s3://BUCKET/PREFIX/``; S3 settings from the usual AWS_* variables). Runs on the
DuckLake line only (requirements-lake.txt, ``.venv-lake``): the extensions are loaded from their
PyPI wheels by path, never downloaded (docs/ducklake.md).

No file is copied: ``apply`` gets a connection whose default database is the lake (``USE lake``),
so every command's SQL writes the lake's tables. Anyone who can write the catalog can plant what
a DuckDB file can (a view over ``read_text``, a macro): every connection reads no file outside the
data path (``_confine``), and every command checks the catalog (``check_catalog``) before any
statement reads the lake, the migration included, and before its requests to GitHub.

A DuckLake has no PRIMARY KEY, and writers find out about each other only at COMMIT, so each
transaction (``store.in_transaction``) is run here: a conflict is rolled back and the transaction
replayed after a backoff with jitter; writers of the same PR take turns under a lock per (repo,
number), because two transactions that each create the same new PR both commit (their DELETE
matched nothing, which DuckLake does not count as a conflict: ducklake issue #1393) and the PR
would be stored twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import os
import posixpath
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import duckdb

from fetcher.compute import metrics
from fetcher.config import S3Settings
from fetcher.db import store
from fetcher.db.store import CatalogEntry
from fetcher.storage.location import StorageConflict, StorageError, UpdateResult

T = TypeVar("T")

PREFIX = "ducklake:"
ALIAS = "lake"
DEFAULT_MAX_ATTEMPTS = 30  # 6 writers on one hot PR needed up to ~10 in the spike
BACKOFF_S, MAX_BACKOFF_S = 0.05, 5.0
LOCK_TIMEOUT_S = 600  # how long a writer waits for another writer of the same PR
SETUP_KEY = ("", 0)  # the lock of a new lake's setup (no repository is named "")
# Every transaction holds this one shared, compaction holds it alone (fetcher/storage/lake/compact.py): DuckLake
# 1.5.5's file rewrites do not conflict with a writer's delete of the rows being rewritten, which
# come back (a PR stored twice; tests/test_lake_ops.py found it).
COMPACTION_LOCK = "mergelens:compaction"

# A lake-only table (not in store.MIGRATIONS: a file DB is rewritten whole on every write and
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
class Catalog:
    """Where the lake's catalog lives: ``kind`` postgres | sqlite | duckdb."""

    attach: str  # what ATTACH takes after ducklake:
    kind: str
    target: str  # the libpq DSN, or the catalog file's path

    @classmethod
    def parse(cls, spec: str) -> Catalog:
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


@functools.cache
def extension_file(name: str) -> Path | None:
    """``<name>.duckdb_extension`` as the ``duckdb-extension-<name>`` wheel installs it for the
    running DuckDB (``duckdb_extension_<name>/extensions/v<version>/``); None when absent."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder, "extensions", f"v{duckdb.__version__}", f"{name}.duckdb_extension")
        if path.is_file():
            return path
    return None


def sql_literal(text: str) -> str:
    """A string as an SQL literal, for the statements that take no parameters (ATTACH, SECRET)."""
    if any(ch in text for ch in "\0\r\n"):
        raise StorageError("a DuckLake setting holds a control character")
    return "'" + text.replace("'", "''") + "'"


def inside(path: str, folder: str) -> bool:
    """``path`` (a local path or an ``s3://`` URL, as DuckLake names a file) lies under ``folder``
    once every ``.`` and ``..`` in both is resolved."""
    if folder.startswith("s3://"):
        if not path.startswith("s3://"):
            return False
        resolved, root = (posixpath.normpath("/" + text.removeprefix("s3://")) for text in (path, folder))
    else:
        resolved, root = os.path.abspath(os.path.expanduser(path)), os.path.abspath(os.path.expanduser(folder))
    return resolved.startswith(root.rstrip("/") + "/")


def is_conflict(exc: BaseException) -> bool:
    """A conflict between writers, as DuckLake reports it at COMMIT: replay the transaction."""
    text = str(exc)
    return isinstance(exc, duckdb.TransactionException) or "conflict" in text.lower() or "Failed to commit" in text


class LakeLocation:
    """A DuckLake, written in place, one transaction per PR write, by many writers at once."""

    def __init__(
        self,
        spec: str,
        data_path: str | None,
        s3: S3Settings,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        self.catalog = Catalog.parse(spec)
        self.data_path = data_path
        self.s3 = s3
        self.max_attempts = max(1, max_attempts)
        self.description = self.catalog.description
        self.conflicts = 0

    # --- the update ------------------------------------------------------------------------

    def update_tables(
        self, apply: Callable[[duckdb.DuckDBPyConnection], T], before: Callable[[], None] | None = None
    ) -> UpdateResult[T]:
        """Open the lake (its catalog checked, then migrated), run ``before`` (a command's requests
        to GitHub: only once the lake is known to be usable), then ``apply`` on a connection to
        the lake (its tables are the default ones), each of its transactions as ``_transaction``
        runs them; then verify the lake."""
        self.require_extensions()
        with self.key_locks() as locks:
            # Setting a new lake up (DuckLake's own catalog tables, then ours) races like a new
            # PR does: two writers both try to create them, and one fails. One at a time.
            with locks.held([SETUP_KEY]):
                con, found = self.open()
                try:
                    version = self._migrate(con, found)
                except duckdb.Error as exc:
                    con.close()
                    raise self.failure(exc) from None
                except BaseException:
                    con.close()
                    raise
            try:
                if before is not None:
                    before()
                if 0 < version < store.METRICS_CHANGED:
                    # The stored metrics follow the old definitions, as store.connect finds on a file.
                    # Only the writer that migrated sees the old version; outside the setup lock,
                    # because releasing a PostgreSQL advisory lock releases every lock of the session.
                    self._transaction(locks, con, functools.partial(metrics.recompute, con), [])
                prs_before = self._count(con, "pull_requests")
                token = store.TRANSACTION.set(functools.partial(self._transaction, locks))
                try:
                    value = apply(con)
                finally:
                    store.TRANSACTION.reset(token)
                counts = self.verify(con, prs_before)
                size = data_size(con)
            except duckdb.Error as exc:
                raise self.failure(exc) from None
            finally:
                con.close()
        return UpdateResult(
            value=value,
            location=self.description,
            local_path=Path(self.description),
            size_bytes=size,
            counts=counts,
            created=version == 0,
            attempts=1 + self.conflicts,
        )

    def update(self, apply: Callable[[Path], T], before: Callable[[], None] | None = None) -> UpdateResult[T]:
        raise StorageError(
            f"{self.description}: a DuckLake has no file to copy (fetcher.pipeline.update writes it in place)"
        )

    # --- connecting ------------------------------------------------------------------------

    def require_extensions(self) -> list[str]:
        """The extensions this lake needs, all installed (else StorageError: where to run it)."""
        needed = ["ducklake"]
        needed += {"postgres": ["postgres_scanner"], "sqlite": ["sqlite_scanner"]}.get(self.catalog.kind, [])
        if (self.data_path or "").startswith("s3://"):
            needed.append("httpfs")
        missing = [name for name in needed if extension_file(name) is None]
        if missing:
            raise StorageError(
                f"{self.description}: the DuckLake extensions ({', '.join(missing)}) for DuckDB {duckdb.__version__} "
                "are not installed: run mergelens from the DuckLake environment (make lake, then .venv-lake/bin/python)"
            )
        return needed

    def connect(self, read_only: bool = False, snapshot: int | None = None) -> duckdb.DuckDBPyConnection:
        """A connection with the extensions loaded from their wheels, the S3 secret set, the lake
        attached as ``lake`` and made the default database, and its files confined to the data
        path (``_confine``). A reader (the dashboard) attaches it ``read_only``, and at
        ``snapshot`` (that version of the lake, whatever commits meanwhile). Nothing of the lake
        is read yet: ``open`` checks its catalog."""
        needed = self.require_extensions()
        data = self.data_path or ""
        con = duckdb.connect(
            ":memory:", config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
        )
        try:
            for name in needed:
                con.execute(f"LOAD {sql_literal(str(extension_file(name)))}")  # signed: no unsigned loading
            con.execute("SET GLOBAL TimeZone = 'UTC'")
            con.execute("SET ducklake_max_retry_count = 100")  # DuckLake's own retries (snapshot ids)
            if data.startswith("s3://"):
                con.execute(self._s3_secret())
            options = [f"DATA_PATH {sql_literal(data)}"] if data else []
            options += ["READ_ONLY"] if read_only else []
            options += [f"SNAPSHOT_VERSION {int(snapshot)}"] if snapshot is not None else []
            attach_options = f" ({', '.join(options)})" if options else ""
            if data and not read_only and not data.startswith("s3://"):
                Path(data).expanduser().mkdir(parents=True, exist_ok=True)  # DuckLake cannot, once confined
            con.execute(f"ATTACH {sql_literal(PREFIX + self.catalog.attach)} AS {ALIAS}{attach_options}")
            con.execute(f"USE {ALIAS}")
            self._confine(con)
        except BaseException:
            con.close()
            raise
        return con

    def _confine(self, con: duckdb.DuckDBPyConnection) -> None:
        """No file but the lake's own from here on: DuckDB's ``allowed_directories`` is the data
        path (``data_folder``), and ``enable_external_access`` is off, which also freezes both
        settings. A view or a data file the catalog points elsewhere (read_text of a key, a
        Parquet file anywhere) fails instead of being read; the catalog itself (PostgreSQL,
        SQLite, a DuckDB file) is attached already. DuckDB 1.5.5 does not resolve ``..`` in an
        ``s3://`` path: there the confinement is to the data path's bucket in practice."""
        folder = self.data_folder(con)
        if folder:
            con.execute(f"SET allowed_directories = [{sql_literal(folder)}]")
        con.execute("SET enable_external_access = false")

    def data_folder(self, con: duckdb.DuckDBPyConnection) -> str:
        """The lake's data path, ending in ``/``: MERGELENS_LAKE_DATA_PATH (DuckLake refuses to
        attach a lake that records another), else the one the catalog records."""
        data = self.data_path
        if not data:
            row = con.execute(f"SELECT data_path FROM system.main.ducklake_settings({sql_literal(ALIAS)})").fetchone()
            data = str(row[0] or "") if row else ""
        return data if not data or data.endswith("/") else data + "/"

    def open(self) -> tuple[duckdb.DuckDBPyConnection, int]:
        """``connect``, then ``check_catalog``: the connection and the lake's schema version, or
        one line (StorageError) without a secret. Nothing of the lake has run before its catalog
        passed."""
        try:
            con = self.connect()
        except duckdb.Error as exc:
            raise StorageError(f"{self.description}: cannot open the DuckLake: {self.explain(exc)}") from None
        try:
            return con, self.checked_version(con)
        except BaseException:
            con.close()
            raise

    def checked_version(self, con: duckdb.DuckDBPyConnection) -> int:
        """``check_catalog`` in one line: StorageError when the lake is not mergelens's."""
        try:
            return check_catalog(con)
        except store.SchemaError as exc:
            raise StorageError(f"{self.description}: {exc}") from None
        except store.DatabaseRefused as exc:
            raise StorageError(f"{self.description}: the DuckLake is not mergelens's: {exc}") from None
        except duckdb.Error as exc:
            raise self.failure(exc) from None

    def failure(self, exc: duckdb.Error) -> StorageError:
        """DuckDB's error while working on the lake, as the one line to raise."""
        return StorageError(f"{self.description}: DuckDB failed on the DuckLake: {self.explain(exc)}")

    def _s3_secret(self) -> str:
        s3 = self.s3
        options = {"TYPE": "s3", "REGION": s3.region or "us-east-1"}
        if s3.access_key_id and s3.secret_access_key:
            options |= {"KEY_ID": s3.access_key_id, "SECRET": s3.secret_access_key}
            if s3.session_token:
                options["SESSION_TOKEN"] = s3.session_token
        if s3.endpoint_url:  # MinIO, moto, R2, …: host:port, path-style URLs
            url = urlsplit(s3.endpoint_url if "://" in s3.endpoint_url else f"https://{s3.endpoint_url}")
            options |= {"ENDPOINT": url.netloc, "URL_STYLE": "path", "USE_SSL": str(url.scheme != "http").lower()}
        body = ", ".join(
            f"{name} {value}" if name in ("TYPE", "USE_SSL") else f"{name} {sql_literal(value)}"
            for name, value in options.items()
        )
        return f"CREATE OR REPLACE SECRET mergelens_s3 ({body})"

    # --- schema and verification -----------------------------------------------------------

    def _migrate(self, con: duckdb.DuckDBPyConnection, found: int) -> int:
        """Bring the lake's schema from ``found`` (its checked version) to ours (store.MIGRATIONS
        through lake_ddl); the version found. Writers starting on a new lake together: the one
        that loses the COMMIT checks the catalog again and finds it done."""
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                found = self.checked_version(con)
            if found == store.SCHEMA_VERSION:
                return found
            try:
                store.ensure_schema(con, store.SCHEMA_VERSION, current=found, ddl=lake_ddl)
                return found
            except duckdb.Error as exc:
                if not is_conflict(exc) or attempt == self.max_attempts:
                    raise
                self._back_off(attempt)
        raise AssertionError("unreachable")

    def verify(self, con: duckdb.DuckDBPyConnection, pull_requests_before: int) -> dict[str, int]:
        """The lake's catalog is still exactly mergelens's at our version (``check_catalog``: our
        tables with our columns, no view, macro or anything else whose SQL would run in our
        queries); no PR row was lost and none is stored twice. The row count of every table."""
        version = self.checked_version(con)
        if version != store.SCHEMA_VERSION:
            raise StorageError(
                f"{self.description}: the DuckLake is at schema version {version}, not {store.SCHEMA_VERSION}"
            )
        # One query for every table's count: one round trip to the catalog, not one per table.
        union = " UNION ALL ".join(f"SELECT '{table}', count(*) FROM \"{table}\"" for table in store.TABLES)
        counts = {table: 0 for table in store.TABLES} | {table: int(n) for table, n in con.execute(union).fetchall()}
        if counts["pull_requests"] < pull_requests_before:
            shrank = f"from {pull_requests_before} to {counts['pull_requests']} rows"
            raise StorageError(f"{self.description}: pull_requests shrank {shrank}")
        row = con.execute("SELECT count(*) - count(DISTINCT (repo, number)) FROM pull_requests").fetchone()
        if row and row[0]:
            raise StorageError(f"{self.description}: {row[0]} PRs are stored more than once in pull_requests")
        return counts

    @staticmethod
    def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
        row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        return int(row[0]) if row else 0

    # --- transactions ----------------------------------------------------------------------

    def _transaction(
        self,
        locks: KeyLocks,
        con: duckdb.DuckDBPyConnection,
        body: Callable[[], object],
        keys: Sequence[tuple[str, int]],
    ) -> None:
        """store.in_transaction on the lake: under the locks of the PRs it writes, BEGIN, body,
        COMMIT; a conflict rolls back and replays it after a backoff with jitter."""
        with locks.held(keys):
            for attempt in range(1, self.max_attempts + 1):
                con.execute("BEGIN")
                try:
                    body()
                    con.execute("COMMIT")
                    return
                except duckdb.Error as exc:
                    _rollback(con)
                    if not is_conflict(exc):
                        raise
                except BaseException:
                    _rollback(con)
                    raise
                self.conflicts += 1
                if attempt < self.max_attempts:
                    self._back_off(attempt)
        raise StorageConflict(
            f"{self.description}: other writers kept conflicting with this one: gave up after "
            f"{self.max_attempts} attempts; nothing of this transaction was stored"
        )

    @staticmethod
    def _back_off(attempt: int) -> None:
        time.sleep(random.uniform(0, min(MAX_BACKOFF_S, BACKOFF_S * 2**attempt)))  # full jitter

    @contextlib.contextmanager
    def key_locks(self) -> Iterator[KeyLocks]:
        """The locks this lake's writers take (KeyLocks: per PR, and the compaction lock)."""
        locks: KeyLocks = (
            PostgresKeyLocks(self.catalog.target) if self.catalog.kind == "postgres" else FileKeyLocks(self.catalog)
        )
        try:
            yield locks
        finally:
            locks.close()

    def explain(self, exc: BaseException) -> str:
        """DuckDB's error, fit for one line: its kind, and its first line without the DSN's
        password or an S3 secret (DuckDB quotes the connection string on a failed connect)."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        text = redacted(text.replace(self.catalog.attach, redacted(self.catalog.attach)))
        for secret in (self.s3.secret_access_key, self.s3.session_token):
            if secret:
                text = text.replace(secret, "***")
        return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # a failed COMMIT has ended the transaction already
        con.execute("ROLLBACK")


def check_catalog(con: duckdb.DuckDBPyConnection) -> int:
    """The lake's schema version (0: no mergelens tables yet), once its catalog is exactly what
    the migrations to that version create (``expected_lake_catalog``): nothing else, no view or
    macro whose SQL would run inside our queries, no other schema, sequence or type. Until then
    only DuckDB's catalog functions are read (``lake_catalog``); ``mergelens_schema``'s rows once
    that table is known to be ours. The file DB's rule (``store.verify_catalog``), for a lake:
    ``store.SchemaError`` for a newer version, else ``store.DatabaseRefused`` wording the first
    difference. Every command checks it before its first statement on the lake, and the
    dashboard before it reads a row."""
    found = lake_catalog(con)
    if any(entry.kind not in ("table", "column") for entry in found):  # a view, a macro, …: never run
        problem = store.catalog_difference(found, expected_lake_catalog(store.SCHEMA_VERSION, found))
        raise store.DatabaseRefused("foreign", problem or "it holds objects mergelens did not create")
    version = 0
    if CatalogEntry("table", "mergelens_schema") in found:
        schema_table = {entry: text for entry, text in found.items() if entry.name.split(".")[0] == "mergelens_schema"}
        if schema_table != _table_entries("mergelens_schema", expected_tables(1)["mergelens_schema"]):
            raise store.DatabaseRefused("foreign", "its table mergelens_schema is not the one mergelens creates")
        recorded = [value for (value,) in con.execute("SELECT version FROM mergelens_schema").fetchall()]
        version = max((value for value in recorded if value is not None), default=0)
        if version > store.SCHEMA_VERSION:
            raise store.SchemaError(version)
        if version < 1:
            raise store.DatabaseRefused("foreign", "its table mergelens_schema records no schema version")
    problem = store.catalog_difference(found, expected_lake_catalog(version, found))
    if problem:
        recorded_as = f" (mergelens_schema records version {version})" if version else ""
        raise store.DatabaseRefused("foreign", problem + recorded_as)
    return version


def lake_catalog(con: duckdb.DuckDBPyConnection) -> store.Catalog:
    """Every object the attached lake defines, as ``fetcher.db.store.Catalog`` entries (a column's
    definition: its type and nullability), and any function that is not DuckDB's own. Only
    DuckDB's catalog functions, qualified ``system.main.``: a macro of the lake cannot shadow them."""
    catalog: store.Catalog = {}
    for table, columns in lake_tables(con, ALIAS).items():
        catalog |= _table_entries(table, columns)
    for database, schema, table in con.execute(
        "SELECT database_name, schema_name, table_name FROM system.main.duckdb_tables()"
    ).fetchall():
        if database == ALIAS and schema != "main":
            catalog[CatalogEntry("table", store.qualified(schema, table))] = ""
    # The connection is in memory with nothing of its own: a function that is not DuckDB's is the lake's.
    return catalog | store.other_objects(con, ALIAS)


def _table_entries(table: str, columns: list[tuple[object, ...]]) -> store.Catalog:
    entries: store.Catalog = {CatalogEntry("table", table): ""}
    for name, *definition in columns:
        entries[CatalogEntry("column", f"{table}.{name}")] = repr(definition)
    return entries


def expected_lake_catalog(version: int, found: store.Catalog) -> store.Catalog:
    """What a lake mergelens wrote holds at ``version``: the migrations' tables, and
    ``mergelens_compactions`` once a compaction has run."""
    expected: store.Catalog = {}
    tables = dict(expected_tables(version))
    if CatalogEntry("table", "mergelens_compactions") in found:
        tables |= compactions_columns()
    for table, columns in tables.items():
        expected |= _table_entries(table, columns)
    return expected


def data_size(con: duckdb.DuckDBPyConnection) -> int:
    """Bytes of the lake's live Parquet files (data and deletes)."""
    row = con.execute(
        f"SELECT sum(file_size_bytes) + sum(delete_file_size_bytes) FROM ducklake_table_info({sql_literal(ALIAS)})"
    ).fetchone()
    return int(row[0] or 0) if row else 0


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
def expected_tables(version: int = store.SCHEMA_VERSION) -> Columns:
    """What the migrations up to ``version`` create in a lake: built in memory with lake_ddl,
    read as a lake is."""
    return _built(lambda con: store.ensure_schema(con, version, ddl=lake_ddl))


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


# --- writers of the same PR take turns -------------------------------------------------------


class KeyLocks:
    def held(self, keys: Sequence[tuple[str, int]]) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def alone(self) -> contextlib.AbstractContextManager[None]:
        """COMPACTION_LOCK exclusively: no transaction runs meanwhile (each holds it shared)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


def _key_text(key: tuple[str, int]) -> str:
    return f"{key[0]}#{key[1]}"


class PostgresKeyLocks(KeyLocks):
    """A PostgreSQL advisory lock per PR, on the catalog's own server (a session of its own: the
    DuckDB postgres extension pools its connections, and a session lock must be released by the
    session that took it). A writer that dies releases its locks with its session."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._session: Any = None

    def session(self) -> Any:
        if self._session is None:
            import psycopg

            try:
                self._session = psycopg.connect(self.dsn, autocommit=True, connect_timeout=30)
                self._session.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'")
            except psycopg.Error as exc:
                raise StorageError(
                    f"{PREFIX}postgres:{redacted(self.dsn)}: cannot connect for the PR locks ({type(exc).__name__})"
                ) from None
        return self._session

    @contextlib.contextmanager
    def held(self, keys: Sequence[tuple[str, int]]) -> Iterator[None]:
        session = self.session()
        try:
            session.execute("SELECT pg_advisory_lock_shared(hashtextextended(%s, 0))", [COMPACTION_LOCK])
            for key in sorted(set(keys)):  # one order for every writer: no deadlock
                session.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [_key_text(key)])
            yield
        finally:
            session.execute("SELECT pg_advisory_unlock_all()")

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        session = self.session()
        try:
            session.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [COMPACTION_LOCK])
            yield
        finally:
            session.execute("SELECT pg_advisory_unlock_all()")

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


COMPACTION_OFFSET = 2**32  # past every PR's offset (4 bytes of a hash)


class FileKeyLocks(KeyLocks):
    """A SQLite or DuckDB-file catalog (one machine): a byte-range lock per PR in a file beside
    the catalog, ``CATALOG.mergelens-lock``."""

    def __init__(self, catalog: Catalog) -> None:
        self.path = Path(catalog.target).expanduser().with_name(Path(catalog.target).name + ".mergelens-lock")
        self._fd: int | None = None

    @contextlib.contextmanager
    def held(self, keys: Sequence[tuple[str, int]]) -> Iterator[None]:
        fd = self._open()
        offsets = sorted({int.from_bytes(hashlib.sha256(_key_text(key).encode()).digest()[:4]) for key in keys})
        fcntl.lockf(fd, fcntl.LOCK_SH, 1, COMPACTION_OFFSET)
        taken: list[int] = [COMPACTION_OFFSET]
        try:
            for offset in offsets:
                fcntl.lockf(fd, fcntl.LOCK_EX, 1, offset)
                taken.append(offset)
            yield
        finally:
            for offset in taken:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        fd = self._open()
        fcntl.lockf(fd, fcntl.LOCK_EX, 1, COMPACTION_OFFSET)
        try:
            yield
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, COMPACTION_OFFSET)

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
