"""A GitHub App registered with the fake: its JWT checked like GitHub checks it, its
installations, and the installation access tokens it mints (with a lifetime a test can shorten).

    app = FakeApp(app_id=4711, public_key_pem=pem, installations={"acme": 101})
    FakeGitHub(repos, token=None, app=app)

- ``Authorization: Bearer <JWT>`` on the App's own endpoints (``GET /repos/{o}/{r}/installation``,
  ``GET /orgs/{org}/installation``, ``POST /app/installations/{id}/access_tokens``): the JWT must
  be RS256-signed by the App's key, issued by its id (``iss``), unexpired, and live at most ten
  minutes (``exp - iat``), else 401 "A JSON web token could not be decoded" as on GitHub.
- ``Authorization: token ghs_…`` with a minted token: accepted until its ``expires_at`` (401 "Bad
  credentials" after it, as GitHub answers), and it sees only its installation's repositories
  (404 for the others; ``GET /installation/repositories`` lists them).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt

from .model import Repository
from .paging import paginate
from .payloads import error_payload, full_repo_payload
from .routes import Reply

JWT_REJECTED = "A JSON web token could not be decoded"
MAX_JWT_LIFE_S = 600  # GitHub refuses a JWT whose exp is more than 10 minutes after its iat

REPO_INSTALLATION = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)/installation$")
ORG_INSTALLATION = re.compile(r"^/orgs/(?P<org>[^/]+)/installation$")
ACCESS_TOKENS = re.compile(r"^/app/installations/(?P<id>\d+)/access_tokens$")
# The App the README's organisation setup creates: read-only, no Actions.
APP_PERMISSIONS = {"metadata": "read", "contents": "read", "pull_requests": "read", "issues": "read", "checks": "read"}
PERMISSIONS_NOT_GRANTED = "The permissions requested are not granted to this installation."
_LEVELS = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True)
class Grant:
    """One installation access token the fake minted."""

    token: str = field(repr=False)
    installation_id: int
    expires_at: float  # epoch seconds
    requested: dict[str, str] | None = None  # the request body's "permissions" (None: not sent)
    permissions: dict[str, str] = field(default_factory=dict)  # what the token may do

    def expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass
class FakeApp:
    """``installations``: account login -> installation id. ``selected``: installation id ->
    the repository names it was granted (absent: all of the account's). ``token_lifetime_s``: the
    life of each minted token (GitHub: 3600). ``permissions``: what the App may do on its
    installations; a token is minted with all of them, or with the ``permissions`` its request
    asks for (422 when it asks for one the App lacks, as GitHub answers)."""

    app_id: int
    public_key_pem: bytes
    installations: dict[str, int]
    selected: dict[int, list[str]] = field(default_factory=dict)
    token_lifetime_s: float = 3600.0
    permissions: dict[str, str] = field(default_factory=lambda: dict(APP_PERMISSIONS))
    grants: list[Grant] = field(default_factory=list)  # every token minted, in order
    rejected_jwts: int = 0
    expired_uses: int = 0  # requests that came with an expired token (and got a 401)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- the App's own endpoints (JWT) ------------------------------------------------------

    def answer(
        self, method: str, path: str, authorization: str | None, repos: list[Repository], body: bytes = b""
    ) -> Reply | None:
        """The reply to a request on one of the App's endpoints; None for any other path."""
        repo_match, org_match = REPO_INSTALLATION.match(path), ORG_INSTALLATION.match(path)
        tokens_match = ACCESS_TOKENS.match(path)
        if not (repo_match or org_match or tokens_match) or not (authorization or "").startswith("Bearer "):
            return None
        if not self.jwt_valid(str(authorization).removeprefix("Bearer ")):
            with self._lock:
                self.rejected_jwts += 1
            return Reply(401, error_payload(JWT_REJECTED, 401))
        if tokens_match and method == "POST":
            try:
                requested = json.loads(body or b"{}").get("permissions")
            except (ValueError, AttributeError):
                return Reply(400, error_payload("Problems parsing JSON", 400))
            return self.mint(int(tokens_match["id"]), requested)
        if method != "GET":
            return Reply(404, error_payload("Not Found", 404))
        if repo_match:
            name = f"{repo_match['owner']}/{repo_match['name']}"
            repo = next((r for r in repos if r.full_name.lower() == name.lower()), None)
            installation = self.installations.get(repo_match["owner"].lower())
            if repo is None or installation is None or not self.covers(installation, repo.full_name):
                return Reply(404, error_payload("Not Found", 404))
            return Reply(200, self.installation_payload(installation, repo.owner))
        assert org_match is not None
        installation = self.installations.get(org_match["org"].lower())
        if installation is None:
            return Reply(404, error_payload("Not Found", 404))
        return Reply(200, self.installation_payload(installation, org_match["org"]))

    def jwt_valid(self, token: str) -> bool:
        try:
            claims = jwt.decode(
                token,
                self.public_key_pem,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
                leeway=0,
            )
        except jwt.PyJWTError:
            return False
        return str(claims["iss"]) == str(self.app_id) and claims["exp"] - claims["iat"] <= MAX_JWT_LIFE_S

    def mint(self, installation_id: int, requested: dict[str, str] | None = None) -> Reply:
        if installation_id not in self.installations.values():
            return Reply(404, error_payload("Not Found", 404))
        app_level = {name: _LEVELS.get(level, 0) for name, level in self.permissions.items()}
        if any(_LEVELS.get(level, 99) > app_level.get(name, 0) for name, level in (requested or {}).items()):
            return Reply(422, error_payload(PERMISSIONS_NOT_GRANTED, 422))
        granted = dict(requested) if requested else dict(self.permissions)  # {} or absent: all of them
        token = f"ghs_{secrets.token_hex(18)}"
        grant = Grant(token, installation_id, time.time() + self.token_lifetime_s, requested, granted)
        with self._lock:
            self.grants.append(grant)
        expires = datetime.fromtimestamp(grant.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "token": grant.token,
            "expires_at": expires,
            "permissions": grant.permissions,
            "repository_selection": "selected" if installation_id in self.selected else "all",
        }
        return Reply(201, body)

    def installation_payload(self, installation_id: int, account: str) -> dict[str, Any]:
        return {
            "id": installation_id,
            "app_id": self.app_id,
            "account": {"login": account, "type": "Organization"},
            "repository_selection": "selected" if installation_id in self.selected else "all",
            "access_tokens_url": f"/app/installations/{installation_id}/access_tokens",
        }

    # --- requests made with an installation token -------------------------------------------

    def grant_for(self, authorization: str | None) -> Grant | None:
        """The grant whose token ``authorization`` carries (expired or not); None: not ours."""
        token = (authorization or "").removeprefix("token ").removeprefix("Bearer ")
        with self._lock:
            grant = next((g for g in self.grants if g.token == token), None)
            if grant is not None and grant.expired():
                self.expired_uses += 1
        return grant

    def covers(self, installation_id: int, full_name: str) -> bool:
        owner = full_name.split("/", 1)[0].lower()
        if self.installations.get(owner) != installation_id:
            return False
        chosen = self.selected.get(installation_id)
        return chosen is None or full_name.lower() in {name.lower() for name in chosen}

    def visible(self, grant: Grant, repos: list[Repository]) -> list[Repository]:
        return [repo for repo in repos if self.covers(grant.installation_id, repo.full_name)]

    def installation_repositories(
        self, grant: Grant, repos: list[Repository], query: dict[str, str], url: str
    ) -> Reply:
        """GET /installation/repositories: the repositories this installation was granted."""
        mine = [full_repo_payload(repo, url.rsplit("/installation/", 1)[0]) for repo in self.visible(grant, repos)]
        chunk, link = paginate(mine, query, url)
        return Reply(200, {"total_count": len(mine), "repositories": chunk}, link)
