"""The dashboard under Streamlit's AppTest in this interpreter, for tests/test_dashboard_lake.py:
``python -m tests.support.dashboard_worker CONFIG.json`` prints one JSON object. A DuckLake can only be
read by the DuckLake interpreter (.venv-lake, which has no pytest), so the tests run this there,
and on the main interpreter for the file DB they compare it with.

CONFIG ``{"mode": "visit", "db": SPEC, "visits": [VISIT, …]}``: each VISIT ``{"params": {…}}``
opens the app with those URL parameters in a new session, ``{"rerun": true}`` runs the last one
again (after ``"write": [SQL, …]`` is committed to the lake as one transaction of a writer, when
given). Each visit's result: the page's exceptions, errors, warnings, metrics, tables, and every
string on it (``text``). ``{"mode": "sql", "db": SPEC, "sql": [SQL, …]}``: run statements on
the lake as they are (planting what mergelens would never write). ``{"mode": "snapshots", "db": SPEC,
"write": [SQL, …]}``: the dashboard's LakeDatabase with a session reading at one snapshot while
writers commit ``write`` twice and other sessions move on to the newer snapshots: what that first
session's held cursor and its next query then count. The lake's data path and S3
settings come from the environment (MERGELENS_LAKE_DATA_PATH, AWS_*), as the dashboard's do.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def nodes(at: Any) -> Iterator[Any]:
    stack: list[Any] = [at._tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(getattr(node, "children", {}).values())


def page(at: Any) -> dict[str, Any]:
    tables = [json.loads(frame.value.to_json(orient="split", date_format="iso")) for frame in at.dataframe]
    text = [
        str(value)
        for node in nodes(at)
        for value in (getattr(node, "value", None), getattr(node, "label", None), getattr(node, "proto", None))
        if value is not None
    ]
    return {
        "exceptions": [str(e.value) for e in at.exception],
        "errors": [e.value for e in at.error],
        "warnings": [w.value for w in at.warning],
        "metrics": {m.label: m.value for m in at.metric},
        "tables": tables,
        "text": "\n".join(text),
    }


def write(spec: str, statements: list[str]) -> None:
    from fetcher.config import Environment
    from fetcher.db import store
    from fetcher.storage.lake.location import LakeLocation

    env = Environment.from_environ()

    def apply(con: Any) -> None:
        def body() -> None:
            for sql in statements:
                con.execute(sql)

        store.in_transaction(con, body, [])

    LakeLocation(spec, env.lake_data_path, env.s3).update_tables(apply)


def visit(config: dict[str, Any]) -> list[dict[str, Any]]:
    from streamlit import config as streamlit_config
    from streamlit.testing.v1 import AppTest

    os.environ["MERGELENS_DB"] = config["db"]
    streamlit_config.set_option("server.address", "127.0.0.1")  # served to this machine: no login
    results, at = [], None
    for step in config["visits"]:
        if step.get("write"):
            write(config["db"], step["write"])
        if step.get("rerun") and at is not None:
            at.run()
        else:
            at = AppTest.from_file(str(APP), default_timeout=120)
            for name, value in step.get("params", {}).items():
                at.query_params[name] = value
            at.run()
        results.append(page(at))
    return results


def run_sql(config: dict[str, Any]) -> dict[str, Any]:
    from fetcher.config import Environment
    from fetcher.storage.lake.location import LakeLocation

    env = Environment.from_environ()
    con = LakeLocation(config["db"], env.lake_data_path, env.s3).attach()
    try:
        for sql in config["sql"]:
            con.execute(sql)
    finally:
        con.close()
    return {"ran": len(config["sql"])}


def snapshots(config: dict[str, Any]) -> dict[str, Any]:
    from dashboard.lake import open_lake_database

    db = open_lake_database(config["db"])
    count = "SELECT count(*) FROM pull_requests"
    first = db.key()  # a session starts rendering at this snapshot
    held = db.cursor(first)  # ... with a query of it under way
    later = []
    for _ in range(2):  # writers commit; other sessions open the newer snapshots
        write(config["db"], config["write"])
        later.append(db.key())
    return {
        "snapshots": [first.snapshot, *(key.snapshot for key in later)],
        "held": held.execute(count).fetchall()[0][0],
        "again": db.cursor(first).execute(count).fetchall()[0][0],  # the session's next query
        "latest": db.cursor(later[-1]).execute(count).fetchall()[0][0],
    }


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    modes = {"visit": visit, "sql": run_sql, "snapshots": snapshots}
    result: Any = modes[config["mode"]](config)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
