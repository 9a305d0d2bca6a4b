"""The release workflow's logic (.github/workflows/release.yml, docs/releases.md), small enough to
dry-run in a test (tests/test_release.py):

    python scripts/release.py check-version vX.Y.Z   # the tag names pyproject.toml's version
    python scripts/release.py notes X.Y.Z            # CHANGELOG.md's section of that version

The version lives in one place, pyproject.toml's ``[project] version``. Each command prints one
line to stderr and exits 2 on a tag that is not that version or a version the changelog has no
section for. Stdlib only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A release tag: v and a semantic version, nothing else (no pre-release or build suffix).
TAG = re.compile(r"^v(\d+\.\d+\.\d+)$")
# Keep a Changelog 1.1.0: `## [1.0.0] - 2026-12-08` opens a release's section.
RELEASE_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - \d{4}-\d{2}-\d{2})?\s*$")
USAGE = 2


class ReleaseError(Exception):
    """A tag or changelog the release cannot be made from: one line, exit 2."""


def project_version(root: Path = ROOT) -> str:
    with (root / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def check_version(tag: str, root: Path = ROOT) -> str:
    """The version a release tag names, when it is pyproject.toml's."""
    match = TAG.match(tag)
    if match is None:
        raise ReleaseError(f"the tag is vX.Y.Z, not: {tag}")
    version = project_version(root)
    if match[1] != version:
        raise ReleaseError(f"the tag {tag} is not pyproject.toml's version {version}")
    return version


def notes(version: str, root: Path = ROOT) -> str:
    """The body of CHANGELOG.md's section of ``version``: the lines under its heading, up to the
    next release's heading or the link references at the bottom."""
    lines = (root / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if (m := RELEASE_HEADING.match(line)) and m["version"] == version]
    if not starts:
        raise ReleaseError(f"CHANGELOG.md has no section ## [{version}]")
    body = []
    for line in lines[starts[0] + 1 :]:
        if line.startswith("## ") or re.match(r"^\[[^\]]+\]: ", line):
            break
        body.append(line)
    text = "\n".join(body).strip()
    if not text:
        raise ReleaseError(f"CHANGELOG.md's section ## [{version}] is empty")
    return text + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="release.py", description="The release workflow's checks.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check-version", help="the tag names pyproject.toml's version").add_argument("tag")
    commands.add_parser("notes", help="print CHANGELOG.md's section of a version").add_argument("version")
    args = parser.parse_args(argv)
    try:
        if args.command == "check-version":
            print(check_version(args.tag))
        else:
            sys.stdout.write(notes(args.version))
    except ReleaseError as exc:
        print(f"release: error: {exc}", file=sys.stderr)
        return USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
