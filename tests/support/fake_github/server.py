"""``FakeGitHub``: a loopback HTTP server that answers like api.github.com (or a GitHub
Enterprise Server under ``/api/v3``), so PyGithub's own pagination, retry and parsing run.

    with FakeGitHub([repo]) as gh:
        client = github.Github(auth=github.Auth.Token("test-token"), base_url=gh.api_url)
"""

from __future__ import annotations

import contextlib
import http
import itertools
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import graphql
from .apps import FakeApp
from .faults import PRIMARY_RATE_LIMIT_DOCS, Fault, FaultPlan, primary_rate_limit_message
from .model import IssueComment, RecordedRepository, Repository, User
from .payloads import error_payload
from .routes import PAGED, Reply, UnmodelledParameter, blob, check_parameters, route

API_VERSION = "2022-11-28"
POST_COMMENT = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/comments$")
DELETE_ARTIFACT = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/actions/artifacts/(?P<id>\d+)$")
# GitHub's answer when the token lacks a permission (a GITHUB_TOKEN without `actions: write`).
NOT_ACCESSIBLE = "Resource not accessible by integration"
ARTIFACT_DOCS = "https://docs.github.com/rest/actions/artifacts#delete-an-artifact"

# Every defect a FakeGitHub of this process met and no test has taken yet: its own errors (a 500
# it answers for a bug of its own), a GraphQL query invalid against GitHub's schema or giving an
# argument the fake does not model, a REST query parameter it does not model. GitHub would have
# answered something else, so a test that met one proves nothing: tests/conftest.py fails it,
# whichever server it started (``serve``, ``with FakeGitHub(...)``, a module's fixture), and a
# server used as a context manager raises on exit (the demo, the benchmarks).
_DEFECTS: list[tuple[FakeGitHub, str]] = []
_DEFECTS_LOCK = threading.Lock()


def take_defects() -> list[str]:
    """The defects every FakeGitHub of this process met since the last call (then forgotten)."""
    with _DEFECTS_LOCK:
        taken = [f"{server.api_url}: {what}" for server, what in _DEFECTS]
        _DEFECTS.clear()
    return taken


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str  # without the API prefix and without the query string
    query: dict[str, str]
    status: int  # 0: the connection was dropped without an answer
    request_id: str


class FakeGitHub:
    """State: ``repos`` (live: mutate them between requests), ``requests`` (the log),
    ``rate_limit_limit/remaining/reset`` (primary limit; ``rate_limit_status`` 403 or 429 is
    what an exhausted limit answers), ``latency_s`` (added to every request).

    GraphQL (``POST /graphql``; GHES ``/api/graphql``): ``graphql_budget`` (points: limit,
    remaining, reset_at), ``graphql_log`` (every query with its cost and the PRs it fetched),
    ``invalid_graphql`` (queries that failed validation against GitHub's schema: each is also a
    defect), ``graphql_max_pull_requests`` (a query
    asking for more PRs than this "times out": 502, points spent, as GitHub does for big
    nested queries). Faults added on the path ``/graphql`` apply to both prefixes.

    ``app``: a GitHub App (fake_github.apps) whose installation tokens are accepted beside ``token``.

    ``defects()`` / ``take_defects()``: what this server met that GitHub would have answered
    otherwise (see ``_DEFECTS``); a test that provokes one on purpose takes it."""

    def __init__(
        self,
        repos: list[Repository | RecordedRepository],
        token: str | None = "test-token",
        api_prefix: str = "",
        app: FakeApp | None = None,
    ) -> None:
        self.repos = repos
        self.token = token
        self.app = app
        self.api_prefix = api_prefix.rstrip("/")
        self.latency_s = 0.0
        self.rate_limit_limit = 5000
        self.rate_limit_remaining = 5000
        self.rate_limit_reset = int(time.time()) + 3600
        self.rate_limit_status = 403  # GitHub answers an exhausted primary limit with 403 or 429
        self.requests: list[RequestRecord] = []
        self.graphql_budget = graphql.GraphQLBudget(reset_at=time.time() + 3600)
        self.graphql_log: list[graphql.GraphQLRecord] = []
        self.invalid_graphql: list[graphql.GraphQLRecord] = []
        self.graphql_max_pull_requests: int | None = None
        self.graphql_schema = graphql.SCHEMA_PATH
        self.actions_write = True  # the token's `actions` permission is write: False answers DELETEs 403
        self._faults = FaultPlan()
        self._lock = threading.Lock()
        self._next_comment_id = 3_900_000_000  # ids of comments posted to the fake
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._port: int | None = None  # kept once stopped: a request still in flight answers in full
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        if self._httpd is not None:
            return self
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-github", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if exc is None and (defects := self.take_defects()):
            raise AssertionError(f"fake_github met defects: {defects}")

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeGitHub is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """scheme://host:port, without the API prefix."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What a client passes as GITHUB_API_URL / base_url (no trailing slash)."""
        return f"{self.base_url}{self.api_prefix}"

    # --- test controls -------------------------------------------------------------------

    def add_fault(self, path_regex: str, *faults: Fault) -> None:
        """Requests whose path (without the API prefix) matches ``path_regex`` get these
        faults, one per request, then normal answers."""
        self._faults.add(path_regex, *faults)

    def pending_faults(self) -> int:
        return self._faults.pending()

    def clear_faults(self) -> None:
        self._faults.clear()

    def defects(self) -> list[str]:
        """The defects this server met that no test has taken."""
        with _DEFECTS_LOCK:
            return [what for server, what in _DEFECTS if server is self]

    def take_defects(self) -> list[str]:
        """This server's defects, forgotten (a test that provokes one on purpose takes it)."""
        with _DEFECTS_LOCK:
            mine = [what for server, what in _DEFECTS if server is self]
            _DEFECTS[:] = [(server, what) for server, what in _DEFECTS if server is not self]
        return mine

    def _defect(self, what: str) -> None:
        with _DEFECTS_LOCK:
            _DEFECTS.append((self, what))

    def _own_error(self, exc: Exception) -> Reply:
        """A defect answered 500 rather than a hung client."""
        self._defect(f"{exc}" if isinstance(exc, UnmodelledParameter) else f"fake_github error: {exc!r}")
        return Reply(500, error_payload(f"fake_github error: {exc}", 500))

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.graphql_log.clear()

    def set_graphql_points(self, remaining: int, limit: int | None = None, reset_in_s: float = 3600) -> None:
        """Set the GraphQL points budget (e.g. what an Actions token has left this hour)."""
        with self.graphql_budget.lock:
            if limit is not None:
                self.graphql_budget.limit = limit
            self.graphql_budget.remaining = remaining
            self.graphql_budget.reset_at = time.time() + reset_in_s

    def graphql_pull_requests(self) -> list[int]:
        """The PR numbers fetched through ``pullRequest(number:)``, in order, over all queries."""
        with self._lock:
            return [number for record in self.graphql_log for number in record.pull_requests]

    def paths(self) -> list[str]:
        """The logged paths, in order (a convenience for assertions)."""
        with self._lock:
            return [r.path for r in self.requests]

    # --- request handling (called on the server's threads) -------------------------------

    def _model_repos(self) -> list[Repository]:
        """The repositories built from the model: recorded ones answer REST only (routes.py)."""
        return [repo for repo in self.repos if isinstance(repo, Repository)]

    def _next_request_id(self) -> str:
        # Shaped like GitHub's "C0DE:1A2B:3C4D5E:6F7A8B:65F1A2B3"; the counter keeps it unique.
        h = uuid.uuid4().hex.upper()
        return f"{next(self._ids):04X}:{h[:4]}:{h[4:10]}:{h[10:16]}:{h[16:24]}"

    def _record(self, method: str, path: str, query: dict[str, str], status: int, request_id: str) -> None:
        with self._lock:
            self.requests.append(RequestRecord(method, path, dict(query), status, request_id))

    def _rate_headers(self) -> dict[str, str]:
        with self._lock:
            return {
                "x-ratelimit-limit": str(self.rate_limit_limit),
                "x-ratelimit-remaining": str(max(self.rate_limit_remaining, 0)),
                "x-ratelimit-used": str(self.rate_limit_limit - max(self.rate_limit_remaining, 0)),
                "x-ratelimit-reset": str(self.rate_limit_reset),
                "x-ratelimit-resource": "core",
            }

    def _spend_rate_limit(self) -> bool:
        """Count one authorised request; False when the primary limit is used up. Once
        ``rate_limit_reset`` has passed, a new window starts, as on GitHub."""
        with self._lock:
            now = int(time.time())
            if self.rate_limit_remaining <= 0 and now >= self.rate_limit_reset:
                self.rate_limit_remaining = self.rate_limit_limit
                self.rate_limit_reset = now + 3600
            if self.rate_limit_remaining <= 0:
                return False
            self.rate_limit_remaining -= 1
            return True

    def _authorised(self, header: str | None) -> bool:
        if self.token is None and self.app is None:
            return True
        return header in (f"token {self.token}", f"Bearer {self.token}")

    def _rate_limit_status_payload(self) -> dict[str, Any]:
        with self._lock:
            core = {
                "limit": self.rate_limit_limit,
                "used": self.rate_limit_limit - max(self.rate_limit_remaining, 0),
                "remaining": max(self.rate_limit_remaining, 0),
                "reset": self.rate_limit_reset,
            }
        reset = int(time.time()) + 3600
        graphql = {"limit": 5000, "used": 0, "remaining": 5000, "reset": reset}
        search = {"limit": 30, "used": 0, "remaining": 30, "reset": reset}
        return {"resources": {"core": core, "graphql": graphql, "search": search}, "rate": core}

    def handle(self, handler: _Handler) -> None:
        request_id = self._next_request_id()
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = parts.path
        if path.startswith("/_blobs/"):
            # Not the API: blob storage behind artifact redirects. No GitHub auth, no rate limit.
            try:
                check_parameters(path, query, frozenset({"sig"}))
                reply = blob(self._model_repos(), path, query, handler.headers.get("Authorization"))
            except Exception as exc:
                reply = self._own_error(exc)
            self._send(handler, handler.command, path, query, request_id, reply, {})
            return
        graphql_path = "/api/graphql" if self.api_prefix == "/api/v3" else "/graphql"
        if path == graphql_path:
            path = "/graphql"  # PyGithub: base_url .../api/v3 -> .../api/graphql
            prefixed = True
        elif self.api_prefix:
            # GHES serves the REST API under /api/v3 only.
            prefixed = path == self.api_prefix or path.startswith(self.api_prefix + "/")
            path = path[len(self.api_prefix) :] if prefixed else path
        else:
            prefixed = True
        method = handler.command

        if self.latency_s:
            time.sleep(self.latency_s)

        extra_headers: dict[str, str] = {}
        fault = self._faults.take(path)
        if fault is not None:
            if fault.delay_s:
                time.sleep(fault.delay_s)
            if fault.drop_connection:
                self._record(method, path, query, 0, request_id)
                handler.drop()
                return
            if not fault.passes_through:
                body = fault.body if fault.body is not None else _default_error(fault.status)
                if isinstance(body.get("message"), str):
                    body = {**body, "message": body["message"].replace("{request_id}", request_id)}
                headers = {**self._rate_headers(), **{k.lower(): v for k, v in fault.headers.items()}}
                self._send(handler, method, path, query, request_id, Reply(fault.status, body), headers)
                return
            extra_headers = {k.lower(): v for k, v in fault.headers.items()}

        try:
            reply, more_headers = self._answer(handler, method, path, query, prefixed, request_id)
        except Exception as exc:  # a bug in the fake, or a parameter it does not model
            reply, more_headers = self._own_error(exc), {}
        headers = {**self._rate_headers(), **extra_headers, **more_headers}
        self._send(handler, method, path, query, request_id, reply, headers)

    def _answer(
        self, handler: _Handler, method: str, path: str, query: dict[str, str], prefixed: bool, request_id: str
    ) -> tuple[Reply, dict[str, str]]:
        """The reply to an API request past its faults, and its own headers."""
        if not path.startswith("/repos/") and not path.startswith("/orgs/"):
            # the routes check their own; the API's other paths take only paging (or nothing)
            check_parameters(path, query, PAGED if path == "/installation/repositories" else frozenset())
        elif method != "GET":
            check_parameters(path, query, frozenset())
        extra_headers: dict[str, str] = {}
        authorization = handler.headers.get("Authorization")
        app = self.app
        app_reply = app.answer(method, path, authorization, self._model_repos(), handler.body) if app else None
        grant = self.app.grant_for(authorization) if self.app and app_reply is None else None
        # an installation token sees only its installation's repositories
        repos = list(self.repos) if grant is None or self.app is None else self.app.visible(grant, self._model_repos())
        if app_reply is not None:
            reply = app_reply
        elif grant.expired() if grant is not None else not self._authorised(authorization):
            reply = Reply(401, error_payload("Bad credentials", 401))  # an expired installation token too
        elif path == "/installation/repositories" and grant is not None and self.app is not None:
            reply = self.app.installation_repositories(grant, self._model_repos(), query, f"{self.api_url}{path}")
        elif path == "/rate_limit":  # GitHub does not count this one against the limit
            reply = Reply(200, self._rate_limit_status_payload())
        elif path == "/graphql" and method == "POST" and prefixed:
            reply = self._graphql(handler.body, [repo for repo in repos if isinstance(repo, Repository)])
            extra_headers = self._graphql_headers()
        elif not self._spend_rate_limit():
            status = self.rate_limit_status
            body = error_payload(primary_rate_limit_message(request_id), status, PRIMARY_RATE_LIMIT_DOCS)
            reply = Reply(status, body)
        elif method == "POST" and prefixed and POST_COMMENT.match(path):
            reply = self._post_issue_comment(path, handler.body)
        elif method == "DELETE" and prefixed and DELETE_ARTIFACT.match(path):
            reply = self._delete_artifact(path)
        elif method != "GET" or not prefixed:
            reply = Reply(404, error_payload("Not Found", 404))
        else:
            reply = route(repos, path, query, self.api_url)
        return reply, extra_headers

    def _post_issue_comment(self, path: str, body: bytes) -> Reply:
        """POST /repos/{o}/{r}/issues/{n}/comments: a comment on an issue of ``Repository.issues``
        or on a PR's conversation; 201 with the comment, 404 for a number that is neither, 422
        without a string ``body``."""
        match = POST_COMMENT.match(path)
        assert match is not None
        repo = next((r for r in self._model_repos() if r.full_name.lower() == match["repo"].lower()), None)
        number = int(match["number"])
        try:
            text = json.loads(body or b"{}").get("body")
        except (ValueError, AttributeError):
            text = None
        if repo is None or (number not in repo.issues and number not in repo.pulls):
            return Reply(404, error_payload("Not Found", 404))
        if not isinstance(text, str) or not text:
            return Reply(422, error_payload("Validation Failed", 422))
        with self._lock:
            self._next_comment_id += 1
            now = datetime.now(UTC)
            comment = IssueComment(self._next_comment_id, User("mergelens-bot", 1, "Bot"), text, now, now)
            target = repo.issues[number] if number in repo.issues else repo.pulls[number].issue_comments
            target.append(comment)
        url = f"{self.api_url}/repos/{repo.full_name}/issues/comments/{comment.id}"
        return Reply(201, {"id": comment.id, "url": url, "body": text, "created_at": now.isoformat()})

    def _delete_artifact(self, path: str) -> Reply:
        """DELETE /repos/{o}/{r}/actions/artifacts/{id}: 204 and it is gone from the list; 404 for
        an id the repository does not have (any more); 403 when the token may not write Actions."""
        match = DELETE_ARTIFACT.match(path)
        assert match is not None
        repo = next((r for r in self._model_repos() if r.full_name.lower() == match["repo"].lower()), None)
        if repo is None:
            return Reply(404, error_payload("Not Found", 404))
        if not self.actions_write:
            return Reply(403, error_payload(NOT_ACCESSIBLE, 403, ARTIFACT_DOCS))
        with self._lock:
            artifact = next((a for a in repo.artifacts if a.id == int(match["id"])), None)
            if artifact is None:
                return Reply(404, error_payload("Not Found", 404, ARTIFACT_DOCS))
            repo.artifacts.remove(artifact)
        return Reply(204, b"", headers={"content-type": "text/plain"})

    def _graphql(self, body: bytes, repos: list[Repository]) -> Reply:
        """Points, not requests: a GraphQL query does not count against the REST limit."""
        try:
            status, payload, record = graphql.answer(
                repos,
                body,
                self.api_url,
                self.graphql_budget,
                time.time(),
                self.graphql_max_pull_requests,
                self.graphql_schema,
            )
        except Exception as exc:  # a bug in the fake: answer 500 rather than hang the client
            return self._own_error(exc)
        with self._lock:
            self.graphql_log.append(record)
            if record.invalid:
                self.invalid_graphql.append(record)
        if record.invalid:
            self._defect(f"GraphQL query invalid against GitHub's schema: {record.errors[:3]} in {record.query[:300]}")
        for defect in record.defects:
            self._defect(f"{defect} in {record.query[:300]}")
        return Reply(status, payload)

    def _graphql_headers(self) -> dict[str, str]:
        budget = self.graphql_budget
        with budget.lock:
            return {
                "x-ratelimit-limit": str(budget.limit),
                "x-ratelimit-remaining": str(budget.remaining),
                "x-ratelimit-used": str(budget.limit - budget.remaining),
                "x-ratelimit-reset": str(int(budget.reset_at)),
                "x-ratelimit-resource": "graphql",
            }

    def _send(
        self,
        handler: _Handler,
        method: str,
        path: str,
        query: dict[str, str],
        request_id: str,
        reply: Reply,
        headers: dict[str, str],
    ) -> None:
        self._record(method, path, query, reply.status, request_id)
        data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        headers = {
            "content-type": "application/json; charset=utf-8",
            "x-github-media-type": "github.v3; format=json",
            "x-github-api-version-selected": API_VERSION,
            "x-github-request-id": request_id,
            **headers,
            **reply.headers,
            "content-length": str(len(data)),
        }
        if reply.link:
            headers["link"] = reply.link
        handler.send_response(reply.status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if method != "HEAD":
            handler.wfile.write(data)


def _default_error(status: int) -> dict[str, Any]:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return error_payload(phrase, status)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as PyGithub's session expects
    # Headers and body go out in two writes; with Nagle's algorithm on, the second waits for
    # the client's delayed ACK (~40 ms a request on Linux loopback).
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return "github.com"

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        # read the body (GraphQL needs it; elsewhere it drains the socket so keep-alive stays in step)
        self.body = self.rfile.read(length) if length else b""
        self.server.fake.handle(self)  # type: ignore[attr-defined]

    do_GET = do_HEAD = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch

    def drop(self) -> None:
        """Close the socket without writing a byte (a reset / dropped connection)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: no per-request line on stderr
