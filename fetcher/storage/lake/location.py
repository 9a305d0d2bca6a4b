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
data path (``_confine``), and every command checks the catalog (``catalog.check_catalog``) before
any statement reads the lake, the migration included, and before its requests to GitHub.

A DuckLake has no PRIMARY KEY, and writers find out about each other only at COMMIT, so each
transaction (``store.in_transaction``) is run here: a conflict is rolled back and the transaction
replayed after a backoff with jitter; writers of the same PR take turns under a lock per (repo,
number), because two transactions that each create the same new PR both commit (their DELETE
matched nothing, which DuckLake does not count as a conflict: ducklake issue #1393) and the PR
would be stored twice (``locks``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import posixpath
import random
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import duckdb

from fetcher.compute import metrics
from fetcher.config import S3Settings
from fetcher.db import schema, store
from fetcher.db.safe_open import DatabaseRefused, SchemaError, closed_on_error
from fetcher.errors import StorageConflict, StorageError
from fetcher.storage.lake.catalog import ALIAS, PREFIX, CatalogAddress, check_catalog, lake_ddl, redacted
from fetcher.storage.lake.locks import FileKeyLocks, KeyLocks, PostgresKeyLocks
from fetcher.storage.location import UpdateResult

T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 30  # 6 writers on one hot PR needed up to ~10 in the spike
BACKOFF_S, MAX_BACKOFF_S = 0.05, 5.0
SETUP_KEY = ("", 0)  # the lock of a new lake's setup (no repository is named "")


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
        self.catalog = CatalogAddress.parse(spec)
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
                with closed_on_error(con, self.failure):
                    version = self._migrate(con, found)
            try:
                if before is not None:
                    before()
                if 0 < version < schema.METRICS_CHANGED:
                    # The stored metrics follow the old definitions, as safe_open.open_migrated finds on a file.
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

    def attach(self, read_only: bool = False, snapshot: int | None = None) -> duckdb.DuckDBPyConnection:
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
        """``attach``, then ``check_catalog``: the connection and the lake's schema version, or
        one line (StorageError) without a secret. Nothing of the lake has run before its catalog
        passed."""
        try:
            con = self.attach()
        except duckdb.Error as exc:
            raise StorageError(f"{self.description}: cannot open the DuckLake: {self.explain(exc)}") from None
        with closed_on_error(con, self.failure):
            return con, self.checked_version(con)

    def checked_version(self, con: duckdb.DuckDBPyConnection) -> int:
        """``check_catalog`` in one line that says which lake: DatabaseRefused (a StorageError)
        when the lake is not mergelens's."""
        try:
            return check_catalog(con)
        except SchemaError as exc:
            raise exc.at(f"{self.description}: ") from None
        except DatabaseRefused as exc:
            raise exc.at(f"{self.description}: the DuckLake is not mergelens's: ") from None
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
        """Bring the lake's schema from ``found`` (its checked version) to ours (schema.MIGRATIONS
        through lake_ddl); the version found. Writers starting on a new lake together: the one
        that loses the COMMIT checks the catalog again and finds it done."""
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                found = self.checked_version(con)
            if found == schema.SCHEMA_VERSION:
                return found
            try:
                schema.ensure_schema(con, schema.SCHEMA_VERSION, current=found, ddl=lake_ddl)
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
        if version != schema.SCHEMA_VERSION:
            raise StorageError(
                f"{self.description}: the DuckLake is at schema version {version}, not {schema.SCHEMA_VERSION}"
            )
        # One query for every table's count: one round trip to the catalog, not one per table.
        union = " UNION ALL ".join(f"SELECT '{table}', count(*) FROM \"{table}\"" for table in schema.TABLES)
        counts = {table: 0 for table in schema.TABLES} | {table: int(n) for table, n in con.execute(union).fetchall()}
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
            PostgresKeyLocks(self.catalog.target)
            if self.catalog.kind == "postgres"
            else FileKeyLocks(self.catalog.target)
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


def data_size(con: duckdb.DuckDBPyConnection) -> int:
    """Bytes of the lake's live Parquet files (data and deletes)."""
    row = con.execute(
        f"SELECT sum(file_size_bytes) + sum(delete_file_size_bytes) FROM ducklake_table_info({sql_literal(ALIAS)})"
    ).fetchone()
    return int(row[0] or 0) if row else 0
