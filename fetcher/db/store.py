"""The DuckDB file: schema (versioned, migrated forward on open) and the write of one PR.

One PR is written in one transaction: its row, its child rows replaced section by section
(only the sections that were fetched successfully; a failed section keeps what it held),
its metrics recomputed from the stored rows, and a ``sync_runs`` row. A crash before
COMMIT leaves the previous state: DuckDB discards an uncommitted transaction from its WAL.

Longer than our ~400-line mark on purpose: half of it is the versioned DDL (``MIGRATIONS``), which
must stay in one place with the safe open and the catalog check that are derived from it.
"""

from __future__ import annotations

import contextvars
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from fetcher.compute import metrics
from fetcher.extract import sections
from fetcher.extract.records import GHOST_LOGIN, PullRequestBundle, Row
from fetcher.extract.sections import Section

SCHEMA_VERSION = 7


def _add_columns(table: str, columns: str) -> str:
    """``ALTER TABLE … ADD COLUMN`` for each of ``columns`` (DuckDB adds one column a statement)."""
    return "; ".join(f"ALTER TABLE {table} ADD COLUMN {column.strip()}" for column in columns.split(", "))


# The last version whose migration changed metric definitions: an older file's metrics are
# recomputed once it is migrated (as `metrics --recompute` would).
METRICS_CHANGED = 6

# Each version's DDL by the table it creates or changes, applied in order to bring an older
# file forward. Never edit a released step: add a new version.
MIGRATIONS: dict[int, dict[str, str]] = {
    1: {
        "pull_requests": """CREATE TABLE pull_requests (
            repo VARCHAR NOT NULL, number INTEGER NOT NULL,
            title VARCHAR, body VARCHAR, author_login VARCHAR, author_type VARCHAR,
            state VARCHAR, draft BOOLEAN, base_ref VARCHAR, head_ref VARCHAR,
            head_sha VARCHAR, base_sha VARCHAR,
            created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, closed_at TIMESTAMPTZ,
            merged_at TIMESTAMPTZ, merged_by_login VARCHAR,
            additions INTEGER, deletions INTEGER, changed_files INTEGER, commits_count INTEGER,
            labels VARCHAR[], html_url VARCHAR,
            fetched_at TIMESTAMPTZ NOT NULL,
            sync_status VARCHAR NOT NULL,          -- complete | partial
            failed_sections VARCHAR[],             -- sections whose last fetch failed (rows kept)
            truncated_sections VARCHAR[],          -- sections cut by GitHub's caps (250 commits, 3000 files)
            PRIMARY KEY (repo, number))""",
        "pr_commits": """CREATE TABLE pr_commits (
            repo VARCHAR NOT NULL, pr_number INTEGER NOT NULL, sha VARCHAR NOT NULL,
            position INTEGER, author_login VARCHAR, author_type VARCHAR, author_name VARCHAR,
            author_email VARCHAR, committer_login VARCHAR,
            authored_at TIMESTAMPTZ, committed_at TIMESTAMPTZ, message VARCHAR,
            PRIMARY KEY (repo, pr_number, sha))""",
        "pr_files": """CREATE TABLE pr_files (
            repo VARCHAR NOT NULL, pr_number INTEGER NOT NULL, filename VARCHAR NOT NULL,
            status VARCHAR, additions INTEGER, deletions INTEGER, changes INTEGER,
            previous_filename VARCHAR,
            PRIMARY KEY (repo, pr_number, filename))""",
        "pr_check_runs": """CREATE TABLE pr_check_runs (
            repo VARCHAR NOT NULL, id BIGINT NOT NULL, pr_number INTEGER NOT NULL,
            head_sha VARCHAR, name VARCHAR, status VARCHAR, conclusion VARCHAR,
            started_at TIMESTAMPTZ, completed_at TIMESTAMPTZ, app_slug VARCHAR, html_url VARCHAR,
            PRIMARY KEY (repo, id))""",
        "pr_reviews": """CREATE TABLE pr_reviews (
            repo VARCHAR NOT NULL, id BIGINT NOT NULL, pr_number INTEGER NOT NULL,
            reviewer_login VARCHAR, reviewer_type VARCHAR, state VARCHAR, body VARCHAR,
            submitted_at TIMESTAMPTZ, commit_id VARCHAR, author_association VARCHAR,
            PRIMARY KEY (repo, id))""",
        "pr_comments": """CREATE TABLE pr_comments (
            repo VARCHAR NOT NULL, comment_type VARCHAR NOT NULL, id BIGINT NOT NULL,
            pr_number INTEGER NOT NULL,
            author_login VARCHAR, author_type VARCHAR, body VARCHAR,
            created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ,
            path VARCHAR, line INTEGER, in_reply_to_id BIGINT, review_id BIGINT, author_association VARCHAR,
            PRIMARY KEY (repo, comment_type, id))""",
        "pr_events": """CREATE TABLE pr_events (
            repo VARCHAR NOT NULL, pr_number INTEGER NOT NULL, seq INTEGER NOT NULL,
            event VARCHAR, actor_login VARCHAR, actor_type VARCHAR, created_at TIMESTAMPTZ,
            commit_id VARCHAR, requested_reviewer_login VARCHAR,
            PRIMARY KEY (repo, pr_number, seq))""",
        "pr_metrics": """CREATE TABLE pr_metrics (
            repo VARCHAR NOT NULL, number INTEGER NOT NULL,
            total_comments INTEGER, commits_after_first_review INTEGER, review_rounds INTEGER,
            avg_fix_response_hours DOUBLE, cycle_time_hours DOUBLE, time_to_first_review_hours DOUBLE,
            first_review_at TIMESTAMPTZ, ready_for_review_at TIMESTAMPTZ, pickup_hours DOUBLE,
            force_pushes INTEGER, computed_at TIMESTAMPTZ,
            PRIMARY KEY (repo, number))""",
        "sync_runs": """CREATE TABLE sync_runs (
            run_id VARCHAR PRIMARY KEY, repo VARCHAR, pr_number INTEGER, trigger VARCHAR,
            started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
            status VARCHAR,                        -- complete | partial | failed
            counts JSON, errors JSON, warnings JSON, api_requests INTEGER)""",
    },
    # backfill: where a bulk fetch of a repository's history stopped, and what it has left.
    2: {
        "backfill_checkpoints": """CREATE TABLE backfill_checkpoints (
            repo VARCHAR PRIMARY KEY,
            since TIMESTAMPTZ, until TIMESTAMPTZ,  -- merged_at window (NULL: open-ended)
            updated_since TIMESTAMPTZ,             -- --lookback: PRs updated since then
            list_cursor VARCHAR,                   -- the listing stopped here (NULL: listing done)
            status VARCHAR NOT NULL,               -- running | stopped | complete
            stop_reason VARCHAR,
            started_at TIMESTAMPTZ, updated_at TIMESTAMPTZ,
            prs_synced INTEGER, points_used INTEGER)""",
        "backfill_pending": """CREATE TABLE backfill_pending (
            repo VARCHAR NOT NULL, number INTEGER NOT NULL,
            updated_at TIMESTAMPTZ, head_sha VARCHAR,  -- as listed: staleness and the head's check runs
            PRIMARY KEY (repo, number))""",
    },
    # Issue 10. What users ask for next, all in the payloads already fetched (docs/data-contract.md,
    # v3); commit parents (merge commits); deleted accounts as NULL login + a flag (GitHub's timeline
    # sends its "ghost" user, other lists null: rows stored so far are converted); the first
    # response; the extra bot logins in effect.
    3: {
        "pull_requests": _add_columns(
            "pull_requests",
            "github_id BIGINT, node_id VARCHAR, merge_commit_sha VARCHAR, author_association VARCHAR, "
            "requested_reviewers VARCHAR[], requested_teams VARCHAR[], assignees VARCHAR[], milestone VARCHAR, "
            "head_repo_full_name VARCHAR, is_cross_repository BOOLEAN, "
            "auto_merge_enabled BOOLEAN, auto_merge_method VARCHAR, auto_merge_enabled_by_login VARCHAR",
        )
        + f"""; ALTER TABLE pull_requests ADD COLUMN author_deleted BOOLEAN;
            ALTER TABLE pull_requests ADD COLUMN merged_by_deleted BOOLEAN;
            UPDATE pull_requests SET author_deleted = author_login IS NULL OR author_login = '{GHOST_LOGIN}',
                merged_by_deleted = merged_by_login IS NOT DISTINCT FROM '{GHOST_LOGIN}';
            UPDATE pull_requests SET author_login = NULL, author_type = NULL WHERE author_login = '{GHOST_LOGIN}';
            UPDATE pull_requests SET merged_by_login = NULL WHERE merged_by_login = '{GHOST_LOGIN}'""",
        "pr_commits": _add_columns(
            "pr_commits",
            "committer_name VARCHAR, committer_email VARCHAR, verified BOOLEAN, verification_reason VARCHAR, "
            "parents VARCHAR[]",
        ),
        "pr_reviews": f"""ALTER TABLE pr_reviews ADD COLUMN reviewer_deleted BOOLEAN;
            UPDATE pr_reviews SET reviewer_deleted = reviewer_login IS NULL OR reviewer_login = '{GHOST_LOGIN}';
            UPDATE pr_reviews SET reviewer_login = NULL, reviewer_type = NULL
                WHERE reviewer_login = '{GHOST_LOGIN}'""",
        "pr_comments": _add_columns(
            "pr_comments",
            "original_line INTEGER, start_line INTEGER, side VARCHAR, commit_id VARCHAR, original_commit_id VARCHAR, "
            "subject_type VARCHAR, is_resolved BOOLEAN",
        )
        + f"""; ALTER TABLE pr_comments ADD COLUMN author_deleted BOOLEAN;
            UPDATE pr_comments SET author_deleted = author_login IS NULL OR author_login = '{GHOST_LOGIN}';
            UPDATE pr_comments SET author_login = NULL, author_type = NULL WHERE author_login = '{GHOST_LOGIN}'""",
        # "committed" (a git commit) and "commit-commented" items name no account: a NULL actor there
        # is no deleted account.
        "pr_events": _add_columns(
            "pr_events",
            "github_id BIGINT, label_name VARCHAR, rename_from VARCHAR, rename_to VARCHAR, review_state VARCHAR, "
            "assignee_login VARCHAR, source_number INTEGER, source_repo VARCHAR, state_reason VARCHAR",
        )
        + f"""; ALTER TABLE pr_events ADD COLUMN actor_deleted BOOLEAN;
            ALTER TABLE pr_events ADD COLUMN requested_reviewer_deleted BOOLEAN;
            UPDATE pr_events SET actor_deleted = actor_login IS NOT DISTINCT FROM '{GHOST_LOGIN}'
                    OR (actor_login IS NULL AND event NOT IN ('committed', 'commit-commented')),
                requested_reviewer_deleted = requested_reviewer_login IS NOT DISTINCT FROM '{GHOST_LOGIN}';
            UPDATE pr_events SET actor_login = NULL, actor_type = NULL WHERE actor_login = '{GHOST_LOGIN}';
            UPDATE pr_events SET requested_reviewer_login = NULL WHERE requested_reviewer_login = '{GHOST_LOGIN}'""",
        "pr_check_runs": _add_columns(
            "pr_check_runs", "check_suite_id BIGINT, details_url VARCHAR, output_title VARCHAR, output_summary VARCHAR"
        ),
        "pr_files": _add_columns("pr_files", "sha VARCHAR, patch VARCHAR"),
        "pr_metrics": """ALTER TABLE pr_metrics ADD COLUMN first_response_at TIMESTAMPTZ;
            ALTER TABLE pr_metrics ADD COLUMN time_to_first_response_hours DOUBLE""",
        # Logins counted as bots besides GitHub's own rule (MERGELENS_BOTS / --bots), lower-case.
        "bot_logins": "CREATE TABLE bot_logins (login VARCHAR PRIMARY KEY)",
    },
    # Issue 12. Where the time went: four stages that add up to the cycle time, the coding time, and
    # every duration again in working hours, by the stored calendar (MERGELENS_WORK_CALENDAR).
    # Review requests: which team was asked (REST `requested_team`), whether the person
    # asked is a bot (Copilot is asked as `Copilot`, type Bot), and each request's answer, derived
    # by metrics.recompute (docs/metrics.md, "Reviewer response").
    4: {
        "pr_events": _add_columns("pr_events", "requested_reviewer_type VARCHAR, requested_team_slug VARCHAR"),
        "pr_review_requests": """CREATE TABLE pr_review_requests (
            repo VARCHAR NOT NULL, pr_number INTEGER NOT NULL,
            seq INTEGER NOT NULL,                  -- the review_requested item (pr_events.seq)
            requested_at TIMESTAMPTZ, requested_by_login VARCHAR,
            reviewer_login VARCHAR, reviewer_deleted BOOLEAN, team_slug VARCHAR,
            ended_at TIMESTAMPTZ,                  -- the answer, the removal or the merge; NULL: open
            outcome VARCHAR,                       -- reviewed | commented | removed | merged | open
            answered_by_login VARCHAR, response_hours DOUBLE,
            PRIMARY KEY (repo, pr_number, seq))""",
        "pr_metrics": _add_columns(
            "pr_metrics",
            "stage_draft_hours DOUBLE, stage_pickup_hours DOUBLE, stage_review_hours DOUBLE, stage_merge_hours DOUBLE, "
            "coding_hours DOUBLE, coding_reliable BOOLEAN, "
            "cycle_time_work_hours DOUBLE, time_to_first_review_work_hours DOUBLE, "
            "time_to_first_response_work_hours DOUBLE, pickup_work_hours DOUBLE, avg_fix_response_work_hours DOUBLE, "
            "stage_draft_work_hours DOUBLE, stage_pickup_work_hours DOUBLE, stage_review_work_hours DOUBLE, "
            "stage_merge_work_hours DOUBLE, coding_work_hours DOUBLE",
        ),
        # The working-hours calendar in effect (one row; none: Mon-Fri 09:00-17:00 UTC).
        "work_calendar": """CREATE TABLE work_calendar (
            tz VARCHAR NOT NULL, days INTEGER[] NOT NULL,   -- IANA zone; ISO weekdays (1 = Monday)
            start_minute INTEGER NOT NULL, end_minute INTEGER NOT NULL,  -- local minutes of the day
            holidays DATE[] NOT NULL)""",
    },
    # what is waiting now: open PRs as dated snapshots, and how PRs left the queue (issue 14)
    5: {
        "open_pr_snapshot_runs": """CREATE TABLE open_pr_snapshot_runs (
            repo VARCHAR NOT NULL, snapshot_at TIMESTAMPTZ NOT NULL,
            open_prs INTEGER, closed_found INTEGER, points INTEGER,
            digest_posted_at TIMESTAMPTZ,          -- when this run posted the daily digest (NULL: it did not)
            PRIMARY KEY (repo, snapshot_at))""",
        "open_pr_snapshots": """CREATE TABLE open_pr_snapshots (
            repo VARCHAR NOT NULL, number INTEGER NOT NULL, snapshot_at TIMESTAMPTZ NOT NULL,
            title VARCHAR, html_url VARCHAR, author_login VARCHAR, author_type VARCHAR, draft BOOLEAN,
            created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ,
            additions INTEGER, deletions INTEGER, changed_files INTEGER, base_ref VARCHAR, head_sha VARCHAR,
            requested_reviewers VARCHAR[], requested_teams VARCHAR[],
            latest_reviews STRUCT(reviewer_login VARCHAR, reviewer_type VARCHAR, state VARCHAR,
                                  submitted_at TIMESTAMPTZ)[],
            review_decision VARCHAR, checks_state VARCHAR, mergeable VARCHAR, merge_state_status VARCHAR,
            comments_count INTEGER, head_committed_at TIMESTAMPTZ, last_force_push_at TIMESTAMPTZ,
            ready_for_review_at TIMESTAMPTZ, last_review_request_at TIMESTAMPTZ,
            last_author_activity_at TIMESTAMPTZ, last_reviewer_activity_at TIMESTAMPTZ,
            PRIMARY KEY (repo, number, snapshot_at))""",
        "open_pr_closures": """CREATE TABLE open_pr_closures (
            repo VARCHAR NOT NULL, number INTEGER NOT NULL, closed_at TIMESTAMPTZ NOT NULL,
            merged BOOLEAN NOT NULL,               -- false: closed without merge (abandoned)
            state_reason VARCHAR,                  -- GitHub's close reason, lower-cased; NULL when merged
            closed_by_login VARCHAR, detected_at TIMESTAMPTZ,
            PRIMARY KEY (repo, number, closed_at))""",
    },
    # Issue 12: each review request's response in working hours too (derived: migrating a file to 6
    # recomputes its metrics, METRICS_CHANGED, which fills it).
    6: {
        "pr_review_requests": "ALTER TABLE pr_review_requests ADD COLUMN response_work_hours DOUBLE",
    },
    # Issue 18: the copies of an artifact:NAME database GitHub holds (and meters), as the run that
    # wrote this DB listed them before its own upload; replaced by each such run (docs/data-contract.md).
    7: {
        "artifact_copies": """CREATE TABLE artifact_copies (
            name VARCHAR NOT NULL, artifact_id BIGINT NOT NULL,
            created_at TIMESTAMPTZ, expires_at TIMESTAMPTZ,
            size_bytes BIGINT,                     -- the stored zip, what GitHub meters
            status VARCHAR NOT NULL,               -- used (this DB's previous version) | untrusted | older
            listed_at TIMESTAMPTZ NOT NULL,        -- when the run that wrote this DB listed them
            PRIMARY KEY (name, artifact_id))""",
    },
}


# Where each section's rows live, and which rows of a PR a fresh fetch replaces (fetcher.extract.sections).
ChildTable = Section
CHILD_TABLES: dict[str, ChildTable] = dict(sections.BY_NAME)

# Every mergelens table: the version table, then those the migrations create, in that order.
TABLES: tuple[str, ...] = tuple(
    dict.fromkeys(["mergelens_schema", *(table for step in MIGRATIONS.values() for table in step)])
)
assert {section.table for section in sections.SECTIONS} <= set(TABLES)


@dataclass
class SyncRun:
    run_id: str
    repo: str
    pr_number: int | None
    trigger: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "complete"
    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    api_requests: int = 0


# --- opening a file: data, not code ---------------------------------------------------------
#
# A DuckDB file is more than rows: it can hold views, macros (which shadow built-in functions,
# even count(*), LIKE and duckdb_tables(); checked on 2.0.1), column defaults, check constraints
# and generated columns, all of which run inside our own queries. Every file is opened by
# open_database: file system, network and extension loading off, the configuration locked, and
# then its catalog must be exactly what MIGRATIONS create before any row is read.

_UNTRUSTED_FILE_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": "false",  # no read_text()/read_csv(), COPY, ATTACH, http, INSTALL
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
}


class DatabaseRefused(Exception):
    """The file cannot be used as a mergelens database. The message is ours alone: DuckDB's
    error texts can quote the file (a view's error(...), a catalog entry), so none is passed on;
    of the file's contents at most an object's name is shown."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind  # locked | unreadable | unwritable | stray_wal | foreign | newer_schema


class SchemaError(DatabaseRefused):
    """The file holds a schema version newer than this mergelens."""

    def __init__(self, version: int) -> None:
        reason = f"database schema version {version} is newer than this mergelens ({SCHEMA_VERSION}): upgrade"
        super().__init__("newer_schema", reason)
        self.version = version


@dataclass(frozen=True)
class CatalogEntry:
    kind: str  # table | column | view | macro | sequence | index | type | schema
    name: str  # schema-qualified unless in main; columns as table.column


# What each catalog entry must be; for tables and columns their definition, else "".
Catalog = dict[CatalogEntry, str]


def open_database(path: str | Path, read_only: bool = False) -> tuple[duckdb.DuckDBPyConnection, int]:
    """Open a DB file as data, not code, and return the connection with the file's schema
    version (0: no mergelens tables yet). Times come back in UTC. DatabaseRefused when the file
    is locked, unreadable, newer than this mergelens, or holds anything our migrations did not
    create; the caller adds where the file is."""
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=_UNTRUSTED_FILE_CONFIG)
    except duckdb.Error as exc:
        raise _refusal(Path(path), exc) from None
    try:
        settings = dict(con.execute("SELECT name, value FROM system.main.duckdb_settings()").fetchall())
        if settings["lock_configuration"] != "true":  # else another connection of this process did
            # TimeZone is an ICU option, unknown to duckdb.connect's config: set it before locking.
            # GLOBAL: cursors (the dashboard's, one per query) are new connections and inherit it.
            con.execute("SET GLOBAL TimeZone = 'UTC'")
            con.execute("SET lock_configuration = true")
        version = verify_catalog(con)
    except duckdb.Error as exc:
        con.close()
        raise _refusal(Path(path), exc) from None
    except BaseException:
        con.close()
        raise
    return con, version


def _refusal(path: Path, exc: duckdb.Error) -> DatabaseRefused:
    """DuckDB's error as one of our fixed messages (its text is only matched, never shown)."""
    text = str(exc)
    if "WAL does not match database file" in text:
        return DatabaseRefused("stray_wal", stray_wal_reason(path))
    if isinstance(exc, duckdb.IOException) and "Could not set lock" in text:
        pid = re.search(r"\(PID (\d+)\)", text)  # digits only: the process DuckDB names
        return DatabaseRefused("locked", "it is in use by another process" + (f" (PID {pid[1]})" if pid else ""))
    return DatabaseRefused(
        "unreadable",
        f"it does not open as a DuckDB database (damaged, truncated or not DuckDB; DuckDB: {type(exc).__name__})",
    )


def stray_wal_reason(path: Path) -> str:
    return f"a leftover {path.name}.wal beside it does not belong to it (DuckDB cannot use it): move that file away"


def verify_catalog(con: duckdb.DuckDBPyConnection) -> int:
    """The file's schema version, once its catalog is exactly that version's (else DatabaseRefused).

    Reads only DuckDB's own catalog functions, qualified (``system.main.``: a macro in the file
    cannot shadow them) and with no function call of ours, then ``mergelens_schema``'s rows once
    that table is known to be ours. A version the file records and the catalog of that version
    must agree: verifying against the expected catalog of the file's own version (not migrating
    first) means nothing in the file runs before it passes, and the migration after it only
    adds our tables."""
    found = read_catalog(con)
    version = 0
    if CatalogEntry("table", "mergelens_schema") in found:
        if _table_part(found, "mergelens_schema") != _table_part(expected_catalog(1), "mergelens_schema"):
            raise DatabaseRefused("foreign", "its table mergelens_schema is not the one mergelens creates")
        recorded = [value for (value,) in con.execute("SELECT version FROM mergelens_schema").fetchall()]
        version = max((value for value in recorded if value is not None), default=0)
        if version > SCHEMA_VERSION:
            raise SchemaError(version)
        if version < 1:
            raise DatabaseRefused("foreign", "its table mergelens_schema records no schema version")
    problem = catalog_difference(found, expected_catalog(version))
    if problem:
        raise DatabaseRefused("foreign", problem)
    return version


def _table_part(catalog: Catalog, table: str) -> Catalog:
    """The entries of one table: the table and its columns."""

    def table_of(entry: CatalogEntry) -> str | None:
        return {"table": entry.name, "column": entry.name.rpartition(".")[0]}.get(entry.kind)

    return {entry: definition for entry, definition in catalog.items() if table_of(entry) == table}


def read_catalog(con: duckdb.DuckDBPyConnection) -> Catalog:
    """Every object the attached file defines. Filters are done here in Python (a file's
    macro can shadow functions and LIKE), except ``NOT internal``: NOT is an operator, which no
    macro replaces (checked on 2.0.1); without it listing DuckDB's 3,000 functions costs more."""
    listed = con.execute("SELECT database_name, internal FROM system.main.duckdb_databases()").fetchall()
    (database,) = [name for name, internal in listed if not internal]  # the file (or :memory:)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [row[1:] for row in con.execute(sql).fetchall() if row[0] == database]

    catalog: Catalog = {}
    tables = rows("SELECT database_name, schema_name, table_name, sql, comment, tags FROM system.main.duckdb_tables()")
    for schema, table, sql, comment, tags in tables:
        catalog[CatalogEntry("table", qualified(schema, table))] = f"{sql} comment={comment!r} tags={tags!r}"
    names = {(schema, table) for schema, table, *_ in tables}
    for schema, table, column, *definition in rows(
        "SELECT database_name, schema_name, table_name, column_name, data_type, column_default, is_nullable, "
        "is_generated, comment FROM system.main.duckdb_columns() WHERE NOT internal"
    ):
        if (schema, table) in names:  # a view's columns: the view itself is reported
            catalog[CatalogEntry("column", f"{qualified(schema, table)}.{column}")] = repr(definition)
    return catalog | other_objects(con, database)


def qualified(schema: str, name: str) -> str:
    """An object's name in a Catalog: bare in the main schema, else ``schema.name``."""
    return name if schema == "main" else f"{schema}.{name}"


def other_objects(con: duckdb.DuckDBPyConnection, database: str) -> Catalog:
    """What ``database`` defines beside tables (views, sequences, indexes, types, schemas but main),
    and any function that is not DuckDB's own, in whatever database: a macro, mostly. The same
    listing for a file (read_catalog) and a DuckLake (dashboard.lake). The connection's own TEMP macros
    (the metric rules, ``fetcher.compute.rules``) are left out: no file can put one there."""
    listings = {
        "view": "SELECT database_name, schema_name, view_name, internal FROM system.main.duckdb_views()",
        "sequence": "SELECT database_name, schema_name, sequence_name, false FROM system.main.duckdb_sequences()",
        "index": "SELECT database_name, schema_name, index_name, false FROM system.main.duckdb_indexes()",
        "type": "SELECT database_name, schema_name, type_name, internal FROM system.main.duckdb_types()",
        "schema": "SELECT database_name, 'main', schema_name, internal FROM system.main.duckdb_schemas()",
    }
    catalog: Catalog = {}
    for kind, sql in listings.items():
        for found_in, schema, name, internal in con.execute(sql).fetchall():
            if found_in == database and not internal and (kind, name) != ("schema", "main"):
                catalog[CatalogEntry(kind, qualified(schema, name))] = ""
    for schema, name in con.execute(
        "SELECT schema_name, function_name FROM system.main.duckdb_functions() "
        "WHERE NOT internal AND database_name <> 'temp'"
    ).fetchall():
        catalog[CatalogEntry("macro", qualified(schema, name))] = ""
    return catalog


@functools.cache
def expected_catalog(version: int) -> Catalog:
    """What the migrations up to ``version`` create, read from an in-memory DB built with them."""
    con = duckdb.connect(":memory:")
    try:
        if version:
            ensure_schema(con, version)
        return read_catalog(con)
    finally:
        con.close()


_KIND_ORDER = ("view", "macro", "sequence", "index", "type", "schema", "table", "column")


def catalog_difference(found: Catalog, expected: Catalog) -> str | None:
    """The first way ``found`` differs from ``expected``, in words, naming one object (never its
    definition); None when they are the same."""
    order = {kind: rank for rank, kind in enumerate(_KIND_ORDER)}

    def ranked(entries: Iterable[CatalogEntry]) -> list[CatalogEntry]:
        return sorted(entries, key=lambda entry: (order[entry.kind], entry.name))

    extra_tables = {entry.name for entry in found if entry.kind == "table" and entry not in expected}
    extras = ranked(
        entry
        for entry in found
        if entry not in expected and not (entry.kind == "column" and entry.name.rpartition(".")[0] in extra_tables)
    )
    if extras:
        more = f" (and {len(extras) - 1} more)" if len(extras) > 1 else ""
        return f"it holds {_a(extras[0].kind)} {shown_name(extras[0].name)} that mergelens did not create{more}"
    missing = ranked(entry for entry in expected if entry not in found)
    if missing:
        return f"it lacks mergelens's {missing[0].kind} {shown_name(missing[0].name)}"
    # a changed column says more than the changed table around it: columns first
    changed = sorted((entry for entry in expected if found[entry] != expected[entry]), key=lambda e: e.kind != "column")
    if changed:
        why = "" if changed[0].kind == "column" else " (constraints, defaults or comments differ)"
        return f"its {changed[0].kind} {shown_name(changed[0].name)} is not defined as mergelens defines it{why}"
    return None


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def shown_name(name: str) -> str:
    """An object's name from an untrusted file, fit for one line of output: plain when it is a
    plain identifier, else quoted with every unusual character escaped, and cut short."""
    if re.fullmatch(r"[A-Za-z0-9_.]{1,80}", name):
        return name
    return json.dumps(name[:80])  # ASCII-only, newlines and control characters escaped


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the DB file (open_database), migrating it forward unless read-only."""
    con, version = open_database(path, read_only=read_only)
    try:
        if not read_only and version < SCHEMA_VERSION:
            ensure_schema(con, SCHEMA_VERSION, current=version)
            if 0 < version < METRICS_CHANGED:  # the stored metrics follow the old definitions
                con.execute("BEGIN")
                metrics.recompute(con)
                con.execute("COMMIT")
    except duckdb.Error as exc:  # our own DDL on a verified file: a full disk, a read-only directory
        con.close()
        raise DatabaseRefused(
            "unwritable", f"its schema could not be brought to version {SCHEMA_VERSION} (DuckDB: {type(exc).__name__})"
        ) from None
    except BaseException:
        con.close()
        raise
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The version recorded in a file already opened by open_database (0: none)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'mergelens_schema'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT max(version) FROM mergelens_schema").fetchone()
    return int(row[0] or 0) if row else 0


def ensure_schema(
    con: duckdb.DuckDBPyConnection,
    target: int = SCHEMA_VERSION,
    current: int = 0,
    ddl: Callable[[str], str] = lambda statement: statement,
) -> None:
    """Apply the migrations after ``current`` up to ``target``, each version in one transaction.
    ``ddl`` rewrites each statement first (a DuckLake has no PRIMARY KEY: fetcher/storage/lake/location.py)."""
    for version in range(current + 1, target + 1):
        con.execute("BEGIN")
        try:
            con.execute("CREATE TABLE IF NOT EXISTS mergelens_schema (version INTEGER, migrated_at TIMESTAMPTZ)")
            for statement in MIGRATIONS[version].values():
                con.execute(ddl(statement))
            con.execute("INSERT INTO mergelens_schema VALUES (?, now())", [version])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def write_pull_request(
    con: duckdb.DuckDBPyConnection, bundle: PullRequestBundle, run: SyncRun, fetched_at: datetime
) -> None:
    """Store one fetched PR, its metrics and its run record, all in one transaction."""
    write_pull_requests(con, [(bundle, run, fetched_at)])


def write_pull_requests(
    con: duckdb.DuckDBPyConnection,
    items: list[tuple[PullRequestBundle, SyncRun, datetime]],
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """Store several fetched PRs in one transaction, each exactly as write_pull_request would
    (row, sections replaced, metrics, run record); ``then`` runs last, inside the transaction
    (backfill: its checkpoint moves with the PRs it stored). Metrics of PRs of one repository
    are recomputed in one statement: the same rows, a fraction of the time."""
    by_repo: dict[str, list[int]] = {}
    for bundle, _, _ in items:
        by_repo.setdefault(bundle.repo, []).append(bundle.number)

    def write() -> None:
        _write_rows(con, items)
        for repo, numbers in by_repo.items():
            if len(numbers) == 1:
                metrics.recompute(con, repo=repo, number=numbers[0])
            else:
                metrics.recompute(con, repo=repo, numbers=numbers)
        if then is not None:
            then(con)

    in_transaction(con, write, [(bundle.repo, bundle.number) for bundle, _, _ in items])


# How a transaction runs: BEGIN, the body, COMMIT (ROLLBACK when it raises). A DuckLake sets its
# own for the length of an update (fetcher/storage/lake/location.py): there a write conflict surfaces at
# COMMIT, is rolled back and the body replayed, and writers of the same PR (``keys``: repo,
# number) take turns. So a body must be SQL only: safe to run again from the start.
Transaction = Callable[[duckdb.DuckDBPyConnection, Callable[[], None], Sequence[tuple[str, int]]], None]


def _plain_transaction(
    con: duckdb.DuckDBPyConnection, body: Callable[[], None], keys: Sequence[tuple[str, int]]
) -> None:
    con.execute("BEGIN")
    try:
        body()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


TRANSACTION: contextvars.ContextVar[Transaction] = contextvars.ContextVar("TRANSACTION", default=_plain_transaction)


def in_transaction(
    con: duckdb.DuckDBPyConnection, body: Callable[[], None], keys: Sequence[tuple[str, int]] = ()
) -> None:
    """Run ``body`` (SQL only: it may be replayed) in one transaction, the way the DB in use
    runs them; ``keys``: the PRs it writes."""
    TRANSACTION.get()(con, body, keys)


def _write_rows(con: duckdb.DuckDBPyConnection, items: list[tuple[PullRequestBundle, SyncRun, datetime]]) -> None:
    """The rows of one or more PRs, one statement per table for all of them: the PR rows
    replaced, each fetched section's rows replaced (a PR whose section failed keeps its rows),
    the run records added. Rows keyed by the repository rather than the PR (a check run of a
    head commit two PRs share) move to the PR written last, as when PRs are written one by one."""
    bundles = [bundle for bundle, _, _ in items]
    _delete_prs(con, "pull_requests", "number", bundles, {})
    pr_rows = [_pull_request_row(bundle, fetched_at) for bundle, _, fetched_at in items]
    if len(pr_rows) == 1:  # one row with list columns: bound parameters are 4x faster than Arrow
        (row,) = pr_rows
        placeholders = ", ".join("?" * len(row))
        con.execute(f"INSERT INTO pull_requests ({', '.join(row)}) VALUES ({placeholders})", list(row.values()))
    else:
        _insert_rows(con, "pull_requests", pr_rows)
    for section, child in CHILD_TABLES.items():
        fetched = [bundle for bundle in bundles if section in bundle.sections]
        if not fetched:
            continue
        _delete_prs(con, child.table, "pr_number", fetched, child.scope)
        rows = [
            {"repo": bundle.repo, "pr_number": bundle.number, **child.scope, **row}
            for bundle in fetched
            for row in bundle.sections[section]
        ]
        full_rows = unique_by_key(rows, child.key)
        if "pr_number" not in child.key and full_rows:
            _delete_keys(con, child, full_rows)
        _insert_rows(con, child.table, full_rows)
    record_runs(con, [run for _, run, _ in items])


def _delete_prs(
    con: duckdb.DuckDBPyConnection, table: str, column: str, bundles: list[PullRequestBundle], scope: dict[str, Any]
) -> None:
    by_repo: dict[str, list[int]] = {}
    for bundle in bundles:
        by_repo.setdefault(bundle.repo, []).append(bundle.number)
    extra = "".join(f" AND {name} = ?" for name in scope)
    for repo, numbers in by_repo.items():
        # BETWEEN lets DuckDB skip row groups by their min/max (a batch's numbers are close)
        con.execute(
            f"DELETE FROM {table} WHERE repo = ? AND {column} BETWEEN ? AND ? "
            f"AND list_contains(?::INTEGER[], {column}){extra}",
            [repo, min(numbers), max(numbers), numbers, *scope.values()],
        )


def _pull_request_row(bundle: PullRequestBundle, fetched_at: datetime) -> Row:
    return {
        **bundle.pull_request,
        "fetched_at": fetched_at,
        "sync_status": bundle.status,
        "failed_sections": [error.section for error in bundle.errors],
        "truncated_sections": bundle.pull_request.get("truncated_sections", []),
    }


def _run_row(run: SyncRun) -> Row:
    return {
        "run_id": run.run_id,
        "repo": run.repo,
        "pr_number": run.pr_number,
        "trigger": run.trigger,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": run.status,
        "counts": json.dumps(run.counts),
        "errors": json.dumps(run.errors),
        "warnings": json.dumps(run.warnings),
        "api_requests": run.api_requests,
    }


def record_run(con: duckdb.DuckDBPyConnection, run: SyncRun) -> None:
    record_runs(con, [run])


def record_runs(con: duckdb.DuckDBPyConnection, runs: list[SyncRun]) -> None:
    if len(runs) == 1:  # one row: bound parameters beat an Arrow batch
        row = _run_row(runs[0])
        con.execute(
            f"INSERT INTO sync_runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
        )
    else:  # many: executemany costs ~1 ms a row, an Arrow batch a fraction of that
        _insert_rows(con, "sync_runs", [_run_row(run) for run in runs])


def replace_artifact_copies(con: duckdb.DuckDBPyConnection, rows: list[Row]) -> None:
    """The artifact copies a run listed (``artifact_copies``), in place of those the last one listed."""

    def write() -> None:
        con.execute("DELETE FROM artifact_copies")
        if rows:
            insert_rows(con, "artifact_copies", rows)

    in_transaction(con, write)


def unique_by_key(rows: Iterable[Row], key: tuple[str, ...]) -> list[Row]:
    """Drop repeated keys, keeping the last. Offset pagination can serve an item twice when
    something is added while the pages are read, and one INSERT must not carry a key twice."""
    return list({tuple(row[column] for column in key): row for row in rows}.values())


def _delete_keys(con: duckdb.DuckDBPyConnection, child: ChildTable, rows: list[Row]) -> None:
    keys = [{column: row[column] for column in child.key} for row in rows]
    match = " AND ".join(f"{child.table}.{column} = keys.{column}" for column in child.key)
    with _arrow_view(con, "keys", keys):
        con.execute(f"DELETE FROM {child.table} USING keys WHERE {match}")


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[Row]) -> None:
    insert_rows(con, table, rows)


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[Row], or_ignore: bool = False) -> None:
    """Add ``rows`` (dicts keyed by column) to ``table`` in one statement; ``or_ignore``: a row
    whose key is already there is left out."""
    if rows:
        with _arrow_view(con, "batch", rows):
            con.execute(f"INSERT {'OR IGNORE ' if or_ignore else ''}INTO {table} BY NAME SELECT * FROM batch")


@contextmanager
def _arrow_view(con: duckdb.DuckDBPyConnection, name: str, rows: list[Row]) -> Iterator[None]:
    """Expose rows to SQL as a view over an Arrow table. Registering it explicitly is twice as
    fast as DuckDB's replacement scan, which searches the Python stack for the variable."""
    con.register(name, pa.Table.from_pylist(rows))
    try:
        yield
    finally:
        con.unregister(name)
