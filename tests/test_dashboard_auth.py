"""Who may see the dashboard (dashboard/auth.py): the gate's decisions on their own, then the app
under AppTest with ``[auth]`` secrets and a seeded ``st.user`` (AppTest's own way to fake a login),
and the copy-link that carries the filters. st.login's redirect to an OIDC provider and back
(Streamlit's /oauth2callback and identity cookie) needs a live server: test_dashboard_login_browser.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import auth
from dashboard.auth import Allowlist, Gate, decide, is_loopback, missing_auth_keys, proxy_signs, public_refusal
from tests.support.dashboard_support import build_hand_db, loopback

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-long-random-cookie-secret-for-tests-only",
    "client_id": "client-id-1234",
    "client_secret": "test-client-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ALICE = {"is_logged_in": True, "email": "alice@example.com", "email_verified": True, "name": "Alice"}
MALLORY = {"is_logged_in": True, "email": "mallory@evil.example", "email_verified": True, "name": "Mallory"}


# --------------------------------------------------------------------------- the decisions


@pytest.mark.parametrize(
    ("text", "email", "allowed"),
    [
        ("alice@example.com", "alice@example.com", True),
        ("Alice@Example.com", "ALICE@example.COM", True),
        ("alice@example.com", "bob@example.com", False),
        ("@example.com", "bob@example.com", True),
        ("@example.com", "bob@sub.example.com", False),  # a domain is that domain, not its subdomains
        ("@example.com", "bob@example.com.evil.example", False),
        ("@example.com", "bob@evilexample.com", False),
        ("bob@x.org, @example.com", "bob@x.org", True),
        ("*", "anyone@anywhere.example", True),
        ("", "alice@example.com", False),  # nobody until someone is named
        (" , ,", "alice@example.com", False),
        ("@", "alice@example.com", False),
        ("@example.com", "a@b@example.com", False),
    ],
)
def test_the_allowlist(text: str, email: str, allowed: bool) -> None:
    assert Allowlist.parse(text).allows({"email": email}) is allowed


def test_an_unverified_email_is_refused() -> None:
    allowlist = Allowlist.parse("alice@example.com")
    assert allowlist.allows({"email": "alice@example.com", "email_verified": True})
    assert allowlist.allows({"email": "alice@example.com", "email_verified": "true"})  # Cognito sends a string
    assert not allowlist.allows({"email": "alice@example.com", "email_verified": False})
    assert not allowlist.allows({"email": "alice@example.com", "email_verified": "false"})
    assert not allowlist.allows({"name": "alice"})  # no e-mail claim


@pytest.mark.parametrize(
    ("address", "loopback_only"),
    [
        (None, False),  # Streamlit's default: every interface
        ("", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("dash.example.com", False),
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
    ],
)
def test_which_addresses_are_loopback(address: str | None, loopback_only: bool) -> None:
    assert is_loopback(address) is loopback_only


DIRECT = {"Host": "127.0.0.1:8501", "Origin": "http://127.0.0.1:8501", "User-Agent": "Mozilla/5.0"}


@pytest.mark.parametrize(
    ("headers", "signs"),
    [
        (DIRECT, []),
        ({"host": "localhost:8501", "origin": "http://localhost:8501"}, []),
        ({"Host": "[::1]:8501", "Origin": "http://[::1]:8501"}, []),
        ({"Host": "localhost:9000", "Origin": "http://localhost:9000"}, []),  # ssh -L 9000:localhost:8501
        ({}, []),  # no headers at all (AppTest)
        ({**DIRECT, "X-Forwarded-For": "203.0.113.7"}, ["X-Forwarded-For"]),  # nginx as the guides set it up
        ({**DIRECT, "x-real-ip": "203.0.113.7"}, ["X-Real-IP"]),
        ({**DIRECT, "Forwarded": "for=203.0.113.7"}, ["Forwarded"]),
        ({**DIRECT, "CF-Connecting-IP": "203.0.113.7"}, ["CF-Connecting-IP"]),  # cloudflared
        ({**DIRECT, "Via": "1.1 proxy"}, ["Via"]),
        # Caddy: the Host passed on, X-Forwarded-* added
        ({"Host": "dash.example.com", "Origin": "https://dash.example.com", "X-Forwarded-For": "203.0.113.7",
          "X-Forwarded-Host": "dash.example.com", "X-Forwarded-Proto": "https"},
         ["X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Host", "Origin"]),
        # a bare nginx proxy_pass: Host rewritten to the upstream, no X-Forwarded-*, the browser's Origin stays
        ({"Host": "127.0.0.1:8501", "Origin": "https://dash.example.com"}, ["Origin"]),
        ({"Host": "box.tailnet.ts.net", "Origin": "https://box.tailnet.ts.net"}, ["Host", "Origin"]),
        ({"Host": "[::1", "Origin": "null"}, ["Host"]),  # a malformed Host is no loopback one; "null" says nothing
    ],
)  # fmt: skip
def test_which_requests_came_through_a_proxy(headers: dict[str, str], signs: list[str]) -> None:
    assert proxy_signs(headers) == signs


def test_the_gate_decisions() -> None:
    anyone, nobody = Allowlist.parse("*"), Allowlist.parse("")
    assert decide(None, {}, nobody, "127.0.0.1", public=False) is Gate.OPEN
    assert decide(None, {}, nobody, None, public=False) is Gate.PUBLIC_REFUSED
    assert decide(None, {}, nobody, "0.0.0.0", public=True) is Gate.OPEN_PUBLIC
    # on loopback, through a proxy: every visitor of the proxy's, not this machine's
    assert decide(None, {}, nobody, "127.0.0.1", public=False, proxied=True) is Gate.PUBLIC_REFUSED
    assert decide(None, {}, nobody, "127.0.0.1", public=True, proxied=True) is Gate.OPEN_PUBLIC
    assert decide(AUTH, ALICE, anyone, "127.0.0.1", public=False, proxied=True) is Gate.SIGNED_IN  # login: fine
    assert public_refusal("127.0.0.1", ["X-Forwarded-For"]) == (
        "mergelens: error: the dashboard listens on 127.0.0.1 and is reached through a proxy (X-Forwarded-For) "
        "without login; it shows no data. Configure login ([auth] in .streamlit/secrets.toml); open it at "
        "127.0.0.1 without the proxy, or set MERGELENS_PUBLIC=1"
    )
    # login configured: the address no longer matters, the user does
    for address in (None, "127.0.0.1"):
        assert decide(AUTH, {}, anyone, address, public=True) is Gate.LOGIN
        assert decide(AUTH, {"is_logged_in": False}, anyone, address, public=True) is Gate.LOGIN
        assert decide(AUTH, ALICE, anyone, address, public=False) is Gate.SIGNED_IN
        assert decide(AUTH, ALICE, nobody, address, public=False) is Gate.REFUSED
    # half-configured login fails closed, even on loopback
    partial = {k: v for k, v in AUTH.items() if k != "cookie_secret"}
    assert missing_auth_keys(partial) == ["cookie_secret"]
    assert decide(partial, ALICE, anyone, "127.0.0.1", public=True) is Gate.MISCONFIGURED
    # the provider's keys may sit in [auth.default]
    nested = {"redirect_uri": "x", "cookie_secret": "y", "default": {"client_id": "a", "client_secret": "b",
                                                                      "server_metadata_url": "c"}}  # fmt: skip
    assert missing_auth_keys(nested) == []


# --------------------------------------------------------------------------- the app


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("MERGELENS_ALLOWED_USERS", "MERGELENS_PUBLIC"):
        monkeypatch.delenv(name, raising=False)
    auth._warned.clear()  # stderr lines are written once per server process
    st.cache_data.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def hand_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hand_db(tmp_path_factory.mktemp("hand-auth") / "hand.duckdb")


def run(
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    secrets: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    **params: str | list[str],
) -> AppTest:
    monkeypatch.setenv("MERGELENS_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets = secrets or {}
    at.user = user if user is not None else {}
    at.context = context or {}
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


def texts(at: AppTest) -> str:
    """Every text the run put on the page, main area and sidebar."""
    parts = [e.value for kind in ("title", "header", "markdown", "caption", "info", "warning", "error", "code")
             for e in getattr(at, kind)]  # fmt: skip
    parts += [e.value for e in at.sidebar.caption] + [e.value for e in at.sidebar.code]
    return "\n".join(str(p) for p in parts)


def shows_no_data(at: AppTest) -> None:
    """Nothing from the DB: no page, no filters, no sidebar, no dataframe, no chart."""
    assert not at.exception
    assert [h.value for h in at.header] == []
    assert len(at.sidebar.radio) == 0 and len(at.sidebar.caption) <= 1
    assert len(at.dataframe) == 0 and len(at.metric) == 0
    assert "Database" not in texts(at)


def test_login_configured_a_visitor_sees_only_a_login_button(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a DB path that does not exist: any attempt to open it would show "not found" on the page
    with loopback(None):
        at = run(tmp_path / "nothing-here.duckdb", monkeypatch, secrets={"auth": AUTH}, user={"is_logged_in": False})
    shows_no_data(at)
    assert [b.label for b in at.button] == ["Log in"]
    assert "not found" not in texts(at).lower() and "nothing-here" not in texts(at)
    assert not (tmp_path / "nothing-here.duckdb").exists()


def test_a_logged_in_user_on_the_allowlist_sees_the_data(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERGELENS_ALLOWED_USERS", "bob@x.org, @example.com")
    with loopback(None):
        at = run(hand_path, monkeypatch, secrets={"auth": AUTH}, user=ALICE)
    assert not at.exception
    assert [h.value for h in at.header] == ["Overview"]
    assert "alice@example.com" in "\n".join(c.value for c in at.sidebar.caption)
    assert "Log out" in [b.label for b in at.sidebar.button]
    assert len(at.warning) == 0  # no "served without login" banner


def test_the_allowlist_may_be_a_root_level_secret(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with loopback(None):
        at = run(hand_path, monkeypatch, secrets={"auth": AUTH, "MERGELENS_ALLOWED_USERS": "alice@example.com"},
                 user=ALICE)  # fmt: skip
    assert [h.value for h in at.header] == ["Overview"]


@pytest.mark.parametrize(
    ("allowed", "user", "says"),
    [
        ("@example.com", MALLORY, "mallory@evil.example"),
        ("@example.com", {**ALICE, "email_verified": False}, "alice@example.com"),
        (None, ALICE, "is empty"),
    ],
)
def test_a_logged_in_user_off_the_allowlist_is_refused(
    hand_path: Path, monkeypatch: pytest.MonkeyPatch, allowed: str | None, user: dict[str, Any], says: str
) -> None:
    if allowed:
        monkeypatch.setenv("MERGELENS_ALLOWED_USERS", allowed)
    at = run(hand_path, monkeypatch, secrets={"auth": AUTH}, user=user)
    shows_no_data(at)
    assert "may not see this dashboard" in at.error[0].value and says in at.error[0].value
    assert [b.label for b in at.button] == ["Log out"]


def test_half_configured_login_shows_nothing(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERGELENS_ALLOWED_USERS", "*")
    partial = {k: v for k, v in AUTH.items() if k not in ("client_secret", "cookie_secret")}
    at = run(hand_path, monkeypatch, secrets={"auth": partial}, user=ALICE)
    shows_no_data(at)
    assert "cookie_secret, client_secret" in at.error[0].value
    assert AUTH["client_id"] not in texts(at)  # names the keys, never a value


def test_without_login_beyond_loopback_it_refuses(
    hand_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    with loopback(None):
        at = run(hand_path, monkeypatch)
    shows_no_data(at)
    assert "shows no data" in at.error[0].value and "--server.address 127.0.0.1" in at.error[0].value
    assert len(at.button) == 0
    assert "mergelens: error: the dashboard listens on every interface" in capfd.readouterr().err


def test_without_login_public_on_purpose_it_serves_with_a_warning(
    hand_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MERGELENS_PUBLIC", "1")
    with loopback("0.0.0.0"):
        at = run(hand_path, monkeypatch)
    assert [h.value for h in at.header] == ["Overview"]
    assert "Served without login beyond this machine" in at.warning[0].value
    assert "mergelens: warning: the dashboard listens on 0.0.0.0 without login" in capfd.readouterr().err


def test_on_loopback_without_login_it_serves(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with loopback("127.0.0.1"):
        at = run(hand_path, monkeypatch)
    assert [h.value for h in at.header] == ["Overview"]
    assert len(at.warning) == 0 and len(at.error) == 0


# --------------------------------------------------------------------------- the copy link


def copy_link(at: AppTest) -> str:
    (code,) = at.sidebar.code
    return code.value


def test_the_copy_link_is_the_full_url_with_the_filters(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with loopback():
        at = run(hand_path, monkeypatch, context={"url": "https://dash.example/mergelens"}, page="prs",
                 **{"from": "2026-03-01", "to": "2026-03-14"})  # fmt: skip
        link = urlsplit(copy_link(at))
        assert (link.scheme, link.netloc, link.path) == ("https", "dash.example", "/mergelens")
        assert parse_qs(link.query) == {"page": ["prs"], "from": ["2026-03-01"], "to": ["2026-03-14"]}

        at.sidebar.multiselect(key="authors").select("alice").run()  # a filter changes: the link follows
        assert parse_qs(urlsplit(copy_link(at)).query)["author"] == ["alice"]
        at.sidebar.checkbox(key="bots").check().run()
        query = parse_qs(urlsplit(copy_link(at)).query)

        # the link, opened in a new session, is the same view
        fresh = run(hand_path, monkeypatch, **{k: v if len(v) > 1 else v[0] for k, v in query.items()})
        assert [h.value for h in fresh.header] == ["PR explorer"]
        assert parse_qs(urlsplit(copy_link(fresh)).query) == query
        assert fresh.session_state["authors"] == ["alice"] and fresh.session_state["bots"] is True
