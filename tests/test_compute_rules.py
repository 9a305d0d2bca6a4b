"""The shared rules (fetcher/compute/sql/rules.sql): TEMP macros created on the connection that reads
them, never written into the DB file, so a read-only reader (the dashboard) can use them too."""

from __future__ import annotations

from pathlib import Path

import duckdb

from fetcher.compute.rules import SQL_DIR, use_rules
from fetcher.db import safe_open, schema

RULE_MACROS = ("is_bot", "is_human_review", "review_excluded_because", "human_reviews", "review_rounds")


def stored_macros(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The rule macros the DB file itself holds (not the connection's temp catalog)."""
    rows = con.execute(
        "SELECT DISTINCT function_name FROM duckdb_functions() WHERE database_name <> 'temp' "
        "AND list_contains(?::VARCHAR[], function_name)",
        [list(RULE_MACROS)],
    ).fetchall()
    return [name for (name,) in rows]


def test_the_rules_work_read_only_and_nothing_reaches_the_file(tmp_path: Path) -> None:
    db = tmp_path / "rules.duckdb"
    safe_open.open_migrated(db).close()
    with duckdb.connect(str(db), read_only=True) as con:
        use_rules(con)
        assert con.execute("SELECT is_bot('renovate[bot]', 'User'), is_bot('alice', 'User')").fetchone() == (
            True,
            False,
        )
        assert con.execute("SELECT login_or_ghost(NULL), is_failed_check('timed_out')").fetchone() == ("ghost", True)
        # the connection's own macros are not taken for a foreign file's (a DuckLake writer re-checks)
        assert safe_open.verify_catalog(con) == schema.SCHEMA_VERSION
    with duckdb.connect(str(db)) as con:  # a new connection: the file holds no macro, the file is as mergelens wrote it
        assert stored_macros(con) == []
        assert safe_open.verify_catalog(con) == schema.SCHEMA_VERSION


def test_a_rolled_back_transaction_takes_the_rules_and_they_come_back(tmp_path: Path) -> None:
    db = tmp_path / "rules.duckdb"
    with safe_open.open_migrated(db) as con:
        con.execute("BEGIN")
        use_rules(con)
        con.execute("ROLLBACK")  # the macros go with the transaction (the variables would not)
        use_rules(con)
        con.execute("INSERT INTO bot_logins VALUES ('golangcibot')")
        assert con.execute("SELECT is_bot('GolangciBot', 'User')").fetchone() == (True,)  # listed, any case


def test_every_sql_file_is_plain_sql() -> None:
    # no Python left in the text a reader runs: no format slots, no f-string leftovers
    for path in SQL_DIR.glob("*.sql"):
        text = path.read_text()
        assert "{{" not in text and "{scope" not in text and 'f"' not in text, path.name
