"""A remote database (``s3://BUCKET/KEY`` or ``artifact:NAME``) read through a local cache.

The remote is read with the fetcher's own storage code (``fetcher.storage.open_remote``: the
same S3 client, the same choice of trusted artifact) through its read-only ``fetch_copy``: an
unchanged remote costs one conditional request (S3: If-None-Match on the ETag) or the listing
(artifact: same id), never a download. The remote is asked at most every
``MERGELENS_REFRESH_SECONDS`` (default 300). A downloaded copy is opened as untrusted data
(``dashboard.db.connect``: ``fetcher.db.safe_open.open_database``'s catalog check) before it replaces
the copy shown; when a check fails, the last good copy stays, with a warning.

The copy lives in ``MERGELENS_CACHE_DIR`` (default ``<temp dir>/mergelens-cache-<uid>``), one
directory per location, with ``version.json`` saying which remote version it is, so a restarted
dashboard asks "changed since?" instead of downloading again. No Streamlit here.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from dashboard.db import Problem, connect
from fetcher.config import DEFAULT_REFRESH_S, Environment
from fetcher.storage import RemoteLocation, RemoteVersion, StorageError, open_remote
from fetcher.storage.files import remove

COPY_NAME = "mergelens.duckdb"
VERSION_NAME = "version.json"


def is_remote(spec: str) -> bool:
    return spec.startswith(("s3://", "artifact:"))


@dataclass(frozen=True)
class Snapshot:
    """What to show: a verified local copy of one remote version."""

    path: Path  # the copy, opened read-only by the dashboard
    version: RemoteVersion  # which remote version it is (stored_at: how fresh the data is)
    checked_at: datetime | None  # when the remote last answered (None: not yet, a copy from before)
    warning: str | None = None  # the last check failed (one line, plain text): this copy may be old


class RemoteDatabase:
    """The local copy of one remote DB, refreshed when the remote changes, checked at most every
    ``refresh_s`` seconds of ``clock``. Thread-safe (Streamlit sessions run in threads); two
    dashboards sharing the cache directory take turns (a lock file)."""

    def __init__(
        self,
        spec: str,
        location: RemoteLocation,
        cache_dir: Path,
        refresh_s: float = DEFAULT_REFRESH_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.location = location
        self.dir = Path(cache_dir)
        self.path = self.dir / COPY_NAME
        self.refresh_s = refresh_s
        self.clock = clock
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._checked: float | None = None  # clock() of the last check, answered or failed

    def snapshot(self) -> Snapshot:
        """The copy to show; ``Problem`` when there is none (the first fetch failed)."""
        with self._lock:
            now = self.clock()
            if self._snapshot is not None and self._checked is not None and now - self._checked < self.refresh_s:
                return self._snapshot
            self._checked = now
            try:
                with self._dir_locked():
                    if self._snapshot is None:
                        self._snapshot = self._cached()
                    self._snapshot = self._refresh(now)
            except (StorageError, Problem, OSError) as failure:
                reason = failure.strerror or type(failure).__name__ if isinstance(failure, OSError) else str(failure)
                if self._snapshot is None:
                    raise Problem(
                        "unreachable",
                        "Cannot fetch the database",
                        f"{self.spec}: {reason}",
                        _HINT,
                    ) from None
                self._snapshot = replace(self._snapshot, warning=reason)
            return self._snapshot

    def _refresh(self, now: float) -> Snapshot:
        known = self._snapshot.version if self._snapshot else None
        work = self.dir / f".{COPY_NAME}.{uuid.uuid4().hex[:12]}.download"
        try:
            fetched = self.location.fetch_copy(work, known)
            if fetched.changed:
                connect(work, shown=self.spec).close()  # untrusted data: the catalog check, before use
                os.replace(work, self.path)
                self._write_version(fetched.version)
        finally:
            remove(work)
        return Snapshot(self.path, fetched.version, _utc(now))

    def _cached(self) -> Snapshot | None:
        """The copy an earlier dashboard left, if ``version.json`` still describes it and it opens."""
        try:
            saved = json.loads((self.dir / VERSION_NAME).read_text())
            stat = self.path.stat()
            if (saved["size"], saved["mtime_ns"]) != (stat.st_size, stat.st_mtime_ns):
                return None
            stored_at = datetime.fromisoformat(saved["stored_at"]) if saved["stored_at"] else None
            version = RemoteVersion(str(saved["tag"]), stored_at, str(saved["description"]))
            connect(self.path, shown=self.spec).close()
        except (OSError, ValueError, KeyError, TypeError, Problem):
            return None
        return Snapshot(self.path, version, None)

    def _write_version(self, version: RemoteVersion) -> None:
        stat = self.path.stat()
        saved = {
            "tag": version.tag,
            "stored_at": version.stored_at.isoformat() if version.stored_at else None,
            "description": version.description,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }
        work = self.dir / f".{VERSION_NAME}.{uuid.uuid4().hex[:12]}.tmp"
        work.write_text(json.dumps(saved))
        os.replace(work, self.dir / VERSION_NAME)

    @contextlib.contextmanager
    def _dir_locked(self) -> Iterator[None]:
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot use the cache directory {self.dir}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


_HINT = """# s3://: the fetcher's S3 settings (AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL)
# artifact:NAME: the repository and a token that may read its artifacts (`actions: read`)
export GITHUB_REPOSITORY=OWNER/NAME GITHUB_TOKEN=..."""


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def cache_root(configured: str | None) -> Path:
    """``MERGELENS_CACHE_DIR``, else a directory of this user's in the system temp directory;
    either must be this user's own (``private_directory``)."""
    default = Path(tempfile.gettempdir()) / f"mergelens-cache-{os.getuid()}"
    return private_directory(Path(configured) if configured else default)


def private_directory(root: Path) -> Path:
    """``root``, created (mode 0700) when missing; refused (``Problem``) when it is a symlink, is not
    this user's, or others may write to it: whoever can swap its files chooses what the dashboard
    shows (another user of a shared temp directory who made it first, a cache set up group-writable)."""
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        stat = root.lstat()
    except OSError as exc:
        raise Problem("unreadable", "Cannot cache the database", f"{root}: {exc.strerror}.") from None
    if not root.is_dir() or root.is_symlink() or stat.st_uid != os.getuid() or stat.st_mode & 0o022:
        raise Problem(
            "unreadable",
            "Cannot cache the database",
            f"{root} is a symlink, belongs to another user or others may write to it: use (or set "
            "MERGELENS_CACHE_DIR to) a directory of yours that only you can write to.",
        )
    return root


def open_remote_database(spec: str, environ: Mapping[str, str] | None = None) -> RemoteDatabase:
    """The RemoteDatabase for ``MERGELENS_DB=spec``, set up from the environment (the token and
    repository as the fetcher reads them). ``Problem`` when the location cannot be used."""
    env = Environment.from_environ(environ)
    try:
        location = open_remote(spec, env)
    except StorageError as exc:
        raise Problem("unreachable", "Cannot fetch the database", str(exc), _HINT) from None
    # One directory per location: the same artifact name in two repositories is two databases.
    identity = "\n".join([spec, env.repository or "", env.api_url, env.s3.endpoint_url or ""])
    directory = cache_root(env.cache_dir) / hashlib.sha256(identity.encode()).hexdigest()[:16]
    return RemoteDatabase(spec, location, directory, env.refresh_seconds)
