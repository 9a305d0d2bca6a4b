"""Streamlit's real login flow in front of the dashboard: ``streamlit run`` with ``[auth]`` in its
``.streamlit/secrets.toml``, a loopback OIDC provider (tests/support/oidc_provider.py), and Debian's
Chromium driven by Playwright. The browser follows every redirect itself: "Log in" ->
``/auth/login`` -> the provider's ``/authorize`` -> ``/oauth2callback`` (Authlib exchanges the code,
checks the id_token's signature, issuer, audience and nonce) -> the app with Streamlit's signed
identity cookie; "Log out" -> ``/auth/logout`` -> the provider's ``end_session_endpoint`` -> back.

What Streamlit 1.67 requires, found in streamlit/web/server/starlette/: plain http is accepted for
``redirect_uri`` (browsers treat loopback as a secure context); the session socket's Origin must
equal the redirect URI's origin, else the cookie is ignored, so the browser opens the very host
named there (127.0.0.1, not localhost); secrets are read from ``.streamlit/secrets.toml`` in the
server's working directory (``secrets.files`` can point elsewhere), so the server runs in a temp
directory holding one."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pytest

from tests.support.dashboard_support import free_port, session_demo_db
from tests.support.oidc_provider import OidcProvider, serve
from tests.test_dashboard_browser import (
    ERRORS,
    OVERVIEW_CARDS,
    chromium_page,
    playwright_api,
    require_chromium,
    serve_dashboard,
    wait_until_idle,
)

pytestmark = pytest.mark.slow  # a Streamlit server and a browser login per test (~30 s together)

CLIENT_ID = "mergelens-dashboard"
ALICE = {"sub": "alice-1", "email": "alice@example.com", "email_verified": True, "name": "Alice Example"}
MALLORY = {"sub": "mallory-1", "email": "mallory@evil.example", "email_verified": True, "name": "Mallory"}
UNVERIFIED = {"sub": "eve-1", "email": "eve@example.com", "email_verified": False, "name": "Eve"}
LOGIN_BUTTON = "Log in"
COOKIE = "_streamlit_user"  # Streamlit's signed identity cookie (starlette_server_config.USER_COOKIE_NAME)


@dataclass
class Deployment:
    url: str
    provider: OidcProvider
    titles: list[str]  # every PR title in the DB: none may reach a page that shows no data


def secrets_toml(redirect_uri: str, provider: OidcProvider) -> str:
    return "\n".join(
        [
            'MERGELENS_ALLOWED_USERS = "@example.com"',
            "[auth]",
            f'redirect_uri = "{redirect_uri}"',
            f'cookie_secret = "{secrets.token_urlsafe(32)}"',
            f'client_id = "{provider.client_id}"',
            f'client_secret = "{provider.client_secret}"',
            f'server_metadata_url = "{provider.metadata_url}"',
            "",
        ]
    )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    require_chromium()
    db = session_demo_db(tmp_path_factory)
    with duckdb.connect(str(db), read_only=True) as con:
        titles = [title for (title,) in con.execute("SELECT title FROM pull_requests").fetchall()]
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/oauth2callback"
    provider = OidcProvider(CLIENT_ID, secrets.token_urlsafe(16), redirect_uris=(redirect_uri,))
    workdir = tmp_path_factory.mktemp("login-server")
    with serve(provider):
        (workdir / ".streamlit").mkdir()
        (workdir / ".streamlit" / "secrets.toml").write_text(secrets_toml(redirect_uri, provider))
        with serve_dashboard(db, workdir / "streamlit.log", cwd=workdir, port=port) as url:
            yield Deployment(url, provider, titles)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    with chromium_page(tmp_path / "chromium-profile") as page:
        yield page


def shows_no_data(page: Any, deployment: Deployment) -> None:
    assert page.locator('[data-testid="stMetric"]').count() == 0
    assert page.get_by_text("Merged PRs per week").count() == 0
    html = page.content()
    leaked = [title for title in deployment.titles if title in html]
    assert leaked == []


def login_page(page: Any, deployment: Deployment) -> None:
    """The page a visitor who is not logged in gets: a login button, nothing else of substance."""
    page.get_by_role("button", name=LOGIN_BUTTON).wait_for(timeout=60_000)
    wait_until_idle(page)
    page.get_by_text("Log in to see it").wait_for()
    shows_no_data(page, deployment)


def log_in_as(page: Any, deployment: Deployment, user: dict[str, Any]) -> None:
    """Click "Log in"; the provider approves as ``user`` and the browser lands back on the app."""
    deployment.provider.user = user
    page.goto(deployment.url, wait_until="networkidle")
    login_page(page, deployment)
    # one navigation, three redirects: /auth/login -> /authorize -> /oauth2callback -> the app's root
    # (an error, e.g. Authlib failing to import, would stop it at /auth/login or /oauth2callback)
    with page.expect_navigation(url=lambda url: urlsplit(url).path == "/", timeout=30_000):
        page.get_by_role("button", name=LOGIN_BUTTON).click()


def identity_cookie(page: Any) -> dict[str, Any] | None:
    return next((cookie for cookie in page.context.cookies() if cookie["name"] == COOKIE), None)


def dashboard_shows(page: Any) -> None:
    page.locator('[data-testid="stMetric"]').first.wait_for(timeout=60_000)
    page.get_by_text("Merged PRs per week").wait_for()
    wait_until_idle(page)
    playwright_api.expect(page.locator('[data-testid="stMetric"]')).to_have_count(OVERVIEW_CARDS, timeout=30_000)
    assert page.locator(ERRORS).count() == 0


def test_a_visitor_who_is_not_logged_in_sees_only_the_login_button(page: Any, deployment: Deployment) -> None:
    page.goto(deployment.url, wait_until="networkidle")
    login_page(page, deployment)
    assert page.locator('[data-testid="stSidebar"]').count() == 0  # no filters, no page list
    # a forged identity cookie (not signed with the cookie secret) is no login
    claims = '{"is_logged_in": true, "email": "alice@example.com", "email_verified": true, "origin": "%s"}'
    value = base64.b64encode((claims % deployment.url).encode()).decode()
    forged = f"2|1:0|10:{int(time.time())}|{len(COOKIE)}:{COOKIE}|{len(value)}:{value}|{'0' * 64}"
    page.context.add_cookies([{"name": COOKIE, "value": forged, "url": deployment.url}])
    assert identity_cookie(page) is not None
    page.goto(deployment.url, wait_until="networkidle")
    login_page(page, deployment)


def test_logging_in_through_the_provider_shows_the_dashboard(page: Any, deployment: Deployment) -> None:
    before = len(deployment.provider.paths())
    log_in_as(page, deployment, ALICE)
    dashboard_shows(page)
    page.locator('[data-testid="stSidebar"]').get_by_text("Signed in as alice@example.com").wait_for()
    # the real flow ran: the browser was sent to /authorize, Streamlit exchanged the code and
    # fetched the signing key (the provider refuses a code without the right secret and PKCE verifier)
    flow = deployment.provider.paths()[before:]
    assert flow.index("/authorize") < flow.index("/token") < flow.index("/jwks")
    authorize = next(params for path, params in deployment.provider.requests[before:] if path == "/authorize")
    assert authorize["code_challenge_method"] == "S256" and authorize["nonce"]
    cookie = identity_cookie(page)
    assert cookie is not None and cookie["httpOnly"]

    # a new tab of the same browser is logged in too (the cookie, not the session, carries the login)
    other = page.context.new_page()
    other.goto(deployment.url, wait_until="networkidle")
    dashboard_shows(other)


@pytest.mark.parametrize("user", [MALLORY, UNVERIFIED], ids=["outside-the-allowlist", "unverified-email"])
def test_a_user_the_allowlist_does_not_admit_is_refused(
    page: Any, deployment: Deployment, user: dict[str, Any]
) -> None:
    log_in_as(page, deployment, user)
    page.get_by_text(f"{user['email']} may not see this dashboard").wait_for(timeout=60_000)
    wait_until_idle(page)
    assert identity_cookie(page) is not None  # logged in, as far as Streamlit goes
    assert page.get_by_role("button", name=LOGIN_BUTTON).count() == 0
    shows_no_data(page, deployment)
    page.get_by_role("button", name="Log out").click()  # the refusal offers another account
    login_page(page, deployment)
    assert identity_cookie(page) is None


def test_logging_out_returns_to_the_login_button(page: Any, deployment: Deployment) -> None:
    log_in_as(page, deployment, ALICE)
    dashboard_shows(page)
    before = len(deployment.provider.paths())
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Log out").click()
    login_page(page, deployment)
    assert identity_cookie(page) is None
    # Streamlit ended the session at the provider too (its end_session_endpoint), with the id_token
    logout = next(params for path, params in deployment.provider.requests[before:] if path == "/logout")
    assert logout["client_id"] == CLIENT_ID and logout["id_token_hint"]
    # and a reload stays logged out
    page.reload(wait_until="networkidle")
    login_page(page, deployment)
