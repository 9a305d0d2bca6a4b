"""A DuckLake worker for tests/test_lake_ops.py, run by the DuckLake interpreter (``.venv-lake``):
``python -m tests.support.lake_ops_worker CONFIG.json``; the lake's data path and S3 settings come from
its environment (MERGELENS_LAKE_DATA_PATH, AWS_*). Prints one JSON object.

CONFIG ``{"mode": "commit", "db": "ducklake:…", "count": N, "tag": "t", "started": PATH}``:
N single-PR commits, each a transaction of the lake (``store.in_transaction``: replayed after a
conflict) that deletes one PR's rows and inserts them again unchanged (what a re-sync writes:
new small files) and adds one ``sync_runs`` row ``TAG-i``; ``started`` is created after the first.
``{"mode": "downgrade", "db": …}``: the lake made as schema version 5 left it (v6's column of
``pr_review_requests`` and v7's ``artifact_copies`` dropped, their version rows deleted): a lake
an older mergelens wrote.
``{"mode": "look", "db": …}``: the dashboard's ``lake_health``, the PR tables' rows
(``dump_rows``) and the run ids of ``sync_runs``.
``{"mode": "plant", "db": …, "sql": [SQL, …]}``: statements run on the lake as anyone who can
write its catalog runs them: plain DuckDB, the lake attached, every file readable.
``{"mode": "confined", "db": …, "read": PATH}``: what ``read_text(PATH)`` does on a connection
of mergelens's (``LakeLocation.open``): ``{"read": text}`` or ``{"error": its kind}``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import duckdb

from tests.support.lake_writer import PR_TABLES, dump_rows


def commit(config: dict[str, Any]) -> dict[str, Any]:
    from fetcher.config import Environment
    from fetcher.db import store
    from fetcher.storage.lake.location import LakeLocation

    env = Environment.from_environ()
    location = LakeLocation(config["db"], env.lake_data_path, env.s3)

    def apply(con: duckdb.DuckDBPyConnection) -> None:
        prs = con.execute("SELECT repo, number FROM pull_requests ORDER BY repo, number").fetchall()
        for i in range(config["count"]):
            repo, number = prs[i % len(prs)]

            def body(repo: str = repo, number: int = number, i: int = i) -> None:
                for table in PR_TABLES:  # the PR's rows deleted and inserted again, as a re-sync does
                    column = "number" if table in ("pull_requests", "pr_metrics") else "pr_number"
                    where = f"WHERE repo = ? AND {column} = ?"
                    rows = con.execute(f"SELECT * FROM {table} {where}", [repo, number]).to_arrow_table()
                    con.execute(f"DELETE FROM {table} {where}", [repo, number])
                    con.register("again", rows)
                    con.execute(f"INSERT INTO {table} SELECT * FROM again")
                    con.unregister("again")
                con.execute(
                    "INSERT INTO sync_runs (run_id, repo, pr_number, trigger, status) "
                    "VALUES (?, ?, ?, 'test', 'complete')",
                    [f"{config['tag']}-{i}", repo, number],
                )

            store.in_transaction(con, body, [(repo, number)])
            if i == 0 and config.get("started"):
                Path(config["started"]).touch()

    location.update_tables(apply)
    return {"commits": config["count"], "conflicts": location.conflicts}


def downgrade(config: dict[str, Any]) -> dict[str, Any]:
    from fetcher.config import Environment
    from fetcher.storage.lake.location import LakeLocation

    env = Environment.from_environ()
    con = LakeLocation(config["db"], env.lake_data_path, env.s3).attach()
    try:
        con.execute("DROP TABLE artifact_copies")  # v7's table
        con.execute("ALTER TABLE pr_review_requests DROP COLUMN response_work_hours")  # v6's column
        con.execute("DELETE FROM mergelens_schema WHERE version >= 6")
        return {"versions": sorted(v for (v,) in con.execute("SELECT version FROM mergelens_schema").fetchall())}
    finally:
        con.close()


def look(config: dict[str, Any]) -> dict[str, Any]:
    from dashboard.queries import lake_health
    from fetcher.config import Environment
    from fetcher.storage.lake.location import LakeLocation

    env = Environment.from_environ()
    con = LakeLocation(config["db"], env.lake_data_path, env.s3).attach()
    try:
        return {
            "health": lake_health(con),
            "rows": dump_rows(con),
            "run_ids": [run_id for (run_id,) in con.execute("SELECT run_id FROM sync_runs").fetchall()],
            # files no snapshot reads that are not deleted yet: scheduled (kept for readers), orphans
            "scheduled": con.execute(
                "SELECT count(*) FROM __ducklake_metadata_lake.ducklake_files_scheduled_for_deletion"
            ).fetchall()[0][0],
            "orphans": len(con.execute("CALL ducklake_delete_orphaned_files('lake', dry_run => true)").fetchall()),
        }
    finally:
        con.close()


def plant(config: dict[str, Any]) -> dict[str, Any]:
    from fetcher.config import Environment
    from fetcher.storage.lake.catalog import ALIAS
    from fetcher.storage.lake.location import LakeLocation, extension_file, sql_literal

    env = Environment.from_environ()
    location = LakeLocation(config["db"], env.lake_data_path, env.s3)
    con = duckdb.connect(":memory:")
    try:
        for name in location.require_extensions():
            con.execute(f"LOAD {sql_literal(str(extension_file(name)))}")
        data = f" (DATA_PATH {sql_literal(env.lake_data_path)})" if env.lake_data_path else ""
        con.execute(f"ATTACH {sql_literal(config['db'])} AS {ALIAS}{data}")
        con.execute(f"USE {ALIAS}")
        for sql in config["sql"]:
            con.execute(sql)
    finally:
        con.close()
    return {"ran": len(config["sql"])}


def confined(config: dict[str, Any]) -> dict[str, Any]:
    from fetcher.config import Environment
    from fetcher.storage.lake.location import LakeLocation, sql_literal

    env = Environment.from_environ()
    con, _ = LakeLocation(config["db"], env.lake_data_path, env.s3).open()
    try:
        return {"read": con.execute(f"SELECT content FROM read_text({sql_literal(config['read'])})").fetchall()}
    except duckdb.Error as exc:
        return {"error": type(exc).__name__, "rows": con.execute("SELECT count(*) FROM pull_requests").fetchall()}
    finally:
        con.close()


if __name__ == "__main__":
    settings = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    modes = {"commit": commit, "downgrade": downgrade, "look": look, "plant": plant, "confined": confined}
    print(json.dumps(modes[settings["mode"]](settings), default=str))
