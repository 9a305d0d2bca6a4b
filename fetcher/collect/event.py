"""What the GitHub Actions event asks the fetcher to do."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fetcher.errors import MergelensError, UsageError
from fetcher.extract.records import MAX_PR_NUMBER, is_pr_number

PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")


@dataclass(frozen=True)
class SyncRequest:
    repo: str
    number: int
    trigger: str  # what asked for it: cli, pull_request, pull_request_target, workflow_dispatch


@dataclass(frozen=True)
class Skip:
    reason: str


def read_event(event_name: str | None, event_path: str, repository: str | None) -> SyncRequest | Skip:
    """Turn the Actions event file into a PR to sync, or a reason to do nothing."""
    try:
        payload = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MergelensError(f"event file not found: {event_path} (GITHUB_EVENT_PATH)") from None
    except (OSError, ValueError) as exc:
        raise MergelensError(f"event file {event_path} is not valid JSON: {exc}") from None
    except RecursionError:  # json's parser recurses once per nested array or object
        raise MergelensError(f"event file {event_path} is not valid JSON: nested too deeply") from None
    if not isinstance(payload, dict):
        raise MergelensError(f"event file {event_path} does not hold a JSON object")
    name = event_name or _guess_event_name(payload)
    repo = _repository_of(payload, event_path) or repository
    if name in PULL_REQUEST_EVENTS:
        return _pull_request_close(name, payload, repo, event_path)
    if name == "workflow_dispatch":
        return _dispatch(payload, repo, event_path)
    raise UsageError(f"event {name or 'unknown'} names no PR: pass --pr N, or run on a PR close or workflow_dispatch")


def _pull_request_close(name: str, payload: dict[str, Any], repo: str | None, path: str) -> SyncRequest | Skip:
    pr = payload.get("pull_request")
    if not isinstance(pr, dict) or pr.get("number", payload.get("number")) is None:
        raise MergelensError(f"event file {path}: {name} event without pull_request.number")
    number = pr.get("number", payload.get("number"))
    if not is_pr_number(number):  # JSON true, 0, -1, 12.5, "12", beyond the INTEGER column
        raise MergelensError(
            f"event file {path}: pull_request.number is not a PR number (a whole number from 1 to {MAX_PR_NUMBER})"
        )
    if payload.get("action") != "closed":
        return Skip(f"PR #{number} was {payload.get('action')}, not closed: nothing to sync")
    if pr.get("merged") is not True:
        return Skip(f"PR #{number} was closed without merging: nothing to sync")
    return SyncRequest(_require_repo(repo, path), number, name)


def _dispatch(payload: dict[str, Any], repo: str | None, path: str) -> SyncRequest:
    inputs = payload.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise MergelensError(f"event file {path}: workflow_dispatch inputs is not a JSON object")
    raw = inputs.get("pr_number")
    if raw in (None, ""):
        raise UsageError("workflow_dispatch without input pr_number: pass --pr N")
    try:
        number = int(str(raw).strip().lstrip("#"))
    except ValueError:
        raise MergelensError(f"event file {path}: input pr_number={raw!r} is not a PR number") from None
    if not is_pr_number(number):
        raise MergelensError(f"event file {path}: input pr_number={raw!r} is not a PR number (1 to {MAX_PR_NUMBER})")
    return SyncRequest(_require_repo(repo, path), number, "workflow_dispatch")


def _guess_event_name(payload: dict[str, Any]) -> str | None:
    if "pull_request" in payload:
        return "pull_request"
    if "inputs" in payload and "workflow" in payload:
        return "workflow_dispatch"
    return None


def _repository_of(payload: dict[str, Any], path: str) -> str | None:
    repository = payload.get("repository")
    name = repository.get("full_name") if isinstance(repository, dict) else None
    if name is not None and not isinstance(name, str):
        raise MergelensError(f"event file {path}: repository.full_name is not a string")
    return name


def _require_repo(repo: str | None, path: str) -> str:
    if not repo:
        raise MergelensError(f"event file {path} names no repository and GITHUB_REPOSITORY is not set")
    return repo


@dataclass(frozen=True)
class EventRepository:
    """The ``repository`` object of an Actions event payload: who this run belongs to."""

    full_name: str
    id: int | None
    default_branch: str | None


def event_repository(event_path: str) -> EventRepository | None:
    """The event's repository, or None when the file or the object is missing or malformed.

    Optional information (the artifact store falls back to GET /repos/{owner}/{repo}); an
    unreadable event file is reported by ``read_event`` where a run needs it."""
    try:
        payload = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    repository = payload.get("repository") if isinstance(payload, dict) else None
    if not isinstance(repository, dict) or not isinstance(repository.get("full_name"), str):
        return None
    repo_id, branch = repository.get("id"), repository.get("default_branch")
    return EventRepository(
        full_name=repository["full_name"],
        id=repo_id if isinstance(repo_id, int) and not isinstance(repo_id, bool) and repo_id > 0 else None,
        default_branch=branch if isinstance(branch, str) and branch.strip() else None,
    )
