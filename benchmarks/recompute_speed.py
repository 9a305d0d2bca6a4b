"""How long ``metrics --recompute`` takes over a big DB. Prints figures; asserts nothing.

    python -m benchmarks.recompute_speed [--prs 100000] [--repeat 3]

The DB is ``benchmarks.sync_speed.fill_with_prs``'s (10 commits, 6 comments, 3 reviews and 12 events
a PR); each run recomputes every PR in one transaction, as ``python -m fetcher metrics --recompute``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.sync_speed import fill_with_prs
from fetcher.compute import metrics
from fetcher.db import safe_open


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, safe_open.open_migrated(Path(tmp) / "big.duckdb") as con:
        fill_with_prs(con, args.prs)
        samples = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            con.execute("BEGIN")
            metrics.recompute(con)
            con.execute("COMMIT")
            samples.append(time.perf_counter() - started)
    shown = ", ".join(f"{s:.2f}" for s in samples)
    print(f"metrics --recompute over {args.prs:,} PRs: median {statistics.median(samples):.2f} s ({shown})")


if __name__ == "__main__":
    main()
