"""Expected failures, one family: each is a ``MergelensError`` that becomes one clear line on
stderr and a documented exit code (``fetcher.db.safe_open.DatabaseRefused`` and
``fetcher.collect.rest.FetchFailed`` are its members too); ``inert``
makes any printed line exactly one line that no Actions runner reads as a command."""

from __future__ import annotations

import re

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


class StorageError(MergelensError):
    """The DB could not be opened, fetched, verified or stored: one line, exit code 1."""


class StorageConflict(StorageError):
    """Other writers kept updating the stored DB while we were: gave up after max_attempts."""


# What ends a line somewhere (a log viewer, str.splitlines) or changes how it shows: C0 and C1
# control characters, DEL, Unicode's line and paragraph separators.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The Actions runner reads every line a step prints. A line starting with "::" once leading
# whitespace is trimmed is a workflow command (::warning::, ::add-mask::, ::stop-commands::);
# the older "##[command]" form counts anywhere in a line (actions/runner ActionCommand.TryParseV2
# and TryParse; ActionCommandManager tries both).
LEGACY_COMMAND = "##["


def inert(text: object) -> str:
    """``text`` as one printed line that no runner reads as a workflow command: control characters
    (newlines too) escaped as Python writes them (``\\n``, ``\\x1b``), ``##[`` written ``##\\[``,
    and a line that would start with ``::`` given a leading backslash. Unchanged when made inert twice."""
    line = CONTROL.sub(lambda found: repr(found.group())[1:-1], str(text)).replace(LEGACY_COMMAND, "##\\[")
    return "\\" + line if line.lstrip().startswith("::") else line
