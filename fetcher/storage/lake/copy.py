"""``python -m fetcher copy --from SPEC --to SPEC``: move a DB into a DuckLake and back, row for row.

The two DuckDB lines cannot open each other's DBs (a file written by DuckDB 2.0 does not open
in 1.5; the lake's extensions exist only for 1.5: docs/ducklake.md), so a copy goes through
Parquet: the source's mergelens tables are exported to one Parquet file each in a private temp
directory, then imported into the target. A side this interpreter cannot open is run by the
other one (``python -m fetcher.storage.lake.copy export|import SPEC DIR``): a lake by ``.venv-lake``'s
Python (MERGELENS_LAKE_PYTHON), a file by ``.venv``'s (MERGELENS_PYTHON).

The source is only read: a file location's ``update`` hands us a working copy, and we end it by
raising, so nothing is stored back (S3 is not re-uploaded, an artifact's file is not replaced).
The target is written through its location (lock, verification, atomic replace; on a lake one
transaction) and must hold no rows unless ``--replace``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from fetcher import storage
from fetcher.config import Environment
from fetcher.db import safe_open, schema, store
from fetcher.errors import MergelensError, UsageError, inert
from fetcher.storage.lake.catalog import PREFIX as LAKE_PREFIX
from fetcher.storage.lake.location import extension_file

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = "manifest.json"
# The tables a copy carries: every mergelens table but the schema record (the target keeps its own).
COPIED: tuple[str, ...] = tuple(table for table in schema.TABLES if table != "mergelens_schema")


def is_lake(spec: str) -> bool:
    return spec.startswith(LAKE_PREFIX)


def on_lake_line() -> bool:
    """This interpreter is the DuckLake line (DuckDB 1.5 with the ducklake wheel): it opens
    lakes, and not the file line's DB files."""
    return extension_file("ducklake") is not None


def opens_here(spec: str) -> bool:
    return is_lake(spec) == on_lake_line()


def other_python(spec: str, env: Environment) -> Path:
    """The interpreter that opens ``spec`` when this one cannot (MERGELENS_LAKE_PYTHON or
    MERGELENS_PYTHON, else the repository's)."""
    if is_lake(spec):
        return Path(env.lake_python or ROOT / ".venv-lake" / "bin" / "python")
    return Path(env.python or ROOT / ".venv" / "bin" / "python")


@dataclass(frozen=True)
class CopyReport:
    source: str
    target: str
    counts: dict[str, int]  # rows per table copied

    def summary(self) -> str:
        return f"copied {self.counts.get('pull_requests', 0)} PRs ({sum(self.counts.values())} rows) to {self.target}"


class _ReadDone(Exception):
    """Ends a file location's update after the export: nothing is stored back."""

    def __init__(self, counts: dict[str, int]) -> None:
        super().__init__("read")
        self.counts = counts


# --- the two halves -------------------------------------------------------------------------


def export_tables(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Each copied table as ``folder/<table>.parquet``, all read in one transaction (one snapshot
    of a lake); the row counts, also written to the manifest."""
    counts: dict[str, int] = {}
    con.execute("BEGIN")
    try:
        for table in COPIED:
            rows: pa.Table = con.sql(f'SELECT * FROM "{table}"').to_arrow_table()
            pq.write_table(rows, folder / f"{table}.parquet")
            counts[table] = rows.num_rows
    finally:
        con.execute("ROLLBACK")
    (folder / MANIFEST).write_text(json.dumps({"schema_version": schema.SCHEMA_VERSION, "counts": counts}))
    return counts


def read_manifest(folder: Path) -> dict[str, int]:
    manifest = json.loads((folder / MANIFEST).read_text())
    if manifest.get("schema_version") != schema.SCHEMA_VERSION:
        raise MergelensError(f"the export has schema version {manifest.get('schema_version')}: not this mergelens's")
    return {table: int(manifest["counts"][table]) for table in COPIED}


def import_tables(con: duckdb.DuckDBPyConnection, folder: Path, replace: bool, target: str) -> dict[str, int]:
    """The exported rows into ``con``'s tables, in one transaction (store.in_transaction: on a
    lake replayed after a conflict). Refused when the target holds rows, unless ``replace``: then
    its rows are deleted first. A lake's pull_requests never shrinks (its verification): a
    replace that would shrink it is refused before anything is written."""
    counts = read_manifest(folder)
    held = {table: _count(con, table) for table in COPIED}
    if any(held.values()) and not replace:
        raise UsageError(f"--to {target} holds {held['pull_requests']} PRs already: pass --replace to overwrite it")
    if is_lake(target) and held["pull_requests"] > counts["pull_requests"]:
        raise MergelensError(
            f"--to {target}: a lake's pull_requests never shrinks ({held['pull_requests']} PRs there, "
            f"{counts['pull_requests']} in the source): copy into a new lake instead"
        )

    def body() -> None:
        for table in COPIED:
            con.execute(f'DELETE FROM "{table}"')
            rows = pq.read_table(folder / f"{table}.parquet")
            if rows.num_rows:
                con.register("copied", rows)
                try:
                    con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM copied')
                finally:
                    con.unregister("copied")

    store.in_transaction(con, body)
    found = {table: _count(con, table) for table in COPIED}
    if found != counts:
        raise MergelensError(f"--to {target}: the copy holds other row counts than the source ({found} vs {counts})")
    return counts


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    return int(row[0]) if row else 0


def export_db(spec: str, env: Environment, folder: Path) -> dict[str, int]:
    """Export the DB ``spec`` names (in this interpreter), reading it only."""
    if is_lake(spec):
        location = storage.LakeLocation(spec, env.lake_data_path, env.s3)
        con, version = location.open()  # its catalog checked before a row is read
        try:
            if not version:
                raise MergelensError(f"--from {location.description}: there is no database there (no mergelens tables)")
            return export_tables(con, folder)
        except duckdb.Error as exc:
            raise location.failure(exc) from None
        finally:
            con.close()

    def read(path: Path) -> None:
        if not path.exists():
            raise MergelensError(f"--from {spec}: there is no database there")
        with safe_open.open_migrated(path) as con:  # a throwaway working copy: migrated forward, never stored
            raise _ReadDone(export_tables(con, folder))

    with tempfile.TemporaryDirectory(prefix="mergelens-copy-") as workdir:
        try:
            storage.open_location(spec, env, Path(workdir)).update(read)
        except _ReadDone as done:
            return done.counts
    raise AssertionError("unreachable: read() always raises")


def import_db(spec: str, env: Environment, folder: Path, replace: bool) -> dict[str, int]:
    """Import the export in ``folder`` into the DB ``spec`` names (in this interpreter)."""

    def apply(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        return import_tables(con, folder, replace, spec)

    if is_lake(spec):
        return storage.LakeLocation(spec, env.lake_data_path, env.s3).update_tables(apply).value

    def on_copy(path: Path) -> dict[str, int]:
        with safe_open.open_migrated(path) as con:
            return apply(con)

    return storage.open_location(spec, env).update(on_copy).value


# --- the command ----------------------------------------------------------------------------


def copy_db(source: str, target: str, env: Environment, replace: bool) -> CopyReport:
    if source == target:
        raise UsageError("--from and --to name the same DB")
    with tempfile.TemporaryDirectory(prefix="mergelens-copy-") as folder:
        _half("export", source, env, Path(folder), replace, export_db)
        counts = _half("import", target, env, Path(folder), replace, import_db)
    return CopyReport(source, target, counts)


def _half(
    what: str, spec: str, env: Environment, folder: Path, replace: bool, here: Callable[..., dict[str, int]]
) -> dict[str, int]:
    if opens_here(spec):
        return here(spec, env, folder) if what == "export" else here(spec, env, folder, replace)
    python = other_python(spec, env)
    if not python.exists():
        main = "the main environment (make .venv/.installed)"
        line = "the DuckLake environment (make lake)" if is_lake(spec) else main
        raise MergelensError(f"{spec if not is_lake(spec) else 'the lake'}: needs {line}: no Python at {python}")
    argv = [
        str(python),
        "-m",
        "fetcher.storage.lake.copy",
        what,
        spec,
        str(folder),
        *(["--replace"] if replace else []),
    ]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        lines = [line for line in done.stderr.splitlines() if line.startswith("mergelens: error: ")]
        error = MergelensError(lines[-1].removeprefix("mergelens: error: ") if lines else f"the {what} side failed")
        error.exit_code = done.returncode if lines else 1  # the other side's code: 2 for a non-empty target
        raise error
    return {str(table): int(count) for table, count in json.loads(done.stdout).items()}


def main(argv: list[str]) -> int:
    """The half run by the other interpreter: ``export SPEC DIR`` | ``import SPEC DIR [--replace]``;
    prints the row counts as JSON, or one error line."""
    what, spec, folder = argv[0], argv[1], Path(argv[2])
    env = Environment.from_environ()
    try:
        counts = export_db(spec, env, folder) if what == "export" else import_db(spec, env, folder, "--replace" in argv)
    except MergelensError as exc:
        print(f"mergelens: error: {inert(exc)}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
