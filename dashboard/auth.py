"""Who may see the dashboard: the login gate's decisions, apart from Streamlit so they are tested alone.

The dashboard shows PR titles, bodies and comments, private repositories' included. Served beyond
the machine it runs on (a container, Streamlit Community Cloud), it must not show them to anyone
who has the URL. Two ways to serve it safely:

* **Login** (Streamlit's OIDC ``st.login``), configured in ``.streamlit/secrets.toml``'s ``[auth]``
  (``redirect_uri``, ``cookie_secret``, ``client_id``, ``client_secret``, ``server_metadata_url``).
  Only a logged-in user whose e-mail is on ``MERGELENS_ALLOWED_USERS`` sees data.
* **Loopback only** (``--server.address 127.0.0.1``): no login, only this machine can connect,
  and only directly: a visit that came through a reverse proxy (nginx, Caddy, cloudflared,
  ``tailscale serve`` in front of the loopback port) is anyone's who can reach the proxy
  (``proxy_signs``).

Streamlit listens on every interface by default, so without login, on a loopback address
reached through a proxy or not on one at all, the dashboard refuses to serve data unless
``MERGELENS_PUBLIC=1`` says that is intended (an internal network behind its own access
control); it then warns on stderr and on every page.

Settings are environment variables (read in ``fetcher/config.py``) or root-level keys of
``secrets.toml``, so the same name works in a container and on Community Cloud; this module is the
one reader of ``st.secrets``.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fetcher.config import Environment, truthy

ALLOWED_USERS = "MERGELENS_ALLOWED_USERS"
PUBLIC = "MERGELENS_PUBLIC"
# What st.login needs for its default provider (Streamlit 1.67, streamlit/auth_util.py); a named
# provider ([auth.NAME]) is not used by the dashboard.
AUTH_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
LOOPBACK_NAMES = ("localhost",)
# Headers a reverse proxy adds to the request it forwards: RFC 7239's Forwarded, the de-facto
# X-Forwarded-* (Caddy and Go's httputil.ReverseProxy, hence cloudflared and tailscale serve, set
# X-Forwarded-For themselves; nginx when configured, as every guide to serving Streamlit does),
# nginx's X-Real-IP, Via (RFC 9110), Cloudflare's CF-Connecting-IP.
PROXY_HEADERS = (
    "Forwarded",
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Real-IP",
    "Via",
    "CF-Connecting-IP",
)


class Gate(enum.Enum):
    """What a visit gets."""

    OPEN = "open"  # the data (login not configured, loopback address, no proxy in between)
    OPEN_PUBLIC = "open_public"  # the data, with a warning (no login, beyond loopback, MERGELENS_PUBLIC=1)
    SIGNED_IN = "signed_in"  # the data: a logged-in user on the allowlist
    LOGIN = "login"  # login configured, not logged in: a login button only
    REFUSED = "refused"  # logged in, not on the allowlist: a refusal and a logout button
    MISCONFIGURED = "misconfigured"  # [auth] present but incomplete: nothing (fail closed)
    PUBLIC_REFUSED = "public_refused"  # no login, beyond loopback or proxied, no MERGELENS_PUBLIC=1: nothing


@dataclass(frozen=True)
class Allowlist:
    """``MERGELENS_ALLOWED_USERS``: comma-separated e-mails (``alice@example.com``), domains
    (``@example.com``: exactly that domain, not its subdomains) or ``*`` (anyone the provider logs in)."""

    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    anyone: bool = False

    @classmethod
    def parse(cls, text: str | None) -> Allowlist:
        entries = [entry.strip().lower() for entry in (text or "").split(",") if entry.strip()]
        return cls(
            emails=frozenset(e for e in entries if not e.startswith("@") and "@" in e),
            domains=frozenset(e[1:] for e in entries if e.startswith("@") and len(e) > 1),
            anyone="*" in entries,
        )

    def __bool__(self) -> bool:
        return self.anyone or bool(self.emails or self.domains)

    def allows(self, user: Mapping[str, Any]) -> bool:
        """Whether the logged-in user's claims pass: a verified e-mail on the list.

        ``email_verified`` false (or "false") refuses: some providers let users type any address.
        A provider that sends no ``email_verified`` (Microsoft Entra ID, for one) is trusted to
        send only addresses it owns: use your tenant's domain there, never another's."""
        if not self:
            return False
        if self.anyone:
            return True
        email = user.get("email")
        if not isinstance(email, str) or email.count("@") != 1:
            return False
        if "email_verified" in user and str(user["email_verified"]).lower() != "true":
            return False
        email = email.strip().lower()
        return email in self.emails or email.rpartition("@")[2] in self.domains


def missing_auth_keys(auth: Mapping[str, Any] | None) -> list[str]:
    """The keys st.login's default provider still needs (their names only, never values)."""
    section = dict(auth or {})
    provider = section.get("default")
    provider = provider if isinstance(provider, Mapping) else {}
    return [key for key in AUTH_KEYS if not section.get(key) and not provider.get(key)]


def is_loopback(address: str | None) -> bool:
    """Whether Streamlit's ``server.address`` accepts connections from this machine only.

    Unset (Streamlit's default) and ``0.0.0.0`` / ``::`` listen on every interface."""
    if not address:
        return False
    host = address.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it resolves to who knows what


def proxy_signs(headers: Mapping[str, str]) -> list[str]:
    """What in one request's headers (Streamlit's ``st.context.headers``: the browser's session
    request) says it did not come straight from this machine: a proxy's header (``PROXY_HEADERS``),
    or a ``Host`` or ``Origin`` naming another host than loopback (the address the visitor typed:
    a proxy that passes it on, or one that rewrites the Host but not the browser's Origin).
    Empty for a direct visit to 127.0.0.1, localhost or ::1 (an ``ssh -L`` tunnel's included).
    The signs are header names only: their values are the visitor's to choose."""
    lower = {name.lower(): value for name, value in headers.items()}
    signs = [name for name in PROXY_HEADERS if name.lower() in lower]
    for name, url in (("Host", f"//{lower.get('host', '')}"), ("Origin", lower.get("origin", ""))):
        try:
            host = urlsplit(url).hostname
        except ValueError:  # a malformed port or address: not a loopback one
            host = "?"
        if host and not is_loopback(host):
            signs.append(name)
    return signs


def decide(
    auth: Mapping[str, Any] | None,
    user: Mapping[str, Any],
    allowlist: Allowlist,
    address: str | None,
    public: bool,
    proxied: bool = False,
) -> Gate:
    """The gate for one visit: ``auth`` is secrets.toml's ``[auth]`` (None when absent), ``user``
    ``st.user``'s claims, ``address`` Streamlit's ``server.address``, ``public`` MERGELENS_PUBLIC,
    ``proxied`` whether the visit came through a proxy (``proxy_signs``)."""
    if auth:
        if missing_auth_keys(auth):
            return Gate.MISCONFIGURED
        if user.get("is_logged_in") is not True:
            return Gate.LOGIN
        return Gate.SIGNED_IN if allowlist.allows(user) else Gate.REFUSED
    if is_loopback(address) and not proxied:
        return Gate.OPEN
    return Gate.OPEN_PUBLIC if public else Gate.PUBLIC_REFUSED


def _where(address: str | None, signs: list[str]) -> str:
    if signs:  # on loopback, reached through a proxy
        return f"{address} and is reached through a proxy ({', '.join(signs)})"
    return address or "every interface (Streamlit's default)"


def public_warning(address: str | None, signs: list[str] | None = None) -> str:
    """The one stderr line for a dashboard that serves data beyond loopback without login."""
    return (
        f"mergelens: warning: the dashboard listens on {_where(address, signs or [])} without login ({PUBLIC}=1): "
        "anyone who can reach it reads every PR in the database"
    )


def public_refusal(address: str | None, signs: list[str] | None = None) -> str:
    direct = "; open it at 127.0.0.1 without the proxy" if signs else ", or run with --server.address 127.0.0.1"
    return (
        f"mergelens: error: the dashboard listens on {_where(address, signs or [])} without login; it shows no "
        f"data. Configure login ([auth] in .streamlit/secrets.toml){direct}, or set {PUBLIC}=1"
    )


# --------------------------------------------------------------------------- in the app

_warned: set[str] = set()  # stderr lines already written by this server process


def _warn_once(line: str) -> None:
    import sys

    if line not in _warned:
        _warned.add(line)
        print(line, file=sys.stderr, flush=True)


def enforce() -> None:
    """Run the gate at the top of the app script: return to show the data, or show only the login
    button / a refusal and stop the run (``st.stop``) before anything reads the database."""
    import streamlit as st

    from dashboard.safe import literal

    env = Environment.from_environ()
    secrets: Mapping[str, Any] = st.secrets if st.secrets.load_if_toml_exists() else {}

    def secret(name: str) -> str | None:
        """A root-level key of secrets.toml: the setting when the environment does not have it."""
        return str(secrets[name]) if isinstance(secrets.get(name), str | int) else None

    auth = secrets.get("auth")
    address = st.get_option("server.address")
    signs = proxy_signs(st.context.headers.to_dict()) if is_loopback(address) else []
    user = st.user.to_dict()
    allowlist = Allowlist.parse(env.allowed_users if env.allowed_users is not None else secret(ALLOWED_USERS))
    public = env.public if env.public is not None else truthy(secret(PUBLIC))
    gate = decide(auth if isinstance(auth, Mapping) else None, user, allowlist, address, public, bool(signs))
    if gate is Gate.OPEN:
        return
    if gate is Gate.OPEN_PUBLIC:
        _warn_once(public_warning(address, signs))
        st.warning(
            f"**Served without login beyond this machine** ({literal(PUBLIC)}=1): anyone who can reach this "
            "address reads every PR in the database. Configure login (see docs/security.md)."
        )
        return
    if gate is Gate.SIGNED_IN:
        st.sidebar.caption(f"Signed in as {literal(user.get('email') or user.get('name'))}")
        st.sidebar.button("Log out", on_click=st.logout, key="_logout")
        return
    st.title("mergelens")
    if gate is Gate.LOGIN:
        st.info("This dashboard shows the team's pull requests. Log in to see it.")
        st.button("Log in", on_click=st.login, type="primary", key="_login")
    elif gate is Gate.REFUSED:
        who = literal(user.get("email") or user.get("name") or "this account")
        reason = "" if allowlist else f" ({literal(ALLOWED_USERS)} is empty: nobody is allowed yet)"
        st.error(f"**{who} may not see this dashboard**{reason}. Ask its owner, or log in with another account.")
        st.button("Log out", on_click=st.logout, key="_logout")
    elif gate is Gate.MISCONFIGURED:
        missing = ", ".join(missing_auth_keys(auth if isinstance(auth, Mapping) else None))
        _warn_once(f"mergelens: error: [auth] in .streamlit/secrets.toml lacks {missing}; the dashboard shows no data")
        st.error(f"**Login is not fully configured.** `[auth]` in `.streamlit/secrets.toml` lacks: {literal(missing)}.")
    elif signs:
        _warn_once(public_refusal(address, signs))
        st.error(
            "**This visit came through a proxy, and the dashboard has no login, so it shows no data.** On "
            f"{literal(address)} without login it serves only visits from this machine itself, and a proxy in "
            f"front of it ({literal(', '.join(signs))}) serves whoever reaches the proxy. Configure login "
            f"(`[auth]` in `.streamlit/secrets.toml`), open it at 127.0.0.1 without the proxy, or set "
            f"{literal(PUBLIC)}=1 if every visitor who can reach the proxy may read every PR."
        )
    else:
        _warn_once(public_refusal(address))
        st.error(
            "**This dashboard listens beyond this machine without login, so it shows no data.** Configure login "
            f"(`[auth]` in `.streamlit/secrets.toml`), run it with `--server.address 127.0.0.1`, or set "
            f"{literal(PUBLIC)}=1 if every visitor who can reach it may read every PR."
        )
    st.stop()
