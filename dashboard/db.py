"""Where the dashboard's database is, opening it read-only, and what to say when it can't be used.

Every way the file can be unusable (missing, locked by a writer, not DuckDB, no mergelens
schema, an older or newer schema, no merged PRs yet) becomes a ``Problem``: a title, one
sentence, and what to run to get data. No Streamlit here, so it is tested on its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from fetcher.store import SCHEMA_VERSION

DEFAULT_DB = "mergelens.duckdb"
# The tables the dashboard reads (DESIGN.md "Data contract").
TABLES = (
    "pull_requests",
    "pr_commits",
    "pr_files",
    "pr_check_runs",
    "pr_reviews",
    "pr_comments",
    "pr_events",
    "pr_metrics",
    "sync_runs",
)

GET_DATA = """# sample data: a fake GitHub on loopback, no token needed
make demo DASHBOARD=0 && MERGELENS_DB=demo.duckdb streamlit run dashboard/app.py

# your repository
export GITHUB_TOKEN=...
python -m fetcher sync --repo OWNER/NAME --pr 1234 --db {db}"""


@dataclass(eq=False)
class Problem(Exception):
    """The database can't be shown; ``hint`` is what to run (plain text, shown as code)."""

    kind: str  # missing | locked | unreadable | not_mergelens | older_schema | newer_schema | empty
    title: str
    detail: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.title}: {self.detail}"


@dataclass(frozen=True)
class DbKey:
    """Identifies one version of the file: a sync replaces it (new inode, mtime), a new key
    means a new connection and fresh query results."""

    path: str
    mtime_ns: int
    size: int
    inode: int


def configured_path() -> Path:
    return Path(os.environ.get("MERGELENS_DB") or DEFAULT_DB)


def file_key(path: Path) -> DbKey:
    """The file's identity now; ``Problem('missing')`` when there is no such file."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise Problem(
            "missing",
            "No database yet",
            f"There is no mergelens database at {path} (set MERGELENS_DB to use another file).",
            GET_DATA.format(db=path),
        ) from None
    except OSError as exc:
        raise Problem("unreadable", "Cannot read the database", f"{path}: {exc.strerror}") from None
    if not path.is_file():
        raise Problem("unreadable", "Cannot read the database", f"{path} is not a file.")
    return DbKey(str(path.resolve()), stat.st_mtime_ns, stat.st_size, stat.st_ino)


def connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open the file read-only (many dashboards may read it at once) with times in UTC, and
    check that it holds a mergelens schema this version can read."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "lock" in line.lower():
            raise Problem(
                "locked",
                "The database is being written",
                f"Another process holds {path} open for writing, so it can't be read right now. "
                "Reload this page when the sync has finished.",
                f"({line})",
            ) from None
        raise Problem(
            "unreadable",
            "Cannot open the database",
            f"{path} could not be opened as a DuckDB file: {line}",
            GET_DATA.format(db=path),
        ) from None
    try:
        con.execute("SET TimeZone = 'UTC'")
        check_schema(con, path)
    except BaseException:
        con.close()
        raise
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The version recorded in ``mergelens_schema``; None when the file has no such table."""
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'mergelens_schema'").fetchone()
    if not found or not found[0]:
        return None
    row = con.execute("SELECT max(version) FROM mergelens_schema").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def check_schema(con: duckdb.DuckDBPyConnection, path: str | Path) -> None:
    version = schema_version(con)
    if version is None:
        tables = {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if not tables:
            raise Problem(
                "empty",
                "The database is empty",
                f"{path} is a DuckDB file with no tables yet: sync some PRs into it.",
                GET_DATA.format(db=path),
            )
        raise Problem(
            "not_mergelens",
            "Not a mergelens database",
            f"{path} is a DuckDB file, but not one written by mergelens (no mergelens_schema table).",
            GET_DATA.format(db=path),
        )
    if version > SCHEMA_VERSION:
        raise Problem(
            "newer_schema",
            "The database is newer than this dashboard",
            f"{path} has schema version {version}; this mergelens reads version {SCHEMA_VERSION}. "
            "Update mergelens (git pull, pip install -r requirements.txt) and reload.",
        )
    if version < SCHEMA_VERSION:
        raise Problem(
            "older_schema",
            "The database was written by an older mergelens",
            f"{path} has schema version {version}; this dashboard reads version {SCHEMA_VERSION}. "
            "The dashboard opens files read-only and never migrates them: the next sync (or the "
            "command below) brings the file forward.",
            f"python -m fetcher metrics --recompute --db {path}",
        )


def check_has_prs(con: duckdb.DuckDBPyConnection, path: str | Path) -> None:
    row = con.execute("SELECT count(*) FROM pull_requests WHERE merged_at IS NOT NULL").fetchone()
    if not row or not row[0]:
        raise Problem(
            "empty",
            "No merged PRs yet",
            f"{path} holds no merged pull requests yet: the dashboard fills up as PRs are synced.",
            GET_DATA.format(db=path),
        )
