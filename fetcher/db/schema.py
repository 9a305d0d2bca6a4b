"""The DuckDB schema: its version, the DDL of every version (``MIGRATIONS``, by table), the
tables it makes, and the migration that brings an older DB forward. Never edit a released step:
add a new version. Opening a file safely and its catalog check: ``fetcher.db.safe_open``.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from fetcher.extract import sections
from fetcher.extract.records import GHOST_LOGIN
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


def recorded_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version a DB already opened by ``safe_open.open_database`` records (0: none)."""
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
    ``ddl`` rewrites each statement first (a DuckLake has no PRIMARY KEY: fetcher/storage/lake/catalog.py)."""
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
