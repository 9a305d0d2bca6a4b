"""A GitHub Actions artifact: the newest unexpired *trusted* artifact of a name (see
``fetcher.storage.trust``), downloaded through the REST API; the updated file is left in
``output_dir/NAME.duckdb`` for the workflow's ``actions/upload-artifact`` step. Artifacts cannot
be written conditionally: the workflow's concurrency group is what serialises writers there.

What GitHub is asked (the listing, the trust checks, the download) is
``fetcher.storage.artifact_client``; this module is the location: the working copy, the copies
recorded for the Data health page, the file left for upload.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from fetcher.collect.rest import ClientSettings
from fetcher.config import Environment
from fetcher.db import store
from fetcher.errors import StorageError
from fetcher.storage.artifact_client import ArtifactClient, Found, artifact_size, github_time
from fetcher.storage.files import remove, replace_durably
from fetcher.storage.location import Fetched, RemoteVersion, UpdateResult
from fetcher.storage.trust import shown
from fetcher.storage.verify import apply_and_verify

T = TypeVar("T")

_MAX_NAMED_SKIPS = 5  # untrusted artifacts named one by one in the notes; the rest are counted


class ArtifactLocation:
    """The newest unexpired trusted workflow artifact of a name. Reading goes through the REST
    API; writing is the workflow's ``actions/upload-artifact`` step, which uploads the file this
    leaves at ``output_dir/NAME.duckdb``. Untrusted artifacts are named in the notes and never
    downloaded, changed or deleted."""

    def __init__(
        self,
        name: str,
        env: Environment,
        output_dir: Path,
        timeout_s: float = 60.0,
        settings: ClientSettings | None = None,
    ) -> None:
        self.client = ArtifactClient(name, env, timeout_s, settings)
        self.name = name
        self.repository = self.client.repository
        self.description = self.client.description
        self.output_dir = Path(output_dir)
        self.output_path = self.output_dir / f"{name}.duckdb"
        self._listed: Found | None = None  # what update listed, for record_copies
        # A step after another of the same job (the schedule runs backfill, then open-prs) must
        # build on the file the earlier one left for upload, not on the older artifact: the file
        # is marked with the workflow run that stored it, and reused only by that run.
        self.run_id = env.run_id
        self.run_mark = self.output_dir / f".{name}.run"

    # update ---------------------------------------------------------------------------

    def update(self, apply: Callable[[Path], T], before: Callable[[], None] | None = None) -> UpdateResult[T]:
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{self.description}: cannot create {self.output_dir}: {exc.strerror}") from None
        work = self.output_dir / f".{self.name}.{uuid.uuid4().hex[:12]}.tmp"
        notes: list[str] = []
        if self._stored_by_this_run():
            return self._update_job_copy(apply, work, before)
        with self.client.github() as (repo, session):
            try:
                found = self.client.find(repo, self.client.trust(repo))
                notes += self._skip_notes(found.skipped)
                artifact = found.artifact
                if artifact is not None and self.client.download(session, artifact, work):
                    description = f"artifact {self.name} (id {artifact['id']}, {str(artifact.get('created_at'))[:10]})"
                else:
                    why = self._why_fresh(found)
                    notes.append(f"{why}: started a fresh database; reconcile/backfill will refill it")
                    description = f"artifact {self.name} (new)"
                self._listed = found  # record_copies writes it into the DB apply writes
                value, counts, created = apply_and_verify(work, apply, description, before)
                replace_durably(work, self.output_path)
                self._mark_run()
            except BaseException:
                remove(work)
                raise
        return self._result(value, description, counts, created, notes)

    def record_copies(self, con: duckdb.DuckDBPyConnection) -> None:
        """Into the working copy ``update`` hands its ``apply`` (``con``, open on it): what GitHub
        holds of this name, as listed before this run's upload (its copy is not there yet;
        ``prune-artifacts`` after the upload deletes the older trusted ones): the unexpired
        copies, the one used, the untrusted ones skipped, the older ones not examined. In
        ``artifact_copies`` for the dashboard's Data health page, which reads only the DB.
        Nothing when this run listed nothing (a later step of the run builds on its own file)."""
        found = self._listed
        if found is None:
            return
        listed_at = datetime.now(UTC)
        untrusted = {id(artifact) for artifact, _ in found.skipped}
        rows = [
            {
                "name": self.name,
                "artifact_id": artifact["id"],
                "created_at": github_time(artifact.get("created_at")),
                "expires_at": github_time(artifact.get("expires_at")),
                "size_bytes": artifact_size(artifact),
                "status": "used"
                if artifact is found.artifact
                else ("untrusted" if id(artifact) in untrusted else "older"),
                "listed_at": listed_at,
            }
            for artifact in self._copies_listed()
        ]
        store.replace_artifact_copies(con, store.unique_by_key(rows, ("name", "artifact_id")))

    def _result(
        self, value: T, description: str, counts: dict[str, int], created: bool, notes: list[str]
    ) -> UpdateResult[T]:
        """What an update stored: the file left for the workflow's upload step, under this name."""
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
            artifact_copies=self._held(),
        )

    def _copies_listed(self) -> list[dict[str, Any]]:
        """The unexpired artifacts of this name ``update`` listed: the copies GitHub holds."""
        listed = self._listed.listed if self._listed is not None else []
        return [artifact for artifact in listed if not artifact.get("expired") and isinstance(artifact.get("id"), int)]

    def _held(self) -> tuple[int, int] | None:
        """How many copies this run listed and their zipped bytes (None: it listed none)."""
        if self._listed is None:
            return None
        held = self._copies_listed()
        return len(held), sum(artifact_size(artifact) or 0 for artifact in held)

    def _stored_by_this_run(self) -> bool:
        if not self.run_id or not self.output_path.is_file():
            return False
        try:
            return self.run_mark.read_text(encoding="utf-8").strip() == self.run_id
        except OSError:
            return False

    def _mark_run(self) -> None:
        if self.run_id:
            self.run_mark.write_text(self.run_id, encoding="utf-8")
        else:
            remove(self.run_mark)

    def _update_job_copy(
        self, apply: Callable[[Path], T], work: Path, before: Callable[[], None] | None
    ) -> UpdateResult[T]:
        """Build on the DB an earlier step of this workflow run stored (no artifact is read)."""
        description = f"artifact {self.name} (as an earlier step of this run left it)"
        try:
            shutil.copyfile(self.output_path, work)
            value, counts, created = apply_and_verify(work, apply, description, before)
            replace_durably(work, self.output_path)
        except BaseException:
            remove(work)
            raise
        return self._result(value, description, counts, created, [])

    # fetch_copy (read-only) -------------------------------------------------------------

    def fetch_copy(self, dest: Path, known: RemoteVersion | None) -> Fetched:
        """The newest unexpired trusted artifact, chosen exactly as ``update`` chooses it
        (untrusted ones are skipped). Its id is its version: an artifact's content never changes,
        a new upload is a new artifact. An unchanged id costs the listing and the trust checks,
        and no download. Never uploads, changes or deletes an artifact."""
        with self.client.github() as (repo, session):
            found = self.client.find(repo, self.client.trust(repo))
            artifact = found.artifact
            if artifact is None:
                raise StorageError(f"{self._why_fresh(found)}: no database to show yet")
            created = github_time(artifact.get("created_at"))
            when = f", created {created:%Y-%m-%d %H:%M} UTC" if created else ""
            version = RemoteVersion(str(artifact["id"]), created, f"artifact {self.name} (id {artifact['id']}{when})")
            if known is not None and known.tag == version.tag:
                return Fetched(known, changed=False)
            if not self.client.download(session, artifact, dest):
                raise StorageError(f"{self._why_fresh(found)}: no database to show")
            return Fetched(version, changed=True)

    def _why_fresh(self, found: Found) -> str:
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

    def _skip_notes(self, skipped: list[tuple[dict[str, Any], str]]) -> list[str]:
        """One warning per untrusted artifact (the first few), naming it for whoever investigates."""
        notes = [
            f"skipped untrusted artifact {self.name} (id {shown(artifact.get('id'))}, created "
            f"{shown(artifact.get('created_at'))[:10]}): {reason}; it was not used, changed or deleted"
            for artifact, reason in skipped[:_MAX_NAMED_SKIPS]
        ]
        if len(skipped) > _MAX_NAMED_SKIPS:
            notes.append(f"skipped {len(skipped) - _MAX_NAMED_SKIPS} more untrusted artifacts named {self.name}")
        return notes
