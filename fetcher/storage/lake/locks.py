"""Writers of the same PR take turns: a lock per (repo, number) that every transaction on a
DuckLake holds, and the compaction lock it holds shared (compaction holds it alone). On the
catalog's own PostgreSQL server (advisory locks), else in a file beside the catalog."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fetcher.errors import StorageError
from fetcher.storage.lake.catalog import PREFIX, redacted

LOCK_TIMEOUT_S = 600  # how long a writer waits for another writer of the same PR
# Every transaction holds this one shared, compaction holds it alone (fetcher/storage/lake/compact.py): DuckLake
# 1.5.5's file rewrites do not conflict with a writer's delete of the rows being rewritten, which
# come back (a PR stored twice; tests/test_lake_ops.py found it).
COMPACTION_LOCK = "mergelens:compaction"


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

    def __init__(self, catalog_path: str) -> None:
        self.path = Path(catalog_path).expanduser().with_name(Path(catalog_path).name + ".mergelens-lock")
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
