"""Which artifacts the artifact store may build on: those uploaded by a run of a mergelens
workflow of this repository that executed the code of a trusted branch (``Trust.run_refusal``).
Any run, a fork's PR CI included, can upload an artifact of any name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The workflow files whose runs may upload the database (MERGELENS_ARTIFACT_WORKFLOWS replaces
# them), compared with the run's ``path``. The one mergelens ships that uploads an artifact; the
# composite action runs inside its caller's workflow file, which the README names so.
# (mergelens-org.yml writes a DuckLake and uploads nothing.)
DEFAULT_WORKFLOWS = (".github/workflows/mergelens.yml",)

# Which code a workflow run executed, by the event that triggered it (the run's ``event``).
# For the pull request events GitHub records the PR's HEAD side in the run whichever code ran:
# head_branch is the PR's branch and head_repository the PR's head repository (the fork, for a
# fork's PR). So the head side alone cannot tell a fork's `pull_request` run (the fork's code)
# from a `pull_request_target` run for the same PR (our base branch's code); the event can.
_BASE_BRANCH_EVENTS = ("pull_request_target",)  # the PR's base branch's workflow and code
_BRANCH_EVENTS = ("schedule", "workflow_dispatch", "push", "workflow_run", "repository_dispatch")
_PULL_REQUEST_EVENTS = ("pull_request", "pull_request_review", "pull_request_review_comment", "merge_group")


@dataclass(frozen=True)
class Trust:
    """Whose artifacts we use: runs of a mergelens workflow (``workflows``) of this repository
    (its id, so a fork's runs, which list under our repository too, never pass) that ran the code
    of a trusted branch: see ``run_refusal``. ``commit_on_branch(sha, branch)`` says whether the
    commit is on that branch of this repository (its tip or an ancestor of it), asking GitHub."""

    repository_id: int
    branches: tuple[str, ...]
    workflows: tuple[str, ...]
    commit_on_branch: Callable[[str, str], bool]

    def run_refusal(self, run: dict[str, Any]) -> str | None:
        """Why the workflow run ``run`` (GET /repos/{o}/{r}/actions/runs/{id}) did not run our
        code, or None when it did. Its ``path`` must be one of ``workflows``; then by ``event``:

        - ``pull_request_target`` runs the workflow and code of the PR's base branch, in this
          repository, whoever opened the PR (head_branch/head_repository are the PR's; head_sha
          is the base branch's commit): trusted when that commit is on a trusted branch (a PR
          into another branch runs that branch's copy of the workflow).
        - ``schedule``, ``workflow_dispatch``, ``push``, ``workflow_run``, ``repository_dispatch``
          run the code of ``head_branch`` of ``head_repository``: trusted when that is this
          repository and a trusted branch (the default one, or MERGELENS_ARTIFACT_BRANCHES) and
          head_sha is on that branch. A run for a tag records the tag's name in head_branch, and
          nothing in the run says it was a tag: a tag named ``main`` at a commit off the branch
          ``main`` passes the name test, not the commit test.
        - ``pull_request``, ``pull_request_review(_comment)`` and ``merge_group`` run a pull
          request's code (a same-repository branch's too, Dependabot's say); they and every
          other event are never trusted, whatever the head side says."""
        event, branch = shown(run["event"]), shown(run.get("head_branch"))
        if run["repository"]["id"] != self.repository_id:
            return f"uploaded by a run of event {event} of another repository (id {shown(run['repository']['id'])})"
        if run.get("path") not in self.workflows:
            return (
                f"uploaded by a run of workflow {shown(run.get('path'))} (event {event}), not of "
                f"{', '.join(self.workflows)} (MERGELENS_ARTIFACT_WORKFLOWS)"
            )
        sha = run.get("head_sha")
        if run["event"] in _BASE_BRANCH_EVENTS:
            if isinstance(sha, str) and any(self.commit_on_branch(sha, trusted) for trusted in self.branches):
                return None
            return (
                f"uploaded by a run of event {event} whose base commit {shown(sha)[:12]} is on none of the "
                f"trusted branches ({', '.join(self.branches)}): a pull request into another branch"
            )
        head = run.get("head_repository")
        if not isinstance(head, dict):  # null for a run whose head repository was deleted
            head = {}
        ours = head.get("id") == self.repository_id
        where = f"uploaded by a run of event {event} for branch {branch} of " + (
            "this repository" if ours else shown(head.get("full_name") or f"repository id {head.get('id')}")
        )
        if run["event"] in _PULL_REQUEST_EVENTS:
            return f"{where}: that event runs the code of a pull request"
        if run["event"] not in _BRANCH_EVENTS:
            return f"{where}: only runs of {', '.join(_BASE_BRANCH_EVENTS + _BRANCH_EVENTS)} are trusted"
        if not ours:
            return f"{where}, not this repository"
        if run.get("head_branch") not in self.branches:
            return f"{where} (trusted: {', '.join(self.branches)})"
        if not (isinstance(sha, str) and self.commit_on_branch(sha, run["head_branch"])):
            return f"{where}: its commit {shown(sha)[:12]} is not on that branch (a tag of that name?)"
        return None


def shown(value: object) -> str:
    """A value from GitHub's answer (a fork's branch name is anyone's text) as one short line."""
    return " ".join(str(value).split())[:100]
