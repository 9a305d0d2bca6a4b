"""Destination first (fetcher/pipeline/update.py): every command fetches and checks where it writes
before its first request for a PR, so a destination that fails costs no request and says so in
one line. Real parts: DuckDB files, moto's S3 server, the fake GitHub's artifacts; the lake's
cases that need the DuckLake interpreter are in tests/test_storage_lake_location.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.dashboard_support import build_demo_db
from tests.support.factories import repository
from tests.support.fake_github import Artifact, FakeGitHub, Fault
from tests.test_commands_sync import complete_pr
from tests.test_storage import NAME, NOW, REPO, bucket, moto_endpoint, pr_rows, write_prs  # noqa: F401 - fixtures

# Each command that asks GitHub for PRs, as a run starts it.
COMMANDS = {
    "sync": ["sync", "--repo", REPO, "--pr", "12"],
    "reconcile": ["reconcile", "--repo", REPO, "--lookback", "30"],
    "backfill": ["backfill", "--repo", REPO],
    "open-prs": ["open-prs", "--repo", REPO],
}


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A DB mergelens wrote, cut off halfway: its catalog opens, its rows do not all read back."""
    whole = build_demo_db(tmp_path_factory.mktemp("demo") / "demo.duckdb", n_prs=30).read_bytes()
    return whole[: len(whole) // 2]


def pr_requests(server: FakeGitHub) -> list[str]:
    """What the run asked GitHub for, finding the artifact aside (its listing, its run, the
    repository, the branch and comparison for the trust rule, the archive)."""
    artifact = (f"/repos/{REPO}/actions/", "/_blobs/", f"/repos/{REPO}/branches/", f"/repos/{REPO}/compare/")
    return [r.path for r in server.requests if not r.path.startswith(artifact) and r.path != f"/repos/{REPO}"]


def refused(run: Any, *expected: str) -> str:
    """The run failed with one line, exit 1, naming ``expected``; that line."""
    assert run.exit_code == 1, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("mergelens: error: ") and "Traceback" not in run.stderr
    for text in expected:
        assert text in line, line
    return line


@pytest.mark.parametrize("command", COMMANDS)
def test_a_damaged_local_db_costs_no_request(serve, cli, tmp_path, damaged, command):
    server = serve(repository(complete_pr()))
    path = tmp_path / "mergelens.duckdb"
    path.write_bytes(damaged)
    run = cli(server, *COMMANDS[command], "--db", str(path))
    refused(run, str(path), "damaged or truncated")
    assert server.requests == []
    assert path.read_bytes() == damaged


@pytest.mark.parametrize("command", COMMANDS)
def test_a_damaged_s3_object_costs_no_request(serve, cli, bucket, damaged, command):  # noqa: F811 - fixture
    server = serve(repository(complete_pr()))
    bucket.client.put_object(Bucket=bucket.name, Key="mergelens.duckdb", Body=damaged)
    etag = bucket.etag()
    run = cli(server, *COMMANDS[command], "--db", bucket.spec())
    refused(run, bucket.spec(), "damaged or truncated")
    assert server.requests == []
    assert bucket.etag() == etag


def test_a_sync_into_s3_that_loses_a_race_applies_the_fetched_pr_again_without_a_request(
    serve,
    cli,
    bucket,  # noqa: F811 - fixture
    monkeypatch,
    tmp_path,
):
    """The S3 conflict: another writer stores the object between our download and our upload.
    The PR fetched once (8 requests) is applied to the new version; no request is repeated."""
    from fetcher.storage import s3

    server = serve(repository(complete_pr()))
    assert cli(server, *COMMANDS["sync"], "--db", bucket.spec()).exit_code == 0
    server.clear_log()
    upload = s3.S3Location._upload
    raced: list[str] = []

    def racing(self: s3.S3Location, work: Path, etag: str | None) -> None:
        if not raced:  # another writer stores PR 501 first, once
            theirs = bucket.download(tmp_path / "theirs.duckdb")
            write_prs(theirs, 501)
            raced.append(bucket.put_db(theirs))
        upload(self, work, etag)

    monkeypatch.setattr(s3.S3Location, "_upload", racing)
    run = cli(server, *COMMANDS["sync"], "--db", bucket.spec(), "--json")
    assert run.exit_code == 0, run.stderr
    assert run.result["storage"]["attempts"] == 2
    assert len(server.requests) == 8  # the fetch, once
    assert {number for number, _ in pr_rows(bucket.download(tmp_path / "final.duckdb"))} == {12, 501}


def into_artifact(cli: Any, server: FakeGitHub, tmp_path: Path, *argv: str) -> Any:
    return cli(server, *argv, "--db", f"artifact:{NAME}", repository=REPO, runner_temp=str(tmp_path / "runner"))


@pytest.mark.parametrize("command", COMMANDS)
def test_a_damaged_artifact_costs_no_pr_request(serve, cli, tmp_path, damaged, command):
    repo = repository(complete_pr())
    (tmp_path / "damaged.duckdb").write_bytes(damaged)
    repo.artifacts = [Artifact.from_file(41, NAME, tmp_path / "damaged.duckdb", NOW)]
    server = serve(repo)
    run = into_artifact(cli, server, tmp_path, *COMMANDS[command])
    refused(run, f"artifact {NAME} (id 41", "damaged or truncated")
    assert server.requests and pr_requests(server) == []  # found, downloaded, refused
    assert not (tmp_path / "runner" / "mergelens" / f"{NAME}.duckdb").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_an_artifact_whose_run_cannot_be_judged_costs_no_pr_request(serve, cli, tmp_path, command):
    repo = repository(complete_pr())
    (tmp_path / "a.duckdb").write_bytes(b"")
    repo.artifacts = [Artifact.from_file(41, NAME, tmp_path / "a.duckdb", NOW)]
    server = serve(repo)
    server.add_fault(r"/actions/runs/\d+$", Fault(403, body={"message": "Resource not accessible by integration"}))
    run = into_artifact(cli, server, tmp_path, *COMMANDS[command])
    refused(run, "GitHub refused reading a workflow run")
    assert pr_requests(server) == []


@pytest.mark.parametrize("command", COMMANDS)
def test_a_lake_on_the_main_interpreter_costs_no_request(serve, cli, tmp_path, command):
    """The main venv's DuckDB has no DuckLake extension: one line saying where to run it."""
    server = serve(repository(complete_pr()))
    run = cli(server, *COMMANDS[command], "--db", f"ducklake:sqlite:{tmp_path}/meta.sqlite")
    refused(run, "DuckLake environment")
    assert server.requests == []
    assert list(tmp_path.iterdir()) == []
