"""Upgrades keep the data: a DB written by each schema version's own code (tests/fixtures/schema,
made by scripts/schema_fixtures.py from git history) is migrated by today's code with every row
kept and its metrics recomputed; a DB from a newer mergelens is refused in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from fetcher.compute import metrics
from fetcher.db import safe_open, schema

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "schema"
VERSIONS = range(1, schema.SCHEMA_VERSION + 1)
# Version 4 never was the newest version of the main line: it went from 3 to 5 (issue 14 kept 4
# for issue 12), and issue 12's two branches each wrote half of today's version 4 (reviewers:
# pr_review_requests; stages: the working clock). The fixture is the stages half (its last commit):
# a writer completes it (fetcher.db.safe_open.complete_half_written), then migrates it like the others.
HALF_WRITTEN = 4
MIGRATED = list(VERSIONS)
SYNCED_PRS = [("acme/rocket", number) for number in (100, 101, 103, 104)]  # scripts/schema_fixtures.py


def fixture_copy(version: int, into: Path) -> Path:
    path = into / f"v{version}.duckdb"
    shutil.copyfile(FIXTURES / f"v{version}.duckdb", path)
    return path


def primary_keys(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    row = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    ).fetchone()
    return list(row[0]) if row else []


def contents(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, list[tuple[object, ...]]]]:
    """Each mergelens table: its row count and its rows' primary keys (every column if it has none)."""
    found = {}
    tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY table_name").fetchall()
    for (table,) in tables:
        if table == "mergelens_schema":  # the migration adds its own rows
            continue
        key = ", ".join(primary_keys(con, table)) or "*"
        rows = con.execute(f"SELECT {key} FROM {table} ORDER BY ALL").fetchall()
        found[table] = (len(rows), rows)
    return found


def metric_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    columns = [
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'pr_metrics' "
            "AND column_name <> 'computed_at' ORDER BY ordinal_position"
        ).fetchall()
    ]
    return con.execute(f"SELECT {', '.join(columns)} FROM pr_metrics ORDER BY repo, number").fetchall()


@pytest.mark.parametrize("version", VERSIONS)
def test_each_fixture_holds_its_version_and_prs(version):
    """The fixture is what its version wrote: that version recorded, the synced PRs in it."""
    with duckdb.connect(str(FIXTURES / f"v{version}.duckdb"), read_only=True) as con:
        assert con.execute("SELECT max(version) FROM mergelens_schema").fetchone() == (version,)
        assert con.execute("SELECT repo, number FROM pull_requests ORDER BY number").fetchall() == SYNCED_PRS
        assert con.execute("SELECT count(*) FROM pr_events").fetchone()[0] > 0


@pytest.mark.parametrize("version", MIGRATED)
def test_an_older_db_is_migrated_with_every_row_kept(version, tmp_path):
    path = fixture_copy(version, tmp_path)
    with duckdb.connect(str(path), read_only=True) as con:
        before = contents(con)
        computed_before = con.execute("SELECT number, computed_at FROM pr_metrics ORDER BY number").fetchall()
    con = safe_open.open_migrated(path)
    try:
        assert schema.recorded_version(con) == schema.SCHEMA_VERSION
        after = contents(con)
        assert set(after) == set(schema.TABLES) - {"mergelens_schema"}
        for table, (count, keys) in before.items():
            assert after[table][0] >= count, table
            if table not in ("pr_metrics", "pr_review_requests"):  # derived: recomputed below
                assert after[table] == (count, keys), table
        migrated_metrics = metric_rows(con)
        merged = con.execute(
            "SELECT number, epoch(merged_at) - epoch(created_at) FROM pull_requests WHERE merged_at IS NOT NULL"
        ).fetchall()
        cycle_times = dict(con.execute("SELECT number, cycle_time_hours FROM pr_metrics").fetchall())
        computed_after = dict(con.execute("SELECT number, computed_at FROM pr_metrics").fetchall())
    finally:
        con.close()

    # Independently: a second copy, migrated, its metrics recomputed from scratch.
    again = tmp_path / "again"
    again.mkdir()
    con = safe_open.open_migrated(fixture_copy(version, again))
    try:
        con.execute("DELETE FROM pr_metrics")
        assert metrics.recompute(con) == len(SYNCED_PRS)
        assert metric_rows(con) == migrated_metrics
    finally:
        con.close()
    assert [(repo, number) for repo, number, *_ in migrated_metrics] == SYNCED_PRS
    assert len(merged) == len(SYNCED_PRS)
    for number, seconds in merged:
        assert cycle_times[number] == pytest.approx(seconds / 3600)
    for number, computed_at in computed_before:
        if version < schema.METRICS_CHANGED:  # stored under older definitions: recomputed on migration
            assert computed_after[number] > computed_at
        else:  # already today's definitions (the recompute above agrees): left as they were
            assert computed_after[number] == computed_at


def refused_in_one_line(cli, path: Path, reason: str) -> None:
    """``metrics --recompute`` on the file: exit 1, one line saying ``reason``, the file untouched."""
    with duckdb.connect(str(path), read_only=True) as con:
        before = contents(con), con.execute("SELECT * FROM mergelens_schema ORDER BY ALL").fetchall()
    run = cli(None, "metrics", "--recompute", "--db", str(path))
    assert run.exit_code == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("mergelens: error:")
    assert reason in lines[0]
    with duckdb.connect(str(path), read_only=True) as con:
        assert (contents(con), con.execute("SELECT * FROM mergelens_schema ORDER BY ALL").fetchall()) == before


def test_a_db_from_a_newer_version_is_refused_in_one_line(cli, tmp_path):
    path = fixture_copy(schema.SCHEMA_VERSION, tmp_path)
    with duckdb.connect(str(path)) as con:  # as a newer mergelens's migration would record it
        con.execute("INSERT INTO mergelens_schema VALUES (?, now())", [schema.SCHEMA_VERSION + 1])
    newer, ours = schema.SCHEMA_VERSION + 1, schema.SCHEMA_VERSION
    refused_in_one_line(cli, path, f"schema version {newer} is newer than this mergelens ({ours}): upgrade")


def test_the_half_written_version_4_lacks_the_reviewers_half_only():
    """What the stages branch's file lacks, by hand: the reviewers half of version 4."""
    with duckdb.connect(str(FIXTURES / f"v{HALF_WRITTEN}.duckdb"), read_only=True) as con:
        found = safe_open.read_catalog(con)
    lacking = sorted(
        entry.name
        for entry in safe_open.half_written(found, HALF_WRITTEN)
        if entry.kind != "column" or not entry.name.startswith("pr_review_requests.")
    )
    assert lacking == ["pr_events.requested_reviewer_type", "pr_events.requested_team_slug", "pr_review_requests"]


def test_a_reader_takes_a_half_written_version_4_as_it_is(tmp_path):
    """The dashboard (read-only) sees version 4 (its "older mergelens" notice) and changes nothing."""
    path = fixture_copy(HALF_WRITTEN, tmp_path)
    before = path.read_bytes()
    con, version = safe_open.open_database(path, read_only=True)
    con.close()
    assert version == HALF_WRITTEN
    assert path.read_bytes() == before


def test_a_half_written_version_4_holding_anything_else_is_refused_in_one_line(cli, tmp_path):
    """Completing is for a file of our tables only: one more table, and it is a foreign file."""
    path = fixture_copy(HALF_WRITTEN, tmp_path)
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE notes (body VARCHAR)")
    refused_in_one_line(cli, path, "it holds a table notes that mergelens did not create")
