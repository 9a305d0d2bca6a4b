"""The artifacts of one name in one repository, as GitHub's REST API lists, judges and serves
them: the listing (newest first, a page at a time), the trust rule applied to each
(``fetcher.storage.trust``: its workflow run read), the archive downloaded, and GitHub's errors
as one line. Used by the artifact location (``fetcher.storage.artifact``) and by prune.

Listing artifacts, reading the repository, a workflow run, a branch and a comparison of two
commits go through PyGithub, with the client, retry and pacing of
``fetcher.collect.rest.GitHubSource``; its errors are judged by ``fetcher.collect.policy``. Only
the archive download is sent by hand (see ``download``).
"""

from __future__ import annotations

import contextlib
import itertools
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from github import GithubException
from github.Repository import Repository
from requests.adapters import HTTPAdapter

from fetcher.collect import policy
from fetcher.collect.event import event_repository
from fetcher.collect.policy import Failure, Kind, RateLimitExhausted
from fetcher.collect.rest import PER_PAGE, ClientSettings, GitHubSource, payloads
from fetcher.config import Environment
from fetcher.errors import StorageError
from fetcher.storage.files import COPY_CHUNK
from fetcher.storage.location import first_line
from fetcher.storage.trust import DEFAULT_WORKFLOWS, Trust, shown

T = TypeVar("T")

# actions/upload-artifact refuses these characters in a name.
_BAD_ARTIFACT_CHARS = set('":<>|*?\\/\r\n')
_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_LIST_PAGES = 10
GITHUB_ERRORS = (GithubException, requests.RequestException, RateLimitExhausted)
# What PyGithub raises on an answer that is not the JSON GitHub documents.
_MALFORMED = (ValueError, KeyError, TypeError, AttributeError)


@dataclass
class Found:
    """What a listing found: the artifact to use (if any), and what was passed over on the way."""

    artifact: dict[str, Any] | None = None  # the newest unexpired trusted artifact
    newest_expired: dict[str, Any] | None = None  # the newest expired one (never used: its run is not read)
    skipped: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # untrusted, newer; why
    listed: list[dict[str, Any]] = field(default_factory=list)  # every artifact of the name on the pages read


class ArtifactClient:
    """The artifacts named ``name`` in ``GITHUB_REPOSITORY``, read through the REST API (a token
    with ``actions: read``); never uploaded, changed or deleted here (prune deletes through
    ``repo``)."""

    def __init__(
        self, name: str, env: Environment, timeout_s: float = 60.0, settings: ClientSettings | None = None
    ) -> None:
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
        self.workflows = env.artifact_workflows or DEFAULT_WORKFLOWS
        self.event_path = env.event_path
        self.settings = settings or ClientSettings(api_url=env.api_url, token=env.token)
        self.timeout_s = timeout_s  # of the archive download
        self.description = f"artifact {name}"
        self._repository_facts: tuple[int, tuple[str, ...]] | None = None  # id, trusted branches: read once

    @contextlib.contextmanager
    def github(self) -> Iterator[tuple[Repository, requests.Session]]:
        """The repository (lazy: no request yet) and a session for the archive download."""
        with GitHubSource(self.settings) as source, requests.Session() as session:
            # The download's requests get the retry of every other request to GitHub.
            session.mount("http://", HTTPAdapter(max_retries=source.retry))
            session.mount("https://", HTTPAdapter(max_retries=source.retry))
            yield source.repository(self.repository), session

    # GitHub through PyGithub --------------------------------------------------------

    @contextlib.contextmanager
    def _asking(self, what: str, answer: str, needs: str = "actions: read") -> Iterator[None]:
        """GitHub's errors while ``what`` as one StorageError (github_policy judges them; a refusal
        names the permission it ``needs``); an ``answer`` that is not the JSON GitHub documents, too."""
        try:
            yield
        except GITHUB_ERRORS as exc:
            raise self.failed(policy.classify(exc), what, needs) from None
        except _MALFORMED:
            raise StorageError(f"{self.description}: GitHub's {answer} answer is not what it documents") from None

    def failed(self, failure: Failure, what: str, needs: str = "actions: read") -> StorageError:
        """What to tell the user when GitHub refused ``what`` (a 403: the token lacks ``needs``),
        with its request id."""
        of = f"{what} of {self.repository}"
        if failure.kind is Kind.UNAUTHORIZED:
            text = f"GitHub rejected the token ({failure.message}) {of}: check GITHUB_TOKEN (or GH_TOKEN)"
        elif failure.rate_limited:
            text = f"GitHub's rate limit stopped {of}: {failure.message}"
        elif failure.kind is Kind.FORBIDDEN:
            text = f"GitHub refused {of} ({failure.message}): the token needs the `{needs}` permission"
        elif failure.status == 404:
            text = (
                f"repository {self.repository} not found {what} (HTTP 404): check GITHUB_REPOSITORY, "
                "or the token cannot see it"
            )
        elif failure.status is not None:
            text = f"GitHub answered {of} with {failure.message}"
        else:
            text = f"{self.description}: {of} failed: {failure.message}"
        return StorageError(f"{text} [X-GitHub-Request-Id {failure.request_id}]" if failure.request_id else text)

    def trust(self, repo: Repository) -> Trust:
        """The trust rule for this repository, asking ``repo`` whether a commit is on a branch."""
        if self._repository_facts is None:
            self._repository_facts = self._repository_id_and_branches(repo)
        repository_id, branches = self._repository_facts
        return Trust(repository_id, branches, self.workflows, self._commit_on_branch_asking(repo))

    def _repository_id_and_branches(self, repo: Repository) -> tuple[int, tuple[str, ...]]:
        """This repository's id and the trusted branches: GITHUB_REPOSITORY_ID and
        MERGELENS_ARTIFACT_BRANCHES, else the event's ``repository`` (id, default_branch),
        else one GET /repos/{owner}/{repo} (outside Actions, or a schedule event without it)."""
        event = event_repository(self.event_path) if self.event_path else None
        if event is not None and event.full_name.lower() != self.repository.lower():
            event = None  # another repository's event: nothing to learn about ours
        repository_id = self.repository_id or (event.id if event else None)
        branches = self.branches or ((event.default_branch,) if event and event.default_branch else ())
        if repository_id is None or not branches:
            with self._asking("reading the repository", "repository"):
                payload = repo.complete().raw_data  # GET /repos/{owner}/{repo}
                found_id, default_branch = payload["id"], payload["default_branch"]
            if not isinstance(found_id, int) or not isinstance(default_branch, str):
                raise StorageError(f"{self.description}: GitHub's repository answer is not what it documents")
            repository_id = repository_id or found_id
            branches = branches or (default_branch,)
        return repository_id, branches

    def _commit_on_branch_asking(self, repo: Repository) -> Callable[[str, str], bool]:
        """``Trust.commit_on_branch`` for ``repo``: GET /repos/{o}/{r}/branches/{branch} (by the
        branches endpoint, so a tag of the same name is never what answers), then, unless the
        commit is the branch's tip, GET /repos/{o}/{r}/compare/{tip}...{sha}: "behind" means the
        commit is an ancestor of the tip. Each answer is kept for the rest of this check."""
        tips: dict[str, str | None] = {}
        answers: dict[tuple[str, str], bool] = {}

        def commit_on_branch(sha: str, branch: str) -> bool:
            if (sha, branch) not in answers:
                if branch not in tips:
                    with self._asking(f"reading branch {shown(branch)}", "branch", "contents: read"):
                        tips[branch] = _absent_as_none(lambda: repo.get_branch(branch).commit.sha)
                tip = tips[branch]
                if tip is None or tip == sha:
                    answers[sha, branch] = tip == sha
                else:
                    with self._asking(
                        f"comparing commit {shown(sha)[:12]} with branch {shown(branch)}",
                        "comparison",
                        "contents: read",
                    ):
                        status = _absent_as_none(lambda: repo.compare(tip, sha).status)
                    answers[sha, branch] = status in ("behind", "identical")
            return answers[sha, branch]

        return commit_on_branch

    def pages(self, repo: Repository) -> Iterator[list[dict[str, Any]]]:
        """GET /repos/{owner}/{repo}/actions/artifacts?name=NAME, a page (up to PER_PAGE) at a
        time, the first ``_MAX_LIST_PAGES``: GitHub lists them newest first, expired ones
        included (``expired: true``, their content is gone)."""
        listed = iter(payloads(repo.get_artifacts(name=self.name)))  # read from the list payload
        for _ in range(_MAX_LIST_PAGES):
            with self._asking("listing artifacts", "artifact list"):
                page = list(itertools.islice(listed, PER_PAGE))
                named = [a for a in page if a.get("name") == self.name]
            if not page:
                return
            yield named

    def find(self, repo: Repository, trust: Trust) -> Found:
        """The newest unexpired trusted artifact wins; the untrusted ones listed before it are
        reported. Each unexpired one examined costs a request for its run (normally one: the newest)."""
        found = Found()
        for artifacts in self.pages(repo):
            found.listed += artifacts
            for artifact in sorted(artifacts, key=newest_key, reverse=True):
                if artifact.get("expired"):
                    found.newest_expired = found.newest_expired or artifact
                elif (refusal := self.refusal(repo, trust, artifact)) is not None:
                    found.skipped.append((artifact, refusal))
                else:
                    found.artifact = artifact
                    return found
        return found

    def refusal(self, repo: Repository, trust: Trust, artifact: dict[str, Any]) -> str | None:
        """Why ``artifact`` is not ours, or None when it is. Its own ``workflow_run`` (id,
        repository_id, head_repository_id, head_branch, head_sha) names the run but not the
        event that started it, so the run is read (one request) and judged by ``run_refusal``."""
        recorded = artifact.get("workflow_run")
        if not isinstance(recorded, dict) or not isinstance(recorded.get("id"), int):
            return "no workflow run is recorded for it"
        if recorded.get("repository_id") != trust.repository_id:
            return f"uploaded by a run of another repository (id {shown(recorded.get('repository_id'))})"
        run = self._run(repo, recorded["id"])
        if run is None:
            return f"its workflow run {recorded['id']} cannot be read (HTTP 404: deleted?)"
        return trust.run_refusal(run)

    def _run(self, repo: Repository, run_id: int) -> dict[str, Any] | None:
        """GET /repos/{owner}/{repo}/actions/runs/{id}; None when the run is gone (404)."""
        with self._asking("reading a workflow run", "workflow run"):
            try:
                run = repo.get_workflow_run(run_id).complete().raw_data
            except GithubException as exc:
                if exc.status == 404:
                    return None
                raise
        if not (
            isinstance(run, dict)
            and isinstance(run.get("event"), str)
            and isinstance(run.get("repository"), dict)
            and isinstance(run["repository"].get("id"), int)
        ):
            raise StorageError(f"{self.description}: GitHub's workflow run answer is not what it documents")
        return run

    # the archive, by hand ---------------------------------------------------------------

    def download(self, session: requests.Session, artifact: dict[str, Any], work: Path) -> bool:
        """The artifact's one ``*.duckdb`` file into ``work``; False if it expired meanwhile.

        GET archive_download_url answers 302 to a short-lived signed URL on blob storage.
        That host must not get our token (Azure blob storage even rejects the request when an
        Authorization header rides along with the signature), so the redirect is followed by
        hand, without it. PyGithub cannot: its ``getStream`` drops the token only for another
        host name (not another port or scheme) and refuses hosts outside GitHub's domains."""
        label = f"artifact {self.name} (id {artifact['id']})"
        url = str(artifact["archive_download_url"])
        response = self._get(session, url, label, allow_redirects=False)
        if response.status_code in _REDIRECTS:
            location = urljoin(url, response.headers.get("Location", ""))
            response.close()
            response = self._get(session, location, label, stream=True)
            if response.status_code != 200:
                raise StorageError(f"{label}: download from {_origin(location)} failed (HTTP {response.status_code})")
        elif response.status_code == 410:  # "Artifact has expired"
            return False
        elif response.status_code != 200:
            raise self.failed(_response_failure(response), "downloading an artifact")
        archive = work.with_name(work.name + ".zip")
        try:
            with response, open(archive, "wb") as out:
                for chunk in response.iter_content(COPY_CHUNK):
                    out.write(chunk)
            _unzip(archive, work, label)
        finally:
            with contextlib.suppress(FileNotFoundError):
                archive.unlink()
        return True

    def _get(self, session: requests.Session, url: str, label: str, **kwargs: Any) -> requests.Response:
        """GET ``url``, retried by the session's GitHubRetry; the token only for the API's origin.
        Either way an explicit auth object: with none, requests would add ~/.netrc credentials."""
        auth = _Bearer(self.settings.token) if _origin(url) == _origin(self.settings.api_url) else _NoAuth()
        try:
            return session.get(url, timeout=self.timeout_s, auth=auth, headers=_HEADERS, **kwargs)
        except requests.RequestException as exc:
            raise StorageError(
                f"{self.description}: downloading it: cannot reach {_origin(url)}: {type(exc).__name__}"
            ) from None
        except (GithubException, RateLimitExhausted) as exc:  # the retry's verdict on a 403/429
            failure = policy.classify(exc)
            if _origin(url) != _origin(self.settings.api_url):
                raise StorageError(f"{label}: download from {_origin(url)} failed (HTTP {failure.status})") from None
            raise self.failed(failure, "downloading an artifact") from None


def _unzip(archive: Path, work: Path, label: str) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [info for info in zf.infolist() if not info.is_dir()]
            names = [info.filename for info in members]
            if len(members) != 1 or not names[0].endswith(".duckdb"):
                listing = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") or "nothing"
                raise StorageError(f"{label} must hold exactly one *.duckdb file; it holds: {listing}")
            # Read the member's bytes; never extract by its name (no path traversal).
            with zf.open(members[0]) as src, open(work, "wb") as out:
                shutil.copyfileobj(src, out, COPY_CHUNK)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise StorageError(f"{label} is not a readable zip archive: {first_line(exc)}") from None


def _response_failure(response: requests.Response) -> Failure:
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    return policy.from_response(response.status_code, response.headers, str(message or response.reason))


def _absent_as_none(read: Callable[[], T]) -> T | None:
    """``read()``, or None when GitHub answers 404 (no such branch; a commit it does not know)."""
    try:
        return read()
    except GithubException as exc:
        if exc.status == 404:
            return None
        raise


def github_time(value: Any) -> datetime | None:
    """GitHub's ISO 8601 time (``2026-11-20T12:00:00Z``) in UTC; None if it is not one."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def artifact_size(artifact: dict[str, Any]) -> int | None:
    """``size_in_bytes``: the stored zip's size, what GitHub meters (None when it is not a number)."""
    size = artifact.get("size_in_bytes")
    return size if isinstance(size, int) else None


def newest_key(artifact: dict[str, Any]) -> tuple[str, int]:
    return (str(artifact.get("created_at") or ""), int(artifact.get("id") or 0))


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
