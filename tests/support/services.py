"""Throwaway services on 127.0.0.1 for the tests and the benchmarks: a free port, moto's S3
server, and a PostgreSQL cluster (Debian's binaries: ``make postgresql``) with databases on it.
Plain context managers: the fixtures (tests/conftest.py, tests/test_storage.py) and
benchmarks/lake_speed.py wrap them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class ServiceUnavailable(RuntimeError):
    """A service is not installed here (or did not start)."""


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto_server (next to this interpreter) on a free loopback port: its endpoint URL."""
    executable = Path(sys.executable).with_name("moto_server")
    if not executable.exists():
        raise ServiceUnavailable(f"moto_server is not installed beside {sys.executable}")
    port = free_port()
    server = subprocess.Popen(
        [str(executable), "-p", str(port), "-H", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            if server.poll() is not None:
                raise ServiceUnavailable(f"moto_server exited with {server.returncode}")
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if time.monotonic() > deadline:
                    raise ServiceUnavailable("moto_server did not answer within 30 s") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def postgres_bin() -> Path | None:
    """The directory of PostgreSQL's server binaries (initdb, pg_ctl, psql), newest version first."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


@contextlib.contextmanager
def postgres_cluster(password: str | None = None) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth, no fsync): its base DSN. With a
    ``password``, a TCP connection must give it (scram-sha-256; the DSN does not hold it)."""
    bindir = postgres_bin()
    if bindir is None:
        raise ServiceUnavailable("PostgreSQL is not installed (`make postgresql`: Debian's postgresql)")
    # initdb refuses to run as root: as root, the cluster belongs to the postgres user.
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="mergelens-pg-"))
    root.chmod(0o755)
    if as_owner:
        shutil.chown(root, "postgres")
    data, port = root / "data", free_port()

    def run(*argv: str) -> None:
        subprocess.run([*as_owner, *argv], check=True, capture_output=True, timeout=120)

    try:
        auth = ["--auth=trust"]
        if password:
            (root / "pwfile").write_text(password)
            if as_owner:
                shutil.chown(root / "pwfile", "postgres")
            auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={root / 'pwfile'}"]
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", *auth, "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200"
        # -w: returns once the server accepts connections
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", options, "start")
        yield f"host=127.0.0.1 port={port} user=postgres"
    finally:
        if (data / "postmaster.pid").exists():
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def create_database(dsn: str, password: str | None = None) -> str:
    """A new empty database on the cluster of ``dsn`` (``password``: the cluster's): its DSN."""
    name = f"lake_{uuid.uuid4().hex[:10]}"
    psql = (postgres_bin() or Path("/usr/bin")) / "psql"
    params = dict(part.split("=", 1) for part in dsn.split())
    subprocess.run(
        [str(psql), "-h", params["host"], "-p", params["port"], "-U", params["user"], "-qc", f"CREATE DATABASE {name}"],
        check=True,
        capture_output=True,
        timeout=60,
        env={**os.environ, "PGPASSWORD": password} if password else None,
    )
    return f"{dsn} dbname={name}"


def start_worker(
    python: Path | str, module: str, env: dict[str, str], tmp_path: Path, config: dict[str, Any]
) -> subprocess.Popen[str]:
    """``python -m module config.json`` from the repository root: a worker (tests/support/lake_writer.py,
    tests/support/lake_ops_worker.py) on another interpreter, its config written to a file in tmp_path."""
    path = tmp_path / f"{module.rsplit('.', 1)[-1]}-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return subprocess.Popen(
        [str(python), "-m", module, str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def worker_output(process: subprocess.Popen[str], timeout: float = 300) -> Any:
    """What a worker printed (JSON), once it exited 0."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out)
