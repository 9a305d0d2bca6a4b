"""The README's single-repository path, walked as written: the workflow a user copies from
"Run it on every merge (GitHub Actions)" (its ```yaml block, read from README.md, never copied
here), with ``uses: OWNER/mergelens@<full commit sha>`` standing for this checkout's action.yml.

Each job runs the action's steps with the step's ``with:`` as the action's inputs (a name
action.yml lacks fails the test, as its missing input would leave the setting unset) and its
``env:`` beside them, in a workspace of another repository, under the job's own token: the fake
GitHub answers an artifact DELETE with 403 unless that job's ``permissions:`` grant
``actions: write``. The jobs' ``if:`` and the sync job's ``outputs:`` (the prune job's cue) are
evaluated from the snippet too. Emulator: tests/test_actions_run.py's Runner.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.conftest import TOKEN
from tests.support.factories import repository
from tests.test_actions_run import (
    ACTION,
    EXPRESSION,
    Runner,
    RunOutcome,
    evaluate,
    flat_outputs,
    load_action_steps,
    merge,
    merged_event,
    open_pulls,
    pull_request_numbers,
)
from tests.test_docs import blocks

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "Run it on every merge (GitHub Actions)"
# What the README tells the user to write; the test resolves it to this checkout's action.yml.
ACTION_REF = "OWNER/mergelens@<full commit sha>"

pytestmark = pytest.mark.slow  # whole jobs, one subprocess per step: `make test-fast` skips them


def readme_workflow() -> dict[str, Any]:
    """The ```yaml block of the README's section that uses the action."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {SECTION}") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("## ")) + 1
    [(line, block)] = [
        (line, text)
        for name, line, lang, text, _ in blocks()
        if name == README.name and lang == "yaml" and f"uses: {ACTION_REF}" in text
    ]
    assert start < line < end, f"README.md:{line}: the action's workflow is outside {SECTION!r}"
    return yaml.safe_load(block)


def action() -> dict[str, Any]:
    """This checkout's action.yml: what `uses: OWNER/mergelens@<full commit sha>` resolves to."""
    return yaml.safe_load(ACTION.read_text())


def job_condition(condition: str, values: dict[str, str]) -> bool:
    """A job's ``if:``: ``||`` of ``&&`` of the terms this snippet uses; another term fails loudly."""

    def term_holds(term: str) -> bool:
        if term == "always()":
            return True
        if m := re.fullmatch(r"([\w.-]+) (==|!=) (?:'([^']*)'|(true|false))", term):
            expected = m[3] if m[3] is not None else m[4]
            return (values.get(m[1], "") == expected) == (m[2] == "==")
        raise AssertionError(f"the test does not know this job condition term: {term}")

    return any(
        all(term_holds(term.strip()) for term in alternative.split("&&")) for alternative in condition.split("||")
    )


def event_values(event_name: str, payload: dict[str, Any]) -> dict[str, str]:
    values = {"github.event_name": event_name}
    if "pull_request" in payload:
        values["github.event.pull_request.merged"] = str(payload["pull_request"]["merged"]).lower()
    return values


class ReadmeJob:
    """One job of the README's workflow: its single step, the action, run by a Runner."""

    def __init__(self, workflow: dict[str, Any], name: str, actions: Runner, variables: dict[str, str]) -> None:
        self.name, self.spec = name, workflow["jobs"][name]
        self.actions, self.variables = actions, variables
        [self.step] = self.spec["steps"]
        self.home = actions.tmp_path / name
        self.home.mkdir()
        self.workspace = actions.tmp_path / "workspace"  # the user's repository, not this one
        self.workspace.mkdir(exist_ok=True)
        self.runner = Runner(
            actions.server,
            actions.repo,
            self.home,
            paced=False,
            variables=variables,
            # the step's env: reaches each of the action's steps
            job={**load_action_steps(), "env": self.step.get("env") or {}},
            workspace=self.workspace,
        )

    def runs(self, event_name: str, payload: dict[str, Any], needs: dict[str, str]) -> bool:
        return job_condition(self.spec["if"], {**event_values(event_name, payload), **needs})

    def run(self, event_name: str, payload: dict[str, Any]) -> tuple[RunOutcome, dict[str, str]]:
        """The job's action step, as GitHub runs it; returns its outcome and the job's outputs."""
        workflow_context = {
            "github.token": TOKEN,
            **{f"vars.{name}": value for name, value in self.variables.items()},
            **{f"github.event.inputs.{k}": str(v) for k, v in (payload.get("inputs") or {}).items()},
        }
        inputs = action()["inputs"]
        given = self.step.get("with") or {}
        # GitHub only warns on an input the action does not declare; the setting is lost all the same
        assert set(given) <= set(inputs), f"{self.name}: inputs action.yml lacks: {set(given) - set(inputs)}"
        # an input the step does not give: the action's default, its expression in the caller's context
        values = {name: spec.get("default", "") for name, spec in inputs.items()} | given
        context = {f"inputs.{name}": evaluate(str(value), workflow_context) for name, value in values.items()}
        # the job's token: GitHub grants GITHUB_TOKEN exactly the job's permissions
        self.actions.server.actions_write = self.spec["permissions"].get("actions") == "write"
        self.runner.context = context
        outcome = self.runner.run(event_name, payload)
        action_outputs = {
            name: evaluate(spec["value"], flat_outputs(outcome.outputs)) for name, spec in action()["outputs"].items()
        }
        step_outputs = {f"steps.{self.step.get('id')}.outputs.{name}": value for name, value in action_outputs.items()}
        job_outputs = {name: evaluate(value, step_outputs) for name, value in (self.spec.get("outputs") or {}).items()}
        return outcome, {f"needs.{self.name}.outputs.{name}": value for name, value in job_outputs.items()}


def test_the_readme_workflow_has_the_shape_the_walk_runs():
    """What the walk below relies on: two jobs, each one step of the action (pinned as the README
    says), the prune job after the sync job, its cue an output the action declares."""
    workflow = readme_workflow()
    assert set(workflow["jobs"]) == {"sync", "prune"}
    assert workflow["permissions"] == {}  # each job names its own
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["pull_request_target"] == {"types": ["closed"]}
    for job in workflow["jobs"].values():
        [step] = job["steps"]
        assert step["uses"] == ACTION_REF
        assert set(step.get("with") or {}) <= set(action()["inputs"])
    sync, prune = workflow["jobs"]["sync"], workflow["jobs"]["prune"]
    assert prune["needs"] == "sync"
    assert prune["steps"][0]["with"]["mode"] == "prune-artifacts"
    assert prune["permissions"].get("actions") == "write" and sync["permissions"].get("actions") == "read"
    # the sync job's cue reads the action's own output, through the step's id
    [cue] = EXPRESSION.findall(sync["outputs"]["artifact-name"])
    assert cue == f"steps.{sync['steps'][0]['id']}.outputs.artifact-name"
    assert "artifact-name" in action()["outputs"]
    # both jobs give the same db (README: "Give both jobs the same `db`")
    assert sync["steps"][0]["with"]["db"] == prune["steps"][0]["with"]["db"]


def test_two_merges_walk_the_readme_workflow_to_the_stored_db(serve, tmp_path):
    """A PR merges: the README's sync job stores it through the action into a fresh artifact DB,
    its prune job keeps the copies; a second merge builds on the first's artifact. The newest
    artifact, as the next run downloads it, holds both PRs complete, and at most `keep` copies
    are held. MERGELENS_DB is unset (the default artifact), MERGELENS_ARTIFACT_KEEP is 1."""
    workflow = readme_workflow()
    pulls = open_pulls(2)
    repo = repository(*pulls)
    actions = Runner(serve(repo), repo, tmp_path, paced=False)
    variables = {"MERGELENS_ARTIFACT_KEEP": "1"}
    sync, prune = (ReadmeJob(workflow, name, actions, variables) for name in ("sync", "prune"))

    # a PR closed without merging runs nothing
    unmerged = merged_event(1)
    unmerged["pull_request"]["merged"] = False
    assert not sync.runs("pull_request_target", unmerged, {})

    summaries = []
    for number, pr in enumerate(pulls, start=1):
        merge(pr)
        event = merged_event(number)
        assert sync.runs("pull_request_target", event, {})
        done, needs = sync.run("pull_request_target", event)
        assert done.exit_codes.get("mergelens") == 0, done.logs
        assert done.outputs["mergelens"]["status"] == "complete"
        assert done.outputs["mergelens"]["pr_number"] == str(number)
        assert done.uploaded is not None and repo.artifacts[-1].name == "mergelens-db"
        assert needs == {"needs.sync.outputs.artifact-name": "mergelens-db"}
        summaries.append(done.summary)

        assert prune.runs("pull_request_target", event, needs)
        pruned, _ = prune.run("pull_request_target", event)
        assert pruned.exit_codes and set(pruned.exit_codes.values()) == {0}, pruned.logs
        assert "mergelens" not in pruned.exit_codes and pruned.uploaded is None  # no sync, no upload
        assert "## mergelens: database copies" in pruned.summary
        assert len(repo.artifacts) == 1  # keep: 1
        assert TOKEN not in done.logs + done.summary + pruned.logs + pruned.summary

        db = actions.stored_db(f"after-{number}.duckdb")
        assert pull_request_numbers(db) == list(range(1, number + 1))
        with duckdb.connect(str(db), read_only=True) as con:
            statuses = con.execute("SELECT sync_status FROM pull_requests ORDER BY number").fetchall()
            assert statuses == [("complete",)] * number
            assert con.execute("SELECT count(*) FROM pr_commits").fetchone() == (number,)

    assert "no unexpired artifact" in summaries[0]  # the first run starts fresh, and says so
    assert "no unexpired artifact" not in summaries[1] and "fresh" not in summaries[1], summaries[1]
    assert "| deleted |" in pruned.summary  # the second run's prune deleted the first copy
    assert not any(sync.workspace.iterdir())  # an artifact DB lives in the runner's temp, not the workspace
