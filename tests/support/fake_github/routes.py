"""The REST resources the fake serves: path -> (status, JSON body, Link header).

Only GET is modelled. Paths arrive without the API prefix (GHES's ``/api/v3``). Each route
names the query parameters it models; GitHub ignores any other, and so would the fake, answering
as if it were absent: instead it raises ``UnmodelledParameter`` (the server answers 500 and fails
the test that sent it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from . import payloads
from .model import Artifact, CheckRun, PullRequest, RecordedPull, RecordedRepository, Repository
from .paging import paginate
from .timeline import timeline_items

# GitHub's caps on PR sub-lists: the commits list stops at 250, the files list at 3,000.
PR_COMMITS_CAP = 250
PR_FILES_CAP = 3000

_REPO = r"^/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
ORG_REPOS = re.compile(r"^/orgs/(?P<org>[^/]+)/repos$")


PAGED = frozenset({"per_page", "page"})  # paging.paginate's


class UnmodelledParameter(Exception):
    """A query parameter the route does not model (a defect of the fake or of the request)."""


def check_parameters(path: str, query: dict[str, str], modelled: frozenset[str]) -> None:
    unknown = sorted(set(query) - modelled)
    if unknown:
        raise UnmodelledParameter(f"fake_github does not model the query parameter(s) {', '.join(unknown)} of {path}")


@dataclass
class Reply:
    status: int
    body: Any  # JSON-serialisable, or bytes sent as they are
    link: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def not_found() -> Reply:
    return Reply(404, payloads.error_payload("Not Found", 404))


@dataclass
class Request:
    path: str
    query: dict[str, str]
    api: str  # the fake's API root, for payload URLs
    repo: Repository
    match: re.Match[str]

    @property
    def url(self) -> str:
        return f"{self.api}{self.path}"

    def pull(self) -> PullRequest | None:
        return self.repo.pulls.get(int(self.match["number"]))

    def page(self, items: list[Any]) -> Reply:
        chunk, link = paginate(items, self.query, self.url)
        return Reply(200, chunk, link)


def _parse_time(value: str | None) -> datetime | None:
    """``since`` is ISO 8601 (YYYY-MM-DDTHH:MM:SSZ)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def get_repo(req: Request) -> Reply:
    return Reply(200, payloads.full_repo_payload(req.repo, req.api))


def list_pulls(req: Request) -> Reply:
    """GET /pulls: ``state`` (default open), ``base``, ``head`` (owner:ref), ``sort``
    (created|updated; default created) and ``direction`` (default desc when sorting by
    created, else asc)."""
    state = req.query.get("state", "open")
    pulls = [pr for pr in req.repo.pulls.values() if state == "all" or pr.state == state]
    if "base" in req.query:
        pulls = [pr for pr in pulls if pr.base_ref == req.query["base"]]
    if "head" in req.query:
        pulls = [pr for pr in pulls if f"{req.repo.owner}:{pr.head_ref}" == req.query["head"]]
    sort = req.query.get("sort", "created")
    direction = req.query.get("direction", "desc" if sort == "created" else "asc")
    key: Callable[[PullRequest], datetime] = (
        (lambda pr: pr.updated_at) if sort == "updated" else (lambda pr: pr.created_at)
    )
    pulls.sort(key=key, reverse=direction == "desc")
    return req.page([payloads.pull_payload(req.repo, pr, req.api, full=False) for pr in pulls])


def get_pull(req: Request) -> Reply:
    pr = req.pull()
    return not_found() if pr is None else Reply(200, payloads.pull_payload(req.repo, pr, req.api))


def pull_commits(req: Request) -> Reply:
    pr = req.pull()
    if pr is None:
        return not_found()
    # Oldest first, and never more than 250 (GitHub: "use the list commits endpoint" beyond).
    return req.page(payloads.commit_payloads(req.repo, pr, req.api)[:PR_COMMITS_CAP])


def pull_files(req: Request) -> Reply:
    pr = req.pull()
    if pr is None:
        return not_found()
    files = pr.files[:PR_FILES_CAP]
    return req.page([payloads.file_payload(req.repo, pr, f, req.api) for f in files])


def pull_reviews(req: Request) -> Reply:
    pr = req.pull()
    if pr is None:
        return not_found()
    return req.page([payloads.review_payload(req.repo, pr, r, req.api) for r in pr.reviews])


def pull_review_comments(req: Request) -> Reply:
    """Review comments; ``sort`` created|updated (default created), ``direction`` (default
    asc), ``since`` (updated at or after)."""
    pr = req.pull()
    if pr is None:
        return not_found()
    comments = list(pr.review_comments)
    since = _parse_time(req.query.get("since"))
    if since is not None:
        comments = [c for c in comments if c.updated_at >= since]
    if req.query.get("sort") == "updated":
        comments.sort(key=lambda c: c.updated_at)
    elif "sort" in req.query or "direction" in req.query:
        comments.sort(key=lambda c: c.created_at)
    if req.query.get("direction") == "desc":
        comments.reverse()
    return req.page([payloads.review_comment_payload(req.repo, pr, c, req.api) for c in comments])


def issue_comments(req: Request) -> Reply:
    """PR conversation comments, oldest first; ``since`` keeps those updated at or after."""
    pr = req.pull()
    if pr is None:
        return not_found()
    since = _parse_time(req.query.get("since"))
    comments = [c for c in pr.issue_comments if since is None or c.updated_at >= since]
    return req.page([payloads.issue_comment_payload(req.repo, pr, c, req.api) for c in comments])


def issue_timeline(req: Request) -> Reply:
    pr = req.pull()
    return not_found() if pr is None else req.page(timeline_items(req.repo, pr, req.api))


def get_commit(req: Request) -> Reply:
    """GET /commits/{sha}: a PR commit as the list shows it, plus ``stats`` and ``files``
    (per-commit diffs are not modelled: zero stats, no files). Unknown sha: 422."""
    ref = req.match["ref"]
    for pr in req.repo.pulls.values():
        for item in payloads.commit_payloads(req.repo, pr, req.api):
            if item["sha"] == ref:
                return Reply(200, {**item, "stats": {"total": 0, "additions": 0, "deletions": 0}, "files": []})
    return Reply(422, payloads.error_payload(f"No commit found for SHA: {ref}", 422))


def _known_shas(repo: Repository) -> dict[str, str]:
    """sha or branch name -> sha, for everything the fake repository has seen."""
    refs: dict[str, str] = {}
    for pr in repo.pulls.values():
        refs[pr.head_ref] = pr.head_sha
        for sha in [
            pr.head_sha,
            pr.base_sha,
            *(c.sha for c in pr.commits),
            *(r.head_sha for r in pr.check_runs),
        ]:
            refs[sha] = sha
    return refs


def _latest_per_name(runs: list[CheckRun]) -> list[CheckRun]:
    """``filter=latest``: only the most recent run of each check name (a re-run replaces)."""
    oldest = datetime.min.replace(tzinfo=UTC)
    newest: dict[str, CheckRun] = {}
    for run in runs:
        best = newest.get(run.name)
        if best is None or (run.started_at or oldest, run.id) > (best.started_at or oldest, best.id):
            newest[run.name] = run
    keep = {id(run) for run in newest.values()}
    return [run for run in runs if id(run) in keep]


def check_runs(req: Request) -> Reply:
    """GET /commits/{ref}/check-runs: runs on that sha from every PR of the repository,
    wrapped as {"total_count", "check_runs"}. ``filter`` latest (default) | all,
    ``check_name``, ``status``. An unknown sha is a 422, as on GitHub."""
    ref = req.match["ref"]
    sha = _known_shas(req.repo).get(ref)
    if sha is None:
        return Reply(422, payloads.error_payload(f"No commit found for SHA: {ref}", 422))
    runs = [run for pr in req.repo.pulls.values() for run in pr.check_runs if run.head_sha == sha]
    if req.query.get("filter", "latest") == "latest":
        runs = _latest_per_name(runs)
    if "check_name" in req.query:
        runs = [run for run in runs if run.name == req.query["check_name"]]
    if "status" in req.query:
        runs = [run for run in runs if run.status == req.query["status"]]
    chunk, link = paginate(runs, req.query, req.url)
    body = {
        "total_count": len(runs),
        "check_runs": [payloads.check_run_payload(req.repo, run, req.api) for run in chunk],
    }
    return Reply(200, body, link)


def list_artifacts(req: Request) -> Reply:
    """GET /actions/artifacts: newest first, expired ones included; ``name`` filters (exact).
    Wrapped as {"total_count", "artifacts"}, paginated like the other lists."""
    artifacts = list(req.repo.artifacts)
    if "name" in req.query:
        artifacts = [a for a in artifacts if a.name == req.query["name"]]
    artifacts.sort(key=lambda a: (a.created_at, a.id), reverse=True)
    chunk, link = paginate(artifacts, req.query, req.url)
    body = {
        "total_count": len(artifacts),
        "artifacts": [payloads.artifact_payload(req.repo, a, req.api) for a in chunk],
    }
    return Reply(200, body, link)


def workflow_run(req: Request) -> Reply:
    """GET /actions/runs/{id}: the run that uploaded one of the repository's artifacts; 404 for
    any other id and for a deleted run."""
    run_id = int(req.match["id"])
    artifact = next(
        (a for a in req.repo.artifacts if a.has_workflow_run and payloads.artifact_run_id(a) == run_id), None
    )
    if artifact is None or artifact.run_deleted:
        return not_found()
    return Reply(200, payloads.workflow_run_payload(req.repo, artifact, req.api))


def get_branch(req: Request) -> Reply:
    """GET /branches/{branch}: a branch and its tip (``payloads.branch_commits``); 404 for a name
    that is no branch (a tag's included)."""
    commits = payloads.branch_commits(req.repo, req.match["branch"])
    if commits is None:
        return not_found()
    return Reply(200, payloads.branch_payload(req.repo, req.match["branch"], commits[-1], req.api))


def compare(req: Request) -> Reply:
    """GET /compare/{base}...{head}, each a branch name or a commit of a branch: how ``head``
    stands to ``base`` (behind: an ancestor of it). 404 for a ref the repository does not have."""
    histories = [
        commits
        for branch in {req.repo.default_branch, *(payloads.run_branch(req.repo, a) for a in req.repo.artifacts)}
        if branch is not None and (commits := payloads.branch_commits(req.repo, branch)) is not None
    ]

    # every commit a run executed is in the repository (a tag's, a pull request's), on a branch or not
    known = {sha for commits in histories for sha in commits} | {payloads.run_head_sha(a) for a in req.repo.artifacts}

    def resolve(ref: str) -> str | None:
        named = payloads.branch_commits(req.repo, ref)
        if named is not None:
            return named[-1]
        return ref if ref in known else None

    base, head = resolve(req.match["base"]), resolve(req.match["head"])
    if base is None or head is None:
        return not_found()
    status, ahead, behind = "diverged", 1, 1
    for commits in histories:
        if base in commits and head in commits:
            distance = commits.index(head) - commits.index(base)
            status = "identical" if distance == 0 else "ahead" if distance > 0 else "behind"
            ahead, behind = max(distance, 0), max(-distance, 0)
            break
    return Reply(200, payloads.comparison_payload(req.repo, base, head, status, ahead, behind, req.api))


def blob_signature(repo: Repository, artifact: Artifact) -> str:
    return hashlib.sha256(f"{repo.full_name}/{artifact.id}/{len(artifact.content)}".encode()).hexdigest()[:32]


def blob_url(req: Request, artifact: Artifact) -> str:
    """Where the archive "lives": the same server under another host name (127.0.0.1 <->
    localhost), standing for GitHub's blob storage, with a SAS-like signature in the query."""
    parts = urlsplit(req.api)
    host = "localhost" if parts.hostname != "localhost" else "127.0.0.1"
    origin = f"{parts.scheme}://{host}:{parts.port}"
    return f"{origin}/_blobs/{req.repo.full_name}/{artifact.id}.zip?sig={blob_signature(req.repo, artifact)}"


def artifact_zip(req: Request) -> Reply:
    """GET /actions/artifacts/{id}/zip: 302 to a short-lived blob URL; 410 once expired."""
    artifact = next((a for a in req.repo.artifacts if a.id == int(req.match["id"])), None)
    if artifact is None:
        return not_found()
    if artifact.expired:
        return Reply(410, payloads.error_payload("Artifact has expired", 410))
    return Reply(302, b"", headers={"location": blob_url(req, artifact)})


def blob(repos: Iterable[Repository], path: str, query: dict[str, str], authorization: str | None) -> Reply:
    """GET /_blobs/{owner}/{repo}/{id}.zip?sig=...: the archive bytes. Like Azure blob storage
    behind a signed URL, a request that carries an Authorization header is refused: a client
    that forwards its GitHub token across the redirect fails here."""
    if authorization:
        body = (
            b'<?xml version="1.0" encoding="utf-8"?><Error><Code>InvalidAuthenticationInfo</Code>'
            b"<Message>Authentication information is not given in the correct format.</Message></Error>"
        )
        return Reply(400, body, headers={"content-type": "application/xml"})
    match = re.fullmatch(r"/_blobs/(?P<owner>[^/]+)/(?P<name>[^/]+)/(?P<id>\d+)\.zip", path)
    repo = match and next((r for r in repos if r.full_name == f"{match['owner']}/{match['name']}"), None)
    artifact = match and repo and next((a for a in repo.artifacts if a.id == int(match["id"])), None)
    if not match or repo is None or artifact is None:
        return Reply(404, b"<Error><Code>BlobNotFound</Code></Error>", headers={"content-type": "application/xml"})
    if query.get("sig") != blob_signature(repo, artifact):
        body = b"<Error><Code>AuthenticationFailed</Code></Error>"
        return Reply(403, body, headers={"content-type": "application/xml"})
    return Reply(200, artifact.content, headers={"content-type": "application/zip"})


# (path, handler, the query parameters it models)
ROUTES: list[tuple[re.Pattern[str], Callable[[Request], Reply], frozenset[str]]] = [
    (re.compile(_REPO + r"$"), get_repo, frozenset()),
    (re.compile(_REPO + r"/pulls$"), list_pulls, PAGED | {"state", "base", "head", "sort", "direction"}),
    (re.compile(_REPO + r"/pulls/(?P<number>\d+)$"), get_pull, frozenset()),
    (re.compile(_REPO + r"/pulls/(?P<number>\d+)/commits$"), pull_commits, PAGED),
    (re.compile(_REPO + r"/pulls/(?P<number>\d+)/files$"), pull_files, PAGED),
    (re.compile(_REPO + r"/pulls/(?P<number>\d+)/reviews$"), pull_reviews, PAGED),
    (
        re.compile(_REPO + r"/pulls/(?P<number>\d+)/comments$"),
        pull_review_comments,
        PAGED | {"sort", "direction", "since"},
    ),
    (re.compile(_REPO + r"/issues/(?P<number>\d+)/comments$"), issue_comments, PAGED | {"since"}),
    (re.compile(_REPO + r"/issues/(?P<number>\d+)/timeline$"), issue_timeline, PAGED),
    (re.compile(_REPO + r"/commits/(?P<ref>[^/]+)$"), get_commit, PAGED),  # PyGithub pages its (empty) files
    (
        re.compile(_REPO + r"/commits/(?P<ref>[^/]+)/check-runs$"),
        check_runs,
        PAGED | {"filter", "check_name", "status"},
    ),
    (re.compile(_REPO + r"/actions/artifacts$"), list_artifacts, PAGED | {"name"}),
    (re.compile(_REPO + r"/actions/artifacts/(?P<id>\d+)/zip$"), artifact_zip, frozenset()),
    (re.compile(_REPO + r"/actions/runs/(?P<id>\d+)$"), workflow_run, frozenset()),
    (re.compile(_REPO + r"/branches/(?P<branch>.+)$"), get_branch, frozenset()),
    (
        re.compile(_REPO + r"/compare/(?P<base>.+?)\.\.\.(?P<head>.+)$"),
        compare,
        PAGED,
    ),  # PyGithub pages its (empty) commits
]


# --- recorded repositories ------------------------------------------------------------------

# The recorded list each PR route of a RecordedRepository serves.
RECORDED_LISTS: dict[Callable[[Request], Reply], str] = {
    pull_commits: "commits",
    pull_files: "files",
    pull_reviews: "reviews",
    pull_review_comments: "review_comments",
    issue_comments: "issue_comments",
    issue_timeline: "timeline",
}

GITHUB_API = "https://api.github.com"


def followed_urls(pull: dict[str, Any], api: str) -> dict[str, Any]:
    """The recorded PR with its own top-level API URLs (``url``, ``issue_url``, ``commits_url``, ...)
    on the fake: PyGithub builds a PR's list requests from ``url`` and ``issue_url`` (payload URLs
    are followed as given), so a recorded one must not lead to api.github.com. Every other field,
    ``html_url`` and the nested objects included, is served as recorded."""
    return {
        key: api + value[len(GITHUB_API) :]
        if key.endswith("url") and isinstance(value, str) and value.startswith(GITHUB_API + "/")
        else value
        for key, value in pull.items()
    }


def recorded_reply(
    repo: RecordedRepository,
    handler: Callable[[Request], Reply],
    path: str,
    query: dict[str, str],
    api: str,
    match: re.Match[str],
) -> Reply:
    """Answer from recorded payloads, item for item as GitHub sent them, with the usual
    pagination (``per_page``, ``page``, Link). The check runs of a recorded PR's head are served
    as recorded whatever ``filter`` asks; another sha is a 422, as on GitHub. Routes without a
    recording (the repository, PR listings, artifacts) are 404s."""
    url = f"{api}{path}"
    pull: RecordedPull | None
    if handler is check_runs:
        pull = next((p for p in repo.pulls.values() if p.head_sha == match["ref"]), None)
        if pull is None:
            return Reply(422, payloads.error_payload(f"No commit found for SHA: {match['ref']}", 422))
        chunk, link = paginate(pull.check_runs, query, url)
        return Reply(200, {"total_count": len(pull.check_runs), "check_runs": chunk}, link)
    pull = repo.pulls.get(int(match["number"])) if "number" in match.groupdict() else None
    if pull is None:
        return not_found()
    if handler is get_pull:
        return Reply(200, followed_urls(pull.pull, api))
    if handler not in RECORDED_LISTS:
        return not_found()
    chunk, link = paginate(getattr(pull, RECORDED_LISTS[handler]), query, url)
    return Reply(200, chunk, link)


def org_repos(repos: Iterable[Repository | RecordedRepository], org: str, query: dict[str, str], url: str) -> Reply:
    """GET /orgs/{org}/repos: the organisation's repositories (archived ones too), paginated;
    ``type`` is ``all`` (GitHub's default; the fake has no visibility to filter by)."""
    if query.get("type", "all") != "all":
        raise UnmodelledParameter(f"fake_github does not model type={query['type']} of {url}")
    mine = [repo for repo in repos if isinstance(repo, Repository) and repo.owner.lower() == org.lower()]
    if not mine:
        return not_found()
    chunk, link = paginate([payloads.full_repo_payload(repo, url.rsplit("/orgs/", 1)[0]) for repo in mine], query, url)
    return Reply(200, chunk, link)


def route(repos: Iterable[Repository | RecordedRepository], path: str, query: dict[str, str], api: str) -> Reply:
    """Answer a GET. Owner and repository names match case-insensitively, as on GitHub."""
    if (org := ORG_REPOS.match(path)) is not None:
        check_parameters(path, query, PAGED | {"type"})
        return org_repos(repos, org["org"], query, f"{api}{path}")
    for pattern, handler, parameters in ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        check_parameters(path, query, parameters)
        wanted = f"{match['owner']}/{match['name']}".lower()
        repo = next((r for r in repos if r.full_name.lower() == wanted), None)
        if repo is None:
            return not_found()
        if isinstance(repo, RecordedRepository):
            return recorded_reply(repo, handler, path, query, api, match)
        return handler(Request(path=path, query=query, api=api, repo=repo, match=match))
    return not_found()
