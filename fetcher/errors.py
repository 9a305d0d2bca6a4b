"""Expected failures: each becomes one clear line on stderr and a documented exit code."""

from __future__ import annotations

EXIT_COMPLETE = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_STOPPED = 4  # --check-merge-runs: merge runs stopped storing merged PRs (what was reconciled is stored)


class MergelensError(Exception):
    """A failure we expect and explain: no traceback, one line, this exit code."""

    exit_code = EXIT_FAILED


class UsageError(MergelensError):
    exit_code = EXIT_USAGE
