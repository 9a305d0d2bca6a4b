"""The private team dashboard of docs/serve-dashboard.md ("Serve it for your team"), walked with its own settings.

The ``secrets.toml`` blocks are read from that page, so the recipe and this test cannot drift: the
team block is checked for what the dashboard needs (a location and what reading it takes, an
allowlist, a complete ``[auth]``), then served by the image's own command (tests/test_container.py:
a copy of what the Dockerfile copies, its CMD on loopback) with that file mounted where the recipe
mounts it. Only what cannot exist here is swapped: the provider's client for a loopback OIDC
provider's (tests/support/oidc_provider.py), the token for the fake GitHub's (serving the workflow's
artifact), and the https redirect URI for plain http on 127.0.0.1 (no certificate here; Streamlit
accepts http on loopback). Chromium then logs in as a user the recipe's allowlist admits and sees
the data. The recipe's lake settings are served the same way by the lake line's image, on a
PostgreSQL catalog that demands the password they give as ``PGPASSWORD``."""

from __future__ import annotations

import re
import secrets
import subprocess
import textwrap
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pytest

from dashboard.auth import Allowlist, missing_auth_keys
from tests.conftest import TOKEN, unavailable
from tests.support.dashboard_support import free_port, session_demo_db
from tests.support.factories import repository
from tests.support.fake_github import Artifact, FakeGitHub
from tests.support.oidc_provider import OidcProvider, serve
from tests.support.services import create_database, postgres_bin, postgres_cluster
from tests.test_container import IMAGE_PORT, copy_image, dockerfile, image_env, serve_image, wait_healthy
from tests.test_dashboard_browser import chromium_page, require_chromium
from tests.test_dashboard_lake import copy_into_lake, environment
from tests.test_dashboard_login_browser import (
    ALICE,
    MALLORY,
    Deployment,
    dashboard_shows,
    log_in_as,
    login_page,
    shows_no_data,
)
from tests.test_docs import section as docs_section


def team_section() -> str:
    """The recipe, found by its heading in whichever page holds it (docs/serve-dashboard.md)."""
    _, text = docs_section("Serve it for your team")
    return text + "\n"


def fenced(language: str) -> list[str]:
    """The section's code blocks in ``language`` (a list item's indentation removed)."""
    blocks = re.finditer(rf"^( *)```{language}\n(.*?)^\1```$", team_section(), re.S | re.M)
    return [textwrap.dedent(block[2]) for block in blocks]


def secrets_block(first_line: str) -> str:
    [block] = [block for block in fenced("toml") if block.startswith(first_line)]
    return block


TEAM = "# secrets.toml: the team dashboard's settings"
CLOUD = "# top-level keys only"


def with_values(toml: str, **values: str) -> str:
    """``toml`` with the values of the keys named (``section__key`` for a key of a [section])
    replaced, every other line (comments too) as written."""
    section, lines = "", []
    for line in toml.splitlines():
        if match := re.match(r"^\[(\w+)\]", line):
            section = f"{match[1]}__"
        elif (match := re.match(r'^(\w+) = "[^"]*"', line)) and f"{section}{match[1]}" in values:
            line = f'{match[1]} = "{values[section + match[1]]}"' + line[match.end() :]
        lines.append(line)
    return "\n".join(lines) + "\n"


def check_login(settings: dict[str, Any]) -> None:
    """What the login gate needs of a pasted secrets file: a complete [auth] with an https
    redirect URI, and an allowlist that admits someone."""
    assert missing_auth_keys(settings["auth"]) == []
    assert urlsplit(settings["auth"]["redirect_uri"]).scheme == "https"
    assert urlsplit(settings["auth"]["redirect_uri"]).path == "/oauth2callback"
    assert Allowlist.parse(settings["MERGELENS_ALLOWED_USERS"]).allows(ALICE)


def check_location(settings: dict[str, Any]) -> None:
    """An ``artifact:`` DB needs the repository and a token (dashboard/remote.py), as settings."""
    if settings["MERGELENS_DB"].startswith("artifact:"):
        assert settings["GITHUB_REPOSITORY"].count("/") == 1 and settings["GITHUB_TOKEN"]


# --- the recipe, as written ------------------------------------------------------------------------


def test_the_team_secrets_say_where_the_data_is_and_who_may_see_it() -> None:
    team = tomllib.loads(secrets_block(TEAM))
    check_login(team)
    check_location(team)
    assert team["MERGELENS_DB"] == "artifact:mergelens-db"  # the workflow's default


def test_the_community_cloud_secrets_are_complete_too() -> None:
    cloud = tomllib.loads(secrets_block(CLOUD))
    check_login(cloud)
    check_location(cloud)
    assert urlsplit(cloud["auth"]["redirect_uri"]).hostname.endswith(".streamlit.app")


def test_the_lake_secrets_name_the_catalog_password() -> None:
    [lake] = [tomllib.loads(block) for block in fenced("toml") if "ducklake:" in block]
    assert lake["MERGELENS_DB"].startswith("ducklake:postgres:") and "password=" not in lake["MERGELENS_DB"]
    assert lake["PGPASSWORD"] and lake["MERGELENS_LAKE_DATA_PATH"].startswith("s3://")


def docker_run() -> str:
    [command] = [block for block in fenced("sh") if "docker run" in block]
    return command


def mounted_at() -> Path:
    """Where the recipe's ``docker run`` mounts secrets.toml, relative to the image's WORKDIR."""
    [workdir] = [i.args for i in dockerfile() if i.name == "WORKDIR"]
    mount = re.search(r'-v "\$PWD/secrets.toml:(\S+?):ro"', docker_run())
    assert mount, docker_run()
    return Path(mount[1]).relative_to(workdir)


def test_the_secrets_are_mounted_where_the_image_reads_them_and_the_proxy_reaches_the_port() -> None:
    # Streamlit reads .streamlit/secrets.toml in its working directory: the image's WORKDIR.
    assert mounted_at() == Path(".streamlit/secrets.toml")
    published = re.search(r"-p 127\.0\.0\.1:(\d+):(\d+) ", docker_run())  # loopback: the proxy is the way in
    [exposed] = [i.args for i in dockerfile() if i.name == "EXPOSE"]
    assert published and published[2] == exposed == IMAGE_PORT
    # the Caddyfile's site is the redirect URI's host, and it forwards to the published port
    [caddy] = [block for block in fenced("") if "reverse_proxy" in block]
    site = re.search(r"^([\w.-]+) \{$", caddy, re.M)
    redirect = tomllib.loads(secrets_block(TEAM))["auth"]["redirect_uri"]
    assert site and site[1] == urlsplit(redirect).hostname
    assert f"reverse_proxy 127.0.0.1:{published[1]}" in caddy


# --- the recipe, served -----------------------------------------------------------------------------


def titles(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [title for (title,) in con.execute("SELECT title FROM pull_requests").fetchall()]


@pytest.fixture
def team_dashboard(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    require_chromium()
    written = secrets_block(TEAM)
    team = tomllib.loads(written)
    owner, name = team["GITHUB_REPOSITORY"].split("/")
    repo = repository(owner=owner, name=name)
    db = session_demo_db(tmp_path_factory)
    repo.artifacts = [
        Artifact.from_file(
            41, team["MERGELENS_DB"].removeprefix("artifact:"), db, datetime.now(UTC), member="mergelens.duckdb"
        )
    ]
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/oauth2callback"
    provider = OidcProvider("mergelens-dashboard", secrets.token_urlsafe(16), redirect_uris=(redirect_uri,))
    stack = ExitStack()
    github = FakeGitHub([repo], token=TOKEN).start()
    stack.callback(github.stop)
    stack.enter_context(serve(provider))  # its address is known once it serves
    # The image's own environment: its MERGELENS_DB (/data/mergelens.duckdb) is not here, so the
    # data shown comes from the secrets file's MERGELENS_DB (Streamlit sets it over the image's).
    image = copy_image(tmp_path / "image", image_env()["MERGELENS_DB"])
    image.env.update(GITHUB_API_URL=github.api_url, MERGELENS_CACHE_DIR=str(tmp_path / "cache"))
    mounted = image.workdir / mounted_at()  # where the recipe mounts it
    mounted.parent.mkdir(parents=True, exist_ok=True)
    mounted.write_text(
        with_values(
            written,
            GITHUB_TOKEN=TOKEN,
            auth__redirect_uri=redirect_uri,
            auth__cookie_secret=secrets.token_urlsafe(32),
            auth__client_id=provider.client_id,
            auth__client_secret=provider.client_secret,
            auth__server_metadata_url=provider.metadata_url,
        ),
        encoding="utf-8",
    )
    swapped = tomllib.loads(mounted.read_text(encoding="utf-8"))
    assert swapped.keys() == team.keys() and swapped["auth"].keys() == team["auth"].keys()
    assert swapped["MERGELENS_DB"] == team["MERGELENS_DB"] and swapped["auth"]["client_id"] == provider.client_id
    with stack, serve_image(image, tmp_path / "streamlit.log", port) as (server, port):
        wait_healthy(image, server, port)
        yield Deployment(f"http://127.0.0.1:{port}", provider, titles(db))


@pytest.mark.slow
def test_the_team_walks_the_readme_to_the_data(team_dashboard: Deployment, tmp_path: Path) -> None:
    with chromium_page(tmp_path / "chromium-profile") as page:
        # what a TLS proxy in front adds to every request it forwards, the session's WebSocket
        # handshake included (without login that alone refuses the data: test_dashboard_browser.py);
        # with [auth], the login decides
        page.set_extra_http_headers({"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
        log_in_as(page, team_dashboard, MALLORY)  # not on the recipe's allowlist
        page.get_by_text(f"{MALLORY['email']} may not see this dashboard").wait_for(timeout=60_000)
        shows_no_data(page, team_dashboard)
        page.get_by_role("button", name="Log out").click()
        login_page(page, team_dashboard)
        log_in_as(page, team_dashboard, ALICE)
        dashboard_shows(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Signed in as alice@example.com").wait_for()
        sidebar.get_by_text("Data stored").first.wait_for()  # read from the workflow's artifact


@pytest.mark.slow
def test_the_lake_image_reads_a_catalog_whose_password_is_in_the_secrets(
    lake_python: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The recipe's lake settings on the lake's image: a PostgreSQL catalog that demands a password,
    given only as ``PGPASSWORD`` in the mounted secrets.toml (the DSN has none), serves the data."""
    require_chromium()
    if postgres_bin() is None:
        unavailable("PostgreSQL is not installed (`make postgresql`: Debian's postgresql)")
    password = secrets.token_urlsafe(12)
    [written] = [block for block in fenced("toml") if "ducklake:" in block]
    env = environment(tmp_path, tmp_path)
    with postgres_cluster(password) as cluster:
        spec = f"ducklake:postgres:{create_database(cluster, password)}"
        refused = subprocess.run(
            [str(postgres_bin() / "psql"), spec.removeprefix("ducklake:postgres:"), "-c", "SELECT 1"],
            env={**env, "PGPASSWORD": "wrong"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode != 0 and "password authentication failed" in refused.stderr
        copy_into_lake(session_demo_db(tmp_path_factory), spec, env | {"PGPASSWORD": password}, lake_python)
        image = copy_image(
            tmp_path / "lake", image_env()["MERGELENS_DB"], lake_python.parent, REQUIREMENTS="requirements-lake.txt"
        )
        mounted = image.workdir / mounted_at()
        mounted.parent.mkdir(parents=True)
        mounted.write_text(
            with_values(
                written,
                MERGELENS_DB=spec,
                PGPASSWORD=password,
                MERGELENS_LAKE_DATA_PATH=env["MERGELENS_LAKE_DATA_PATH"],
            ),
            encoding="utf-8",
        )
        with (
            serve_image(image, tmp_path / "streamlit.log") as (server, port),
            chromium_page(tmp_path / "chromium-profile") as page,
        ):
            wait_healthy(image, server, port)
            page.goto(f"http://127.0.0.1:{port}", wait_until="networkidle")  # loopback, no proxy: no login
            dashboard_shows(page)
