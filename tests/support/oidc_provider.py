"""A loopback OpenID Connect provider stand-in, for driving Streamlit's real ``st.login`` flow.

It speaks the part of OIDC that Streamlit (through Authlib) uses, and checks it the way a real
provider does: discovery (``/.well-known/openid-configuration``), ``/authorize`` (the
authorization-code flow with PKCE S256 and a nonce; the redirect URI must be one registered for
the client, exactly), ``/token`` (client authentication, single-use codes, the PKCE verifier),
``/jwks`` (an RSA key generated when the provider starts), ``/userinfo`` and ``/logout`` (RP-initiated
logout, the ``end_session_endpoint``). There is no login form: ``/authorize`` approves at once as
``user``, the claims the test sets before it clicks "Log in". What reached it is in ``requests``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

ID_TOKEN_LIFETIME = 300  # seconds


@dataclass
class Grant:
    """An authorization code not yet exchanged."""

    claims: dict[str, Any]
    nonce: str | None
    redirect_uri: str
    code_challenge: str


@dataclass
class OidcProvider:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    user: dict[str, Any] = field(default_factory=dict)  # the claims the next login gets (``sub``, ``email``...)
    issuer: str = ""
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (path, parameters) as received

    def __post_init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(4), "use": "sig", "alg": "RS256"})
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "end_session_endpoint": f"{self.issuer}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name"],
        }

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]

    # ----------------------------------------------------------------------- the endpoints

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or redirect_uri not in self.redirect_uris:
            # never redirect to an unregistered URI: show the error here, as providers do
            return 400, {}, {"error": "invalid_request", "error_description": "unknown client or redirect_uri"}
        state = query.get("state", "")
        problem = None
        if query.get("response_type") != "code":
            problem = "unsupported_response_type"
        elif "openid" not in query.get("scope", "").split():
            problem = "invalid_scope"
        elif query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            problem = "invalid_request"  # this provider requires PKCE, as Streamlit uses it when offered
        if problem:
            return 302, {"Location": f"{redirect_uri}?{urlencode({'error': problem, 'state': state})}"}, None
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.grants[code] = Grant(dict(self.user), query.get("nonce"), redirect_uri, query["code_challenge"])
        return 302, {"Location": f"{redirect_uri}?{urlencode({'code': code, 'state': state})}"}, None

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, str], Any]:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if client_id != self.client_id or client_secret != self.client_secret:
            return 401, {}, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {}, {"error": "unsupported_grant_type"}
        with self.lock:
            grant = self.grants.pop(form.get("code", ""), None)  # single use
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if grant is None or grant.redirect_uri != form.get("redirect_uri") or challenge != grant.code_challenge:
            return 400, {}, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME,
            "auth_time": now,
            **({"nonce": grant.nonce} if grant.nonce else {}),
            **grant.claims,
        }
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        access_token = secrets.token_urlsafe(24)
        with self.lock:
            self.access_tokens[access_token] = grant.claims
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ID_TOKEN_LIFETIME,
            "scope": "openid email profile",
            "id_token": id_token,
        }
        return 200, {"Cache-Control": "no-store"}, body

    def userinfo(self, authorization: str | None) -> tuple[int, dict[str, str], Any]:
        token = (authorization or "").removeprefix("Bearer ")
        with self.lock:
            claims = self.access_tokens.get(token)
        if claims is None:
            return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, {"error": "invalid_token"}
        return 200, {}, claims

    def logout(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        target = query.get("post_logout_redirect_uri", "")
        if target not in self.redirect_uris:
            return 400, {}, {"error": "invalid_request", "error_description": "unregistered post_logout_redirect_uri"}
        return 302, {"Location": target}, None


def _handler(provider: OidcProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def reply(self, status: int, headers: dict[str, str], body: Any) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def record(self, path: str, params: dict[str, str]) -> None:
            with provider.lock:
                provider.requests.append((path, params))

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {name: values[-1] for name, values in parse_qs(url.query).items()}
            self.record(url.path, query)
            if url.path == "/.well-known/openid-configuration":
                self.reply(200, {}, provider.metadata())
            elif url.path == "/jwks":
                self.reply(200, {}, {"keys": [provider.key.as_dict(private=False)]})
            elif url.path == "/authorize":
                self.reply(*provider.authorize(query))
            elif url.path == "/userinfo":
                self.reply(*provider.userinfo(self.headers.get("Authorization")))
            elif url.path == "/logout":
                self.reply(*provider.logout(query))
            else:
                self.reply(404, {}, {"error": "not_found"})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = {name: values[-1] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
            self.record(url.path, {k: v for k, v in form.items() if k not in ("client_secret", "code_verifier")})
            if url.path == "/token":
                self.reply(*provider.token(form, self.headers.get("Authorization")))
            else:
                self.reply(404, {}, {"error": "not_found"})

    return Handler


@contextmanager
def serve(provider: OidcProvider) -> Iterator[OidcProvider]:
    """Run the provider on a free loopback port for the duration of the ``with``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="oidc-provider", daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
