"""A DuckLake against the DuckDB file, side by side in one run. Prints figures; asserts nothing.

    python -m benchmarks.lake_speed [--prs 100000] [--repeat 5] [--burst 50]

Run it with the main interpreter (``.venv/bin/python``: DuckDB 2.0, the file line); the lake's
steps run as subprocesses of the DuckLake interpreter (``.venv-lake/bin/python``, or
``MERGELENS_LAKE_PYTHON``), as ``python -m benchmarks.lake_speed lake-side CONFIG.json``. It
starts its own PostgreSQL cluster and moto S3 server on 127.0.0.1 (tests/support/services.py) and the
fake GitHub. The default run took ~10 min on a shared 2-core machine, most of it the 2 × 50
burst merges; ``--prs 10000 --repeat 3 --burst 10`` is a quick one.

1. A file DB of N PRs with realistic children (``benchmarks.sync_speed.fill_with_prs``), uploaded
   to S3, and copied with ``python -m fetcher copy`` (timed) into two lakes with a PostgreSQL
   catalog: data in a local directory, data in S3.
2. One merge's write: the real ``sync`` of one merged PR of the fake GitHub (fetch + write +
   metrics + run record, request interval 0) through its location, into each of the four: a local
   file (lock, copy, write, verify, replace), the file through S3 (download, write, verify,
   conditional upload), each lake (one transaction in place, verify). Timed in-process (imports
   done), median of --repeat, a different PR each time, the same PRs on every target; and as a
   fresh process (``python -m fetcher sync``, what a merge's job runs). Ratios against the local file.
3. The dashboard's first render (Streamlit ``AppTest``, caches cleared: a new dashboard process)
   with ``MERGELENS_DB`` set to each, as a user runs it.
4. Each lake's data files (the catalog's ``ducklake_data_file`` and ``ducklake_delete_file`` rows
   in use, and the files in the directory / objects in S3) after the copy, after a burst of
   --burst single-PR syncs (each a commit of small files), and after ``python -m fetcher compact
   --keep-hours 0`` (timed).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
TOKEN = "bench-token"
BUCKET = "mergelens-bench"


# --- what runs on either line (in-process here, or in the lake interpreter) -------------------


def timed_syncs(db: str, repo: str, numbers: list[int]) -> list[float]:
    """Seconds of each ``sync --pr N --db DB`` (the CLI in this process; GitHub, S3 and the lake's
    data path from the environment)."""
    from fetcher.cli import main
    from fetcher.config import Environment

    seconds = []
    for number in numbers:
        out, err = io.StringIO(), io.StringIO()
        argv = ["sync", "--repo", repo, "--pr", str(number), "--db", db, "--request-interval", "0", "--json"]
        started = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv, Environment.from_environ())
        seconds.append(time.perf_counter() - started)
        if code != 0:
            raise SystemExit(f"sync of #{number} exited {code}: {err.getvalue()[-800:]}")
    return seconds


class RenderFailed(Exception):
    pass


def first_render_ms(db: str, repeat: int, before: Callable[[], None] | None = None) -> float | str:
    """Median ms of the dashboard's first render (Overview, caches cleared) on ``MERGELENS_DB=db``;
    the dashboard's error instead when it cannot show that DB."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from benchmarks.dashboard_speed import serve_locally

    os.environ["MERGELENS_DB"] = db
    serve_locally()

    def render() -> None:
        st.cache_data.clear()
        st.cache_resource.clear()  # a new dashboard process: no connection, nothing cached
        if before:
            before()
        at = AppTest.from_file(str(APP), default_timeout=600).run()
        if at.exception:
            raise RenderFailed(at.exception[0].message.strip().splitlines()[0])
        # the Overview of the DB's PRs, not a message instead (the sidebar names the DB and its PRs)
        if not any("merged PRs" in str(caption.value) for caption in at.sidebar.caption):
            shown = [str(element.value) for element in (*at.error, *at.warning)] or ["no PRs shown"]
            raise RenderFailed(shown[0].strip().splitlines()[0])

    try:
        render()  # the imports, as a running server has them
    except RenderFailed as failed:
        return str(failed)
    from benchmarks.sync_speed import median_ms

    return median_ms(render, repeat)


def lake_files(db: str) -> dict[str, int]:
    """The lake catalog's data and delete files: those the current snapshot reads, and every row."""
    from fetcher.config import Environment
    from fetcher.storage.lake.location import LakeLocation

    env = Environment.from_environ()
    con = LakeLocation(db, env.lake_data_path, env.s3).attach()
    try:
        counts = {}
        for kind in ("data", "delete"):
            row = con.execute(
                "SELECT count(*) FILTER (WHERE end_snapshot IS NULL), count(*) "
                f"FROM __ducklake_metadata_lake.ducklake_{kind}_file"
            ).fetchone()
            assert row is not None
            counts[f"{kind}_live"], counts[f"{kind}_rows"] = int(row[0]), int(row[1])
        return counts
    finally:
        con.close()


def lake_side(config: dict[str, Any]) -> Any:
    """One step of the lake's, in the DuckLake interpreter."""
    step = config["step"]
    if step == "syncs":
        return timed_syncs(config["db"], config["repo"], config["prs"])
    if step == "render":
        return first_render_ms(config["db"], config["repeat"])
    if step == "files":
        return lake_files(config["db"])
    raise SystemExit(f"unknown step {step}")


# --- the driver (the main interpreter) --------------------------------------------------------


@dataclass
class Lake:
    name: str
    spec: str
    data_path: str  # a directory or s3://BUCKET/PREFIX/


@dataclass
class Bench:
    workdir: Path
    env: dict[str, str]  # every subprocess's environment (GitHub, S3)
    lake_python: Path
    s3: Any  # a boto3 client of moto's server
    file_counts: list[tuple[str, str, dict[str, int], int]] = field(default_factory=list)

    def on_lake(self, lake: Lake, config: dict[str, Any]) -> Any:
        path = self.workdir / f"step-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps({"db": lake.spec, **config}), encoding="utf-8")
        argv = [str(self.lake_python), "-m", "benchmarks.lake_speed", "lake-side", str(path)]
        done = subprocess.run(argv, cwd=ROOT, env=self.lake_env(lake), capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"lake step {config['step']} on {lake.name} failed: {done.stderr[-1500:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def lake_env(self, lake: Lake) -> dict[str, str]:
        return self.env | {"MERGELENS_LAKE_DATA_PATH": lake.data_path}

    def fetcher(self, python: Path | str, env: dict[str, str], *argv: str) -> tuple[float, str]:
        """Seconds of ``python -m fetcher ARGV`` as a fresh process, and its stdout."""
        started = time.perf_counter()
        done = subprocess.run(
            [str(python), "-m", "fetcher", *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"fetcher {argv[0]} exited {done.returncode}: {done.stderr[-1500:]}")
        return seconds, done.stdout

    def objects(self, lake: Lake) -> int:
        """Files under the lake's data path: in its directory, or objects in S3."""
        if not lake.data_path.startswith("s3://"):
            return sum(1 for path in Path(lake.data_path).rglob("*") if path.is_file())
        bucket, _, prefix = lake.data_path.removeprefix("s3://").partition("/")
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sum(page.get("KeyCount", 0) for page in pages)

    def files(self, lake: Lake, when: str) -> None:
        """Record the lake's files now: the catalog's, and those stored."""
        self.file_counts.append((lake.name, when, self.on_lake(lake, {"step": "files"}), self.objects(lake)))


def lake_python() -> Path:
    python = Path(os.environ.get("MERGELENS_LAKE_PYTHON") or ROOT / ".venv-lake" / "bin" / "python")
    if not python.exists():
        raise SystemExit(f"no DuckLake interpreter at {python}: run `make lake` or set MERGELENS_LAKE_PYTHON")
    return python


def say(text: str) -> None:
    print(text, flush=True)


def copy_in(bench: Bench, local: Path, lakes: list[Lake]) -> None:
    for lake in lakes:
        argv = ["copy", "--from", str(local), "--to", lake.spec]
        seconds, _ = bench.fetcher(sys.executable, bench.lake_env(lake), *argv)
        stored = "" if lake.data_path.startswith("s3://") else f", {folder_mb(Path(lake.data_path)):.0f} MB of Parquet"
        say(f"  copy into the {lake.name} (PostgreSQL catalog): {seconds:.1f} s{stored}")
        bench.files(lake, "after the copy")


def folder_mb(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6


def merge_writes(bench: Bench, files: list[tuple[str, str]], lakes: list[Lake], repo: str, prs: list[int]) -> None:
    """Section 2: ``prs[0]`` synced first (not timed), then each of the others."""
    say(f"\none merge's write: sync of one PR (fetch + write + metrics + run record), median of {len(prs) - 1}, ms")
    say(f"{'':34} {'in-process':>10} {'ratio':>6} {'fresh process':>14} {'ratio':>6}")
    fresh = prs[1 : 1 + min(3, len(prs) - 1)]
    sync = ["sync", "--repo", repo, "--request-interval", "0"]
    base: tuple[float, float] | None = None
    for name, spec, python, env in [
        *((name, spec, Path(sys.executable), bench.env) for name, spec in files),
        *((lake.name, lake.spec, bench.lake_python, bench.lake_env(lake)) for lake in lakes),
    ]:
        if python == bench.lake_python:
            inside = bench.on_lake(lake_named(lakes, name), {"step": "syncs", "repo": repo, "prs": prs})[1:]
        else:
            inside = timed_syncs(spec, repo, prs)[1:]
        runs = [bench.fetcher(python, env, *sync, "--pr", str(number), "--db", spec)[0] for number in fresh]
        row = statistics.median(inside) * 1000, statistics.median(runs) * 1000
        base = base or row
        say(f"  {name:<32} {row[0]:10.1f} {row[0] / base[0]:6.2f} {row[1]:14.1f} {row[1] / base[1]:6.2f}")


def lake_named(lakes: list[Lake], name: str) -> Lake:
    return next(lake for lake in lakes if lake.name == name)


def renders(bench: Bench, local: Path, s3_file: str, lakes: list[Lake], repeat: int) -> None:
    """Section 3."""
    say(f"\nthe dashboard's first render (AppTest, Overview, caches cleared), median of {repeat}, ms")
    cache = Path(os.environ["MERGELENS_CACHE_DIR"])
    found = {
        "local file": first_render_ms(str(local), repeat),
        "file through S3, cold cache": first_render_ms(s3_file, repeat, lambda: shutil.rmtree(cache, True)),
        "file through S3, warm cache": first_render_ms(s3_file, repeat),
    }
    for lake in lakes:
        found[lake.name] = bench.on_lake(lake, {"step": "render", "repeat": repeat})
    base = found["local file"]
    for name, value in found.items():
        if isinstance(value, float) and isinstance(base, float):
            say(f"  {name:<32} {value:10.1f} {value / base:6.2f}")
        else:
            say(f"  {name:<32}        n/a (the dashboard cannot open it yet: {value})")


def burst_and_compact(bench: Bench, lakes: list[Lake], repo: str, prs: list[int]) -> None:
    """Section 4."""
    say(f"\na burst of {len(prs)} merges (single-PR syncs, one process each lake), then compact --keep-hours 0")
    for lake in lakes:
        samples = bench.on_lake(lake, {"step": "syncs", "repo": repo, "prs": prs})
        median = statistics.median(samples) * 1000
        say(f"  {lake.name}: {len(prs)} syncs in {sum(samples):.1f} s (median {median:.0f} ms)")
        bench.files(lake, f"after {len(prs)} merges")
        argv = ["compact", "--db", lake.spec, "--keep-hours", "0", "--json"]
        seconds, out = bench.fetcher(bench.lake_python, bench.lake_env(lake), *argv)
        report = json.loads(out)
        say(
            f"    compact: {report['duration_s']:.1f} s inside, {seconds:.1f} s as a process; "
            f"{report['snapshots_expired']} snapshots expired, {report['files_deleted']} files deleted"
        )
        bench.files(lake, "after compact")
    say(f"\n{'data files (catalog: in use / rows; on disk or in S3)':<54} {'data':>12} {'delete':>12} {'stored':>7}")
    order = [lake.name for lake in lakes]
    for name, when, counts, stored in sorted(bench.file_counts, key=lambda row: order.index(row[0])):
        data = f"{counts['data_live']} / {counts['data_rows']}"
        deletes = f"{counts['delete_live']} / {counts['delete_rows']}"
        say(f"  {name + ', ' + when:<52} {data:>12} {deletes:>12} {stored:>7}")


def run(prs: int, repeat: int, burst: int) -> None:
    import boto3

    from benchmarks.dashboard_speed import build
    from tests.support.fake_github import FakeGitHub
    from tests.support.fake_github.generator import generate_repository
    from tests.support.services import create_database, moto_server, postgres_cluster

    repo = generate_repository(seed=7)
    merged = sorted(number for number, pr in repo.pulls.items() if pr.merged_at is not None)
    needed = 1 + repeat + burst
    if needed > len(merged):
        raise SystemExit(f"--repeat + --burst ask for {needed} merged PRs; the fake repository has {len(merged)}")
    clock = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="mergelens-lake-bench-") as tmp,
        postgres_cluster() as postgres,
        moto_server() as endpoint,
        FakeGitHub([repo], token=TOKEN) as github,
    ):
        workdir = Path(tmp)
        s3_env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        github_env = {"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN}
        os.environ.update(s3_env | github_env | {"MERGELENS_CACHE_DIR": str(workdir / "cache")})
        os.environ.pop("MERGELENS_LAKE_DATA_PATH", None)
        keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
        python = lake_python()
        env = keep | s3_env | github_env | {"PYTHONPATH": str(ROOT), "MERGELENS_LAKE_PYTHON": str(python)}
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        bench = Bench(workdir, env, python, client)

        local = workdir / "mergelens.duckdb"
        seconds = build(local, prs)
        say(f"file DB: {prs:,} PRs built in {seconds:.1f} s, {local.stat().st_size / 1e6:.0f} MB")
        started = time.perf_counter()
        client.upload_file(str(local), BUCKET, "mergelens.duckdb")
        say(f"  uploaded to S3 (moto on loopback) in {time.perf_counter() - started:.1f} s")
        s3_file = f"s3://{BUCKET}/mergelens.duckdb"
        lakes = [
            Lake("lake, data in a directory", "ducklake:postgres:" + create_database(postgres), f"{workdir}/lake/"),
            Lake("lake, data in S3", "ducklake:postgres:" + create_database(postgres), f"s3://{BUCKET}/lake/"),
        ]
        copy_in(bench, local, lakes)
        files = [("local file", str(local)), ("file through S3", s3_file)]
        merge_writes(bench, files, lakes, repo.full_name, merged[: 1 + repeat])
        renders(bench, local, s3_file, lakes, repeat)
        burst_and_compact(bench, lakes, repo.full_name, merged[1 + repeat : needed])
    say(f"\ntotal run time {time.perf_counter() - clock:.0f} s")


def main() -> None:
    if sys.argv[1:2] == ["lake-side"]:
        print(json.dumps(lake_side(json.loads(Path(sys.argv[2]).read_text(encoding="utf-8")))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()
    run(args.prs, max(1, args.repeat), max(0, args.burst))


if __name__ == "__main__":
    main()
