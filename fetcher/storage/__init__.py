"""Where the DB lives: a local path, ``s3://bucket/key.duckdb``, ``artifact:NAME`` (a file each),
or ``ducklake:CATALOG`` (an organisation's shared DuckLake, written in place: ``lake``).

Every location offers one operation, ``update(apply, before)``: get a local working copy of the
DB (a path that does not exist yet when there is no DB: ``fetcher.db.safe_open.open_migrated`` creates it),
check it, run ``before`` once (a command's requests to GitHub: a destination that fails costs
none), let ``apply`` write to it, verify the result, and only then store it. Nothing is stored when
``apply`` raises or the verification refuses the file; the previous DB stays as it was.
``apply`` must close its connections before it returns (DuckDB allows one read-write process
per file and refuses a second open with another configuration in the same process).

Remote locations (S3, artifact) also offer readers a read-only ``fetch_copy(dest, known)``
(``RemoteLocation``): download the current version unless it is the one the reader has.

- ``location``: the Location protocol, UpdateResult, StorageError / StorageConflict.
- ``verify``: is a file fit to store (``verify_database``, ``MERGELENS_TABLES``).
- ``files``: durable replacement and clean-up of working copies.
- ``local``: a path on this machine (flock + atomic rename).
- ``s3``: an S3 object (ETag + conditional PUT, re-apply on conflict).
- ``artifact`` and ``trust``: a GitHub Actions artifact, and which artifacts may be used.
- ``lake``: a DuckLake (PostgreSQL, SQLite or DuckDB catalog; Parquet in a directory or S3).
"""

from __future__ import annotations

from pathlib import Path

from fetcher.config import Environment
from fetcher.errors import StorageConflict, StorageError
from fetcher.storage.artifact import ArtifactLocation
from fetcher.storage.lake.location import LakeLocation
from fetcher.storage.local import LocalLocation
from fetcher.storage.location import (
    Fetched,
    Location,
    RemoteLocation,
    RemoteVersion,
    UpdateResult,
)
from fetcher.storage.s3 import S3Location
from fetcher.storage.trust import Trust
from fetcher.storage.verify import MERGELENS_TABLES, verify_database

_Trust = Trust  # its name before fetcher.storage became a package (tests import it)

__all__ = [
    "MERGELENS_TABLES",
    "ArtifactLocation",
    "Fetched",
    "LakeLocation",
    "LocalLocation",
    "Location",
    "RemoteLocation",
    "RemoteVersion",
    "S3Location",
    "StorageConflict",
    "StorageError",
    "Trust",
    "UpdateResult",
    "is_local",
    "open_location",
    "open_remote",
    "verify_database",
]


def is_local(spec: str) -> bool:
    """True when ``--db`` names a file on this machine (not ``s3://``, ``artifact:`` nor ``ducklake:``)."""
    return not spec.startswith(("s3://", "artifact:", "ducklake:"))


def open_location(spec: str, env: Environment, workdir: Path | None = None) -> Location:
    """``spec`` is what ``--db`` says: a local path, ``s3://bucket/key``, ``artifact:NAME`` or
    ``ducklake:CATALOG`` (data path and S3 settings from ``env``).

    ``workdir``: where S3 working copies go (a private temp directory is made inside it; default
    the system temp directory). The artifact store leaves its file in ``$RUNNER_TEMP/mergelens``,
    or outside GitHub Actions in the working directory."""
    if spec.startswith("s3://"):
        return _s3(spec, workdir)
    if spec.startswith("ducklake:"):
        return LakeLocation(spec, env.lake_data_path, env.s3)
    if spec.startswith("artifact:"):
        # Outside Actions: the downloaded, updated DB stays in the working directory, where
        # the user can open it (a temporary workdir would be gone when the run ends).
        output_dir = Path(env.runner_temp) / "mergelens" if env.runner_temp else Path.cwd()
        return ArtifactLocation(spec[len("artifact:") :], env, output_dir)
    if not spec.strip():
        raise StorageError("--db is empty: give a path, s3://BUCKET/KEY or artifact:NAME")
    return LocalLocation(Path(spec))


def open_remote(spec: str, env: Environment) -> RemoteLocation:
    """A reader's view of ``s3://BUCKET/KEY`` or ``artifact:NAME`` (``RemoteLocation.fetch_copy``,
    which never writes to the remote). StorageError for anything else: a local path is read in place."""
    if spec.startswith("s3://"):
        return _s3(spec, None)
    if spec.startswith("artifact:"):
        # output_dir is where update() leaves its file; fetch_copy writes only where it is told.
        return ArtifactLocation(spec[len("artifact:") :], env, Path.cwd())
    raise StorageError(f"{spec}: not a remote location (s3://BUCKET/KEY or artifact:NAME)")


def _s3(spec: str, workdir: Path | None) -> S3Location:
    bucket, _, key = spec[len("s3://") :].partition("/")
    if not bucket or not key or key.endswith("/"):
        raise StorageError(f"--db {spec}: expected s3://BUCKET/KEY (e.g. s3://my-bucket/mergelens.duckdb)")
    return S3Location(bucket, key, workdir=workdir)
