"""Shared fixtures: a fake GitHub on loopback, a DuckDB file per test, the CLI in-process."""

from __future__ import annotations

import gzip
import importlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import duckdb
import pytest

from fetcher.cli import main
from fetcher.config import Environment
from tests.support.factories import repository
from tests.support.fake_github import FakeGitHub, Repository, take_defects
from tests.support.lake_writer import PR_TABLES
from tests.support.services import postgres_bin, postgres_cluster

ROOT = Path(__file__).resolve().parents[1]
# Recorded GitHub data lives beside the checkout, never in it (as in CI): ../shared.
SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLES = SHARED / "github-samples"
REALDATA = SHARED / "realdata"

TOKEN = "ghs_fakeTokenThatMustNeverBePrinted0123456789"
TABLES = PR_TABLES  # the tables of a PR's rows (defined in tests/support/lake_writer.py: the lake line imports it too)


@dataclass
class CliRun:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        return json.loads(self.stdout)


@pytest.fixture
def serve() -> Iterator[Any]:
    """serve(repo, ...) starts a FakeGitHub for those repositories; stopped after the test."""
    servers: list[FakeGitHub] = []

    def start(*repos: Repository, api_prefix: str = "") -> FakeGitHub:
        server = FakeGitHub(list(repos), token=TOKEN, api_prefix=api_prefix).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(autouse=True)
def fake_github_defects() -> Iterator[None]:
    """After every test: no fake GitHub of this process (whoever started it) met a defect, i.e.
    a GraphQL query invalid against GitHub's schema, an argument or query parameter the fake does
    not model, an error of its own; even when the client recovered (over REST, by a retry). A
    test that provokes one on purpose takes it with ``server.take_defects()``."""
    yield
    defects = take_defects()
    assert not defects, f"the fake GitHub met defects: {defects}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "mergelens.duckdb"


def environment(server: FakeGitHub | None, **overrides: Any) -> Environment:
    env = Environment(
        token=TOKEN,
        api_url=server.api_url if server else "http://127.0.0.1:9",
        event_name=None,
        event_path=None,
        repository=None,
        db="unused-default.duckdb",
        step_summary=None,
        output=None,
        run_id=None,
    )
    return replace(env, **overrides)


FAST = ["--request-interval", "0", "--retry-backoff", "0.01"]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """cli(server, *argv, **env_overrides) runs ``python -m fetcher`` in-process."""

    def run(server: FakeGitHub | None, *argv: str, fast: bool = True, **env: Any) -> CliRun:
        args = list(argv)
        if fast and args and args[0] in ("sync", "reconcile", "backfill"):
            args += FAST
        try:
            code = main(args, environment(server, **env))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return CliRun(code, out, err)

    return run


@pytest.fixture
def synced(serve: Any, cli: Any, db_path: Path) -> Any:
    """synced(*pulls, calendar=None) serves the pulls from a fake GitHub, syncs each into db_path
    (with ``--work-calendar`` when given) and returns db_path."""

    def sync(*pulls: Any, calendar: str | None = None) -> Path:
        server = serve(repository(*pulls))
        extra = ("--work-calendar", calendar) if calendar is not None else ()
        for pr in pulls:
            args = ("sync", "--repo", "acme/widgets", "--pr", str(pr.number), "--db", str(db_path), *extra)
            run = cli(server, *args)
            assert run.exit_code == 0, run.stderr
        return db_path

    return sync


def table_rows(db: Path, table: str, exclude: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Every row of a table, sorted, without the named columns (e.g. fetched_at)."""
    with duckdb.connect(str(db), read_only=True) as con:
        columns = [
            name
            for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
            if name not in exclude
        ]
        return sorted(con.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall(), key=lambda row: repr(row))


class EnvelopeCatcher(BaseHTTPRequestHandler):
    """A loopback Sentry: accepts envelopes and keeps their events."""

    events: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        elif self.headers.get("Content-Encoding") == "br":
            import brotli

            body = brotli.decompress(body)
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                type(self).events.append(json.loads(payload))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sentry():
    EnvelopeCatcher.events = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), EnvelopeCatcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://publickey@127.0.0.1:{server.server_address[1]}/42", EnvelopeCatcher.events
    server.shutdown()
    server.server_close()


class Receiver(BaseHTTPRequestHandler):
    """A loopback Slack incoming webhook: keeps each body, answers ``status``."""

    bodies: ClassVar[list[dict[str, Any]]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).bodies.append(json.loads(body))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    """The URL of a loopback Slack incoming webhook (Receiver); its path stands for the secret."""
    Receiver.bodies, Receiver.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/s3cretWebhookPath"
    server.shutdown()
    server.server_close()


def shared_data(path: Path) -> Path:
    """A file or folder under ../shared (beside the checkout, as in CI). Outside CI a checkout
    without it skips the tests that need it; in CI its absence fails."""
    if not path.exists():
        unavailable(f"recorded GitHub data not found: {path} (../shared/{path.relative_to(SHARED)})")
    return path


def recorded_sample(name: str) -> Any:
    """A recorded GitHub payload from ../shared/github-samples."""
    return json.loads(shared_data(SAMPLES / name).read_text())


def query(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, params or []).fetchall()


# --- the DuckLake's services (tests/test_storage_lake_location.py, tests/test_lake_ops.py) ----------------------


def unavailable(why: str, module_level: bool = False) -> NoReturn:
    """Outside CI a missing part (a service, a package, the recorded data) skips the test (or the
    whole module, collecting it); in CI it fails it: CI installs every part, so none may vanish."""
    if os.environ.get("CI"):
        pytest.fail(why, pytrace=False)
    pytest.skip(why, allow_module_level=module_level)


def required_module(name: str, why: str) -> Any:
    """``pytest.importorskip`` that fails in CI (see ``unavailable``), for a module-level import."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        unavailable(f"{name} cannot be imported ({exc}): {why}", module_level=True)


@pytest.fixture(scope="session")
def lake_python() -> Path:
    """The DuckLake interpreter (``make lake``; MERGELENS_LAKE_PYTHON in a worktree without one)."""
    python = Path(os.environ.get("MERGELENS_LAKE_PYTHON") or ROOT / ".venv-lake" / "bin" / "python")
    if not python.exists():
        unavailable(f"no DuckLake interpreter at {python}: run `make lake`")
    return python


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth), for the session: its base DSN
    (``tests.support.services.create_database`` makes a database on it)."""
    if postgres_bin() is None:
        unavailable("PostgreSQL is not installed (`make postgresql`: Debian's postgresql)")
    with postgres_cluster() as dsn:
        yield dsn
