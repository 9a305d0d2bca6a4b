"""A merge run's own critical path, step by step, as the merge workflow runs it. Prints figures
and ratios; asserts nothing.

    python -m benchmarks.merge_run [--prs 1000,100000] [--repeat 3]

Before its first step GitHub queues the job, starts a runner, checks out the code and sets up
Python (restoring pip's cache): none of that is mergelens's, and none of it is measured here.

1. Install (the step "Install mergelens"): the workflow's pip command into a fresh venv, from a
   warm cache, median of --repeat: the fetcher's lock (requirements-fetcher.txt, what a merge run
   installs) against the whole runtime set (requirements.txt, what it installed before), in the
   same run. The warm cache is a folder of the locks' wheels (``pip download``, once, untimed)
   read with ``--no-index --find-links``: pip's lookups in the index, which a runner still makes
   with a warm cache, are not in the figures.
2. The sync step (``python -m fetcher sync --reconcile since-last-run``, the workflow's line for
   a merge, MERGELENS_DB=artifact:mergelens-db), a fresh process of the fetcher's venv, against the
   fake GitHub, which serves the merged PR's event and a DB of N PRs as the newest artifact (built
   with ``benchmarks.dashboard_speed.build``): the whole step (imports, find + download + unzip
   the DB, the catch-up listing, the sync of the PR with the default pause of 0.25 s between
   requests, the integrity check, the file left for upload), median of --repeat; and, timed
   alone in this process, finding and downloading the DB (``ArtifactLocation.fetch_copy``).
3. The upload step: actions/upload-artifact zips the file (deflate at its ``compression-level``
   input, default 6) and sends it to GitHub's storage. The zip, written to disk, is measured, at
   level 6 and, for comparison, at 1 and 0 (stored); the transfer cannot be measured here (the
   archive's size is printed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.dashboard_speed import build
from benchmarks.sync_speed import median_ms
from fetcher.config import Environment
from fetcher.storage.artifact import ArtifactLocation
from tests.conftest import recorded_sample
from tests.support.fake_github import FakeGitHub
from tests.support.fake_github.generator import generate_repository
from tests.support.fake_github.model import Artifact

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
ARTIFACT = "mergelens-db"
FETCHER_LOCK, RUNTIME_SET = "requirements-fetcher.txt", "requirements.txt"
UPLOAD_LEVEL = 6  # actions/upload-artifact's default compression-level
# The workflow's install command (.github/workflows/mergelens.yml), reading the warm wheel folder.
PIP_INSTALL = ["-m", "pip", "install", "--quiet", "--require-hashes", "--only-binary", ":all:", "--no-index"]


def median_s(action: Callable[[], object], repeat: int) -> float:
    return median_ms(action, repeat) / 1000


def say(text: str) -> None:
    print(text, flush=True)


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


# --- 1. install ----------------------------------------------------------------------------------


@dataclass
class Install:
    lock: str
    seconds: list[float]
    size_mb: float = 0.0
    python: Path | None = None  # the first venv, kept: the sync step runs from it


def install_into_fresh_venv(workdir: Path, wheels: Path, install: Install) -> None:
    """A new venv (untimed: setup-python provides the interpreter), then the timed install."""
    folder = workdir / f"venv-{install.lock}-{len(install.seconds)}"
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    started = time.perf_counter()
    subprocess.run([str(python), *PIP_INSTALL, "--find-links", str(wheels), "-r", str(ROOT / install.lock)], check=True)
    install.seconds.append(time.perf_counter() - started)
    packages = next(folder.glob("lib/python*/site-packages"))
    install.size_mb = folder_mb(packages)
    if install.python is None:
        install.python = python


def installs(workdir: Path, repeat: int) -> dict[str, Install]:
    wheels = workdir / "wheels"
    started = time.perf_counter()
    # The runtime set holds every package of the fetcher's lock (tests/test_requirements.py).
    download = ["download", "--quiet", "--require-hashes", "--only-binary", ":all:", "--dest", str(wheels)]
    subprocess.run([sys.executable, "-m", "pip", *download, "-r", str(ROOT / RUNTIME_SET)], check=True)
    seconds = time.perf_counter() - started
    say(f"warm cache: {len(list(wheels.iterdir()))} wheels, {folder_mb(wheels):.0f} MB ({seconds:.0f} s)")
    done = {lock: Install(lock, []) for lock in (FETCHER_LOCK, RUNTIME_SET)}
    for _ in range(repeat):  # alternated, so a busy moment of the machine hits both alike
        for install in done.values():
            install_into_fresh_venv(workdir, wheels, install)
    for install in done.values():
        runs = ", ".join(f"{s:.1f}" for s in install.seconds)
        median = statistics.median(install.seconds)
        say(f"  {install.lock:26} {median:5.1f} s ({runs}); {install.size_mb:.0f} MB installed")
    return done


# --- 2. the sync step, 3. the upload's zip ---------------------------------------------------------


def merged_event(repo_full_name: str, repo_id: int, number: int) -> dict:
    """The recorded merged webhook, moved to the fake's repository and PR."""
    event = recorded_sample("webhook_pull_request_closed_merged.json")
    event["number"] = event["pull_request"]["number"] = number
    event["repository"].update({"full_name": repo_full_name, "id": repo_id, "default_branch": "main"})
    return event


def zipped(db: Path, archive: Path, level: int) -> None:
    """The file as actions/upload-artifact zips it: deflate at ``level``, 0 stores it as it is."""
    method = zipfile.ZIP_DEFLATED if level else zipfile.ZIP_STORED
    with zipfile.ZipFile(archive, "w", method, compresslevel=level or None) as zf:
        zf.write(db, db.name)


@dataclass
class MergeRun:
    prs: int
    db_mb: float
    download_s: float
    sync_step_s: float
    zips: dict[int, tuple[float, float]]  # compression level -> (s, MB of the archive)


def merge_run(workdir: Path, github: FakeGitHub, repo, python: Path, prs: int, repeat: int) -> MergeRun:
    db = workdir / f"db-{prs}" / f"{ARTIFACT}.duckdb"
    db.parent.mkdir()
    seconds = build(db, prs)
    say(f"DB of {prs:,} PRs: {db.stat().st_size / 1e6:.0f} MB, built in {seconds:.1f} s")
    repo.artifacts[:] = [Artifact.from_file(700 + prs % 97, ARTIFACT, db, datetime.now(UTC))]
    number = max(n for n, pr in repo.pulls.items() if pr.merged_at is not None)
    event_path = workdir / f"event-{prs}.json"
    event_path.write_text(json.dumps(merged_event(repo.full_name, repo.id, number)), encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "GITHUB_ACTIONS": "true",
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": github.api_url,
        "GITHUB_REPOSITORY": repo.full_name,
        "GITHUB_REPOSITORY_ID": str(repo.id),
        "GITHUB_EVENT_NAME": "pull_request_target",
        "GITHUB_EVENT_PATH": str(event_path),
        "MERGELENS_DB": f"artifact:{ARTIFACT}",
    }

    # Finding and downloading the DB alone, in this process (imports done).
    location = ArtifactLocation(ARTIFACT, Environment.from_environ(env), workdir / "unused")
    fetched = workdir / f"fetched-{prs}.duckdb"
    download_s = median_s(lambda: location.fetch_copy(fetched, None), repeat)

    # The whole step, a fresh process each time: a new run (its own RUNNER_TEMP and run id), the
    # same artifact, the same PR.
    runs = iter(range(1, repeat + 1))
    left: list[Path] = []

    def sync_step() -> None:
        run = next(runs)
        home = workdir / f"run-{prs}-{run}"
        home.mkdir()
        step_env = env | {"RUNNER_TEMP": str(home), "GITHUB_RUN_ID": str(run), "GITHUB_OUTPUT": str(home / "output")}
        done = subprocess.run(
            [str(python), "-m", "fetcher", "sync", "--reconcile", "since-last-run"],
            cwd=ROOT,
            env=step_env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"the sync step failed ({done.returncode}): {done.stderr}")
        outputs = dict(line.split("=", 1) for line in (home / "output").read_text().splitlines() if "=" in line)
        if run == 1:
            checked = outputs["db_verified"]
            say(f"  the sync step: PR #{outputs['pr_number']} {outputs['status']}, DB checked: {checked}")
        left.append(Path(outputs["db_path"]))

    sync_step_s = median_s(sync_step, repeat)

    # The upload step's zip of the file the sync left (the transfer is GitHub's: not measured).
    zips = {}
    for level in (UPLOAD_LEVEL, 1, 0):
        archive = workdir / f"upload-{prs}-{level}.zip"
        seconds = median_s(lambda: zipped(left[-1], archive, level), repeat)  # noqa: B023 (called here)
        zips[level] = (seconds, archive.stat().st_size / 1e6)
    return MergeRun(prs, db.stat().st_size / 1e6, download_s, sync_step_s, zips)


def report(done: dict[str, Install], runs: list[MergeRun]) -> None:
    fetcher, runtime = (statistics.median(done[lock].seconds) for lock in (FETCHER_LOCK, RUNTIME_SET))
    say("\nthe merge run's critical path after GitHub starts the job (medians, s):")
    say(f"  install: fetcher's lock {fetcher:.1f} | whole runtime set {runtime:.1f} ({fetcher / runtime:.2f}x)")
    size = done[FETCHER_LOCK].size_mb / done[RUNTIME_SET].size_mb
    say(f"  installed size: {done[FETCHER_LOCK].size_mb:.0f} MB | {done[RUNTIME_SET].size_mb:.0f} MB ({size:.2f}x)")
    for run in runs:
        zip_s, zip_mb = run.zips[UPLOAD_LEVEL]
        steps = run.sync_step_s + zip_s
        say(
            f"  {run.prs:,} PRs ({run.db_mb:.0f} MB DB, {zip_mb:.0f} MB zipped): find + download {run.download_s:.1f}; "
            f"sync step {run.sync_step_s:.1f} (of which the rest: start, imports, the sync with its pauses, the check "
            f"{run.sync_step_s - run.download_s:.1f}); upload's zip {zip_s:.1f}"
        )
        others = "; ".join(
            f"level {level} {s:.1f} s, {mb:.0f} MB" for level, (s, mb) in run.zips.items() if level != UPLOAD_LEVEL
        )
        say(f"    the zip at other compression levels: {others}")
        say(
            f"    install + sync step + zip: {fetcher + steps:.1f} with the fetcher's lock | "
            f"{runtime + steps:.1f} with the runtime set ({(fetcher + steps) / (runtime + steps):.2f}x)"
        )
    say("  not measured: runner start, checkout, setup-python, the upload's transfer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prs", default="1000,100000", help="DB sizes, comma-separated (default 1000,100000)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.prs.split(",")]
    repeat = max(1, args.repeat)
    clock = time.perf_counter()
    repo = generate_repository(seed=7)
    with tempfile.TemporaryDirectory(prefix="mergelens-merge-run-") as tmp, FakeGitHub([repo], token=TOKEN) as github:
        workdir = Path(tmp)
        say("install from a warm cache, into a fresh venv:")
        done = installs(workdir, repeat)
        python = done[FETCHER_LOCK].python
        assert python is not None
        runs = [merge_run(workdir, github, repo, python, prs, repeat) for prs in sizes]
        report(done, runs)
    say(f"\ntotal run time {time.perf_counter() - clock:.0f} s")


if __name__ == "__main__":
    main()
