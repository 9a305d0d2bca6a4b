"""A DB file on this machine: writers are serialised by an exclusive ``flock`` on ``PATH.lock``;
the update is made on a copy beside the file and ``os.replace``d onto it (atomic on POSIX), so
a reader or a crash only ever sees the old or the new file."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import duckdb

from fetcher.db import safe_open
from fetcher.errors import StorageError
from fetcher.storage.files import remove, replace_durably
from fetcher.storage.location import UpdateResult
from fetcher.storage.verify import apply_and_verify

T = TypeVar("T")

DEFAULT_LOCK_TIMEOUT_S = 600.0


class LocalLocation:
    """A DuckDB file on this machine, replaced atomically under an exclusive lock."""

    def __init__(self, path: Path, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> None:
        # Resolve symlinks: os.replace on a symlink would replace the link, not the DB.
        self.path = Path(path).expanduser().resolve()
        if not self.path.name:  # "/" (or what resolves to it): a directory, with no name to put a lock beside
            raise StorageError(f"{path}: a directory, not a DuckDB file")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.wal_path = self.path.with_name(self.path.name + ".wal")
        self.lock_timeout_s = lock_timeout_s
        self.description = str(self.path)

    def update(self, apply: Callable[[Path], T], before: Callable[[], None] | None = None) -> UpdateResult[T]:
        if not self.path.parent.is_dir():
            raise StorageError(f"{self.description}: directory {self.path.parent} does not exist")
        if self.path.exists() and not self.path.is_file():
            raise StorageError(f"{self.description}: not a file")
        with self._locked():
            self._remove_stale_copies()
            if self.path.exists():
                self._open_original()
            work = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:12]}.tmp")
            try:
                if self.path.exists():
                    shutil.copyfile(self.path, work)
                    shutil.copymode(self.path, work)
                value, counts, created = apply_and_verify(work, apply, self.description, before)
                if self.wal_path.exists():
                    # Someone opened PATH read-write with DuckDB directly (not through this lock)
                    # since we copied it: its WAL would be replayed onto our new file.
                    raise StorageError(
                        f"not storing {self.description}: another process is writing it directly "
                        f"({self.wal_path.name} appeared); the stored database is unchanged"
                    )
                replace_durably(work, self.path)
            except BaseException:
                remove(work)
                raise
        return UpdateResult(
            value=value,
            location=self.description,
            local_path=self.path,
            size_bytes=self.path.stat().st_size,
            counts=counts,
            created=created,
            attempts=1,
            notes=[],
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive flock on PATH.lock (never deleted: unlinking a lock file lets two writers
        lock two different inodes). The kernel releases it when the process dies, kill -9
        included, so a crashed writer never leaves the DB locked."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(
                f"{self.description}: cannot create lock file {self.lock_path}: {exc.strerror}"
            ) from None
        try:
            deadline = time.monotonic() + self.lock_timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StorageError(
                            f"{self.description}: another mergelens run held {self.lock_path.name} "
                            f"for more than {self.lock_timeout_s:.0f} s"
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _remove_stale_copies(self) -> None:
        """Working copies left by a writer that was killed (we hold the lock: none is live)."""
        for leftover in self.path.parent.glob(f".{glob_escape(self.path.name)}.*.tmp*"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()

    def _open_original(self) -> None:
        """Open PATH itself before copying it. DuckDB refuses a file another process holds open
        read-write outside this lock: one line, before the command's requests.

        PATH.wal beside PATH: a direct DuckDB writer crashed (or is running) with committed
        data not yet checkpointed into PATH. Copying PATH alone would lose it, so open the
        original read-write, which replays the WAL, and CHECKPOINT it into the file first.
        That is what DuckDB itself does on the next open; a live writer holds DuckDB's own
        lock and makes this fail instead."""
        leftover_wal = self.wal_path.exists()
        try:
            con, _ = safe_open.open_database(self.path, read_only=not leftover_wal)
            try:
                if leftover_wal:
                    con.execute("CHECKPOINT")
            finally:
                con.close()
        except safe_open.DatabaseRefused as exc:
            raise exc.at(f"cannot open database {self.description}: ") from None
        except duckdb.Error as exc:
            raise StorageError(
                f"cannot fold the WAL into database {self.description} (DuckDB: {type(exc).__name__})"
                if leftover_wal
                else f"cannot open database {self.description} (DuckDB: {type(exc).__name__})"
            ) from None
        if leftover_wal and self.wal_path.exists():
            # DuckDB folds its own WAL in and deletes it; one it ignored (not a WAL of this file:
            # copied, restored from a backup, junk) would make every run refuse to store.
            raise StorageError(f"cannot use database {self.description}: {safe_open.stray_wal_reason(self.path)}")


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)
