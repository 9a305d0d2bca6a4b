"""The repositories one run works on: ``--repo`` (one, as always), or many: ``--repos``,
``--repos-file`` and ``--org`` (organisation mode, docs/organisation.md).

Repository names are untrusted input (arguments, a file, even GitHub's own listing): each must
be ``OWNER/NAME`` as GitHub spells them, or the run stops before it spends a request.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fetcher.errors import UsageError

# GitHub's rules: an owner is 1-39 letters, digits or hyphens, not starting with a hyphen; a
# repository name 1-100 letters, digits, '.', '_' or '-'.
OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
REPO_PATTERN = re.compile(rf"^{OWNER}/[A-Za-z0-9._-]{{1,100}}$")
ORG_PATTERN = re.compile(rf"^{OWNER}$")
MAX_FILE_BYTES = 1_000_000  # a list of repositories, not a data file


def is_repository(name: str) -> bool:
    return bool(REPO_PATTERN.match(name)) and name.split("/", 1)[1] not in (".", "..")


def check_repo(repo: str, where: str = "--repo") -> str:
    if not is_repository(repo):
        raise UsageError(f"{where} {shown(repo)} is not OWNER/NAME")
    return repo


def check_org(org: str) -> str:
    if not ORG_PATTERN.match(org):
        raise UsageError(f"--org {shown(org)} is not an organisation name")
    return org


def shown(text: str) -> str:
    """Untrusted text in an error line: quoted, one line, not too long."""
    return repr(text[:80] + ("…" if len(text) > 80 else ""))


def parse_list(text: str) -> list[str]:
    """``--repos owner/a,owner/b`` (commas or whitespace)."""
    return [check_repo(name, "--repos") for name in re.split(r"[\s,]+", text.strip()) if name]


def read_file(path: str) -> list[str]:
    """``--repos-file``: one OWNER/NAME a line; blank lines and ``#`` comments are skipped."""
    try:
        with open(Path(path), "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise UsageError("--repos-file cannot be read (a UTF-8 text file, one OWNER/NAME a line)") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"--repos-file is larger than {MAX_FILE_BYTES // 1_000_000} MB")
    names = []
    for number, line in enumerate(text.splitlines(), 1):
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(check_repo(name, f"--repos-file line {number}:"))
    return names


def listed(org: str, payloads: list[dict[str, Any]]) -> list[str]:
    """The names of the listed repositories that belong to ``org`` and are not archived (an
    archived repository gets no new PRs; its history stays in the DB). A name that is not
    OWNER/NAME is skipped, whoever sent it."""
    names = []
    for repo in payloads:
        name = repo.get("full_name")
        if repo.get("archived") or not isinstance(name, str) or not is_repository(name):
            continue
        if name.split("/", 1)[0].lower() == org.lower():
            names.append(name)
    return names


def unique(names: list[str]) -> list[str]:
    """Each repository once (GitHub's names are case-insensitive), in the order given."""
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return list(seen.values())
