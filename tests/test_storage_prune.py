"""``python -m fetcher prune-artifacts`` (fetcher/storage/prune.py): one live copy of an
artifact:NAME database, not one per merge. Against the fake GitHub: its artifact list, the runs
behind the artifacts, and DELETE /actions/artifacts/{id} (204, 404, 403 without `actions: write`);
a month of merges replayed through the real sync, upload and prune."""

from __future__ import annotations

import functools
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fetcher.collect.rest import ClientSettings
from fetcher.db import safe_open, schema
from fetcher.storage import artifact as artifact_store
from tests.conftest import TOKEN
from tests.support.factories import pull, repository
from tests.support.fake_github import Fault
from tests.support.fake_github.model import Repository

NAME = "mergelens-db"
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
# The run GitHub records for a merge run of a fork's PR (pull_request_target: our base branch ran).
MERGE_RUN = {"event": "pull_request_target", "head_branch": "feature", "head_repository_id": 777}
# A fork's PR CI (`pull_request`) uploading a forged DB under our name: never trusted.
FORK_CI = {"event": "pull_request", "head_branch": "main", "head_repository_id": 777}


def make_db(path: Path, *numbers: int) -> Path:
    with safe_open.open_migrated(path) as con:
        for number in numbers:
            con.execute(
                "INSERT INTO pull_requests (repo, number, fetched_at, sync_status) "
                "VALUES ('acme/widgets', ?, now(), 'complete')",
                [number],
            )
    return path


def settings(server: Any, repo: Repository, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """The environment of a job of this repository: its id and default branch known (no GET /repos)."""
    return {
        "repository": repo.full_name,
        "repository_id": repo.id,
        "artifact_branches": ("main",),
        "runner_temp": str(tmp_path / "runner"),
        **overrides,
    }


def prune(cli: Any, server: Any, repo: Repository, tmp_path: Path, *argv: str, **env: Any) -> Any:
    return cli(
        server,
        "prune-artifacts",
        "--db",
        f"artifact:{NAME}",
        "--request-interval",
        "0",
        *argv,
        **settings(server, repo, tmp_path, **env),
    )


def merge_run_copies(repo: Repository, db: Path, count: int) -> list[Any]:
    """``count`` copies of ``db`` uploaded by merge runs an hour apart, oldest first."""
    return [repo.upload_artifact(NAME, db, START + timedelta(hours=i), **MERGE_RUN) for i in range(count)]


def names_and_ids(repo: Repository) -> list[tuple[str, int]]:
    return sorted((artifact.name, artifact.id) for artifact in repo.artifacts)


# --- the edge cases ---------------------------------------------------------------------------


def test_keeps_the_newest_trusted_and_deletes_only_older_trusted_ones(serve, cli, tmp_path):
    repo = repository()
    db = make_db(tmp_path / "a.duckdb", 1)
    trusted = merge_run_copies(repo, db, 6)
    forged = repo.upload_artifact(NAME, db, START + timedelta(hours=10), **FORK_CI)  # the newest of all
    old_forged = repo.upload_artifact(NAME, db, START - timedelta(days=1), **FORK_CI)
    other = repo.upload_artifact("other-db", db, START - timedelta(days=2), **MERGE_RUN)
    expired = repo.upload_artifact(NAME, db, START - timedelta(days=3), **MERGE_RUN)
    expired.expired = True
    server = serve(repo)

    done = prune(cli, server, repo, tmp_path, "--json")

    assert done.exit_code == 0, done.stderr
    kept = {a.id for a in trusted[3:]}
    assert {a.id for a in repo.artifacts} == kept | {forged.id, old_forged.id, other.id, expired.id}
    result = json.loads(done.stdout)
    assert result["status"] == "complete"
    assert [c["id"] for c in result["kept"]] == [a.id for a in reversed(trusted[3:])]  # newest first
    assert [c["id"] for c in result["deleted"]] == [a.id for a in reversed(trusted[:3])]
    assert [c["id"] for c in result["untrusted"]] == [forged.id, old_forged.id]
    assert "runs the code of a pull request" in result["untrusted"][0]["reason"]
    assert result["expired"] == 1 and result["held"] == 5
    assert result["held_bytes"] == sum(len(a.content) for a in repo.artifacts if a.name == NAME and not a.expired)
    # The cost the docs state: the list page, one run per unexpired artifact examined, the branch once
    # and a comparison per trusted run's commit that is not its tip, one DELETE per deleted.
    calls = [(r.method, r.path.rsplit("/", 2)[-2]) for r in server.requests]
    assert calls.count(("GET", "actions")) == 1  # .../actions/artifacts
    assert calls.count(("GET", "runs")) == 8  # 6 trusted + 2 untrusted; not the expired one
    assert calls.count(("GET", "branches")) == 1
    assert calls.count(("GET", "compare")) == 5  # the newest merge run ran the tip; the 5 older ones are behind it
    assert calls.count(("DELETE", "artifacts")) == 3
    assert len(server.requests) == result["api_requests"] == 18
    # one line per outcome, then the summary
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 3 + 3 + 2 + 1 + 1
    assert lines[-1].startswith(f"prune-artifacts {NAME}: complete: kept 3 of the newest 3 trusted, deleted 3")
    assert sum(line.startswith("skipped untrusted artifact") for line in lines) == 2


def test_the_only_copy_is_never_deleted(serve, cli, tmp_path):
    repo = repository()
    only = repo.upload_artifact(NAME, make_db(tmp_path / "a.duckdb", 1), START, **MERGE_RUN)
    newer_forged = repo.upload_artifact(NAME, tmp_path / "a.duckdb", START + timedelta(hours=1), **FORK_CI)
    server = serve(repo)
    done = prune(cli, server, repo, tmp_path, "--keep", "1")
    assert done.exit_code == 0, done.stderr
    assert {a.id for a in repo.artifacts} == {only.id, newer_forged.id}
    assert [r.method for r in server.requests].count("DELETE") == 0


def test_nothing_to_prune_without_artifacts(serve, cli, tmp_path):
    repo = repository()
    server = serve(repo)
    done = prune(cli, server, repo, tmp_path, "--json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["held"] == 0
    assert done.stderr.strip().splitlines() == [
        f"prune-artifacts {NAME}: complete: kept 0 of the newest 3 trusted, deleted 0 (0.0 MB), skipped 0 untrusted, "
        "0 expired; 0 copies held (0.0 MB); 1 API requests"
    ]


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (("--keep", "0"), {}, "argument --keep: '0' is not a whole number from 1 to 1000"),
        (("--keep", "-2"), {}, "argument --keep: '-2' is not a whole number from 1 to 1000"),
        (("--keep", "three"), {}, "argument --keep: 'three' is not a whole number from 1 to 1000"),
        (("--max-deletes", "0"), {}, "argument --max-deletes: '0' is not a whole number from 1 to 1000"),
        (("--keep", "1001"), {}, "argument --keep: '1001' is not a whole number from 1 to 1000"),
        ((), {"artifact_keep": "0"}, "MERGELENS_ARTIFACT_KEEP: '0' is not a whole number from 1 to 1000"),
        ((), {"artifact_keep": "2.5"}, "MERGELENS_ARTIFACT_KEEP: '2.5' is not a whole number from 1 to 1000"),
    ],
)
def test_bad_keep_is_a_usage_error(serve, cli, tmp_path, argv, env, expected):
    repo = repository()
    repo.upload_artifact(NAME, make_db(tmp_path / "a.duckdb", 1), START, **MERGE_RUN)
    server = serve(repo)
    done = prune(cli, server, repo, tmp_path, *argv, **env)
    assert done.exit_code == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"mergelens: error: {expected}")
    assert server.requests == [] and len(repo.artifacts) == 1


def test_keep_from_the_environment(serve, cli, tmp_path):
    repo = repository()
    db = make_db(tmp_path / "a.duckdb", 1)
    uploaded = merge_run_copies(repo, db, 4)
    server = serve(repo)
    assert prune(cli, server, repo, tmp_path, artifact_keep="2").exit_code == 0
    assert {a.id for a in repo.artifacts} == {uploaded[2].id, uploaded[3].id}
    assert prune(cli, server, repo, tmp_path, "--keep", "1", artifact_keep="2").exit_code == 0  # the option wins
    assert [a.id for a in repo.artifacts] == [uploaded[3].id]


@pytest.mark.parametrize("db", ["mergelens.duckdb", "s3://bucket/key.duckdb"])
def test_only_an_artifact_database_is_pruned(cli, tmp_path, db):
    done = cli(None, "prune-artifacts", "--db", db)
    assert done.exit_code == 2
    assert done.stderr.strip() == f"mergelens: error: --db {db}: prune-artifacts works on an artifact:NAME database"


def test_without_actions_write_nothing_is_deleted_and_it_says_why(serve, cli, tmp_path):
    repo = repository()
    db = make_db(tmp_path / "a.duckdb", 1)
    merge_run_copies(repo, db, 5)
    server = serve(repo)
    server.actions_write = False  # a job that kept `actions: read`
    before = names_and_ids(repo)
    summary = tmp_path / "summary.md"
    done = prune(cli, server, repo, tmp_path, "--json", step_summary=str(summary), in_actions=True)
    assert done.exit_code == 1
    assert names_and_ids(repo) == before
    assert [r.method for r in server.requests].count("DELETE") == 1  # stopped at the first refusal
    [error] = [line for line in done.stderr.splitlines() if "error" in line]
    assert error.startswith(f"mergelens: error: could not delete artifact {NAME} (id ")
    assert "HTTP 403: Resource not accessible by integration" in error
    assert "needs the `actions: write` permission" in error and "X-GitHub-Request-Id" in error
    [result] = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert result["status"] == "failed" and len(result["left"]) == 1 and result["held"] == 5
    assert "::error title=mergelens%3A prune-artifacts::" in done.stdout
    assert "delete failed" in summary.read_text()
    assert TOKEN not in done.stdout + done.stderr + summary.read_text()


def test_a_delete_refused_midway_is_partial_and_the_next_run_finishes(serve, cli, tmp_path):
    repo = repository()
    db = make_db(tmp_path / "a.duckdb", 1)
    uploaded = merge_run_copies(repo, db, 6)
    server = serve(repo)
    server.add_fault(rf"/actions/artifacts/{uploaded[1].id}$", Fault(status=403))
    done = prune(cli, server, repo, tmp_path, "--json")
    assert done.exit_code == 3, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "partial"
    assert [c["id"] for c in result["deleted"]] == [uploaded[2].id]
    assert result["failed"]["id"] == uploaded[1].id and [c["id"] for c in result["left"]] == [uploaded[0].id]
    assert any(line.startswith("warning: could not delete artifact") for line in done.stderr.splitlines())
    assert prune(cli, server, repo, tmp_path).exit_code == 0
    assert {a.id for a in repo.artifacts} == {a.id for a in uploaded[3:]}


def test_an_artifact_deleted_meanwhile_is_no_failure(serve, cli, tmp_path):
    repo = repository()
    db = make_db(tmp_path / "a.duckdb", 1)
    uploaded = merge_run_copies(repo, db, 4)
    server = serve(repo)
    server.add_fault(rf"/actions/artifacts/{uploaded[0].id}$", Fault(status=404))  # another prune got there first
    done = prune(cli, server, repo, tmp_path, "--json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["already_deleted"][0]["id"] == uploaded[0].id
    assert f"artifact {NAME} (id {uploaded[0].id}" in done.stderr and "was already deleted" in done.stderr


def test_max_deletes_leaves_the_rest_for_the_next_run(serve, cli, tmp_path):
    repo = repository()
    db = make_db(tmp_path / "a.duckdb", 1)
    merge_run_copies(repo, db, 8)
    server = serve(repo)
    done = prune(cli, server, repo, tmp_path, "--max-deletes", "2", "--json")
    assert done.exit_code == 3
    result = json.loads(done.stdout)
    assert result["capped"] and len(result["deleted"]) == 2 and len(result["left"]) == 3
    assert "left 3 older trusted artifacts mergelens-db for the next run (stopped at --max-deletes 2)" in done.stderr
    assert len(repo.artifacts) == 6
    assert prune(cli, server, repo, tmp_path).exit_code == 0
    assert len(repo.artifacts) == 3


def test_a_listing_github_refuses_deletes_nothing(serve, cli, tmp_path):
    repo = repository()
    repo.upload_artifact(NAME, make_db(tmp_path / "a.duckdb", 1), START, **MERGE_RUN)
    server = serve(repo)
    server.add_fault(r"/actions/artifacts$", Fault(status=401, body={"message": "Bad credentials"}))
    done = prune(cli, server, repo, tmp_path)
    assert done.exit_code == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("mergelens: error: GitHub rejected the token (HTTP 401: Bad credentials)")
    assert len(repo.artifacts) == 1


def test_the_step_summary_names_each_copy_as_inert_text(serve, cli, tmp_path):
    repo = repository()
    db = make_db(tmp_path / "a.duckdb", 1)
    merge_run_copies(repo, db, 4)
    repo.upload_artifact(NAME, db, START + timedelta(hours=5), **{**FORK_CI, "head_branch": "<img src=x>"})
    server = serve(repo)
    summary = tmp_path / "summary.md"
    assert prune(cli, server, repo, tmp_path, step_summary=str(summary)).exit_code == 0
    text = summary.read_text()
    assert text.startswith("## mergelens: database copies\n\n✅ **complete**: 4 copies of `mergelens\\-db` held")
    assert text.count("| kept |") == 3 and text.count("| deleted |") == 1
    assert "<img" not in text and "&lt;img src=x&gt;" in text


# --- the schema: artifact_copies (version 7) ----------------------------------------------------


def test_migration_to_7_adds_the_artifact_copies_and_keeps_every_row(tmp_path):
    path = tmp_path / "v6.duckdb"
    con = duckdb.connect(str(path))
    schema.ensure_schema(con, 6)
    con.execute(
        "INSERT INTO pull_requests (repo, number, fetched_at, sync_status) VALUES ('a/b', 1, now(), 'complete')"
    )
    con.close()
    with safe_open.open_migrated(path) as con:
        assert schema.recorded_version(con) == 7
        assert con.execute("SELECT count(*) FROM pull_requests").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM artifact_copies").fetchone() == (0,)


def test_a_run_records_the_copies_it_listed(serve, cli, tmp_path):
    """What the dashboard shows: the copies held when the run listed them, before its own upload."""
    repo = repository(pull(7))
    db = make_db(tmp_path / "a.duckdb", 1)
    older = repo.upload_artifact(NAME, db, START, **MERGE_RUN)
    used = repo.upload_artifact(NAME, db, START + timedelta(hours=1), **MERGE_RUN)
    forged = repo.upload_artifact(NAME, db, START + timedelta(hours=2), **FORK_CI)
    gone = repo.upload_artifact(NAME, db, START - timedelta(days=9), **MERGE_RUN)
    gone.expired = True
    repo.upload_artifact("other-db", db, START, **MERGE_RUN)
    server = serve(repo)
    env = settings(server, repo, tmp_path)
    summary = tmp_path / "summary.md"
    sync = cli(
        server, "sync", "--repo", repo.full_name, "--pr", "7", "--db", f"artifact:{NAME}", "--json",
        step_summary=str(summary), **env,
    )  # fmt: skip
    assert sync.exit_code == 0, sync.stderr
    assert sync.result["storage"]["artifact_copies"] == [3, 3 * len(used.content)]  # not the expired one
    assert f"GitHub held 3 copies of this artifact ({3 * len(used.content) / 1e6:.1f} MB zipped)" in summary.read_text()
    stored = tmp_path / "runner" / "mergelens" / f"{NAME}.duckdb"
    with duckdb.connect(str(stored), read_only=True) as con:
        rows = con.execute(
            "SELECT artifact_id, status, size_bytes FROM artifact_copies ORDER BY artifact_id"
        ).fetchall()
    size = len(used.content)
    assert rows == [(older.id, "older", size), (used.id, "used", size), (forged.id, "untrusted", size)]


# --- a month of merges, replayed --------------------------------------------------------------

DAYS = 30
KEEP = 3


def merges_on(day: int) -> int:
    """One merge on even days, two on odd ones: 45 in the month (each a real sync, ~0.5 s of CPU)."""
    return 1 + day % 2


def newest_trusted_db(repo: Repository, dest: Path) -> Path:
    """The DB the next run would build on: the newest unexpired copy a merge run uploaded."""
    ours = [a for a in repo.artifacts if a.name == NAME and a.event == "pull_request_target" and not a.expired]
    newest = max(ours, key=lambda a: (a.created_at, a.id))
    with zipfile.ZipFile(io.BytesIO(newest.content)) as archive:
        (member,) = archive.namelist()
        dest.write_bytes(archive.read(member))
    return dest


def test_a_month_of_merges_holds_keep_copies_and_loses_no_pr(serve, cli, tmp_path, monkeypatch):
    """Each merge (one or two a day) runs the real sync into artifact:NAME, uploads the file as
    upload-artifact would (7-day retention), then prunes. Weekly a fork's CI plants a forged copy and another workflow
    uploads an artifact of another name: neither is ever deleted. The newest trusted copy always
    holds every PR merged so far, and the copies held stay at --keep."""
    # The artifact store's own requests unpaced, like every other request in these tests (--request-interval 0).
    monkeypatch.setattr(artifact_store, "ClientSettings", functools.partial(ClientSettings, request_interval=0))
    repo = repository()
    server = serve(repo)
    planted: set[int] = set()
    merged: list[int] = []
    run_ids = iter(range(9000, 99999))
    make_db(tmp_path / "forged.duckdb", 666)  # what a fork's CI uploads under our name
    for day in range(DAYS):
        today = START + timedelta(days=day)
        for artifact in repo.artifacts:  # GitHub expires them after their retention
            artifact.expired = artifact.expired or artifact.created_at + timedelta(days=artifact.retention_days) < today
        if day % 7 == 3:
            planted.add(repo.upload_artifact(NAME, tmp_path / "forged.duckdb", today, **FORK_CI).id)
            planted.add(repo.upload_artifact("coverage", tmp_path / "forged.duckdb", today, **MERGE_RUN).id)
        for merge in range(merges_on(day)):
            number = len(merged) + 1
            when = today + timedelta(hours=merge + 1)
            repo.add_pull(pull(number, merged=f"{when:%Y-%m-%d %H:%M}"))
            run_id = next(run_ids)
            env = settings(server, repo, tmp_path / f"run-{run_id}", run_id=str(run_id))
            sync = cli(server, "sync", "--repo", repo.full_name, "--pr", str(number), "--db", f"artifact:{NAME}", **env)
            assert sync.exit_code == 0, sync.stderr
            merged.append(number)
            path = Path(tmp_path / f"run-{run_id}" / "runner" / "mergelens" / f"{NAME}.duckdb")
            repo.upload_artifact(NAME, path, when, workflow_run_id=run_id, retention_days=7, **MERGE_RUN)
            done = prune(cli, server, repo, tmp_path / f"run-{run_id}", "--keep", str(KEEP), "--json")
            assert done.exit_code == 0, done.stderr
            ours = [a for a in repo.artifacts if a.name == NAME and a.event == "pull_request_target"]
            assert len(ours) == min(KEEP, len(merged))  # never the only copy, never more than --keep
            assert planted <= {a.id for a in repo.artifacts}  # untrusted and other names: never deleted
            with duckdb.connect(str(newest_trusted_db(repo, tmp_path / "newest.duckdb")), read_only=True) as con:
                stored = [n for (n,) in con.execute("SELECT number FROM pull_requests ORDER BY number").fetchall()]
            assert stored == merged, f"day {day}, merge {merge}: the newest copy lost PRs"
    assert len(merged) == sum(merges_on(day) for day in range(DAYS)) == 45
    forged = [a for a in repo.artifacts if a.id in planted and a.name == NAME]
    assert forged and all(a.id in planted for a in repo.artifacts if a.event == "pull_request")
