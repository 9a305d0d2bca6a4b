"""The dashboard on a remote DB (dashboard/remote.py and fetch_copy in fetcher/storage/): S3 on
moto's real server, artifacts on the fake GitHub, a clock of the test's own for the refresh."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import streamlit as st
from botocore.config import Config
from streamlit.testing.v1 import AppTest

from dashboard.db import Problem
from dashboard.remote import RemoteDatabase, open_remote_database
from fetcher.collect.rest import ClientSettings
from fetcher.config import Environment
from fetcher.storage import ArtifactLocation, S3Location, StorageError, open_remote
from tests import test_storage
from tests.conftest import TOKEN, environment
from tests.support.dashboard_support import loopback
from tests.support.factories import repository
from tests.support.fake_github import Artifact, Fault
from tests.test_dashboard_app import APP, metrics
from tests.test_storage import FORK_PR_RUN, NAME, NOW, REPO, Bucket, artifact_env, free_port, make_db, pr_rows

# test_storage's fixtures: moto_server on loopback (one per module using it), a fresh bucket per test
moto_endpoint = test_storage.moto_endpoint
bucket = test_storage.bucket


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class S3Requests:
    """Every request the S3 client sends: (operation, If-None-Match header)."""

    def __init__(self, client: Any) -> None:
        self.sent: list[tuple[str, str | None]] = []
        client.meta.events.register("before-send.s3", self._record)

    def _record(self, request: Any, **_: Any) -> None:
        condition = request.headers.get("If-None-Match")
        self.sent.append((request.method, condition.decode() if isinstance(condition, bytes) else condition))


def s3_database(bucket: Bucket, cache: Path, clock: Clock, refresh_s: float = 300) -> tuple[RemoteDatabase, S3Requests]:
    client = boto3.client("s3")
    location = S3Location(bucket.name, "mergelens.duckdb", client=client)
    return RemoteDatabase(bucket.spec(), location, cache, refresh_s, clock), S3Requests(client)


def numbers(path: Path) -> set[int]:
    return {number for number, _ in pr_rows(path)}


# --- S3: the caching layer -------------------------------------------------------------------


def test_s3_copy_is_checked_at_most_every_interval_and_downloaded_only_when_changed(bucket, tmp_path):
    first_etag = bucket.put_db(make_db(tmp_path / "v1.duckdb", 1, 2))
    clock = Clock()
    remote, sent = s3_database(bucket, tmp_path / "cache", clock)

    shown = remote.snapshot()
    assert numbers(shown.path) == {1, 2} and shown.version.tag == first_etag
    assert shown.version.stored_at is not None and shown.warning is None
    assert sent.sent == [("GET", None)]
    inode = shown.path.stat().st_ino

    clock.now += 299  # within the interval: no request at all
    assert remote.snapshot() == shown and len(sent.sent) == 1

    clock.now += 1  # due: a conditional GET, 304, nothing downloaded
    again = remote.snapshot()
    assert sent.sent[1:] == [("GET", first_etag)]
    assert again.version == shown.version and again.path.stat().st_ino == inode
    assert again.checked_at is not None and shown.checked_at is not None and again.checked_at > shown.checked_at

    second_etag = bucket.put_db(make_db(tmp_path / "v2.duckdb", 1, 2, 3))
    clock.now += 300
    changed = remote.snapshot()
    assert sent.sent[2:] == [("GET", first_etag)]  # answered 200 with the new object
    assert changed.version.tag == second_etag and numbers(changed.path) == {1, 2, 3}
    assert sorted(p.name for p in remote.dir.iterdir()) == [".lock", "mergelens.duckdb", "version.json"]


def test_s3_a_restarted_dashboard_reuses_its_copy_without_downloading(bucket, tmp_path):
    bucket.put_db(make_db(tmp_path / "v1.duckdb", 1))
    first, _ = s3_database(bucket, tmp_path / "cache", Clock())
    inode = first.snapshot().path.stat().st_ino

    restarted, sent = s3_database(bucket, tmp_path / "cache", Clock())
    shown = restarted.snapshot()
    assert sent.sent == [("GET", bucket.etag())]  # "changed since?": 304
    assert shown.path.stat().st_ino == inode and numbers(shown.path) == {1}


def test_s3_failed_refresh_keeps_the_last_good_copy_with_a_warning(bucket, tmp_path):
    bucket.put_db(make_db(tmp_path / "v1.duckdb", 1, 2))
    clock = Clock()
    remote, _ = s3_database(bucket, tmp_path / "cache", clock, refresh_s=0)
    good = remote.snapshot()

    # the server is down
    dead = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{free_port()}", config=Config(retries={"max_attempts": 1})
    )
    remote.location = S3Location(bucket.name, "mergelens.duckdb", client=dead)
    clock.now += 1
    shown = remote.snapshot()
    assert shown.path == good.path and shown.version == good.version and shown.checked_at == good.checked_at
    assert shown.warning is not None and "S3 download failed: EndpointConnectionError" in shown.warning
    assert "\n" not in shown.warning and numbers(shown.path) == {1, 2}

    # back up, with a file that is not a mergelens database: refused, never shown
    remote.location = S3Location(bucket.name, "mergelens.duckdb", client=boto3.client("s3"))
    bucket.client.put_object(Bucket=bucket.name, Key="mergelens.duckdb", Body=b"not a database")
    clock.now += 1
    shown = remote.snapshot()
    assert shown.version == good.version and numbers(shown.path) == {1, 2}
    assert shown.warning is not None and "does not open as a DuckDB database" in shown.warning
    assert sorted(p.name for p in remote.dir.iterdir()) == [".lock", "mergelens.duckdb", "version.json"]

    bucket.put_db(make_db(tmp_path / "v2.duckdb", 1, 2, 3))  # fixed: the warning goes
    clock.now += 1
    shown = remote.snapshot()
    assert shown.warning is None and numbers(shown.path) == {1, 2, 3}


def test_s3_first_load_failing_is_a_problem(bucket, tmp_path):
    remote, _ = s3_database(bucket, tmp_path / "cache", Clock())
    with pytest.raises(Problem) as caught:
        remote.snapshot()  # no object yet
    assert caught.value.kind == "unreachable" and "no such object" in caught.value.detail

    bucket.client.put_object(Bucket=bucket.name, Key="mergelens.duckdb", Body=b"not a database")
    with pytest.raises(Problem) as caught:
        remote.snapshot()  # a failed first load is retried on the next page load, not after the interval
    assert "does not open as a DuckDB database" in caught.value.detail
    assert not (remote.dir / "mergelens.duckdb").exists()


def test_s3_fetch_copy_never_writes(bucket, tmp_path):
    bucket.put_db(make_db(tmp_path / "v1.duckdb", 1))
    client = boto3.client("s3")
    sent = S3Requests(client)
    location = S3Location(bucket.name, "mergelens.duckdb", client=client)
    fetched = location.fetch_copy(tmp_path / "copy.duckdb", None)
    assert fetched.changed and numbers(tmp_path / "copy.duckdb") == {1}
    assert not location.fetch_copy(tmp_path / "other.duckdb", fetched.version).changed
    assert not (tmp_path / "other.duckdb").exists()
    assert [method for method, _ in sent.sent] == ["GET", "GET"]


# --- artifacts: the caching layer --------------------------------------------------------------


def artifact_database(server: Any, tmp_path: Path, clock: Clock, refresh_s: float = 300) -> RemoteDatabase:
    env = artifact_env(server, tmp_path)
    settings = ClientSettings(server.api_url, TOKEN, request_interval=0, retries=1, backoff_factor=0.01)
    location = ArtifactLocation(NAME, env, tmp_path / "unused", settings=settings)
    return RemoteDatabase(f"artifact:{NAME}", location, tmp_path / "cache", refresh_s, clock)


def downloads(server: Any) -> list[str]:
    return [r.path for r in server.requests if r.path.endswith("/zip") or "/_blobs/" in r.path]


def test_artifact_newest_trusted_is_shown_and_a_new_one_after_the_interval(serve, tmp_path):
    repo = repository()
    repo.artifacts = [
        Artifact.from_file(41, NAME, make_db(tmp_path / "v1.duckdb", 1), NOW - timedelta(days=1)),
        Artifact.from_file(42, NAME, make_db(tmp_path / "forged.duckdb", 666), NOW, **FORK_PR_RUN),
    ]
    server = serve(repo)
    clock = Clock()
    remote = artifact_database(server, tmp_path, clock)

    shown = remote.snapshot()
    assert numbers(shown.path) == {1}  # the fork's newer artifact is never used
    assert shown.version.tag == "41" and shown.version.stored_at == NOW - timedelta(days=1)
    assert downloads(server) == [f"/repos/{REPO}/actions/artifacts/41/zip", f"/_blobs/{REPO}/41.zip"]

    server.requests.clear()
    clock.now += 100
    assert remote.snapshot() == shown and server.requests == []  # within the interval: no request

    clock.now += 200  # due, unchanged: the listing and trust checks, no download
    assert remote.snapshot().version == shown.version
    assert server.requests and downloads(server) == []

    repo.artifacts.append(Artifact.from_file(43, NAME, make_db(tmp_path / "v2.duckdb", 1, 2), NOW + timedelta(hours=1)))
    clock.now += 300
    changed = remote.snapshot()
    assert changed.version.tag == "43" and numbers(changed.path) == {1, 2}
    assert downloads(server) == [f"/repos/{REPO}/actions/artifacts/43/zip", f"/_blobs/{REPO}/43.zip"]


def test_artifact_only_untrusted_ones_is_a_problem(serve, tmp_path):
    repo = repository()
    repo.artifacts = [Artifact.from_file(42, NAME, make_db(tmp_path / "forged.duckdb", 666), NOW, **FORK_PR_RUN)]
    server = serve(repo)
    with pytest.raises(Problem) as caught:
        artifact_database(server, tmp_path, Clock()).snapshot()
    assert f"no trusted artifact named {NAME} in {REPO}, only untrusted ones" in caught.value.detail
    assert downloads(server) == []


def test_artifact_failed_refresh_keeps_the_last_good_copy(serve, tmp_path):
    repo = repository()
    repo.artifacts = [Artifact.from_file(41, NAME, make_db(tmp_path / "v1.duckdb", 1), NOW)]
    server = serve(repo)
    clock = Clock()
    remote = artifact_database(server, tmp_path, clock, refresh_s=0)
    good = remote.snapshot()

    server.add_fault(r"/actions/artifacts$", *[Fault.server_error(500)] * 5)
    clock.now += 1
    shown = remote.snapshot()
    assert shown.version == good.version and numbers(shown.path) == {1}
    assert shown.warning is not None and "HTTP 500" in shown.warning and TOKEN not in shown.warning

    server.clear_faults()
    server.stop()  # down
    clock.now += 1
    shown = remote.snapshot()
    assert shown.version == good.version and shown.warning is not None and "could not reach GitHub" in shown.warning


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("", 300), ("0", 0), ("60", 60), ("-1", 300), ("x", 300), ("nan", 300)])
def test_refresh_seconds(text, seconds):
    assert Environment.from_environ({"MERGELENS_REFRESH_SECONDS": text}).refresh_seconds == seconds


def test_artifact_without_a_token_is_a_problem(tmp_path):
    with pytest.raises(Problem) as caught:
        open_remote_database(f"artifact:{NAME}", {"GITHUB_REPOSITORY": REPO, "MERGELENS_CACHE_DIR": str(tmp_path)})
    assert "GITHUB_TOKEN (or GH_TOKEN) is not set" in caught.value.detail and "actions: read" in caught.value.detail


def test_a_local_path_is_not_remote() -> None:
    with pytest.raises(StorageError):
        open_remote("mergelens.duckdb", environment(None))


# --- the page (AppTest) -----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    st.cache_data.clear()
    st.cache_resource.clear()
    with loopback():  # served to this machine only: no login needed (tests/test_dashboard_auth.py)
        yield
    st.cache_data.clear()
    st.cache_resource.clear()


def page(monkeypatch: pytest.MonkeyPatch, spec: str, cache: Path, **env: str) -> AppTest:
    monkeypatch.setenv("MERGELENS_DB", spec)
    monkeypatch.setenv("MERGELENS_CACHE_DIR", str(cache))
    monkeypatch.setenv("MERGELENS_REFRESH_SECONDS", "0")  # every run checks: no sleeping
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["page"] = "health"
    return at.run()


def freshness(at: AppTest) -> list[str]:
    return [c.value for c in at.sidebar.caption if c.value.startswith("Data stored")]


def refresh_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "refreshing it failed" in w.value]


def test_page_on_s3_shows_new_data_after_a_change_and_keeps_it_when_the_object_goes(bucket, tmp_path, monkeypatch):
    bucket.put_db(make_db(tmp_path / "v1.duckdb", 1, 2))
    at = page(monkeypatch, bucket.spec(), tmp_path / "cache")
    assert not at.exception and not at.error, [e.value for e in at.exception]
    assert metrics(at)["PRs stored"] == "2"
    assert len(freshness(at)) == 1 and " UTC · checked " in freshness(at)[0]

    bucket.put_db(make_db(tmp_path / "v2.duckdb", 1, 2, 3))
    at.run()
    assert metrics(at)["PRs stored"] == "3" and not refresh_warnings(at)

    bucket.client.delete_object(Bucket=bucket.name, Key="mergelens.duckdb")
    at.run()
    assert not at.exception
    assert metrics(at)["PRs stored"] == "3"  # the last good copy
    (warning,) = refresh_warnings(at)
    assert "no such object" in warning


def test_page_on_s3_unreachable_first_is_a_problem(bucket, tmp_path, monkeypatch):
    at = page(monkeypatch, bucket.spec(), tmp_path / "cache")
    assert not at.exception
    assert any("Cannot fetch the database" in w.value and "no such object" in w.value for w in at.warning)


def test_page_on_an_artifact_uses_only_trusted_ones(serve, tmp_path, monkeypatch):
    repo = repository()
    repo.artifacts = [
        Artifact.from_file(41, NAME, make_db(tmp_path / "v1.duckdb", 1), NOW - timedelta(days=1)),
        Artifact.from_file(42, NAME, make_db(tmp_path / "forged.duckdb", 6, 66, 666), NOW, **FORK_PR_RUN),
    ]
    server = serve(repo)
    github = {"GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": server.api_url}
    at = page(monkeypatch, f"artifact:{NAME}", tmp_path / "cache", **github)
    assert not at.exception and not at.error
    assert metrics(at)["PRs stored"] == "1"
    assert freshness(at) and freshness(at)[0].startswith(f"Data stored {NOW - timedelta(days=1):%Y-%m-%d %H:%M} UTC")

    repo.artifacts.append(Artifact.from_file(43, NAME, make_db(tmp_path / "v2.duckdb", 1, 2), NOW))
    at.run()
    assert metrics(at)["PRs stored"] == "2"
    page_text = repr([getattr(node, "value", None) for node in at._tree.children.values()])
    assert TOKEN not in page_text and "Traceback" not in page_text


def test_page_on_a_local_path_reads_it_in_place(tmp_path, monkeypatch):
    path = make_db(tmp_path / "local.duckdb", 1)
    at = page(monkeypatch, str(path), tmp_path / "cache")
    assert metrics(at)["PRs stored"] == "1" and freshness(at) == []
    assert not (tmp_path / "cache").exists()
    os.replace(make_db(tmp_path / "new.duckdb", 1, 2), path)
    at.run()
    assert metrics(at)["PRs stored"] == "2"


@pytest.mark.parametrize("mode", [0o777, 0o770])
def test_page_refuses_a_cache_dir_others_may_write(bucket, tmp_path, monkeypatch, mode):
    """MERGELENS_CACHE_DIR gets the default cache directory's check: whoever may write to it could
    swap the copy the dashboard shows."""
    bucket.put_db(make_db(tmp_path / "v1.duckdb", 1, 2))
    cache = tmp_path / "shared-cache"
    cache.mkdir()
    cache.chmod(mode)
    at = page(monkeypatch, bucket.spec(), cache)
    assert not at.exception and "PRs stored" not in metrics(at)
    [error] = [e.value for e in at.error]
    assert error.startswith("**Cannot cache the database.**") and "others may write to it" in error
    assert "\n" not in error
    assert list(cache.iterdir()) == []  # nothing downloaded into it
    cache.chmod(0o700)
    assert metrics(at.run())["PRs stored"] == "2"
