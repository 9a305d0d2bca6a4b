"""Regenerate tests/fixtures/schema/vN.duckdb: one small DB per schema version, each written by
that version's own code from git history (the last commit that still had that SCHEMA_VERSION).

For each version: ``git archive`` its commit into a temporary directory and run, there, a driver
that generates a small sample repository with that commit's fake GitHub (fixed seed), serves it on
loopback, and syncs a few of its merged PRs with that commit's ``python -m fetcher sync`` (the one
command every version has), then copies the DB into 16 KiB blocks (same rows, same catalog,
a fraction of the size). Stdlib and git only; run it from the checkout's root::

    python scripts/schema_fixtures.py            # every version
    python scripts/schema_fixtures.py 3 4        # only these

tests/test_db_schema.py opens each fixture with today's code: migrated, every row kept.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "schema"

# The last commit (on the history of the main branch) of each schema version; found with
# `git log -S "SCHEMA_VERSION = N" -- fetcher/store.py fetcher/db/schema.py` (the schema lived in
# fetcher/store.py before issue 21's layout change). Version 4 lived on issue 12's branch only:
# the main line went from 3 to 5 in one merge, so its last commit is that branch's.
COMMITS: dict[int, str] = {
    1: "c6645e35987bf5d09dfa8619747575c217f1909b",
    2: "661538edbf0a6816e0beec548369ad35120c6409",
    3: "2d253da259fe6af0825d72fbcc58336298f61db5",
    4: "f66ac3b39a573a103542ddbf718528813c59db13",
    5: "6b036318cc0fdff2974a1314bcc63ba1bec36184",
    6: "d4a5af8591a595432184e91bc65c429c309dce71",
    7: "278fdd74adaba5edc5eb8f517e40b5fad125a22c",
}

SEED = 7  # the generator's seed: the same sample repository every run
N_PRS = 12  # PRs generated; the merged ones among the first of them are synced
SYNCED = 4  # merged PRs synced into each fixture

# Run inside the old checkout with its own code: its fake GitHub (tests/fake_github before issue 21,
# tests/support/fake_github after) and its CLI in a subprocess, configured the Actions way.
DRIVER = """
import os, subprocess, sys
import duckdb
try:
    from tests.support.fake_github import FakeGitHub
    from tests.support.fake_github.generator import generate_repository
except ImportError:
    from tests.fake_github import FakeGitHub
    from tests.fake_github.generator import generate_repository

synced_db, out = sys.argv[1] + ".synced", sys.argv[1]
seed, n_prs, synced = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
repo = generate_repository(seed=seed, n_prs=n_prs, months=1)
merged = sorted(n for n, pr in repo.pulls.items() if pr.merged_at is not None)[:synced]
token = "ghs_schemaFixtureToken"
with FakeGitHub([repo], token=token) as server:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MERGELENS_"))}
    env.update(GITHUB_TOKEN=token, GITHUB_API_URL=server.api_url)
    for number in merged:
        argv = [sys.executable, "-m", "fetcher", "sync", "--repo", f"{repo.owner}/{repo.name}",
                "--pr", str(number), "--db", synced_db, "--request-interval", "0"]
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"sync of PR {number} exited {done.returncode}: {done.stderr.strip()}")
# The same rows and catalog in 16 KiB blocks (DuckDB's default, 256 KiB, makes ~10 MB of a few PRs).
with duckdb.connect() as con:
    con.execute("ATTACH ? AS synced (READ_ONLY)", [synced_db])
    con.execute("ATTACH ? AS compact (BLOCK_SIZE 16384)", [out])
    con.execute("COPY FROM DATABASE synced TO compact")
print(" ".join(map(str, merged)))
"""


def export(commit: str, into: Path) -> None:
    """The commit's tree, as ``git archive`` gives it, unpacked into ``into``."""
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")


def generate(version: int, python: str) -> str:
    """Write tests/fixtures/schema/v<version>.duckdb with that version's code; the PRs synced."""
    target = FIXTURES / f"v{version}.duckdb"
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"mergelens-schema-v{version}-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        export(COMMITS[version], tree)
        db = Path(tmp) / "out.duckdb"
        done = subprocess.run(
            [python, "-c", DRIVER, str(db), str(SEED), str(N_PRS), str(SYNCED)],
            cwd=tree,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"v{version} ({COMMITS[version][:7]}): {done.stderr.strip()}")
        target.write_bytes(db.read_bytes())
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="*", type=int, default=sorted(COMMITS))
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs the old code")
    args = parser.parse_args()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for version in args.versions:
        prs = generate(version, args.python)
        size = (FIXTURES / f"v{version}.duckdb").stat().st_size
        print(f"v{version}: {COMMITS[version][:7]} PRs {prs}, {size:,} bytes")


if __name__ == "__main__":
    main()
