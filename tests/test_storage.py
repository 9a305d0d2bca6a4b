"""Where the DB lives (fetcher/storage/), with real parts: DuckDB files, moto's S3 HTTP
server in a subprocess, and the fake GitHub's artifact API (302 to a "blob storage" host)."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
import requests
from botocore.exceptions import ClientError

from fetcher.collect.rest import ClientSettings, GitHubSource
from fetcher.config import Environment
from fetcher.db import safe_open, schema, store
from fetcher.pipeline.sync_pr import sync_pull_request
from fetcher.storage import (
    MERGELENS_TABLES,
    LocalLocation,
    S3Location,
    StorageConflict,
    StorageError,
    _Trust,
    is_local,
    open_location,
    verify_database,
)
from tests.conftest import TOKEN, environment
from tests.support.factories import repository
from tests.support.fake_github import Artifact, Fault, zip_archive
from tests.support.fake_github.payloads import fake_sha, stable_id
from tests.support.services import ServiceUnavailable, free_port, moto_server
from tests.test_commands_sync import REPO_ROOT, complete_pr

REPO = "acme/widgets"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECRET = "testing"


# --- helpers ------------------------------------------------------------------------------


def write_prs(path: Path, *numbers: int, title: str = "PR") -> None:
    """Store minimal PRs through fetcher.db.store, one transaction each (as a sync does)."""
    con = safe_open.open_migrated(path)
    try:
        for number in numbers:
            bundle = store.PullRequestBundle(
                REPO, number, {"repo": REPO, "number": number, "title": f"{title} {number}"}
            )
            run = store.SyncRun(uuid.uuid4().hex, REPO, number, "test", started_at=NOW)
            store.write_pull_request(con, bundle, run, fetched_at=NOW)
    finally:
        con.close()


def pr_rows(path: Path) -> set[tuple[int, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return set(con.execute("SELECT number, title FROM pull_requests").fetchall())


def make_db(path: Path, *numbers: int) -> Path:
    write_prs(path, *numbers)
    return path


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith((".tmp", ".wal", ".download", ".zip")))


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert message and "\n" not in message, message
    assert "Traceback" not in message
    return message


# --- verify_database ------------------------------------------------------------------------


def test_verify_database_counts_every_table(tmp_path):
    path = make_db(tmp_path / "a.duckdb", 1, 2)
    counts = verify_database(path)
    assert set(counts) == set(MERGELENS_TABLES) >= {"pull_requests", "pr_metrics", "sync_runs", "mergelens_schema"}
    assert counts["pull_requests"] == 2 and counts["sync_runs"] == 2
    assert verify_database(path, {"pull_requests": 2}) == counts
    with pytest.raises(StorageError, match="pull_requests would shrink from 3 to 2 rows"):
        verify_database(path, {"pull_requests": 3})


def test_verify_database_refuses_a_file_that_is_not_duckdb(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database\n" * 100)
    with pytest.raises(StorageError, match="does not open as a DuckDB database") as caught:
        verify_database(path)
    one_line(caught.value)


# --- local path ---------------------------------------------------------------------------


def test_local_update_creates_then_replaces_atomically(tmp_path):
    path = tmp_path / "mergelens.duckdb"
    location = open_location(str(path), environment(None))
    assert isinstance(location, LocalLocation) and location.description == str(path)

    first = location.update(lambda work: write_prs(work, 1))
    assert first.created and first.attempts == 1 and first.notes == []
    assert first.local_path == path and first.location == str(path)
    assert first.counts["pull_requests"] == 1 and first.size_bytes == path.stat().st_size
    assert pr_rows(path) == {(1, "PR 1")}

    old_bytes, old_inode = path.read_bytes(), path.stat().st_ino

    def apply(work: Path) -> str:
        assert work != path and work.parent == path.parent  # a copy beside the file: same file system
        write_prs(work, 2)
        assert path.read_bytes() == old_bytes  # the stored file is untouched until the replace
        return "done"

    second = location.update(apply)
    assert second.value == "done" and not second.created
    assert pr_rows(path) == {(1, "PR 1"), (2, "PR 2")}
    assert second.counts["pull_requests"] == 2
    assert path.stat().st_ino != old_inode  # a new file renamed over the old one, not rewritten in place
    assert not path.with_name(path.name + ".wal").exists()  # checkpointed: the file alone is the DB
    assert leftovers(tmp_path) == []


def test_local_apply_raising_leaves_the_old_file_byte_identical(tmp_path):
    path = make_db(tmp_path / "mergelens.duckdb", 1)
    before = path.read_bytes()

    def apply(work: Path) -> None:
        write_prs(work, 2)
        raise RuntimeError("GitHub went away")

    with pytest.raises(RuntimeError, match="GitHub went away"):
        LocalLocation(path).update(apply)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def _lose_a_row(work: Path) -> None:
    with duckdb.connect(str(work)) as con:
        con.execute("DELETE FROM pull_requests WHERE number = 1")


def _newer_schema(work: Path) -> None:
    with duckdb.connect(str(work)) as con:
        con.execute("INSERT INTO mergelens_schema VALUES (?, now())", [schema.SCHEMA_VERSION + 1])


def _clobber(work: Path) -> None:
    work.write_bytes(b"\0garbage" * 4096)


@pytest.mark.parametrize(
    ("apply", "reason"),
    [
        (_lose_a_row, "pull_requests would shrink from 2 to 1 rows"),
        (_newer_schema, f"schema version {schema.SCHEMA_VERSION + 1} is newer than this mergelens"),
        (_clobber, "does not open as a DuckDB database"),
    ],
    ids=["lost-rows", "wrong-schema-version", "not-duckdb"],
)
def test_local_verify_refuses_and_keeps_the_old_file(tmp_path, apply, reason):
    path = make_db(tmp_path / "mergelens.duckdb", 1, 2)
    before = path.read_bytes()
    with pytest.raises(StorageError) as caught:
        LocalLocation(path).update(apply)
    message = one_line(caught.value)
    assert reason in message and message.startswith(f"not storing {path}:")
    assert "the stored database is unchanged" in message
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_local_existing_file_that_is_not_duckdb_is_refused_before_apply(tmp_path):
    path = tmp_path / "mergelens.duckdb"
    path.write_text("my notes\n" * 100)
    called = []
    with pytest.raises(StorageError, match=f"cannot open database {path}: it does not open as a DuckDB") as caught:
        LocalLocation(path).update(called.append)
    one_line(caught.value)
    assert called == [] and path.read_text() == "my notes\n" * 100


def test_local_leftover_wal_of_a_crashed_direct_writer_is_folded_in(tmp_path):
    path = make_db(tmp_path / "mergelens.duckdb", 1)
    # A plain DuckDB writer commits PR 2 (it lives only in the WAL) and is killed before a checkpoint.
    script = textwrap.dedent(
        f"""
        import os, signal, duckdb
        con = duckdb.connect({str(path)!r})
        con.execute("SET checkpoint_threshold = '1GB'")
        con.execute("INSERT INTO pull_requests (repo, number, title, fetched_at, sync_status) "
                    "VALUES ('{REPO}', 2, 'PR 2', now(), 'complete')")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    assert subprocess.run([sys.executable, "-c", script], timeout=60).returncode == -signal.SIGKILL
    assert path.with_name(path.name + ".wal").exists()
    result = LocalLocation(path).update(lambda work: write_prs(work, 3))
    assert pr_rows(path) == {(1, "PR 1"), (2, "PR 2"), (3, "PR 3")}  # the committed PR 2 was not lost
    assert result.counts["pull_requests"] == 3
    assert not path.with_name(path.name + ".wal").exists()


def _wal_of_another_database(path: Path) -> None:
    """A real WAL, but of another DB file (copied, restored from a backup of something else)."""
    other = make_db(path.with_name("other.duckdb"), 7)
    script = textwrap.dedent(
        f"""
        import os, signal, duckdb
        con = duckdb.connect({str(other)!r})
        con.execute("SET checkpoint_threshold = '1GB'")
        con.execute("DELETE FROM pull_requests")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    assert subprocess.run([sys.executable, "-c", script], timeout=60).returncode == -signal.SIGKILL
    shutil.copyfile(other.with_name(other.name + ".wal"), path.with_name(path.name + ".wal"))


def _junk_wal(path: Path) -> None:
    path.with_name(path.name + ".wal").write_bytes(b"not a WAL at all\n" * 64)


@pytest.mark.parametrize("make_wal", [_wal_of_another_database, _junk_wal], ids=["another-db", "junk"])
def test_local_stray_wal_is_named_for_what_it_is(tmp_path, make_wal):
    """DuckDB refuses a WAL of another DB ("WAL does not match database file") and silently
    ignores junk, leaving it in place: either way the old message blamed "another process"."""
    path = make_db(tmp_path / "mergelens.duckdb", 1)
    make_wal(path)
    wal = path.with_name(path.name + ".wal")
    before, wal_before = path.read_bytes(), wal.read_bytes()
    with pytest.raises(StorageError) as caught:
        LocalLocation(path).update(lambda work: write_prs(work, 2))
    message = one_line(caught.value)
    assert f"a leftover {path.name}.wal beside it does not belong to it" in message and "move" in message
    assert "another process" not in message
    assert path.read_bytes() == before and wal.read_bytes() == wal_before  # never deleted for the user


@pytest.mark.parametrize("make_wal", [_wal_of_another_database, _junk_wal], ids=["another-db", "junk"])
def test_local_stray_wal_through_the_cli_is_one_line(serve, cli, tmp_path, make_wal):
    path = make_db(tmp_path / "mergelens.duckdb", 1)
    make_wal(path)
    before = path.read_bytes()
    server = serve(repository(complete_pr()))
    run = cli(server, "sync", "--repo", REPO, "--pr", "12", "--db", str(path))
    assert run.exit_code == 1
    error = run.stderr.strip().splitlines()[-1]
    assert error.startswith("mergelens: error: cannot ") and "wal beside it does not belong to it" in error
    assert "Traceback" not in run.stderr and "another process" not in run.stderr
    assert path.read_bytes() == before


def test_local_concurrent_threads_both_land(tmp_path):
    path = make_db(tmp_path / "mergelens.duckdb", 1)
    inside = threading.Semaphore(1)  # fails the test if two applies ever overlap
    errors: list[BaseException] = []

    def apply(number: int) -> Callable[[Path], None]:
        def run(work: Path) -> None:
            assert inside.acquire(blocking=False), "two writers inside update() at once"
            try:
                write_prs(work, number)
                time.sleep(0.1)  # holds the lock while the others (past the barrier) try for it
            finally:
                inside.release()

        return run

    start = threading.Barrier(3)

    def worker(number: int) -> None:
        try:
            start.wait(30)  # all three call update() together
            LocalLocation(path).update(apply(number))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in (2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert {number for number, _ in pr_rows(path)} == {1, 2, 3, 4}


CONCURRENT_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from fetcher.storage import LocalLocation
    from tests.test_storage import write_prs

    path, first, go = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    go.with_name(f"ready-{first}").touch()  # imported: waiting for the others
    while not go.exists():  # start together
        time.sleep(0.005)
    for number in range(first, first + 3):
        LocalLocation(path).update(lambda work: write_prs(work, number))
    """
)


def test_local_concurrent_processes_all_land(tmp_path):
    path = make_db(tmp_path / "mergelens.duckdb", 1)
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_WRITER, str(path), str(first), str(go)],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stderr=subprocess.PIPE,
            text=True,
        )
        for first in (100, 200, 300)
    ]
    # the barrier: every writer has started and is waiting (not a sleep hoping they have)
    ready = [tmp_path / f"ready-{first}" for first in (100, 200, 300)]
    deadline = time.monotonic() + 120
    while not all(flag.exists() for flag in ready):
        exited = [writer.communicate()[1] for writer in writers if writer.poll() is not None]
        assert not exited and time.monotonic() < deadline, exited
        time.sleep(0.01)
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    expected = {1} | {first + i for first in (100, 200, 300) for i in range(3)}
    assert {number for number, _ in pr_rows(path)} == expected
    assert leftovers(tmp_path) == []


def test_local_missing_directory_is_one_line(tmp_path):
    with pytest.raises(StorageError, match="does not exist") as caught:
        LocalLocation(tmp_path / "nowhere" / "db.duckdb").update(lambda work: None)
    one_line(caught.value)


# --- S3 (moto's real HTTP server) -----------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto_server (next to this interpreter) on a free loopback port, for the whole session."""
    try:
        with moto_server() as url:
            yield url
    except ServiceUnavailable as exc:  # raised only before it answers
        pytest.fail(str(exc))


def s3_settings(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@dataclass
class Bucket:
    client: Any
    name: str
    endpoint: str

    def spec(self, key: str = "mergelens.duckdb") -> str:
        return f"s3://{self.name}/{key}"

    def put_db(self, path: Path, key: str = "mergelens.duckdb") -> str:
        return self.client.put_object(Bucket=self.name, Key=key, Body=path.read_bytes())["ETag"]

    def etag(self, key: str = "mergelens.duckdb") -> str:
        return self.client.head_object(Bucket=self.name, Key=key)["ETag"]

    def download(self, target: Path, key: str = "mergelens.duckdb") -> Path:
        target.write_bytes(self.client.get_object(Bucket=self.name, Key=key)["Body"].read())
        return target


@pytest.fixture
def bucket(moto_endpoint, monkeypatch, tmp_path) -> Bucket:
    for name, value in s3_settings(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    # Nothing from this machine's AWS setup may leak in.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3")
    name = f"mergelens-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return Bucket(client, name, moto_endpoint)


def test_moto_honours_conditional_writes(bucket):
    """What the S3 store relies on: a stale If-Match and an If-None-Match on an existing key fail."""
    etag = bucket.client.put_object(Bucket=bucket.name, Key="k", Body=b"one", IfNoneMatch="*")["ETag"]
    for condition in ({"IfNoneMatch": "*"}, {"IfMatch": '"0123456789abcdef0123456789abcdef"'}):
        with pytest.raises(ClientError) as caught:
            bucket.client.put_object(Bucket=bucket.name, Key="k", Body=b"two", **condition)
        assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    bucket.client.put_object(Bucket=bucket.name, Key="k", Body=b"three", IfMatch=etag)
    assert bucket.client.get_object(Bucket=bucket.name, Key="k")["Body"].read() == b"three"


def test_s3_create_then_update(bucket, tmp_path):
    location = open_location(bucket.spec(), environment(None), workdir=tmp_path)
    assert isinstance(location, S3Location) and location.description == bucket.spec()

    first = location.update(lambda work: write_prs(work, 1))
    assert first.created and first.attempts == 1 and first.location == bucket.spec()
    assert first.counts["pull_requests"] == 1
    assert first.local_path.is_file() and first.size_bytes == first.local_path.stat().st_size
    assert pr_rows(bucket.download(tmp_path / "after-1.duckdb")) == {(1, "PR 1")}

    etag = bucket.etag()
    second = open_location(bucket.spec(), environment(None), workdir=tmp_path).update(
        lambda work: write_prs(work, 2) or "ok"
    )
    assert second.value == "ok" and not second.created and second.attempts == 1
    assert bucket.etag() != etag
    assert pr_rows(bucket.download(tmp_path / "after-2.duckdb")) == {(1, "PR 1"), (2, "PR 2")}
    assert pr_rows(second.local_path) == {(1, "PR 1"), (2, "PR 2")}  # the local copy is what was stored


@pytest.mark.parametrize("existing", [True, False], ids=["if-match", "if-none-match"])
def test_s3_a_write_in_between_is_never_overwritten(bucket, tmp_path, existing):
    """Someone stores the object while we apply: our conditional PUT fails (If-Match with the
    old ETag, or If-None-Match on a key that now exists); we download theirs and apply again."""
    if existing:
        bucket.put_db(make_db(tmp_path / "seed.duckdb", 1))
    theirs = make_db(tmp_path / "theirs.duckdb", *([1] if existing else []), 99)
    calls: list[Path] = []

    def apply(work: Path) -> int:
        calls.append(work)
        if len(calls) == 1:
            bucket.put_db(theirs)
        write_prs(work, 7)
        return len(calls)

    result = S3Location(bucket.name, "mergelens.duckdb", workdir=tmp_path, backoff_s=0.01).update(apply)
    assert result.attempts == 2 and result.value == 2 and len(calls) == 2
    assert not result.created  # the stored attempt started from their object
    assert "stored on attempt 2" in result.notes[0]
    expected = {(99, "PR 99"), (7, "PR 7")} | ({(1, "PR 1")} if existing else set())
    assert pr_rows(bucket.download(tmp_path / "final.duckdb")) == expected


@pytest.mark.parametrize("existing", [True, False], ids=["existing-object", "fresh-key"])
def test_s3_two_writers_racing_both_land(bucket, tmp_path, existing):
    if existing:
        bucket.put_db(make_db(tmp_path / "seed.duckdb", 1))
    barrier = threading.Barrier(2, timeout=20)
    results: dict[int, Any] = {}
    errors: list[BaseException] = []
    locations = {n: S3Location(bucket.name, "mergelens.duckdb", workdir=tmp_path, backoff_s=0.01) for n in (10, 20)}
    for location in locations.values():
        location.client()  # boto3.client() is not thread-safe to create: do it here

    def worker(number: int) -> None:
        calls = 0

        def apply(work: Path) -> int:
            nonlocal calls
            calls += 1
            write_prs(work, number)
            if calls == 1:
                barrier.wait()  # both have downloaded the same version before either uploads
            return calls

        try:
            results[number] = locations[number].update(apply)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in locations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(result.attempts for result in results.values()) == [1, 2]
    assert max(result.value for result in results.values()) == 2  # the loser applied twice
    numbers = {number for number, _ in pr_rows(bucket.download(tmp_path / "final.duckdb"))}
    assert numbers == ({1} if existing else set()) | {10, 20}


def test_s3_gives_up_after_max_attempts(bucket, tmp_path):
    interferer = make_db(tmp_path / "interferer.duckdb", 1)
    bucket.put_db(interferer)
    calls: list[int] = []

    def apply(work: Path) -> None:
        calls.append(1)
        write_prs(interferer, 500 + len(calls))  # another writer stores a new version every time
        bucket.put_db(interferer)
        write_prs(work, 7)

    location = S3Location(bucket.name, "mergelens.duckdb", workdir=tmp_path, max_attempts=3, backoff_s=0.01)
    with pytest.raises(StorageConflict) as caught:
        location.update(apply)
    message = one_line(caught.value)
    assert message.startswith(bucket.spec()) and "gave up after 3 attempts" in message
    assert len(calls) == 3
    numbers = {number for number, _ in pr_rows(bucket.download(tmp_path / "final.duckdb"))}
    assert numbers == {1, 501, 502, 503}  # theirs, never ours
    assert [p for p in tmp_path.glob("mergelens-s3-*")] == []  # working copies removed


def test_s3_verify_refusal_leaves_the_object_alone(bucket, tmp_path):
    bucket.put_db(make_db(tmp_path / "seed.duckdb", 1, 2))
    etag = bucket.etag()
    with pytest.raises(StorageError, match="pull_requests would shrink from 2 to 1 rows") as caught:
        open_location(bucket.spec(), environment(None), workdir=tmp_path).update(_lose_a_row)
    assert one_line(caught.value).startswith(f"not storing {bucket.spec()}:")
    assert bucket.etag() == etag


def test_s3_apply_raising_stores_nothing(bucket, tmp_path):
    def apply(work: Path) -> None:
        write_prs(work, 1)
        raise KeyError("boom")

    with pytest.raises(KeyError):
        open_location(bucket.spec(), environment(None), workdir=tmp_path).update(apply)
    assert bucket.client.list_objects_v2(Bucket=bucket.name)["KeyCount"] == 0
    assert [p for p in tmp_path.glob("mergelens-s3-*")] == []


def test_s3_missing_bucket_is_one_line(bucket, tmp_path):
    spec = "s3://no-such-bucket-mergelens/db/mergelens.duckdb"
    with pytest.raises(StorageError) as caught:
        open_location(spec, environment(None), workdir=tmp_path).update(lambda work: write_prs(work, 1))
    message = one_line(caught.value)
    assert message.startswith(spec + ": S3 download failed: NoSuchBucket (HTTP 404)")
    assert SECRET not in message.replace("s3://", "")


def test_s3_unreachable_endpoint_and_missing_credentials_are_one_line(bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StorageError, match="S3 download failed: EndpointConnectionError") as caught:
        open_location(bucket.spec(), environment(None), workdir=tmp_path).update(lambda work: None)
    one_line(caught.value)

    monkeypatch.setenv("AWS_ENDPOINT_URL", bucket.endpoint)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StorageError, match="no S3 credentials found") as caught:
        open_location(bucket.spec(), environment(None), workdir=tmp_path).update(lambda work: None)
    one_line(caught.value)


def test_is_local():
    assert is_local("mergelens.duckdb") and is_local("/abs/path.duckdb") and is_local("./s3:/odd")
    assert not is_local("s3://bucket/key.duckdb") and not is_local("artifact:mergelens-db")


@pytest.mark.parametrize("spec", ["s3://", "s3://bucket-only", "s3://bucket/dir/"])
def test_s3_malformed_spec(spec):
    with pytest.raises(StorageError, match="expected s3://BUCKET/KEY"):
        open_location(spec, environment(None))


# --- GitHub Actions artifacts (fake GitHub) ---------------------------------------------------

NAME = "mergelens-db"


def artifact_env(server: Any, tmp_path: Path, **overrides: Any) -> Environment:
    settings = {"repository": REPO, "runner_temp": str(tmp_path / "runner"), **overrides}
    return environment(server, **settings)


def test_fake_github_lists_artifacts_like_github(serve, tmp_path):
    repo = repository()
    db = make_db(tmp_path / "a.duckdb", 1)
    repo.artifacts = [
        Artifact.from_file(i, NAME if i % 2 else "other", db, NOW - timedelta(days=i), expired=i > 4)
        for i in range(1, 8)
    ]
    server = serve(repo)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{server.api_url}/repos/{REPO}/actions/artifacts"
    body = requests.get(url, params={"name": NAME, "per_page": 2}, headers=headers, timeout=10)
    assert body.status_code == 200 and "next" in body.links
    page = body.json()
    assert page["total_count"] == 4 and [a["id"] for a in page["artifacts"]] == [1, 3]  # newest first
    assert set(page["artifacts"][0]) == {
        "id",
        "node_id",
        "name",
        "size_in_bytes",
        "url",
        "archive_download_url",
        "expired",
        "digest",
        "created_at",
        "updated_at",
        "expires_at",
        "workflow_run",
    }
    assert set(page["artifacts"][0]["workflow_run"]) == {
        "id",
        "repository_id",
        "head_repository_id",
        "head_branch",
        "head_sha",
    }
    assert requests.get(url, timeout=10).status_code == 401
    # the zip: 302 to another host name; that host refuses a GitHub token
    zip_url = page["artifacts"][0]["archive_download_url"]
    redirect = requests.get(zip_url, headers=headers, allow_redirects=False, timeout=10)
    assert redirect.status_code == 302
    blob = redirect.headers["Location"]
    assert blob.startswith(f"http://localhost:{server.port}/_blobs/")
    assert requests.get(blob, headers=headers, timeout=10).status_code == 400
    assert requests.get(blob.split("?")[0], timeout=10).status_code == 403  # the signature is required
    assert requests.get(blob, timeout=10).content == repo.artifacts[0].content
    # an expired artifact's zip is gone
    expired = requests.get(zip_url.replace("/1/zip", "/5/zip"), headers=headers, timeout=10)
    assert expired.status_code == 410 and expired.json()["message"] == "Artifact has expired"


def test_fake_github_serves_the_run_behind_an_artifact_like_github(serve, tmp_path):
    """GET /actions/runs/{id}: a `pull_request_target` run for a fork's PR records the PR's head
    side (the fork, its branch) while its head_sha is the base branch's commit."""
    repo = repository()
    db = make_db(tmp_path / "a.duckdb", 1)
    base_sha = "b" * 40
    repo.artifacts = [
        Artifact.from_file(1, NAME, db, NOW, **FORK_PR_TARGET_RUN, head_sha=base_sha),
        Artifact.from_file(2, NAME, db, NOW - timedelta(days=1)),  # a schedule run on main
        Artifact.from_file(3, NAME, db, NOW - timedelta(days=2), run_deleted=True),
    ]
    server = serve(repo)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    listed = requests.get(f"{server.api_url}/repos/{REPO}/actions/artifacts", headers=headers, timeout=10).json()
    runs = [a["workflow_run"] for a in listed["artifacts"]]
    fork_run = requests.get(f"{server.api_url}/repos/{REPO}/actions/runs/{runs[0]['id']}", headers=headers, timeout=10)
    assert fork_run.status_code == 200
    body = fork_run.json()
    assert {"id", "event", "path", "head_branch", "head_sha", "head_repository", "repository", "status"} <= set(body)
    assert {"conclusion", "workflow_id", "run_attempt", "head_commit", "html_url", "pull_requests"} <= set(body)
    assert body["id"] == runs[0]["id"] and body["event"] == "pull_request_target"
    assert body["path"] == ".github/workflows/mergelens.yml"
    assert (
        (body["head_branch"], body["head_sha"])
        == ("patch-1", base_sha)
        == (runs[0]["head_branch"], runs[0]["head_sha"])
    )
    head, ours = body["head_repository"], body["repository"]
    assert (head["id"], head["full_name"], head["fork"]) == (FORK_ID, "contributor/widgets", True)
    assert (ours["id"], ours["full_name"], ours["fork"]) == (4242, REPO, False)
    assert "created_at" not in head and "owner" in head  # GitHub's "minimal repository"
    schedule = requests.get(f"{server.api_url}/repos/{REPO}/actions/runs/{runs[1]['id']}", headers=headers, timeout=10)
    assert schedule.json()["event"] == "schedule" and schedule.json()["head_repository"]["id"] == 4242
    for missing in (runs[2]["id"], 123):  # a deleted run, an unknown id
        answer = requests.get(f"{server.api_url}/repos/{REPO}/actions/runs/{missing}", headers=headers, timeout=10)
        assert answer.status_code == 404


def test_artifact_newest_unexpired_is_downloaded_and_left_for_upload(serve, tmp_path):
    repo = repository(complete_pr())
    older = make_db(tmp_path / "older.duckdb", 1)
    newest = make_db(tmp_path / "newest.duckdb", 1, 2)
    gone = make_db(tmp_path / "gone.duckdb", 1, 2, 3)
    repo.artifacts = [
        Artifact.from_file(41, NAME, older, NOW - timedelta(days=3)),
        Artifact.from_file(42, NAME, newest, NOW - timedelta(days=1)),
        Artifact.from_file(43, NAME, gone, NOW, expired=True),  # newest of all, but expired
        Artifact.from_file(44, "someone-else", gone, NOW + timedelta(hours=1)),
    ]
    server = serve(repo)
    env = artifact_env(server, tmp_path)
    source = GitHubSource(ClientSettings(server.api_url, TOKEN, request_interval=0))

    result = open_location(f"artifact:{NAME}", env, workdir=tmp_path / "ignored").update(
        lambda work: sync_pull_request(source, work, REPO, 12, "test").status
    )
    assert result.value == "complete" and not result.created and result.attempts == 1
    assert result.location == f"artifact {NAME} (id 42, {(NOW - timedelta(days=1)):%Y-%m-%d})"
    output = tmp_path / "runner" / "mergelens" / f"{NAME}.duckdb"
    assert result.local_path == output and result.size_bytes == output.stat().st_size
    assert {n for n, _ in pr_rows(output)} == {1, 2, 12}
    assert result.counts["pull_requests"] == 3 and result.counts["pr_commits"] == 2
    assert result.notes == []
    assert leftovers(output.parent) == []
    kinds = ("actions", "_blobs", "/branches/", "/compare/")
    artifact_requests = [(r.path, r.status) for r in server.requests if any(kind in r.path for kind in kinds)]
    run_42 = repo.artifacts[1]
    sha_42, tip = fake_sha("run", stable_id("run", 42)), fake_sha("run", stable_id("run", 44))
    assert artifact_requests == [
        (f"/repos/{REPO}/actions/artifacts", 200),
        (f"/repos/{REPO}/actions/runs/{stable_id('run', run_42.id)}", 200),  # one run read: the newest is trusted
        # its commit is on main: not the tip (the newest run on main, which uploaded 44), an ancestor of it
        (f"/repos/{REPO}/branches/main", 200),
        (f"/repos/{REPO}/compare/{tip}...{sha_42}", 200),
        (f"/repos/{REPO}/actions/artifacts/42/zip", 302),
        (f"/_blobs/{REPO}/42.zip", 200),  # followed without the token (the blob host answers 400 to one)
    ]
    assert next(r for r in server.requests if "artifacts" in r.path).query == {"name": NAME, "per_page": "100"}


FORK_ID = 9999  # a fork's repository id (ours is 4242)
# A merge run: `pull_request_target` for a fork's PR. GitHub records the PR's head side in the run
# (the fork and its branch), yet the run executed our base branch's workflow and code.
FORK_PR_TARGET_RUN = {
    "event": "pull_request_target",
    "head_repository_id": FORK_ID,
    "head_repository_name": "contributor/widgets",
    "head_branch": "patch-1",
}
SAME_REPO_PR_TARGET_RUN = {"event": "pull_request_target", "head_branch": "feature/login"}


@pytest.mark.parametrize(
    "run",
    [
        FORK_PR_TARGET_RUN,
        SAME_REPO_PR_TARGET_RUN,
        {"event": "schedule", "head_branch": "main"},
        {"event": "workflow_dispatch", "head_branch": "main"},
        {"event": "push", "head_branch": "main"},
    ],
    ids=["merge-of-a-fork-pr", "merge-of-a-branch-pr", "schedule", "dispatch-on-main", "push-to-main"],
)
def test_artifact_uploaded_by_a_merge_or_default_branch_run_is_used(serve, tmp_path, run):
    """Issue 8: a merge run (`pull_request_target`) runs the base branch's code whoever opened
    the PR; its artifact must carry the history to the next run."""
    repo = repository()
    repo.artifacts = [
        Artifact.from_file(41, NAME, make_db(tmp_path / "older.duckdb", 1), NOW - timedelta(days=1)),
        Artifact.from_file(42, NAME, make_db(tmp_path / "merge.duckdb", 1, 2), NOW, **run),
    ]
    server = serve(repo)
    result = open_location(f"artifact:{NAME}", artifact_env(server, tmp_path)).update(lambda w: write_prs(w, 3))
    assert not result.created and result.location.startswith(f"artifact {NAME} (id 42,")
    assert {n for n, _ in pr_rows(result.local_path)} == {1, 2, 3}
    assert result.notes == []
    runs_read = [r.path for r in server.requests if "/actions/runs/" in r.path]
    assert runs_read == [f"/repos/{REPO}/actions/runs/{stable_id('run', 42)}"]  # the newest only


FORK_PR_RUN = {
    "event": "pull_request",
    "head_repository_id": FORK_ID,
    "head_repository_name": "mallory/widgets",
    "head_branch": "main",  # a fork names its branch as it likes
}


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        (
            FORK_PR_RUN,
            "uploaded by a run of event pull_request for branch main of mallory/widgets: "
            "that event runs the code of a pull request",
        ),
        (  # a same-repository PR branch (Dependabot's, say) also runs its own code on pull_request
            {"event": "pull_request", "head_branch": "dependabot/pip/duckdb-2"},
            "uploaded by a run of event pull_request for branch dependabot/pip/duckdb-2 of this repository: "
            "that event runs the code of a pull request",
        ),
        (
            {"event": "merge_group", "head_branch": "gh-readonly-queue/main/pr-7"},
            "uploaded by a run of event merge_group for branch gh-readonly-queue/main/pr-7 of this repository: "
            "that event runs the code of a pull request",
        ),
        (
            {"event": "issue_comment", "head_branch": "main"},
            "uploaded by a run of event issue_comment for branch main of this repository: only runs of "
            "pull_request_target, schedule, workflow_dispatch, push, workflow_run, repository_dispatch are trusted",
        ),
        (
            {"event": "workflow_dispatch", "head_branch": "feature/forged"},
            "uploaded by a run of event workflow_dispatch for branch feature/forged of this repository (trusted: main)",
        ),
        (
            {"event": "push", "head_branch": "main", "head_repository_id": FORK_ID},
            f"uploaded by a run of event push for branch main of fork-{FORK_ID}/widgets, not this repository",
        ),
        ({"run_deleted": True}, "its workflow run {run} cannot be read (HTTP 404: deleted?)"),
        ({"has_workflow_run": False}, "no workflow run is recorded for it"),  # GitHub's schema allows null
        (  # issue 19: another workflow of this repository on pull_request_target (a triage bot, say)
            {**FORK_PR_TARGET_RUN, "workflow_path": ".github/workflows/triage.yml"},
            "uploaded by a run of workflow .github/workflows/triage.yml (event pull_request_target), not of "
            ".github/workflows/mergelens.yml (MERGELENS_ARTIFACT_WORKFLOWS)",
        ),
        (  # issue 19: a PR into another branch runs that branch's copy of mergelens.yml
            {**SAME_REPO_PR_TARGET_RUN, "base_branch": "experiment"},
            "uploaded by a run of event pull_request_target whose base commit {sha} is on none of the trusted "
            "branches (main): a pull request into another branch",
        ),
        (  # issue 19: a tag named like the default branch: GitHub records the tag's name as head_branch
            {"event": "push", "head_branch": "main", "head_ref_type": "tag"},
            "uploaded by a run of event push for branch main of this repository: its commit {sha} is not on that "
            "branch (a tag of that name?)",
        ),
        (
            {"event": "workflow_dispatch", "head_branch": "main", "head_ref_type": "tag"},
            "uploaded by a run of event workflow_dispatch for branch main of this repository: its commit {sha} is "
            "not on that branch (a tag of that name?)",
        ),
    ],
    ids=[
        "fork-pull-request-run",
        "same-repo-pull-request-run",
        "merge-queue-run",
        "event-not-allowed",
        "dispatch-on-another-branch",
        "push-from-another-repository",
        "deleted-run",
        "no-workflow-run",
        "another-workflow-on-pull-request-target",
        "pull-request-target-into-another-branch",
        "push-of-a-tag-named-main",
        "dispatch-on-a-tag-named-main",
    ],
)
def test_artifact_uploaded_by_pull_request_code_or_another_branch_is_never_used(serve, tmp_path, run, reason):
    """Issue 8: a fork's PR runs this repository's CI with its own code and can upload an
    artifact named like ours; the newest must not win. Neither may a run for another branch."""
    repo = repository()
    ours = make_db(tmp_path / "ours.duckdb", 1, 2)
    forged = make_db(tmp_path / "forged.duckdb", 1, 2, 666)
    repo.artifacts = [
        Artifact.from_file(41, NAME, ours, NOW - timedelta(days=1)),
        Artifact.from_file(42, NAME, forged, NOW, **run),  # newer
    ]
    server = serve(repo)
    seen: list[set[tuple[int, str]]] = []

    def apply(work: Path) -> None:
        seen.append(pr_rows(work))
        write_prs(work, 3)

    result = open_location(f"artifact:{NAME}", artifact_env(server, tmp_path)).update(apply)
    assert seen == [{(1, "PR 1"), (2, "PR 2")}]  # built on our artifact, not the forged one
    assert not result.created and result.location.startswith(f"artifact {NAME} (id 41,")
    assert {n for n, _ in pr_rows(result.local_path)} == {1, 2, 3}
    (note,) = result.notes
    assert note.startswith(f"skipped untrusted artifact {NAME} (id 42, created {NOW:%Y-%m-%d}): ")
    assert reason.format(run=stable_id("run", 42), sha=fake_sha("run", stable_id("run", 42))[:12]) in note
    assert note.endswith("; it was not used, changed or deleted")
    assert not any(r.path.endswith("/42/zip") or "/42.zip" in r.path for r in server.requests)  # never downloaded
    runs_read = [r.path.rsplit("/", 1)[1] for r in server.requests if "/actions/runs/" in r.path]
    expected = [] if run.get("has_workflow_run") is False else [str(stable_id("run", 42))]
    assert runs_read == [*expected, str(stable_id("run", 41))]  # newest first, stopping at the trusted one


@pytest.mark.parametrize(
    ("run", "refusal"),
    [
        ({"repository": {"id": 77}}, "uploaded by a run of event pull_request_target of another repository (id 77)"),
        ({"head_repository": None}, None),  # a merge run of a PR whose fork was deleted
        ({"event": "schedule", "head_repository": None}, "for branch main of repository id None, not this repository"),
        ({"event": "workflow_run", "head_branch": None}, "for branch None of this repository (trusted: main)"),
    ],
    ids=["another-repository", "merge-of-a-deleted-fork", "schedule-without-head", "no-head-branch"],
)
def test_artifact_run_judged_on_what_github_may_leave_out(run, refusal):
    """The rule on run payloads the fake does not serve: another repository's run, a null
    head_repository, a null head_branch."""
    base = {
        "event": "pull_request_target",
        "head_branch": "main",
        "head_sha": "a" * 40,
        "path": ".github/workflows/mergelens.yml",
        "repository": {"id": 4242},
        "head_repository": {"id": 4242, "full_name": REPO},
    }
    on_main = {("a" * 40, "main")}
    trust = _Trust(4242, ("main",), (".github/workflows/mergelens.yml",), lambda sha, branch: (sha, branch) in on_main)
    found = trust.run_refusal({**base, **run})
    assert found == refusal if refusal is None else refusal in str(found)


def test_artifact_only_untrusted_ones_start_a_fresh_database_and_each_is_named(serve, tmp_path):
    repo = repository()
    forged = make_db(tmp_path / "forged.duckdb", 666)
    repo.artifacts = [
        Artifact.from_file(
            60 + i,
            NAME,
            forged,
            NOW - timedelta(hours=i),
            **{**FORK_PR_RUN, "head_repository_id": FORK_ID + i, "head_repository_name": f"mallory{i}/widgets"},
        )
        for i in range(7)
    ]
    server = serve(repo)
    result = open_location(f"artifact:{NAME}", artifact_env(server, tmp_path)).update(lambda w: write_prs(w, 1))
    assert result.created and result.location == f"artifact {NAME} (new)"
    assert pr_rows(result.local_path) == {(1, "PR 1")}
    *named, more, fresh = result.notes
    assert [note.split("(id ")[1].split(",")[0] for note in named] == ["60", "61", "62", "63", "64"]  # newest first
    assert all(
        f"run of event pull_request for branch main of mallory{i}/widgets:" in note for i, note in enumerate(named)
    )
    assert more == f"skipped 2 more untrusted artifacts named {NAME}"
    assert fresh.startswith(f"no trusted artifact named {NAME} in {REPO}, only untrusted ones (skipped)")
    assert "started a fresh database" in fresh
    assert not any("/zip" in r.path or "_blobs" in r.path for r in server.requests)
    assert sum("/actions/runs/" in r.path for r in server.requests) == 7  # each run read once
    assert len(repo.artifacts) == 7  # nothing deleted


@pytest.mark.parametrize(
    ("branches", "used", "skipped"),
    [((), 41, [42]), (("release/2026",), 42, []), (("main", "release/2026"), 42, [])],
    ids=["default-branch", "release-only", "both"],
)
def test_artifact_branches_setting_names_the_trusted_branches(serve, tmp_path, branches, used, skipped):
    repo = repository()
    repo.artifacts = [
        Artifact.from_file(41, NAME, make_db(tmp_path / "main.duckdb", 1), NOW - timedelta(days=1)),
        Artifact.from_file(
            42,
            NAME,
            make_db(tmp_path / "release.duckdb", 1, 2),
            NOW,
            event="workflow_dispatch",
            head_branch="release/2026",
        ),
    ]
    server = serve(repo)
    env = artifact_env(server, tmp_path, artifact_branches=branches)
    result = open_location(f"artifact:{NAME}", env).update(lambda w: None)
    assert result.location.startswith(f"artifact {NAME} (id {used},")
    assert [note.split("(id ")[1].split(",")[0] for note in result.notes] == [str(i) for i in skipped]
    if skipped:
        assert (
            "run of event workflow_dispatch for branch release/2026 of this repository (trusted: main)"
            in result.notes[0]
        )


@pytest.mark.parametrize("source", ["api", "actions-env-and-event", "event-of-another-repository"])
def test_artifact_trust_needs_the_repository_id_and_default_branch(serve, tmp_path, source):
    """GITHUB_REPOSITORY_ID and the event's repository.default_branch when Actions gives them,
    else one GET /repos/{owner}/{repo}. The default branch here is trunk, not main."""
    repo = repository()
    repo.default_branch = "trunk"
    repo.artifacts = [
        Artifact.from_file(
            41, NAME, make_db(tmp_path / "trunk.duckdb", 1), NOW - timedelta(days=1), head_branch="trunk"
        ),
        Artifact.from_file(42, NAME, make_db(tmp_path / "main.duckdb", 1, 2), NOW, event="push", head_branch="main"),
    ]
    server = serve(repo)
    event = tmp_path / "event.json"
    ours = {"full_name": REPO, "id": 4242, "default_branch": "trunk"}
    other = {"full_name": "someone/else", "id": 77, "default_branch": "main"}  # must not be believed
    event.write_text(json.dumps({"repository": other if source == "event-of-another-repository" else ours}))
    settings: dict[str, Any] = {} if source == "api" else {"repository_id": 4242, "event_path": str(event)}
    result = open_location(f"artifact:{NAME}", artifact_env(server, tmp_path, **settings)).update(lambda w: None)
    assert result.location.startswith(f"artifact {NAME} (id 41,")
    assert "run of event push for branch main of this repository (trusted: trunk)" in result.notes[0]
    repository_reads = [r for r in server.requests if r.path == f"/repos/{REPO}"]
    assert len(repository_reads) == (0 if source == "actions-env-and-event" else 1)


def test_artifact_trust_settings_are_read_from_the_environment():
    env = Environment.from_environ(
        {
            "GITHUB_REPOSITORY_ID": "4242",
            "MERGELENS_ARTIFACT_BRANCHES": " main, release/1 ,,main",
            "MERGELENS_ARTIFACT_WORKFLOWS": ".github/workflows/db.yml, .github/workflows/mergelens.yml",
        }
    )
    assert env.repository_id == 4242 and env.artifact_branches == ("main", "release/1")
    assert env.artifact_workflows == (".github/workflows/db.yml", ".github/workflows/mergelens.yml")
    unset = Environment.from_environ(
        {"GITHUB_REPOSITORY_ID": "x42", "MERGELENS_ARTIFACT_BRANCHES": " , ", "MERGELENS_ARTIFACT_WORKFLOWS": ""}
    )
    assert unset.repository_id is None and unset.artifact_branches == () and unset.artifact_workflows == ()


@pytest.mark.parametrize(
    ("workflows", "used"), [((), 41), ((".github/workflows/db.yml",), 42)], ids=["default", "named"]
)
def test_artifact_workflows_setting_names_the_trusted_workflow_files(serve, tmp_path, workflows, used):
    """A repository that runs mergelens from a workflow file of another name says so."""
    repo = repository()
    repo.artifacts = [
        Artifact.from_file(41, NAME, make_db(tmp_path / "old.duckdb", 1), NOW - timedelta(days=1)),
        Artifact.from_file(
            42, NAME, make_db(tmp_path / "db.duckdb", 1, 2), NOW, workflow_path=".github/workflows/db.yml"
        ),
    ]
    if workflows:  # the old workflow's artifact is refused then
        repo.artifacts[0].workflow_path = ".github/workflows/mergelens-old.yml"
    server = serve(repo)
    env = artifact_env(server, tmp_path, artifact_workflows=workflows)
    result = open_location(f"artifact:{NAME}", env).update(lambda w: None)
    assert result.location.startswith(f"artifact {NAME} (id {used},")
    if not workflows:
        assert (
            "run of workflow .github/workflows/db.yml (event schedule), not of .github/workflows/mergelens.yml"
            in (result.notes[0])
        )


@pytest.mark.parametrize("only_expired", [False, True], ids=["none", "only-expired"])
def test_artifact_missing_starts_fresh_with_a_loud_note(serve, tmp_path, monkeypatch, only_expired):
    repo = repository()
    if only_expired:
        repo.artifacts = [Artifact.from_file(7, NAME, make_db(tmp_path / "old.duckdb", 1), NOW, expired=True)]
    server = serve(repo)
    # outside Actions (no RUNNER_TEMP) the file goes to the working directory, for the user
    monkeypatch.chdir(tmp_path)
    env = artifact_env(server, tmp_path, runner_temp=None)
    result = open_location(f"artifact:{NAME}", env, workdir=tmp_path / "work").update(lambda w: write_prs(w, 5))
    assert result.created and result.location == f"artifact {NAME} (new)"
    assert result.local_path == tmp_path / f"{NAME}.duckdb"
    assert pr_rows(result.local_path) == {(5, "PR 5")}
    assert len(result.notes) == 1
    note = result.notes[0]
    assert "started a fresh database; reconcile/backfill will refill it" in note
    assert ("(id 7, created" in note and "has expired" in note) if only_expired else "no unexpired artifact" in note
    assert not any("/zip" in r.path for r in server.requests)  # nothing to download


def test_artifact_expiring_between_list_and_download_starts_fresh(serve, tmp_path):
    repo = repository()
    repo.artifacts = [Artifact.from_file(8, NAME, make_db(tmp_path / "a.duckdb", 1), NOW)]
    server = serve(repo)
    server.add_fault(r"/actions/artifacts/8/zip$", Fault(410, body={"message": "Artifact has expired"}))
    result = open_location(f"artifact:{NAME}", artifact_env(server, tmp_path)).update(lambda w: write_prs(w, 2))
    assert result.created and "expired while we read it" in result.notes[0]
    assert pr_rows(result.local_path) == {(2, "PR 2")}


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ({"token": "ghs_wrong"}, "GitHub rejected the token (HTTP 401: Bad credentials) listing artifacts of"),
        ({"repository": "acme/nothing"}, "repository acme/nothing not found listing artifacts (HTTP 404)"),
        ({"fault": 403}, "(HTTP 403: Resource not accessible by integration): the token needs the `actions: read`"),
        # outside Actions the repository's id and default branch come from GET /repos/{o}/{r} first
        ({"repository": "acme/nothing", "actions": False}, "repository acme/nothing not found reading the repository"),
    ],
    ids=["401", "404", "403", "404-repository"],
)
def test_artifact_api_errors_are_one_line(serve, tmp_path, setup, expected):
    server = serve(repository())
    setup = dict(setup)
    if setup.pop("fault", None):
        body = {"message": "Resource not accessible by integration"}
        server.add_fault(r"/actions/artifacts$", Fault(403, body=body))
    if setup.pop("actions", True):  # GITHUB_REPOSITORY_ID and the branches are known: listing comes first
        setup.update(repository_id=4242, artifact_branches=("main",))
    env = artifact_env(server, tmp_path, **setup)
    called = []
    with pytest.raises(StorageError) as caught:
        open_location(f"artifact:{NAME}", env).update(called.append)
    message = one_line(caught.value)
    assert expected in message and TOKEN not in message and "ghs_wrong" not in message
    assert called == []


@pytest.mark.parametrize("path", [r"/branches/main$", r"/compare/[^/]+$"], ids=["branch", "compare"])
def test_artifact_branch_check_refused_is_one_line(serve, tmp_path, path):
    """The branch check reads the branch and compares commits: a token without `contents: read`
    (a fine-grained one made for the dashboard, say) is told so; the artifact is not used."""
    repo = repository()
    repo.artifacts = [
        Artifact.from_file(41, NAME, make_db(tmp_path / "a.duckdb", 1), NOW - timedelta(days=1)),
        Artifact.from_file(42, NAME, make_db(tmp_path / "b.duckdb", 1), NOW, event="pull_request"),  # the tip
    ]
    repo.artifacts[1].head_branch = "feature"  # a PR's run: not on main
    repo.artifacts.append(Artifact.from_file(43, "other", make_db(tmp_path / "c.duckdb", 1), NOW))  # main's tip
    server = serve(repo)
    server.add_fault(path, Fault(403, body={"message": "Resource not accessible by personal access token"}))
    called = []
    with pytest.raises(StorageError) as caught:
        open_location(f"artifact:{NAME}", artifact_env(server, tmp_path)).update(called.append)
    message = one_line(caught.value)
    assert "(HTTP 403: Resource not accessible by personal access token): the token needs the `contents: read`" in (
        message
    )
    assert called == [] and not any("/zip" in r.path for r in server.requests)


def test_artifact_listing_waits_out_a_short_rate_limit_and_stops_at_a_long_one(serve, tmp_path):
    """Issue 9: the artifact client follows the one rate-limit policy (fetcher.collect.policy): a
    secondary limit with Retry-After is waited for; a primary limit that resets later than the
    run may wait stops the run with when it resets."""
    repo = repository()
    repo.artifacts = [Artifact.from_file(41, NAME, make_db(tmp_path / "a.duckdb", 1), NOW)]
    server = serve(repo)
    listing = f"/repos/{REPO}/actions/artifacts"
    server.add_fault(r"/actions/artifacts$", Fault.secondary_rate_limit(retry_after=1))
    result = open_location(f"artifact:{NAME}", artifact_env(server, tmp_path)).update(lambda w: write_prs(w, 2))
    assert result.location.startswith(f"artifact {NAME} (id 41,")
    assert [r.status for r in server.requests if r.path == listing] == [403, 200]

    server.add_fault(r"/actions/artifacts$", Fault.primary_rate_limit(int(time.time()) + 3600))
    with pytest.raises(StorageError) as caught:
        open_location(f"artifact:{NAME}", artifact_env(server, tmp_path)).update(lambda w: None)
    message = one_line(caught.value)
    assert message.startswith(f"GitHub's rate limit stopped listing artifacts of {REPO}: ")
    assert "GitHub API rate limit exhausted; it resets at" in message
    assert [r.status for r in server.requests if r.path == listing] == [403, 200, 403]  # no retry that cannot help


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (r"/actions/artifacts$", "GitHub refused listing artifacts of acme/widgets (HTTP 403: "),
        (r"/actions/runs/\d+$", "GitHub refused reading a workflow run of acme/widgets (HTTP 403: "),
        (r"/actions/artifacts/41/zip$", "GitHub refused downloading an artifact of acme/widgets (HTTP 403: "),
    ],
    ids=["listing", "run", "download"],
)
def test_artifact_api_errors_name_githubs_request_id(serve, tmp_path, path, expected):
    """Issue 9: an artifact failure carries GitHub's X-GitHub-Request-Id (what GitHub Support asks
    for), like every other GitHub failure."""
    repo = repository()
    repo.artifacts = [Artifact.from_file(41, NAME, make_db(tmp_path / "a.duckdb", 1), NOW)]
    server = serve(repo)
    server.add_fault(path, Fault(403, body={"message": "Resource not accessible by integration"}))
    with pytest.raises(StorageError) as caught:
        open_location(f"artifact:{NAME}", artifact_env(server, tmp_path)).update(lambda w: None)
    message = one_line(caught.value)
    (refused,) = [r for r in server.requests if r.status == 403]
    assert expected in message and message.endswith(f" [X-GitHub-Request-Id {refused.request_id}]")
    assert TOKEN not in message


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            Fault(403, body={"message": "Resource not accessible by integration"}),
            "GitHub refused reading a workflow run of acme/widgets (HTTP 403: Resource not accessible by integration)",
        ),
        (Fault(200, body={"id": 1, "status": "completed"}), "GitHub's workflow run answer is not what it documents"),
    ],
    ids=["403", "no-event-or-repository"],
)
def test_artifact_run_lookup_errors_are_one_line_and_start_nothing(serve, tmp_path, fault, expected):
    """A run that cannot be judged is not a reason to start a fresh database: the job fails."""
    repo = repository()
    repo.artifacts = [Artifact.from_file(41, NAME, make_db(tmp_path / "a.duckdb", 1), NOW)]
    server = serve(repo)
    server.add_fault(r"/actions/runs/\d+$", fault)
    called = []
    with pytest.raises(StorageError) as caught:
        open_location(f"artifact:{NAME}", artifact_env(server, tmp_path)).update(called.append)
    message = one_line(caught.value)
    assert expected in message and TOKEN not in message
    assert called == [] and not (tmp_path / "runner" / "mergelens" / f"{NAME}.duckdb").exists()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [({"token": None}, "GITHUB_TOKEN"), ({"repository": None}, "GITHUB_REPOSITORY")],
)
def test_artifact_needs_token_and_repository(tmp_path, overrides, expected):
    with pytest.raises(StorageError, match=expected):
        open_location(f"artifact:{NAME}", artifact_env(None, tmp_path, **overrides))


@pytest.mark.parametrize(
    "files",
    [{"a.duckdb": b"x", "b.duckdb": b"y"}, {"notes.txt": b"hello"}, {}],
    ids=["two-files", "not-duckdb", "empty"],
)
def test_artifact_zip_must_hold_one_duckdb_file(serve, tmp_path, files):
    repo = repository()
    repo.artifacts = [Artifact(9, NAME, NOW, zip_archive(files))]
    server = serve(repo)
    with pytest.raises(StorageError, match=r"must hold exactly one \*\.duckdb file") as caught:
        open_location(f"artifact:{NAME}", artifact_env(server, tmp_path)).update(lambda w: write_prs(w, 1))
    one_line(caught.value)
    assert not (tmp_path / "runner" / "mergelens" / f"{NAME}.duckdb").exists()
    assert leftovers(tmp_path / "runner" / "mergelens") == []


def test_runner_temp_is_read_from_the_environment():
    assert Environment.from_environ({"RUNNER_TEMP": "/home/runner/work/_temp"}).runner_temp == "/home/runner/work/_temp"
    assert Environment.from_environ({}).runner_temp is None


# --- kill -9 in the middle of update() --------------------------------------------------------


def _crash_child(mode: str, target: str, s3: dict[str, str], numbers: list[int], ready: Any, workdir: str) -> None:
    """Runs in a forked child: one update() that writes ``numbers``, slowly; the parent kills it."""
    if mode == "s3":
        client = boto3.client(
            "s3",
            endpoint_url=s3["AWS_ENDPOINT_URL"],
            aws_access_key_id=s3["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=s3["AWS_SECRET_ACCESS_KEY"],
            region_name=s3["AWS_DEFAULT_REGION"],
        )
        location: Any = S3Location(target, "mergelens.duckdb", workdir=Path(workdir), client=client)
    else:
        location = LocalLocation(Path(target))

    def apply(work: Path) -> None:
        for number in numbers:
            write_prs(work, number, title="round")
            time.sleep(0.02)

    ready.set()
    location.update(apply)


@pytest.fixture(scope="module")
def forkserver() -> Any:
    """Children forked from a server that has already imported duckdb, boto3 and this module:
    a round costs milliseconds instead of a second of interpreter start-up."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["duckdb", "boto3", "fetcher.storage", "tests.test_storage"])
    return context


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["local", "s3"])
def test_kill_9_during_update_leaves_the_old_or_the_new_database(request, forkserver, tmp_path, mode):
    # 8 kills a mode (was 15): each lands at a random point of an update, and the rng's seed is fixed
    rounds, rng = 8, random.Random(20261120)
    if mode == "s3":
        bucket: Bucket = request.getfixturevalue("bucket")
        target = bucket.name
        settings = s3_settings(bucket.endpoint)
        bucket.put_db(make_db(tmp_path / "seed.duckdb", 1))

        def stored() -> Path:
            return bucket.download(tmp_path / f"check-{uuid.uuid4().hex[:6]}.duckdb")
    else:
        path = make_db(tmp_path / "mergelens.duckdb", 1)
        target, settings = str(path), {}

        def stored() -> Path:
            copy = tmp_path / f"check-{uuid.uuid4().hex[:6]}.duckdb"
            shutil.copyfile(path, copy)  # verify_database checkpoints: never on the live file
            return copy

    state = pr_rows(stored())

    def run_round(numbers: list[int], kill_after: float | None) -> float:
        ready = forkserver.Event()
        child = forkserver.Process(target=_crash_child, args=(mode, target, settings, numbers, ready, str(tmp_path)))
        child.start()
        assert ready.wait(30)
        began = time.monotonic()
        if kill_after is not None:
            time.sleep(kill_after)
            child.kill()  # SIGKILL: no cleanup, no finally
        child.join(30)
        assert child.exitcode in ((-signal.SIGKILL, 0) if kill_after is not None else (0,))
        return time.monotonic() - began

    # One uncut round measures how long an update takes here; kills then land anywhere in it
    # (download, apply, checkpoint and verification, upload or rename) or just after it.
    duration = run_round([900, 901, 902, 903], kill_after=None)  # as many PRs as the other rounds
    state |= {(n, f"round {n}") for n in (900, 901, 902, 903)}
    assert pr_rows(stored()) == state
    outcomes = {"old": 0, "new": 0}
    started = time.monotonic()
    for round_ in range(rounds):
        numbers = [1000 + round_ * 10 + i for i in range(4)]
        new_state = state | {(n, f"round {n}") for n in numbers}
        run_round(numbers, kill_after=rng.uniform(0.0, duration * 1.2))
        copy = stored()
        counts = verify_database(copy)
        rows = pr_rows(copy)
        assert rows in (state, new_state), f"round {round_}: neither the old nor the new state"
        assert counts["pull_requests"] == len(rows)
        outcomes["old" if rows == state else "new"] += 1
        state = rows
    elapsed = time.monotonic() - started
    assert outcomes["old"] >= 1, outcomes  # some kills did land mid-update
    # and the store is healthy afterwards: a normal update goes through (stale copies cleaned)
    if mode == "s3":
        final = S3Location(target, "mergelens.duckdb", workdir=tmp_path).update(lambda w: write_prs(w, 9999))
    else:
        final = LocalLocation(Path(target)).update(lambda w: write_prs(w, 9999))
        assert leftovers(Path(target).parent) == []
    assert pr_rows(final.local_path) == state | {(9999, "PR 9999")}
    print(f"{mode}: update takes {duration:.2f} s; {rounds} kills in {elapsed:.1f} s, outcomes {outcomes}")
