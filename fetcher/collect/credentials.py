"""Who mergelens is to GitHub: a token (GITHUB_TOKEN), or a GitHub App that mints an
installation token for each repository it reads (MERGELENS_APP_ID and its private key).

A GitHub App authenticates in two steps. It signs a short JWT with its private key (RS256,
issuer = the app id, at most 10 minutes of life), and with that JWT asks for the installation
that covers a repository (``GET /repos/{owner}/{repo}/installation``, or ``GET
/orgs/{org}/installation``) and then for that installation's access token (``POST
/app/installations/{id}/access_tokens``). The access token is a plain token that expires one
hour later (``expires_at`` in the answer); :class:`InstallationToken` mints a new one
``refresh_margin`` before that (5 minutes, more when a request may wait longer), on the request
that needs it, so a long backfill never sends an expired token. REST and GraphQL both go through
PyGithub's requester, so both ask the same :class:`InstallationToken` for the token on every request.

The key and the tokens are never printed: they live in fields without a repr, PyGithub masks
the Authorization header in its own logs, and every error here is our own sentence.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import requests
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from github import Auth, GithubException, GithubIntegration

from fetcher.collect import policy
from fetcher.collect.rest import ClientSettings
from fetcher.collect.retry import GitHubRetry
from fetcher.config import Environment, positive_id
from fetcher.errors import MergelensError, UsageError

# Installation tokens live one hour; a new one is minted when less than this is left, so a
# request that starts with a token never ends with an expired one (and clocks may differ).
REFRESH_MARGIN = timedelta(minutes=5)
# The margin grows with the waits a request may make (refresh_margin), but never past this: with
# less than 10 minutes of a token's hour to use, every request would mint a new one.
MAX_REFRESH_MARGIN = timedelta(minutes=50)
CLOCK_SKEW = timedelta(minutes=1)
# What an installation token may do. Without "permissions" in the body of POST
# /app/installations/{id}/access_tokens GitHub grants every permission the App has; mergelens
# asks for the read scopes a run needs (docs/organisation.md, "Organisation setup", the App's permissions)
# and Issues write only when the digest comments on an issue (MERGELENS_DIGEST_ISSUE). Asking
# for one the installation lacks is refused (HTTP 422): the run fails with one line.
READ_PERMISSIONS = {"metadata": "read", "contents": "read", "pull_requests": "read", "issues": "read", "checks": "read"}


def refresh_margin(client: ClientSettings) -> timedelta:
    """How much of a token's life must be left when a request takes it. PyGithub builds the
    Authorization header once per request and urllib3 resends the same headers on every retry,
    after waiting out a rate limit (up to --max-rate-limit-wait) or a secondary limit: the token
    must outlive the slowest request with all its retries and waits, not only its first send."""
    wait = max(client.max_rate_limit_wait, client.secondary_rate_wait)
    slowest = client.retries * (wait + client.timeout) + client.timeout
    return min(max(REFRESH_MARGIN, timedelta(seconds=slowest) + CLOCK_SKEW), MAX_REFRESH_MARGIN)


T = TypeVar("T")


@dataclass(frozen=True)
class AppSettings:
    """A GitHub App's id and private key (PEM). The key has no repr: it never reaches a log."""

    app_id: str
    private_key: str = field(repr=False)


def app_settings(env: Environment) -> AppSettings | None:
    """The GitHub App this run authenticates as (None: use the token). Malformed settings are a
    usage error, told without their values."""
    key_text, key_file = env.app_private_key, env.app_private_key_file
    if env.app_id is None and key_text is None and key_file is None:
        return None
    if env.app_id is None:
        raise UsageError("a GitHub App private key is set but MERGELENS_APP_ID is not")
    if positive_id(env.app_id) is None:
        raise UsageError("MERGELENS_APP_ID is not a GitHub App id (a positive number)")
    if key_text is not None and key_file is not None:
        raise UsageError("set MERGELENS_APP_PRIVATE_KEY or MERGELENS_APP_PRIVATE_KEY_FILE, not both")
    if key_file is not None:
        try:
            key_text = Path(key_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise UsageError("MERGELENS_APP_PRIVATE_KEY_FILE cannot be read") from None
    if key_text is None:
        raise UsageError(
            "MERGELENS_APP_ID is set without MERGELENS_APP_PRIVATE_KEY (or MERGELENS_APP_PRIVATE_KEY_FILE)"
        )
    if "\\n" in key_text and "\n" not in key_text.strip():
        key_text = key_text.replace("\\n", "\n")  # a PEM stored on one line with escaped newlines
    return AppSettings(env.app_id, check_private_key(key_text.strip() + "\n"))


def token_permissions(env: Environment) -> dict[str, str]:
    """The permissions an installation token is minted with (``READ_PERMISSIONS``)."""
    return {**READ_PERMISSIONS, "issues": "write"} if env.digest_issue else dict(READ_PERMISSIONS)


def check_private_key(pem: str) -> str:
    """``pem`` when it is an RSA private key (what GitHub issues for an App; RS256 needs it)."""
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, RSAPrivateKey):
        raise UsageError("the GitHub App private key is not an unencrypted RSA private key in PEM format")
    return pem


class InstallationToken(Auth.Auth):
    """PyGithub auth that sends an installation's current access token, minting one on the first
    request and again when less than ``margin`` of its life is left (by GitHub's ``expires_at``)."""

    def __init__(self, mint: Callable[[], tuple[str, datetime]], margin: timedelta = REFRESH_MARGIN) -> None:
        self._mint = mint
        self._margin = margin
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = datetime.min.replace(tzinfo=UTC)
        self.minted = 0  # tokens minted so far (the run counts none of them as API requests)

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        with self._lock:
            if self._token is None or datetime.now(UTC) >= self._expires_at - self._margin:
                self._token, self._expires_at = self._mint()
                self.minted += 1
            return self._token

    @property
    def _masked_token(self) -> str:
        return "token (installation token removed)"

    def __repr__(self) -> str:
        return "InstallationToken(<removed>)"


class TokenCredentials:
    """One token for every repository: GITHUB_TOKEN (or GH_TOKEN)."""

    def __init__(self, token: str) -> None:
        self._auth = Auth.Token(token)

    def for_repository(self, repo: str) -> Auth.Auth:
        return self._auth

    def for_organization(self, org: str) -> Auth.Auth:
        return self._auth


class AppCredentials:
    """A GitHub App: each repository gets the token of the installation that covers it; the
    installations' tokens are shared by the repositories they cover (one token per installation)."""

    def __init__(
        self,
        settings: AppSettings,
        api_url: str,
        timeout: float = 15.0,
        margin: timedelta = REFRESH_MARGIN,
        permissions: dict[str, str] | None = None,
    ) -> None:
        self._margin = margin
        self._permissions = dict(permissions or READ_PERMISSIONS)
        self._app = GithubIntegration(
            auth=Auth.AppAuth(settings.app_id, settings.private_key),
            base_url=api_url.rstrip("/"),
            timeout=int(max(1, timeout)),
            retry=GitHubRetry(),
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,
        )
        self._installations: dict[int, InstallationToken] = {}

    def for_repository(self, repo: str) -> InstallationToken:
        """The installation token of the installation that covers ``repo``, minted (or failed) now."""
        owner, name = repo.split("/", 1)
        what = f"the GitHub App is not installed on {repo}, or cannot read it"
        return self._installation(lambda: self._app.get_repo_installation(owner, name).id, what)

    def for_organization(self, org: str) -> InstallationToken:
        what = f"the GitHub App is not installed on the organisation {org}"
        return self._installation(lambda: self._app.get_org_installation(org).id, what)

    def _installation(self, find: Callable[[], int], not_installed: str) -> InstallationToken:
        installation_id = self._call(find, not_installed)
        auth = self._installations.get(installation_id)
        if auth is None:
            auth = InstallationToken(lambda: self._mint(installation_id), self._margin)
            auth.token  # noqa: B018 -- mint now: a bad key fails here, as one line, not inside a fetch
            self._installations[installation_id] = auth
        return auth

    def _mint(self, installation_id: int) -> tuple[str, datetime]:
        def mint() -> tuple[str, datetime]:
            granted = self._app.get_access_token(installation_id, self._permissions)
            return granted.token, granted.expires_at

        return self._call(mint, f"the GitHub App's installation {installation_id} is gone")

    def _call(self, call: Callable[[], T], not_found: str) -> T:
        try:
            return call()
        except (GithubException, requests.RequestException) as exc:
            failure = policy.classify(exc)
            if failure.status == 401:
                raise MergelensError(
                    f"GitHub rejected the GitHub App's JWT ({failure.message}): check MERGELENS_APP_ID and "
                    "MERGELENS_APP_PRIVATE_KEY"
                ) from None
            if failure.status == 404:
                raise MergelensError(f"{not_found} (HTTP 404)") from None
            if failure.status == 422:  # a permission asked for that the installation lacks
                asked = ", ".join(f"{name}: {level}" for name, level in self._permissions.items())
                raise MergelensError(
                    f"GitHub refused an installation token with the permissions mergelens asks for ({asked}): "
                    f"{failure.message}; grant the App those permissions (docs/organisation.md, Organisation setup)"
                ) from None
            raise MergelensError(f"GitHub App authentication failed: {failure.message}") from None


Credentials = TokenCredentials | AppCredentials


def credentials_for(env: Environment, client: ClientSettings) -> Credentials:
    """The App when MERGELENS_APP_ID (or its key) is set, else the token; ``client``: the requests'
    timeout and waits, which decide how early an installation token is renewed."""
    settings = app_settings(env)
    if settings is not None:
        return AppCredentials(settings, env.api_url, client.timeout, refresh_margin(client), token_permissions(env))
    if not env.token:
        raise MergelensError("no GitHub token: set GITHUB_TOKEN (or GH_TOKEN)")
    return TokenCredentials(env.token)
