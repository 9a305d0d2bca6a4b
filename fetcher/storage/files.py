"""Working copies on disk: durable replacement and clean-up, shared by every location."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

COPY_CHUNK = 1 << 20


def remove(path: Path) -> None:
    """Remove a working copy and the WAL DuckDB may have left beside it."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # A rename is durable only once the directory entry is on disk.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(work: Path, target: Path) -> None:
    """``work`` (verified, on the same file system) becomes ``target`` in one rename."""
    _fsync_file(work)
    os.replace(work, target)
    _fsync_dir(target.parent)
