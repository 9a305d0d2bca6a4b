"""The metric SQL, as plain SQL files under ``fetcher/compute/sql/``, and the shared rules it reads.

``rules.sql`` defines, once, what every metric and every dashboard figure share (who is a bot, which
reviews and comments count, fix commits, failed checks, the ghost login, the working-hours clock) as
DuckDB TEMP macros; ``pr_metrics.sql`` and ``review_requests.sql`` are the queries behind the stored
metrics. TEMP: created on each connection that reads them, never written into a DB file, so a
read-only connection (the dashboard's, a DuckLake's at a snapshot) can use them as well.
"""

from __future__ import annotations

import functools
from pathlib import Path

import duckdb

SQL_DIR = Path(__file__).with_name("sql")
# The temp table rules.sql creates last. Present: the whole file ran on this connection. A table, not a
# variable: like the macros it is gone after a rolled-back transaction (variables stay), and looking up
# a table is cheap where listing the functions (thousands of built-ins) is not.
_MARKER = "mergelens_rules"


@functools.cache
def sql_file(name: str) -> str:
    """The text of ``fetcher/compute/sql/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def use_rules(con: duckdb.DuckDBPyConnection) -> None:
    """Create the rules' TEMP macros on ``con`` unless they are there (a rolled-back transaction takes
    them away: then they are created again). The DB's tables must exist: the table macros read them."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'temp' AND table_name = ?", [_MARKER]
    ).fetchone()
    if not (row and row[0]):
        con.execute(sql_file("rules"))
