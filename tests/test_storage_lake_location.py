"""The DuckLake location (fetcher/storage/lake/location.py) with real parts: a PostgreSQL catalog (Debian's
server, a throwaway cluster on 127.0.0.1), Parquet data in moto's S3 on loopback, and writer
processes on the DuckLake interpreter (.venv-lake: `make lake`) running the real CLI against the
fake GitHub. The main venv's DuckDB (2.0) has no DuckLake extension: the lake runs in those
processes, and this file checks what they stored against a plain DuckDB file synced here."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import boto3
import pytest

from fetcher.config import Environment, S3Settings
from fetcher.db import safe_open, schema
from fetcher.storage import StorageError, is_local, open_location
from fetcher.storage.lake.catalog import CatalogAddress, lake_ddl, redacted
from fetcher.storage.lake.location import LakeLocation
from tests.conftest import TOKEN
from tests.support.fake_github.generator import generate_repository
from tests.support.lake_writer import dump_rows
from tests.support.services import ROOT, create_database, start_worker, worker_output
from tests.test_requirements import pins, top_level
from tests.test_storage import moto_endpoint, s3_settings  # noqa: F401 - moto_endpoint: a fixture

WRITERS = 6


# --- what runs without the lake ---------------------------------------------------------------


def test_the_spec_names_the_catalog_and_never_shows_its_password():
    spec = "ducklake:postgres:dbname=lake host=db.internal user=ml password='s3 cret' sslmode=require"
    catalog = CatalogAddress.parse(spec)
    assert (catalog.kind, catalog.target) == ("postgres", spec.removeprefix("ducklake:postgres:"))
    assert catalog.description == "ducklake:postgres:dbname=lake host=db.internal user=ml password=*** sslmode=require"
    assert redacted("postgresql://ml:hunter2@db/lake") == "postgresql://ml:***@db/lake"
    assert CatalogAddress.parse("ducklake:sqlite:/data/meta.sqlite").kind == "sqlite"
    assert CatalogAddress.parse("ducklake:/data/meta.ducklake") == CatalogAddress(
        "/data/meta.ducklake", "duckdb", "/data/meta.ducklake"
    )
    assert not is_local(spec)
    for bad in ("ducklake:", "ducklake:postgres:", "ducklake:sqlite: "):
        with pytest.raises(StorageError, match="expected ducklake:postgres:DSN"):
            CatalogAddress.parse(bad)


def test_the_lake_schema_is_the_migrations_without_their_keys():
    for step in schema.MIGRATIONS.values():
        for table, ddl in step.items():
            lake = lake_ddl(ddl)
            assert "PRIMARY KEY" not in lake.upper()
            # a table is created as itself; a later version's ALTER TABLE statements pass unchanged
            assert f"CREATE TABLE {table}" in lake if "CREATE TABLE" in ddl else lake == ddl
    # the columns stay as they are: only the keys go
    assert "run_id VARCHAR," in lake_ddl(schema.MIGRATIONS[1]["sync_runs"])


def test_lake_settings_come_from_the_environment_and_secrets_stay_out_of_reprs():
    env = Environment.from_environ(
        {
            "MERGELENS_LAKE_DATA_PATH": "s3://org-lake/mergelens/",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "very-secret-key",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    assert env.lake_data_path == "s3://org-lake/mergelens/"
    assert env.s3 == S3Settings("http://127.0.0.1:9000", "eu-west-1", "AKIAEXAMPLE", "very-secret-key", None)
    assert "very-secret-key" not in repr(env) and "AKIAEXAMPLE" not in repr(env)
    location = open_location("ducklake:postgres:dbname=lake", env)
    assert isinstance(location, LakeLocation) and location.data_path == "s3://org-lake/mergelens/"


def test_the_file_line_refuses_a_lake_in_one_line_without_the_password(cli, tmp_path):
    """duckdb 2.0 (the main venv) has no DuckLake extension: one line saying where to run it."""
    run = cli(None, "metrics", "--recompute", "--db", "ducklake:postgres:dbname=lake host=127.0.0.1 password=hunter2")
    assert run.exit_code == 1
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("mergelens: error: ducklake:postgres:dbname=lake host=127.0.0.1 password=***: ")
    assert "DuckLake environment" in line and "hunter2" not in run.stderr + run.stdout


def test_the_lake_set_is_pinned_with_hashes_at_the_runtime_set_s_versions():
    """requirements-lake.txt: DuckDB 1.5 and its extension wheels of the same version; every
    package it shares with the runtime set at the runtime set's version, DuckDB aside."""
    lake, runtime = pins(ROOT / "requirements-lake.txt"), pins(ROOT / "requirements.txt")
    assert top_level(ROOT / "requirements-lake.in") <= set(lake)
    assert top_level(ROOT / "requirements.in") - {"duckdb"} <= set(lake)
    assert {name: version for name, version in lake.items() if name.startswith("duckdb")} == {
        name: "1.5.5"
        for name in (
            "duckdb",
            "duckdb-extension-ducklake",
            "duckdb-extension-httpfs",
            "duckdb-extension-postgres-scanner",
            "duckdb-extension-sqlite-scanner",
        )
    }
    differ = {name: (lake[name], runtime[name]) for name in set(lake) & set(runtime) if lake[name] != runtime[name]}
    assert differ == {"duckdb": ("1.5.5", "2.0.1")}


# --- services -----------------------------------------------------------------------------------


@pytest.fixture
def lake_env(moto_endpoint, tmp_path) -> dict[str, str]:  # noqa: F811 - the fixture imported above
    """The environment of a lake writer: S3 (moto) for the data, nothing of this machine's AWS setup."""
    settings = s3_settings(moto_endpoint)
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", **_client_settings(settings)).create_bucket(Bucket=bucket)
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    return (
        keep
        | settings
        | {
            "MERGELENS_LAKE_DATA_PATH": f"s3://{bucket}/mergelens/",
            "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONPATH": str(ROOT),
        }
    )


def _client_settings(settings: dict[str, str]) -> dict[str, str]:
    return {
        "endpoint_url": settings["AWS_ENDPOINT_URL"],
        "aws_access_key_id": settings["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": settings["AWS_SECRET_ACCESS_KEY"],
        "region_name": settings["AWS_DEFAULT_REGION"],
    }


# --- many writers -------------------------------------------------------------------------------


@pytest.mark.slow
def test_six_writers_lose_nothing_and_store_nothing_twice(
    serve, cli, lake_python, postgres, lake_env, tmp_path, db_path
):
    """Six processes write one lake (PostgreSQL catalog, S3 data) at once: every writer syncs the
    same two new PRs released by a barrier at the same instant (the race DuckLake itself lets
    through), then all re-sync one PR, and each reconciles the repository (every PR written by
    several writers at once); one recomputes the metrics meanwhile. The lake must then hold
    exactly what one writer syncing each PR into a DuckDB file holds: no row lost, none twice,
    every pr_metrics row the one its PR's rows give."""
    repo = generate_repository(seed=13, n_prs=8)
    server = serve(repo)
    merged = sorted(pr.number for pr in repo.pulls.values() if pr.merged_at)
    race, hot = merged[:2], merged[2]
    spec = "ducklake:postgres:" + create_database(postgres)
    env = lake_env | {"GITHUB_API_URL": server.api_url, "GITHUB_TOKEN": "ghs_fakeTokenThatMustNeverBePrinted0123456789"}
    full = repo.full_name
    argv = [
        ["sync", "--repo", full, "--pr", str(hot)],
        ["reconcile", "--repo", full, "--lookback", "3650"],
    ]
    writers = [
        start_worker(
            lake_python,
            "tests.support.lake_writer",
            env,
            tmp_path,
            {
                "mode": "write",
                "writer": writer,
                "writers": WRITERS,
                "db": spec,
                "repo": full,
                "race": race,
                "argv": argv + ([["metrics", "--recompute"]] if writer == 0 else []),
                "barrier": str(tmp_path / "barrier"),
            },
        )
        for writer in range(WRITERS)
    ]
    outcomes = [process.communicate(timeout=300) for process in writers]
    failed = [
        (process.returncode, err[-3000:])
        for process, (_, err) in zip(writers, outcomes, strict=True)
        if process.returncode
    ]
    assert not failed, failed
    results = [run for out, _ in outcomes for run in json.loads(out)]
    assert [run["exit"] for run in results] == [0] * len(results), [r["stderr"] for r in results if r["exit"]]
    assert {run["result"]["status"] for run in results if run["argv"][0] != "metrics"} == {"complete"}
    lake = worker_output(
        start_worker(lake_python, "tests.support.lake_writer", env, tmp_path, {"mode": "dump", "db": spec})
    )

    # The reference: each merged PR synced once into a plain DuckDB file, here on DuckDB 2.0.
    for number in merged:
        assert cli(server, "sync", "--repo", full, "--pr", str(number), "--db", str(db_path)).exit_code == 0
    with safe_open.open_migrated(db_path, read_only=True) as con:
        reference = dump_rows(con)
    assert len(reference["pull_requests"]) == len(merged)
    for table, rows in reference.items():
        assert lake[table] == rows, table


# --- the destination first, the catalog before anything of it runs ------------------------------
# A lake on one machine (SQLite catalog, data in a directory): no service needed.

SECRET_TEXT = "-----BEGIN PRIVATE KEY----- not-for-the-lake"
COMMANDS = [
    ["sync", "--repo", "acme/widgets", "--pr", "12"],
    ["reconcile", "--repo", "acme/widgets", "--lookback", "30"],
    ["backfill", "--repo", "acme/widgets"],
    ["open-prs", "--repo", "acme/widgets"],
    ["metrics", "--recompute"],
]


def local_lake_env(tmp_path, server) -> dict[str, str]:
    """A lake writer's environment: the fake GitHub, the lake's data in tmp_path/data."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    return keep | {
        "PYTHONPATH": str(ROOT),
        "GITHUB_API_URL": server.api_url,
        "GITHUB_TOKEN": TOKEN,
        "MERGELENS_LAKE_DATA_PATH": f"{tmp_path}/data/",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }


def run_commands(lake_python, env, tmp_path, spec: str, commands: list[list[str]]) -> list[dict]:
    """Each command line run in turn by one lake writer (tests/support/lake_writer.py)."""
    config = {"mode": "write", "writer": 0, "writers": 1, "db": spec, "repo": "acme/widgets", "race": []}
    config |= {"argv": commands, "barrier": str(tmp_path / "barrier")}
    return worker_output(start_worker(lake_python, "tests.support.lake_writer", env, tmp_path, config))


def lake_ops(lake_python, env, tmp_path, config: dict) -> dict:
    return worker_output(start_worker(lake_python, "tests.support.lake_ops_worker", env, tmp_path, config))


def refused_each(results: list[dict], *expected: str) -> None:
    """Every command failed with one line, exit 1, naming ``expected``, and no traceback."""
    for run in results:
        assert run["exit"] == 1, run
        lines = run["stderr"].strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mergelens: error: "), run["stderr"]
        for text in expected:
            assert text in lines[0], lines[0]


@pytest.fixture
def small_lake(serve, lake_python, tmp_path):
    """A lake holding PR 12 (written by a lake writer), the fake GitHub serving it, its request
    log cleared: (spec, env, server)."""
    from tests.support.factories import repository
    from tests.test_commands_sync import complete_pr

    server = serve(repository(complete_pr()))
    spec = f"ducklake:sqlite:{tmp_path}/meta.sqlite"
    env = local_lake_env(tmp_path, server)
    (seeded,) = run_commands(lake_python, env, tmp_path, spec, [COMMANDS[0]])
    assert seeded["exit"] == 0, seeded["stderr"]
    server.clear_log()
    return spec, env, server


def test_an_unreachable_lake_catalog_costs_no_request(serve, lake_python, tmp_path):
    from tests.support.factories import repository
    from tests.support.services import free_port
    from tests.test_commands_sync import complete_pr

    server = serve(repository(complete_pr()))
    spec = f"ducklake:postgres:host=127.0.0.1 port={free_port()} dbname=lake user=ml password=hunter2"
    results = run_commands(lake_python, local_lake_env(tmp_path, server), tmp_path, spec, COMMANDS)
    refused_each(results, "password=***", "cannot connect")
    assert server.requests == []
    assert "hunter2" not in json.dumps([(run["stderr"], run["result"]) for run in results])  # argv holds it


def test_a_lake_whose_schema_table_lost_a_row_is_one_line_and_costs_no_request(small_lake, lake_python, tmp_path):
    """mergelens_schema says version 5, the tables are version 6's: the migration would run v6's
    DDL again (a CatalogException traceback, after the fetch). The catalog and the version it
    records must agree before anything runs."""
    spec, env, server = small_lake
    lake_ops(
        lake_python,
        env,
        tmp_path,
        {"mode": "plant", "db": spec, "sql": [f"DELETE FROM mergelens_schema WHERE version = {schema.SCHEMA_VERSION}"]},
    )
    results = run_commands(lake_python, env, tmp_path, spec, COMMANDS)
    refused_each(results, "the DuckLake is not mergelens's", f"records version {schema.SCHEMA_VERSION - 1}")
    assert server.requests == []


def plant_leaky_view(lake_python, env, tmp_path, spec: str) -> Path:
    """The finding: pr_review_requests made a view whose reviewer_login is a file's text (a
    private key the runner can read), by anyone who can write the catalog. The file's path."""
    secret = tmp_path / "id_ed25519"
    secret.write_text(SECRET_TEXT)
    lake_ops(
        lake_python,
        env,
        tmp_path,
        {
            "mode": "plant",
            "db": spec,
            "sql": [
                "CREATE TABLE kept AS SELECT * FROM pr_review_requests",
                "DROP TABLE pr_review_requests",
                "CREATE VIEW pr_review_requests AS SELECT kept.* REPLACE (key.content AS reviewer_login) "
                f"FROM kept, read_text('{secret}') AS key",
            ],
        },
    )
    return secret


def test_a_view_planted_in_the_lake_never_runs_in_a_writer(small_lake, lake_python, tmp_path):
    spec, env, server = small_lake
    plant_leaky_view(lake_python, env, tmp_path, spec)
    results = run_commands(lake_python, env, tmp_path, spec, COMMANDS)
    refused_each(results, "the DuckLake is not mergelens's: it holds a view pr_review_requests")
    assert server.requests == []
    assert SECRET_TEXT not in json.dumps([(run["stderr"], run["result"]) for run in results])


def test_a_lake_connection_reads_no_file_outside_the_data_path(small_lake, lake_python, tmp_path):
    spec, env, _ = small_lake
    secret = tmp_path / "id_ed25519"
    secret.write_text(SECRET_TEXT)
    looked = lake_ops(lake_python, env, tmp_path, {"mode": "confined", "db": spec, "read": str(secret)})
    assert looked == {"error": "PermissionException", "rows": [[1]]}  # the lake itself reads on


def test_inside_resolves_dots_before_comparing():
    from fetcher.storage.lake.location import inside

    assert inside("/lake/data/main/t/a.parquet", "/lake/data/")
    assert not inside("/lake/data/../secret", "/lake/data/")
    assert not inside("/lake/data2/a.parquet", "/lake/data/")
    assert not inside("/etc/passwd", "/lake/data/")
    assert inside("s3://b/lake/main/t/a.parquet", "s3://b/lake/")
    assert not inside("s3://b/lake/../other/a.parquet", "s3://b/lake/")
    assert not inside("/b/lake/a.parquet", "s3://b/lake/")


def test_a_column_default_planted_in_the_lake_is_refused(small_lake, lake_python, tmp_path):
    """A default would fill a column our INSERT leaves out: the lake's columns are compared with
    their defaults too (ours have none)."""
    spec, env, server = small_lake
    lake_ops(
        lake_python,
        env,
        tmp_path,
        {"mode": "plant", "db": spec, "sql": ["ALTER TABLE pr_files ALTER COLUMN status SET DEFAULT 'planted'"]},
    )
    results = run_commands(lake_python, env, tmp_path, spec, COMMANDS[:1])
    refused_each(results, "its column pr_files.status is not defined as mergelens defines it")
    assert server.requests == []
