"""What a run tells its user: one line per outcome on stderr, the JSON result on stdout."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

log = logging.getLogger("mergelens")


def configure_logging(stream: TextIO | None = None) -> None:
    """Progress and errors go to stderr, one plain line each."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def summary_line(result: dict[str, Any]) -> str:
    counts = ", ".join(f"{name} {count}" for name, count in result["counts"].items() if count is not None)
    failed = [error["section"] for error in result["errors"]]
    line = (
        f"{result['repo']}#{result['pr_number']}: {result['status']} "
        f"({counts}; {result['api_requests']} API requests, {result['duration_s']:.2f} s)"
    )
    if failed:
        line += f"; failed sections kept their previous rows: {', '.join(failed)}"
    return line


def print_json(document: dict[str, Any], stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(json.dumps(document, default=str, sort_keys=False) + "\n")
