"""Where the DB file lives: a local path, ``s3://bucket/key.duckdb`` or ``artifact:NAME``.

Every location offers one operation, ``update(apply)``: get a local working copy of the DB
(a path that does not exist yet when there is no DB: ``fetcher.store.connect`` creates it),
let ``apply`` write to it, verify the result, and only then store it. Nothing is stored when
``apply`` raises or the verification refuses the file; the previous DB stays as it was.

Verification (``verify_database``): open read-write and ``CHECKPOINT`` (folds the WAL into
the file, so the single file we store is complete), reopen read-only, check the schema
version and count the rows of every mergelens table. ``pull_requests`` may never shrink.
Every open, of the stored DB as found too, goes through ``store.open_database``: the file is
data, not code (its catalog must be exactly mergelens's), and DuckDB's error texts, which can
quote the file, are never passed on.

- Local path: writers are serialised by an exclusive ``flock`` on ``PATH.lock``; the update
  is made on a copy beside the file and ``os.replace``d onto it (atomic on POSIX), so a
  reader or a crash only ever sees the old or the new file.
- S3 (or any S3-compatible store; boto3 reads ``AWS_ENDPOINT_URL`` itself): download with
  the ETag, upload with a conditional write; a concurrent writer makes us re-download and
  re-apply, so ``apply`` may run more than once and must work on whatever file it is given.
- Artifact: the newest unexpired *trusted* artifact of that name, downloaded through the REST
  API; the updated file is left in ``$RUNNER_TEMP/mergelens/NAME.duckdb`` for the workflow's
  ``actions/upload-artifact`` step. Trusted: uploaded by a workflow run of this repository that
  executed this repository's own code: a ``pull_request_target`` run (a merge), or a run on its
  default branch (or a branch of ``MERGELENS_ARTIFACT_BRANCHES``); see ``run_refusal``. Any run,
  a fork's PR CI included, can upload an artifact of any name. Artifacts cannot be written
  conditionally: the workflow's concurrency group is what serialises writers there.

``apply`` must close its connections before it returns (DuckDB allows one read-write
process per file and refuses a second open with another configuration in the same process).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import re
import shutil
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

import duckdb

from fetcher import store
from fetcher.config import Environment
from fetcher.errors import MergelensError
from fetcher.event import event_repository

T = TypeVar("T")

# Every mergelens table: the version table, then those the migrations create ("pull_requests", ...).
MERGELENS_TABLES: tuple[str, ...] = store.TABLES

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_LOCK_TIMEOUT_S = 600.0
COPY_CHUNK = 1 << 20


class StorageError(MergelensError):
    """The DB could not be fetched, verified or stored: one line, exit code 1."""


class StorageConflict(StorageError):
    """Other writers kept updating the stored DB while we were: gave up after max_attempts."""


@dataclass
class UpdateResult(Generic[T]):
    value: T  # what apply() returned (from the attempt that was stored)
    location: str  # human description of where the DB lives
    local_path: Path  # the verified local file that was stored / is ready to upload
    size_bytes: int
    counts: dict[str, int]  # rows per mergelens table of the stored DB
    created: bool  # no DB existed before: a fresh one was started
    attempts: int  # 1 + conflict retries
    notes: list[str] = field(default_factory=list)  # loud notices for the run summary
    artifact_name: str | None = None  # artifact:NAME: the name the workflow uploads the file under


class Location(Protocol):
    description: str

    def update(self, apply: Callable[[Path], T]) -> UpdateResult[T]: ...


def is_local(spec: str) -> bool:
    """True when ``--db`` names a file on this machine (not ``s3://`` nor ``artifact:``)."""
    return not spec.startswith(("s3://", "artifact:"))


def open_location(spec: str, env: Environment, workdir: Path | None = None) -> Location:
    """``spec`` is what ``--db`` says: a local path, ``s3://bucket/key`` or ``artifact:NAME``.

    ``workdir``: where S3 working copies go (a private temp directory is made inside it; default
    the system temp directory). The artifact store leaves its file in ``$RUNNER_TEMP/mergelens``,
    or outside GitHub Actions in the working directory."""
    if spec.startswith("s3://"):
        bucket, _, key = spec[len("s3://") :].partition("/")
        if not bucket or not key or key.endswith("/"):
            raise StorageError(f"--db {spec}: expected s3://BUCKET/KEY (e.g. s3://my-bucket/mergelens.duckdb)")
        return S3Location(bucket, key, workdir=workdir)
    if spec.startswith("artifact:"):
        name = spec[len("artifact:") :]
        # Outside Actions: the downloaded, updated DB stays in the working directory, where
        # the user can open it (a temporary workdir would be gone when the run ends).
        output_dir = Path(env.runner_temp) / "mergelens" if env.runner_temp else Path.cwd()
        return ArtifactLocation(name, env, output_dir)
    if not spec.strip():
        raise StorageError("--db is empty: give a path, s3://BUCKET/KEY or artifact:NAME")
    return LocalLocation(Path(spec))


# --- verification ------------------------------------------------------------------------


class _Refused(Exception):
    """The reason a file is not fit to store (wrapped in a StorageError by the caller)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check(path: Path, previous_counts: dict[str, int] | None) -> dict[str, int]:
    if not path.is_file():
        raise _Refused("the database file is missing")
    try:
        con, _ = store.open_database(path)
        try:
            con.execute("CHECKPOINT")  # fold the WAL into the file: the file alone is the DB
        finally:
            con.close()
        con, version = store.open_database(path, read_only=True)
        try:
            counts = _table_counts(con)
        finally:
            con.close()
    except store.DatabaseRefused as exc:
        raise _Refused(str(exc)) from None
    except duckdb.Error as exc:  # its text can quote the file: only the kind of error is named
        raise _Refused(f"it does not open as a DuckDB database (DuckDB: {type(exc).__name__})") from None
    if version != store.SCHEMA_VERSION:
        raise _Refused(f"schema version is {version}, expected {store.SCHEMA_VERSION}")
    before = (previous_counts or {}).get("pull_requests", 0)
    if counts["pull_requests"] < before:
        raise _Refused(f"pull_requests would shrink from {before} to {counts['pull_requests']} rows")
    return counts


def _table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows in each mergelens table the file has (an older schema may lack some)."""
    present = {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    return {
        table: int(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # type: ignore[index]
        for table in MERGELENS_TABLES
        if table in present
    }


def verify_database(path: Path, previous_counts: dict[str, int] | None = None) -> dict[str, int]:
    """Checkpoint ``path``, reopen it read-only and return the row count of every mergelens
    table. StorageError when it does not open, has another schema version, lacks a table, or
    has fewer ``pull_requests`` rows than ``previous_counts`` says there were."""
    try:
        return _check(Path(path), previous_counts)
    except _Refused as reason:
        raise StorageError(f"{path}: {reason}") from None


def _count_existing(path: Path, description: str) -> dict[str, int]:
    """Row counts of the DB as found, before apply (tables of an older schema may be absent)."""
    try:
        con, _ = store.open_database(path, read_only=True)
        try:
            return _table_counts(con)
        finally:
            con.close()
    except (store.DatabaseRefused, duckdb.Error) as exc:
        reason = exc if isinstance(exc, store.DatabaseRefused) else f"DuckDB: {type(exc).__name__}"
        raise StorageError(f"{description}: the stored database cannot be used: {reason}; nothing changed") from None


def _apply_and_verify(work: Path, apply: Callable[[Path], T], description: str) -> tuple[T, dict[str, int], bool]:
    created = not work.exists()
    previous = None if created else _count_existing(work, description)
    value = apply(work)
    try:
        counts = _check(work, previous)
    except _Refused as reason:
        raise StorageError(f"not storing {description}: {reason}; the stored database is unchanged") from None
    return value, counts, created


# --- file helpers ------------------------------------------------------------------------


def _remove(path: Path) -> None:
    """Remove a working copy and the WAL DuckDB may have left beside it."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # A rename is durable only once the directory entry is on disk.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_durably(work: Path, target: Path) -> None:
    """``work`` (verified, on the same file system) becomes ``target`` in one rename."""
    _fsync_file(work)
    os.replace(work, target)
    _fsync_dir(target.parent)


# --- local path --------------------------------------------------------------------------


class LocalLocation:
    """A DuckDB file on this machine, replaced atomically under an exclusive lock."""

    def __init__(self, path: Path, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> None:
        # Resolve symlinks: os.replace on a symlink would replace the link, not the DB.
        self.path = Path(path).expanduser().resolve()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.wal_path = self.path.with_name(self.path.name + ".wal")
        self.lock_timeout_s = lock_timeout_s
        self.description = str(self.path)

    def update(self, apply: Callable[[Path], T]) -> UpdateResult[T]:
        if not self.path.parent.is_dir():
            raise StorageError(f"{self.description}: directory {self.path.parent} does not exist")
        if self.path.exists() and not self.path.is_file():
            raise StorageError(f"{self.description}: not a file")
        with self._locked():
            self._remove_stale_copies()
            if self.wal_path.exists():
                self._checkpoint_leftover_wal()
            work = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:12]}.tmp")
            try:
                if self.path.exists():
                    shutil.copyfile(self.path, work)
                    shutil.copymode(self.path, work)
                value, counts, created = _apply_and_verify(work, apply, self.description)
                if self.wal_path.exists():
                    # Someone opened PATH read-write with DuckDB directly (not through this lock)
                    # since we copied it: its WAL would be replayed onto our new file.
                    raise StorageError(
                        f"not storing {self.description}: another process is writing it directly "
                        f"({self.wal_path.name} appeared); the stored database is unchanged"
                    )
                _replace_durably(work, self.path)
            except BaseException:
                _remove(work)
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

    def _checkpoint_leftover_wal(self) -> None:
        """PATH.wal beside PATH: a direct DuckDB writer crashed (or is running) with committed
        data not yet checkpointed into PATH. Copying PATH alone would lose it, so open the
        original read-write, which replays the WAL, and CHECKPOINT it into the file first.
        That is what DuckDB itself does on the next open; a live writer holds DuckDB's own
        lock and makes this fail instead."""
        try:
            con, _ = store.open_database(self.path)
            try:
                con.execute("CHECKPOINT")
            finally:
                con.close()
        except store.DatabaseRefused as exc:
            raise StorageError(f"cannot open database {self.description}: {exc}") from None
        except duckdb.Error as exc:
            raise StorageError(
                f"cannot fold the WAL into database {self.description} (DuckDB: {type(exc).__name__})"
            ) from None
        if self.wal_path.exists():
            # DuckDB folds its own WAL in and deletes it; one it ignored (not a WAL of this file:
            # copied, restored from a backup, junk) would make every run refuse to store.
            raise StorageError(f"cannot use database {self.description}: {store.stray_wal_reason(self.path)}")


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


# --- S3 ----------------------------------------------------------------------------------

# What S3 answers a conditional PUT that lost a race: 412 when the ETag no longer matches
# (If-Match) or the key now exists (If-None-Match: *), 409 when another conditional write to
# the key is in flight (S3 advises: fetch again and retry).
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
_CONFLICT_STATUSES = {409, 412}
_USERINFO = re.compile(r"//[^/@\s]+@")


class _Conflict(Exception):
    pass


class S3Location:
    """An object in an S3-compatible bucket, updated with optimistic concurrency (ETags)."""

    def __init__(
        self,
        bucket: str,
        key: str,
        workdir: Path | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_s: float = 0.2,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.key = key
        self.workdir = workdir
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self._client = client
        self.description = f"s3://{bucket}/{key}"

    def client(self) -> Any:
        if self._client is None:
            import boto3.session
            from botocore.config import Config

            try:
                # A session of our own: boto3's default session caches credentials process-wide,
                # and creating clients from one shared session is not thread-safe.
                self._client = boto3.session.Session().client(
                    "s3",
                    config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10, read_timeout=60),
                )
            except Exception as exc:  # e.g. a malformed AWS_ENDPOINT_URL
                raise StorageError(f"{self.description}: cannot set up the S3 client: {self._clean(exc)}") from None
        return self._client

    def update(self, apply: Callable[[Path], T]) -> UpdateResult[T]:
        # A private directory: the key's basename cannot clash with a file of the user's.
        workdir = Path(tempfile.mkdtemp(prefix="mergelens-s3-", dir=self.workdir))
        basename = Path(self.key).name or "mergelens.duckdb"
        attempts = 0
        try:
            while True:
                attempts += 1
                work = workdir / f".{basename}.{attempts}.download"
                try:
                    etag = self._download(work)
                    value, counts, created = _apply_and_verify(work, apply, self.description)
                    self._upload(work, etag)
                    break
                except _Conflict:
                    _remove(work)
                    if attempts >= self.max_attempts:
                        raise StorageConflict(
                            f"{self.description}: gave up after {attempts} attempts: another writer changed the "
                            "object each time (S3 conditional write failed); rerun, or serialise the writers"
                        ) from None
                    time.sleep(min(self.backoff_s * 2 ** (attempts - 1), 5.0) * random.uniform(0.5, 1.5))
        except BaseException:
            _remove(work)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        stored = workdir / basename
        os.replace(work, stored)
        notes = [] if attempts == 1 else [f"{self.description}: stored on attempt {attempts} (another writer won)"]
        return UpdateResult(
            value=value,
            location=self.description,
            local_path=stored,
            size_bytes=stored.stat().st_size,
            counts=counts,
            created=created,
            attempts=attempts,
            notes=notes,
        )

    def _download(self, work: Path) -> str | None:
        """The object into ``work``; its ETag, or None when the key does not exist yet."""
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client()
        try:
            response = client.get_object(Bucket=self.bucket, Key=self.key)
            with response["Body"] as body, open(work, "wb") as out:
                shutil.copyfileobj(body, out, COPY_CHUNK)
            return str(response["ETag"])
        except ClientError as exc:
            if self._code(exc) == "NoSuchKey":
                return None  # first run: start a fresh DB and create the object with If-None-Match
            raise self._error("download", exc) from None
        except BotoCoreError as exc:
            raise self._error("download", exc) from None

    def _upload(self, work: Path, etag: str | None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        # If-Match: replace only the version we downloaded. If-None-Match "*": create only if
        # nobody created the key meanwhile. Either way a concurrent writer cannot be overwritten.
        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        try:
            with open(work, "rb") as body:
                self.client().put_object(
                    Bucket=self.bucket,
                    Key=self.key,
                    Body=body,
                    ContentType="application/octet-stream",
                    **condition,
                )
        except ClientError as exc:
            code = self._code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _CONFLICT_CODES or status in _CONFLICT_STATUSES:
                raise _Conflict() from None
            if etag is not None and code == "NoSuchKey":
                raise _Conflict() from None  # If-Match on a key deleted since we read it: S3 answers 404
            raise self._error("upload", exc) from None
        except BotoCoreError as exc:
            raise self._error("upload", exc) from None

    @staticmethod
    def _code(exc: Any) -> str:
        return str(exc.response.get("Error", {}).get("Code", ""))

    def _clean(self, exc: BaseException) -> str:
        # botocore messages name the endpoint URL; drop any user:password@ in it.
        return _USERINFO.sub("//", _first_line(exc))

    def _error(self, operation: str, exc: Exception) -> StorageError:
        from botocore.exceptions import ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            return StorageError(
                f"{self.description}: no S3 credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or AWS_PROFILE)"
            )
        if isinstance(exc, ClientError):
            code = self._code(exc) or "error"
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = str(exc.response.get("Error", {}).get("Message") or "").splitlines()
            detail = f": {message[0][:200]}" if message else ""
            hint = ""
            if code == "NotImplemented" and operation == "upload":
                hint = " (this store does not support conditional writes: If-Match / If-None-Match)"
            return StorageError(f"{self.description}: S3 {operation} failed: {code} (HTTP {status}){detail}{hint}")
        return StorageError(f"{self.description}: S3 {operation} failed: {type(exc).__name__}: {self._clean(exc)}")


# --- GitHub Actions artifact -------------------------------------------------------------

# actions/upload-artifact refuses these characters in a name.
_BAD_ARTIFACT_CHARS = set('":<>|*?\\/\r\n')
_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_LIST_PAGES = 10
_MAX_NAMED_SKIPS = 5  # untrusted artifacts named one by one in the notes; the rest are counted


# Which code a workflow run executed, by the event that triggered it (the run's ``event``).
# For the pull request events GitHub records the PR's HEAD side in the run whichever code ran:
# head_branch is the PR's branch and head_repository the PR's head repository (the fork, for a
# fork's PR). So the head side alone cannot tell a fork's `pull_request` run (the fork's code)
# from a `pull_request_target` run for the same PR (our base branch's code); the event can.
_BASE_BRANCH_EVENTS = ("pull_request_target",)  # the PR's base branch's workflow and code
_BRANCH_EVENTS = ("schedule", "workflow_dispatch", "push", "workflow_run", "repository_dispatch")
_PULL_REQUEST_EVENTS = ("pull_request", "pull_request_review", "pull_request_review_comment", "merge_group")


@dataclass(frozen=True)
class _Trust:
    """Whose artifacts we use: runs of this repository (its id, so a fork's runs, which list
    under our repository too, never pass) that ran our code: see ``run_refusal``."""

    repository_id: int
    branches: tuple[str, ...]

    def run_refusal(self, run: dict[str, Any]) -> str | None:
        """Why the workflow run ``run`` (GET /repos/{o}/{r}/actions/runs/{id}) did not run our
        code, or None when it did. By ``event``:

        - ``pull_request_target`` runs the workflow and code of the PR's base branch, in this
          repository: trusted whoever opened the PR (head_branch/head_repository are the PR's).
        - ``schedule``, ``workflow_dispatch``, ``push``, ``workflow_run``, ``repository_dispatch``
          run the code of ``head_branch`` of ``head_repository``: trusted when that is this
          repository and a trusted branch (the default one, or MERGELENS_ARTIFACT_BRANCHES).
        - ``pull_request``, ``pull_request_review(_comment)`` and ``merge_group`` run a pull
          request's code (a same-repository branch's too, Dependabot's say); they and every
          other event are never trusted, whatever the head side says."""
        event, branch = _shown(run["event"]), _shown(run.get("head_branch"))
        if run["repository"]["id"] != self.repository_id:
            return f"uploaded by a run of event {event} of another repository (id {_shown(run['repository']['id'])})"
        if run["event"] in _BASE_BRANCH_EVENTS:
            return None
        head = run.get("head_repository") if isinstance(run.get("head_repository"), dict) else {}
        ours = head.get("id") == self.repository_id
        where = f"uploaded by a run of event {event} for branch {branch} of " + (
            "this repository" if ours else _shown(head.get("full_name") or f"repository id {head.get('id')}")
        )
        if run["event"] in _PULL_REQUEST_EVENTS:
            return f"{where}: that event runs the code of a pull request"
        if run["event"] not in _BRANCH_EVENTS:
            return f"{where}: only runs of {', '.join(_BASE_BRANCH_EVENTS + _BRANCH_EVENTS)} are trusted"
        if not ours:
            return f"{where}, not this repository"
        if run.get("head_branch") not in self.branches:
            return f"{where} (trusted: {', '.join(self.branches)})"
        return None


@dataclass
class _Found:
    artifact: dict[str, Any] | None = None  # the newest unexpired trusted artifact
    newest_expired: dict[str, Any] | None = None  # the newest expired one (never used: its run is not read)
    skipped: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # untrusted, newer; why


class ArtifactLocation:
    """The newest unexpired trusted workflow artifact of a name (see ``_Trust``). Reading goes
    through the REST API; writing is the workflow's ``actions/upload-artifact`` step, which
    uploads the file this leaves at ``output_dir/NAME.duckdb``. Untrusted artifacts are named
    in the notes and never downloaded, changed or deleted."""

    def __init__(self, name: str, env: Environment, output_dir: Path, timeout_s: float = 60.0) -> None:
        if not name or any(char in _BAD_ARTIFACT_CHARS for char in name):
            raise StorageError(f'artifact:{name}: not a valid artifact name (no / \\ : * ? " < > | or newlines)')
        if not env.token:
            raise StorageError(
                f"artifact:{name}: GITHUB_TOKEN (or GH_TOKEN) is not set; reading artifacts needs `actions: read`"
            )
        if not env.repository or not re.fullmatch(r"[^/\s]+/[^/\s]+", env.repository):
            raise StorageError(
                f"artifact:{name}: GITHUB_REPOSITORY (OWNER/NAME) is not set: which repository's artifact?"
            )
        self.name = name
        self.repository = env.repository
        self.repository_id = env.repository_id
        self.branches = env.artifact_branches
        self.event_path = env.event_path
        self.api_url = env.api_url.rstrip("/")
        self._token = env.token
        self.output_dir = Path(output_dir)
        self.output_path = self.output_dir / f"{name}.duckdb"
        self.timeout_s = timeout_s
        self.description = f"artifact {name}"

    # HTTP -----------------------------------------------------------------------------

    def _auth(self, url: str) -> Any:
        """The token goes to the API's own origin only, never to a host a URL points elsewhere.
        Either way an explicit auth object: with none, requests would add ~/.netrc credentials."""
        return _Bearer(self._token) if _origin(url) == _origin(self.api_url) else _NoAuth()

    def _get(self, session: Any, url: str, what: str, **kwargs: Any) -> Any:
        """GET with a retry for 5xx and dropped connections (two more tries, short backoff)."""
        import requests

        for attempt in range(3):
            try:
                response = session.get(url, timeout=self.timeout_s, auth=self._auth(url), headers=_HEADERS, **kwargs)
            except requests.RequestException as exc:
                if attempt == 2:
                    raise StorageError(
                        f"{self.description}: {what}: cannot reach {_origin(url)}: {type(exc).__name__}"
                    ) from None
                time.sleep(0.5 * (attempt + 1))
                continue
            if response.status_code >= 500 and attempt < 2:
                response.close()
                time.sleep(0.5 * (attempt + 1))
                continue
            return response
        raise AssertionError("unreachable")

    def _api_error(self, response: Any, what: str) -> StorageError:
        try:
            message = str(response.json().get("message") or response.reason)
        except ValueError:
            message = str(response.reason)
        status = response.status_code
        message = message.splitlines()[0][:200] if message else ""
        if status == 401:
            return StorageError(
                f"GitHub rejected the token (HTTP 401: {message}) {what} of {self.repository}: "
                "check GITHUB_TOKEN (or GH_TOKEN)"
            )
        if status == 403:
            return StorageError(
                f"GitHub refused {what} of {self.repository} (HTTP 403: {message}): "
                "the token needs the `actions: read` permission (or the rate limit is used up)"
            )
        if status == 404:
            return StorageError(
                f"repository {self.repository} not found {what} (HTTP 404): check GITHUB_REPOSITORY, "
                "or the token cannot see it"
            )
        return StorageError(f"GitHub answered HTTP {status} {what} of {self.repository}: {message}")

    # update ---------------------------------------------------------------------------

    def update(self, apply: Callable[[Path], T]) -> UpdateResult[T]:
        import requests

        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{self.description}: cannot create {self.output_dir}: {exc.strerror}") from None
        work = self.output_dir / f".{self.name}.{uuid.uuid4().hex[:12]}.tmp"
        notes: list[str] = []
        with requests.Session() as session:
            try:
                found = self._find(session, self._trust(session))
                notes += self._skip_notes(found.skipped)
                artifact = found.artifact
                if artifact is not None and self._download(session, artifact, work):
                    description = f"artifact {self.name} (id {artifact['id']}, {str(artifact.get('created_at'))[:10]})"
                else:
                    why = self._why_fresh(found)
                    notes.append(f"{why}: started a fresh database; reconcile/backfill will refill it")
                    description = f"artifact {self.name} (new)"
                value, counts, created = _apply_and_verify(work, apply, description)
                _replace_durably(work, self.output_path)
            except BaseException:
                _remove(work)
                raise
        return UpdateResult(
            value=value,
            location=description,
            local_path=self.output_path,
            size_bytes=self.output_path.stat().st_size,
            counts=counts,
            created=created,
            attempts=1,
            notes=notes,
            artifact_name=self.name,
        )

    def _why_fresh(self, found: _Found) -> str:
        if found.artifact is not None:  # listed, then answered 410 to the download
            return f"artifact {self.name} (id {found.artifact['id']}) expired while we read it"
        if found.newest_expired is not None:
            newest = found.newest_expired
            return (
                f"the newest artifact named {self.name} (id {newest['id']}, created "
                f"{str(newest.get('created_at'))[:10]}) has expired"
            )
        if found.skipped:
            return f"no trusted artifact named {self.name} in {self.repository}, only untrusted ones (skipped)"
        return f"no unexpired artifact named {self.name} in {self.repository}"

    def _trust(self, session: Any) -> _Trust:
        """This repository's id and the trusted branches: GITHUB_REPOSITORY_ID and
        MERGELENS_ARTIFACT_BRANCHES, else the event's ``repository`` (id, default_branch),
        else one GET /repos/{owner}/{repo} (outside Actions, or a schedule event without it)."""
        event = event_repository(self.event_path) if self.event_path else None
        if event is not None and event.full_name.lower() != self.repository.lower():
            event = None  # another repository's event: nothing to learn about ours
        repository_id = self.repository_id or (event.id if event else None)
        branches = self.branches or ((event.default_branch,) if event and event.default_branch else ())
        if repository_id is None or not branches:
            url = f"{self.api_url}/repos/{self.repository}"
            response = self._get(session, url, "reading the repository")
            if response.status_code != 200:
                raise self._api_error(response, "reading the repository")
            try:
                payload = response.json()
                found_id, default_branch = payload["id"], payload["default_branch"]
            except (ValueError, KeyError, TypeError):
                raise StorageError(f"{self.description}: GitHub's repository answer is not what it documents") from None
            if not isinstance(found_id, int) or not isinstance(default_branch, str):
                raise StorageError(f"{self.description}: GitHub's repository answer is not what it documents")
            repository_id = repository_id or found_id
            branches = branches or (default_branch,)
        return _Trust(repository_id, branches)

    def _find(self, session: Any, trust: _Trust) -> _Found:
        """GET /repos/{owner}/{repo}/actions/artifacts?name=NAME: GitHub lists them newest
        first, expired ones included (``expired: true``, their content is gone). The newest
        unexpired trusted one wins; the untrusted ones listed before it are reported. Each
        unexpired one examined costs a request for its run (normally one: the newest)."""
        url: str | None = f"{self.api_url}/repos/{self.repository}/actions/artifacts"
        params: dict[str, Any] | None = {"name": self.name, "per_page": 100}
        found = _Found()
        for _ in range(_MAX_LIST_PAGES):
            if url is None:
                break
            response = self._get(session, url, "listing artifacts", params=params)
            if response.status_code != 200:
                raise self._api_error(response, "listing artifacts")
            try:
                artifacts = [a for a in response.json().get("artifacts", []) if a.get("name") == self.name]
            except (ValueError, AttributeError):
                raise StorageError(f"{self.description}: GitHub's artifact list is not JSON") from None
            for artifact in sorted(artifacts, key=_newest_key, reverse=True):
                if artifact.get("expired"):
                    found.newest_expired = found.newest_expired or artifact
                elif (refusal := self._refusal(session, trust, artifact)) is not None:
                    found.skipped.append((artifact, refusal))
                else:
                    found.artifact = artifact
                    return found
            url, params = response.links.get("next", {}).get("url"), None
        return found

    def _refusal(self, session: Any, trust: _Trust, artifact: dict[str, Any]) -> str | None:
        """Why ``artifact`` is not ours, or None when it is. Its own ``workflow_run`` (id,
        repository_id, head_repository_id, head_branch, head_sha) names the run but not the
        event that started it, so the run is read (one request) and judged by ``run_refusal``."""
        recorded = artifact.get("workflow_run")
        if not isinstance(recorded, dict) or not isinstance(recorded.get("id"), int):
            return "no workflow run is recorded for it"
        if recorded.get("repository_id") != trust.repository_id:
            return f"uploaded by a run of another repository (id {_shown(recorded.get('repository_id'))})"
        run = self._run(session, recorded["id"])
        if run is None:
            return f"its workflow run {recorded['id']} cannot be read (HTTP 404: deleted?)"
        return trust.run_refusal(run)

    def _run(self, session: Any, run_id: int) -> dict[str, Any] | None:
        """GET /repos/{owner}/{repo}/actions/runs/{id}; None when the run is gone (404)."""
        what = "reading a workflow run"
        response = self._get(session, f"{self.api_url}/repos/{self.repository}/actions/runs/{run_id}", what)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._api_error(response, what)
        try:
            run = response.json()
        except ValueError:
            run = None
        if not (
            isinstance(run, dict)
            and isinstance(run.get("event"), str)
            and isinstance(run.get("repository"), dict)
            and isinstance(run["repository"].get("id"), int)
        ):
            raise StorageError(f"{self.description}: GitHub's workflow run answer is not what it documents")
        return run

    def _skip_notes(self, skipped: list[tuple[dict[str, Any], str]]) -> list[str]:
        """One warning per untrusted artifact (the first few), naming it for whoever investigates."""
        notes = [
            f"skipped untrusted artifact {self.name} (id {_shown(artifact.get('id'))}, created "
            f"{_shown(artifact.get('created_at'))[:10]}): {reason}; it was not used, changed or deleted"
            for artifact, reason in skipped[:_MAX_NAMED_SKIPS]
        ]
        if len(skipped) > _MAX_NAMED_SKIPS:
            notes.append(f"skipped {len(skipped) - _MAX_NAMED_SKIPS} more untrusted artifacts named {self.name}")
        return notes

    def _download(self, session: Any, artifact: dict[str, Any], work: Path) -> bool:
        """The artifact's one ``*.duckdb`` file into ``work``; False if it expired meanwhile.

        GET archive_download_url answers 302 to a short-lived signed URL on blob storage.
        That host must not get our token (Azure blob storage even rejects the request when an
        Authorization header rides along with the signature), so the redirect is followed by
        hand, without it."""
        label = f"artifact {self.name} (id {artifact['id']})"
        url = str(artifact["archive_download_url"])
        response = self._get(session, url, "downloading it", allow_redirects=False)
        if response.status_code in _REDIRECTS:
            location = urljoin(url, response.headers.get("Location", ""))
            response.close()
            response = self._get(session, location, "downloading it", stream=True)
            if response.status_code != 200:
                raise StorageError(f"{label}: download from {_origin(location)} failed (HTTP {response.status_code})")
        elif response.status_code == 410:  # "Artifact has expired"
            return False
        elif response.status_code != 200:
            raise self._api_error(response, "downloading an artifact")
        archive = work.with_name(work.name + ".zip")
        try:
            with response, open(archive, "wb") as out:
                for chunk in response.iter_content(COPY_CHUNK):
                    out.write(chunk)
            self._unzip(archive, work, label)
        finally:
            with contextlib.suppress(FileNotFoundError):
                archive.unlink()
        return True

    @staticmethod
    def _unzip(archive: Path, work: Path, label: str) -> None:
        try:
            with zipfile.ZipFile(archive) as zf:
                members = [info for info in zf.infolist() if not info.is_dir()]
                names = [info.filename for info in members]
                if len(members) != 1 or not names[0].endswith(".duckdb"):
                    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") or "nothing"
                    raise StorageError(f"{label} must hold exactly one *.duckdb file; it holds: {shown}")
                # Read the member's bytes; never extract by its name (no path traversal).
                with zf.open(members[0]) as src, open(work, "wb") as out:
                    shutil.copyfileobj(src, out, COPY_CHUNK)
        except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
            raise StorageError(f"{label} is not a readable zip archive: {_first_line(exc)}") from None


def _newest_key(artifact: dict[str, Any]) -> tuple[str, int]:
    return (str(artifact.get("created_at") or ""), int(artifact.get("id") or 0))


def _shown(value: object) -> str:
    """A value from GitHub's answer (a fork's branch name is anyone's text) as one short line."""
    return " ".join(str(value).split())[:100]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "mergelens"}


class _Bearer:
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


class _NoAuth:
    def __call__(self, request: Any) -> Any:
        request.headers.pop("Authorization", None)
        return request
