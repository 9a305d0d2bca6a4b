"""What every location is: the ``Location`` protocol and the ``UpdateResult`` of an update (its
errors, ``StorageError`` / ``StorageConflict``, are in ``fetcher.errors``); and what a remote location offers a
reader (the dashboard): ``RemoteLocation.fetch_copy``, read-only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


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
    # artifact:NAME: the unexpired copies GitHub held (count, zipped bytes) before this run's upload
    artifact_copies: tuple[int, int] | None = None


class Location(Protocol):
    description: str

    def update(self, apply: Callable[[Path], T], before: Callable[[], None] | None = None) -> UpdateResult[T]:
        """``before`` runs once, after the DB as stored has been fetched and checked and before
        the first ``apply``: a command's requests to GitHub, so a destination that fails costs
        none, and an ``apply`` run again (an S3 conflict) repeats none."""
        ...


@dataclass(frozen=True)
class RemoteVersion:
    """One stored version of a remote DB, as the remote names it."""

    tag: str  # opaque; the same tag means the same content (S3: the ETag, artifact: its id)
    stored_at: datetime | None  # when that version was stored (S3 LastModified, artifact created_at)
    description: str  # for people, e.g. "artifact mergelens-db (id 42, created 2026-11-20 12:00 UTC)"


@dataclass(frozen=True)
class Fetched:
    version: RemoteVersion  # what the remote holds now
    changed: bool  # False: it still holds the version the reader knew; nothing was downloaded


class RemoteLocation(Protocol):
    """A location a reader keeps a local copy of. ``fetch_copy`` never writes to the remote."""

    description: str

    def fetch_copy(self, dest: Path, known: RemoteVersion | None) -> Fetched:
        """The remote's current version. When it is not ``known`` (by tag), its file is written
        to ``dest`` (changed=True); when it is, nothing is downloaded and ``dest`` is untouched.
        The file is downloaded, not verified: the reader opens it as untrusted data.
        StorageError (one line) when there is no DB there or it cannot be read."""
        ...


def first_line(exc: BaseException) -> str:
    """An exception's first line, for a one-line StorageError (its type when it has no text)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
