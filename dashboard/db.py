"""Where the dashboard's database is, opening it read-only, and what to say when it can't be used.

Every way the file can be unusable (missing, locked by a writer, not DuckDB, anything in it
that mergelens did not create, an older or newer schema, no merged PRs yet) becomes a ``Problem``: a title, one
sentence, and what to run to get data. No Streamlit here, so it is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from fetcher.config import Environment
from fetcher.db.safe_open import DatabaseRefused, SchemaError, open_database
from fetcher.db.schema import SCHEMA_VERSION

GET_DATA = """# sample data: a fake GitHub on loopback, no token needed
make demo DASHBOARD=0 && MERGELENS_DB=demo.duckdb streamlit run dashboard/app.py

# your repository
export GITHUB_TOKEN=...
python -m fetcher sync --repo OWNER/NAME --pr 1234 --db {db}"""


@dataclass(eq=False)
class Problem(Exception):
    """The database can't be shown; ``hint`` is what to run (plain text, shown as code)."""

    # missing | locked | unreadable | not_mergelens | older_schema | newer_schema | empty | unreachable
    # | wrong_interpreter (a DuckLake on an interpreter without the extension: dashboard.lake)
    kind: str
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
    return Path(configured_location())


def configured_location() -> str:
    """``MERGELENS_DB`` as written: a path, ``s3://BUCKET/KEY`` or ``artifact:NAME`` (dashboard.remote)."""
    return Environment.from_environ().db


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


def connect(path: str | Path, shown: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the file read-only (many dashboards may read it at once) as data, not code
    (``fetcher.db.safe_open.open_database``: a view or macro in it is refused, never run), with times
    in UTC, and check that it holds a mergelens schema this version can read. ``shown``: what
    a Problem calls the file (default its path; a remote DB's local copy is named by its location)."""
    name = shown or path
    try:
        con, version = open_database(path, read_only=True)
    except DatabaseRefused as refused:
        raise problem_of(refused, name) from None
    try:
        check_version(version, name)
    except BaseException:
        con.close()
        raise
    return con


def problem_of(refused: DatabaseRefused, path: str | Path) -> Problem:
    """What to tell the reader; the reason is fetcher's own words (at most an object's name
    from the file, never its contents)."""
    if refused.kind == "locked":
        return Problem(
            "locked",
            "The database is being written",
            f"Another process holds {path} open for writing, so it can't be read right now. "
            "Reload this page when the sync has finished.",
            f"({refused})",
        )
    if isinstance(refused, SchemaError):
        return Problem(
            "newer_schema",
            "The database is newer than this dashboard",
            f"{path} has schema version {refused.version}; this mergelens reads version {SCHEMA_VERSION}. "
            "Update mergelens (git pull, pip install -r requirements.txt) and reload.",
        )
    if refused.kind == "foreign":
        return Problem(
            "not_mergelens",
            "Not a mergelens database",
            f"{path} is not a database written by mergelens: {refused}. The dashboard shows only files "
            "that hold exactly mergelens's tables.",
            GET_DATA.format(db=path),
        )
    return Problem(
        "unreadable", "Cannot open the database", f"{path} could not be opened: {refused}.", GET_DATA.format(db=path)
    )


def check_version(version: int, path: str | Path) -> None:
    if version == 0:
        raise Problem(
            "empty",
            "The database is empty",
            f"{path} is a DuckDB file with no tables yet: sync some PRs into it.",
            GET_DATA.format(db=path),
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
