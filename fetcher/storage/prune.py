"""``prune-artifacts``: one live copy of an ``artifact:NAME`` database, not one per merge.

Every merge run (and the daily schedule) uploads the whole DB as a new artifact, and GitHub meters
artifact storage per account in GB-hours (docs/operations.md, "Artifact storage"). This keeps the newest
``keep`` copies uploaded by *trusted* runs and deletes the older trusted ones
(``DELETE /repos/{owner}/{repo}/actions/artifacts/{id}``, 204, ``actions: write``).

Which copies are trusted is decided exactly as the artifact store decides which one to download
(``ArtifactClient``'s listing and ``refusal``, i.e. ``fetcher.storage.trust``): the newest
trusted copy, the one the next run builds on, is always among those kept. Never deleted: the
newest ``keep`` trusted copies (so never the only one), artifacts of another name (the listing asks
for this name only, and each item's name is checked again), artifacts of untrusted runs (not ours
to judge or remove: they are named), and expired ones (GitHub already removed their content and
no longer counts them; deleting them would cost a request and free nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from github import GithubException

from fetcher.collect import policy
from fetcher.collect.rest import GitHubSource
from fetcher.errors import UsageError
from fetcher.storage.artifact_client import GITHUB_ERRORS, ArtifactClient, artifact_size, newest_key
from fetcher.storage.trust import shown

DEFAULT_KEEP = 3  # the copy in use, and two for runs that listed before the newest upload
DEFAULT_MAX_DELETES = 100  # a first prune of 90 days of copies would spend a GITHUB_TOKEN's hour


def copy_of(artifact: dict[str, Any]) -> dict[str, Any]:
    """An artifact as the result names it: id, creation time, size (its zip, what GitHub stores)."""
    created = shown(artifact.get("created_at"))
    return {"id": artifact.get("id"), "created_at": created, "size_bytes": artifact_size(artifact)}


@dataclass
class PruneReport:
    """What a prune found and did; ``lines`` says it one outcome a line, ``as_dict`` is --json."""

    name: str
    keep: int
    kept: list[dict[str, Any]] = field(default_factory=list)  # the newest trusted copies, newest first
    deleted: list[dict[str, Any]] = field(default_factory=list)
    gone: list[dict[str, Any]] = field(default_factory=list)  # 404 to the DELETE: deleted meanwhile
    untrusted: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # and why: never deleted
    expired: list[dict[str, Any]] = field(default_factory=list)  # left to GitHub
    failed: dict[str, Any] | None = None  # the DELETE that failed (copy, error); deleting stopped there
    left: list[dict[str, Any]] = field(default_factory=list)  # older trusted copies this run did not reach
    capped: bool = False  # stopped at max_deletes
    api_requests: int = 0

    @property
    def status(self) -> str:
        """failed: nothing deleted though some should have been; partial: some left; else complete."""
        if self.failed is not None and not self.deleted:
            return "failed"
        return "partial" if self.failed is not None or self.left else "complete"

    @property
    def held(self) -> list[dict[str, Any]]:
        """The unexpired copies of this name still stored: kept, untrusted, and any not deleted."""
        failed = [self.failed] if self.failed is not None else []
        return self.kept + [copy for copy, _ in self.untrusted] + failed + self.left

    def held_bytes(self) -> int:
        return sum(copy["size_bytes"] or 0 for copy in self.held)

    def lines(self) -> list[str]:
        name = self.name
        out = [f"kept artifact {name} {_described(copy)}: one of the newest {self.keep} trusted" for copy in self.kept]
        out += [f"deleted artifact {name} {_described(copy)}" for copy in self.deleted]
        out += [f"artifact {name} {_described(copy)} was already deleted" for copy in self.gone]
        out += [
            f"skipped untrusted artifact {name} {_described(copy)}: {reason}; it was not deleted"
            for copy, reason in self.untrusted
        ]
        if self.expired:
            out.append(f"left {len(self.expired)} expired artifacts {name}: GitHub removed their content already")
        if self.left:
            why = f"stopped at --max-deletes {len(self.deleted)}" if self.capped else "after that failure"
            out.append(f"left {len(self.left)} older trusted artifacts {name} for the next run ({why})")
        return out

    def failure(self) -> str | None:
        """The DELETE that failed, as one line (None: none did)."""
        if self.failed is None:
            return None
        return f"could not delete artifact {self.name} {_described(self.failed)}: {self.failed['error']}"

    def summary(self) -> str:
        return (
            f"prune-artifacts {self.name}: {self.status}: kept {len(self.kept)} of the newest {self.keep} trusted, "
            f"deleted {len(self.deleted)} ({_megabytes(sum(c['size_bytes'] or 0 for c in self.deleted))}), "
            f"skipped {len(self.untrusted)} untrusted, {len(self.expired)} expired; "
            f"{len(self.held)} copies held ({_megabytes(self.held_bytes())}); {self.api_requests} API requests"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "name": self.name,
            "keep": self.keep,
            "kept": self.kept,
            "deleted": self.deleted,
            "already_deleted": self.gone,
            "untrusted": [{**copy, "reason": reason} for copy, reason in self.untrusted],
            "expired": len(self.expired),
            "failed": self.failed,
            "left": self.left,
            "capped": self.capped,
            "held": len(self.held),
            "held_bytes": self.held_bytes(),
            "api_requests": self.api_requests,
        }


def prune_artifacts(artifacts: ArtifactClient, keep: int, max_deletes: int = DEFAULT_MAX_DELETES) -> PruneReport:
    """Keep the newest ``keep`` trusted unexpired copies of ``artifacts.name``; delete older trusted
    ones, at most ``max_deletes`` (the rest next run). Costs: the list pages (100 a page), one
    GET of the uploading run per unexpired artifact examined, one DELETE per artifact deleted.
    Stops deleting at the first DELETE that fails (they would fail alike: a missing ``actions:
    write``, a rate limit); what is left is left for the next run. StorageError (exit 1) when the
    listing or a run cannot be read: nothing is deleted then."""
    if keep < 1 or max_deletes < 1:
        raise UsageError("--keep and --max-deletes are at least 1: the newest trusted copy is never deleted")
    report = PruneReport(artifacts.name, keep)
    with GitHubSource(artifacts.settings) as source:
        repo = source.repository(artifacts.repository)
        try:
            trust = artifacts.trust(repo)
            # Every page first, then the deletes: deleting while paging would shift later pages.
            listed = [artifact for page in artifacts.pages(repo) for artifact in page]
            older: list[dict[str, Any]] = []  # trusted, beyond the newest `keep`: to delete, newest first
            for artifact in sorted(listed, key=newest_key, reverse=True):
                if artifact.get("expired"):
                    report.expired.append(copy_of(artifact))
                elif (refusal := artifacts.refusal(repo, trust, artifact)) is not None:
                    report.untrusted.append((copy_of(artifact), refusal))
                elif len(report.kept) < keep:
                    report.kept.append(copy_of(artifact))
                else:
                    older.append(artifact)
            for index, artifact in enumerate(older):
                if len(report.deleted) >= max_deletes:
                    report.capped, report.left = True, [copy_of(a) for a in older[index:]]
                    break
                error = _delete(artifacts, repo, artifact)
                if error is None:
                    report.deleted.append(copy_of(artifact))
                elif error == _GONE:
                    report.gone.append(copy_of(artifact))
                else:
                    report.failed = {**copy_of(artifact), "error": error}
                    report.left = [copy_of(a) for a in older[index + 1 :]]
                    break
        finally:
            report.api_requests = source.usage.requests
    return report


_GONE = "gone"


def _delete(artifacts: ArtifactClient, repo: Any, artifact: dict[str, Any]) -> str | None:
    """DELETE one artifact: None when GitHub answered 204, ``_GONE`` for 404 (deleted meanwhile,
    by another prune or by hand), else why it failed (one line, with GitHub's request id)."""
    artifact_id = artifact.get("id")
    if not isinstance(artifact_id, int):
        return "GitHub's artifact list gave it no numeric id"
    try:
        repo.requester.requestJsonAndCheck("DELETE", f"{repo.url}/actions/artifacts/{artifact_id}")
    except GithubException as exc:
        if exc.status == 404:
            return _GONE
        return _why(artifacts, policy.classify(exc))
    except GITHUB_ERRORS as exc:
        return _why(artifacts, policy.classify(exc))
    return None


def _why(artifacts: ArtifactClient, failure: policy.Failure) -> str:
    """The artifact store's one line for GitHub's refusal (github_policy judged it): a 403 here is
    the missing write permission."""
    return str(artifacts.failed(failure, "deleting an artifact", "actions: write"))


def _described(copy: dict[str, Any]) -> str:
    size = f", {_megabytes(copy['size_bytes'])}" if copy.get("size_bytes") is not None else ""
    return f"(id {shown(copy.get('id'))}, created {shown(copy.get('created_at'))[:16]}{size})"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
