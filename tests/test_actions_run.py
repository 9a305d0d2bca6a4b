"""The merge workflow and the composite action, run the way GitHub Actions runs them.

The steps' own ``run:`` scripts are read from .github/workflows/mergelens.yml and action.yml
(never copied here) and executed with bash and the environment a runner provides: the event file,
GITHUB_REPOSITORY, GITHUB_API_URL pointing at the fake GitHub, GITHUB_STEP_SUMMARY and
GITHUB_OUTPUT files. ``uses:`` steps are stood in for: checkout and setup-python by this
checkout and its Python (or by a test's ``stand_ins``, given the step's ``with:``); upload-artifact
by adding the file to the fake GitHub's artifacts, under the step's own ``if:`` condition and
``name:``, uploaded by a run of the event that ran,
with the head side GitHub records for it (``uploading_run``). The DB travels between runs as an
artifact, through the real download code and its trust check.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.conftest import TOKEN, recorded_sample
from tests.support.factories import BOB, commit, issue_comment, pull, repository
from tests.support.fake_github import FakeGitHub, Fault
from tests.support.fake_github.model import Repository
from tests.support.fake_github.open_queue import add_open_queue

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "mergelens.yml"
ACTION = REPO_ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

pytestmark = pytest.mark.slow  # whole workflow runs, one subprocess per step: `make test-fast` skips them
UNPACED = re.compile(r"^(\s*python -m fetcher .*)$", re.MULTILINE)


def load_job(name: str = "sync") -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"][name]


def load_action_steps() -> dict[str, Any]:
    """The composite action's steps, as a job without job-level env; its inputs' plain defaults
    (not expressions) are what ``inputs.NAME`` says unless the test's context says otherwise."""
    action = yaml.safe_load(ACTION.read_text())
    defaults = {
        f"inputs.{name}": str(spec["default"])
        for name, spec in action["inputs"].items()
        if "default" in spec and "${{" not in str(spec["default"])
    }
    return {"steps": action["runs"]["steps"], "defaults": defaults}


def evaluate(text: str, context: dict[str, str]) -> str:
    """The expressions this workflow puts in ``env:`` values: names and ``a || 'default'``."""

    def value(match: re.Match[str]) -> str:
        for operand in match.group(1).split("||"):
            operand = operand.strip()
            if operand.startswith("'") and operand.endswith("'"):
                return operand[1:-1]
            if context.get(operand):
                return context[operand]
        return ""

    return EXPRESSION.sub(value, str(text))


def condition_holds(condition: str, outputs: dict[str, dict[str, str]], values: dict[str, str]) -> bool:
    """The upload step's ``if:``, term by term (``values``: ``env.NAME`` and ``inputs.NAME``);
    an unknown term fails the test loudly."""
    for term in (t.strip() for t in condition.split("&&")):
        if term == "always()":
            continue
        if m := re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+) == '([^']*)'", term):
            if outputs.get(m[1], {}).get(m[2]) != m[3]:
                return False
        elif m := re.fullmatch(r"((?:env|inputs|vars)\.[\w-]+) (==|!=) '([^']*)'", term):
            if (values.get(m[1], "") == m[3]) != (m[2] == "=="):
                return False
        elif m := re.fullmatch(r"startsWith\(((?:env|inputs)\.[\w-]+), '([^']*)'\)", term):
            if not values.get(m[1], "").startswith(m[2]):
                return False
        else:
            raise AssertionError(f"the test does not know this condition term: {term}")
    return True


@dataclass
class RunOutcome:
    exit_codes: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    summary: str = ""
    logs: str = ""
    uploaded: Path | None = None


class Runner:
    """Runs the workflow's job (or the action's steps, given as ``job``) against a fake GitHub,
    one event at a time, in ``workspace`` (the checkout: this repository for the workflow)."""

    def __init__(
        self,
        server: FakeGitHub,
        repo: Repository,
        tmp_path: Path,
        paced: bool = True,
        variables: dict[str, str] | None = None,
        job: dict[str, Any] | None = None,
        workspace: Path = REPO_ROOT,
        context: dict[str, str] | None = None,
        python: Path = Path(sys.executable),
        stand_ins: dict[str, Callable[[dict[str, str]], dict[str, str] | None]] | None = None,
    ) -> None:
        self.server, self.repo, self.tmp_path = server, repo, tmp_path
        self.variables = variables or {}  # the repository's variables: ${{ vars.NAME }}
        self.run_ids = count(1000)
        self.job = job or load_job()
        # paced=False: every `python -m fetcher` line also gets --request-interval 0, so a test
        # that syncs dozens of PRs against the fake does not spend PyGithub's 0.25 s per request.
        self.paced = paced
        self.workspace = workspace
        self.context = context or {}
        self.python = python  # the `python` on the job's PATH
        # action (OWNER/NAME) -> its stand-in: the step's evaluated `with:` -> its outputs, or None: it failed
        self.stand_ins = stand_ins or {}
        # GitHub's artifact storage quota is used up: upload-artifact fails, the file is not kept
        self.quota_hit = False

    def run(self, event_name: str, payload: dict[str, Any], with_install: bool = False) -> RunOutcome:
        run_id = next(self.run_ids)
        home = self.tmp_path / f"run-{run_id}"
        (home / "temp").mkdir(parents=True)
        event_path = home / "event.json"
        event_path.write_text(json.dumps(payload))
        summary, output = home / "summary.md", home / "output.txt"
        inputs = payload.get("inputs") or {}
        context = {
            "github.token": TOKEN,
            "github.action_path": str(REPO_ROOT),
            **{f"inputs.{name}": str(value) for name, value in inputs.items()},
            **{f"vars.{name}": value for name, value in self.variables.items()},
            **self.job.get("defaults", {}),
            **self.context,
        }
        base_env = {
            "PATH": f"{self.python.parent}:/usr/bin:/bin",
            "HOME": str(home),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": self.repo.full_name,
            "GITHUB_REPOSITORY_ID": str(self.repo.id),
            "GITHUB_API_URL": self.server.api_url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": str(run_id),
            "RUNNER_TEMP": str(home / "temp"),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_ACTION_PATH": str(REPO_ROOT),  # set by the runner for an action's steps
        }
        job_env = {name: evaluate(value, context) for name, value in self.job.get("env", {}).items()}
        outcome = RunOutcome()
        failed = False
        for index, step in enumerate(self.job["steps"]):
            step_id = step.get("id", f"step{index}")
            if "run" in step:
                if "pip install" in step["run"] and not with_install:
                    continue
                if failed and "always()" not in str(step.get("if", "")):
                    continue
                if "if" in step and not condition_holds(step["if"], outcome.outputs, context):
                    continue
                output.write_text("")
                env = {**base_env, **job_env, "GITHUB_OUTPUT": str(output)}
                env.update({name: evaluate(value, context) for name, value in step.get("env", {}).items()})
                # GitHub's default shell for run: bash --noprofile --norc -eo pipefail {0}
                script = step["run"] if self.paced else UNPACED.sub(r"\1 --request-interval 0", step["run"])
                done = subprocess.run(
                    ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                    cwd=self.workspace,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                outcome.exit_codes[step_id] = done.returncode
                outcome.logs += done.stdout + done.stderr
                outcome.outputs[step_id] = parse_outputs(output.read_text())
                failed = failed or done.returncode != 0
            elif (stand_in := self.stand_ins.get(step.get("uses", "").split("@")[0])) is not None:
                if failed or ("if" in step and not condition_holds(step["if"], outcome.outputs, context)):
                    continue
                values = {**context, **flat_outputs(outcome.outputs)}
                given = {name: evaluate(str(value), values) for name, value in (step.get("with") or {}).items()}
                outputs = stand_in(given)
                outcome.exit_codes[step_id] = 0 if outputs is not None else 1
                outcome.outputs[step_id] = outputs or {}
                failed = failed or outputs is None
            elif "upload-artifact" in step.get("uses", "") and condition_holds(
                step["if"], outcome.outputs, {**{f"env.{k}": v for k, v in job_env.items()}, **context}
            ):
                if self.quota_hit:  # what actions/upload-artifact prints then, and fails the step
                    outcome.logs += "Error: Failed to CreateArtifact: Artifact storage quota has been hit.\n"
                    outcome.exit_codes[step_id] = 1
                    failed = True
                    continue
                path = Path(evaluate(step["with"]["path"], flat_outputs(outcome.outputs)))
                name = evaluate(step["with"]["name"], flat_outputs(outcome.outputs))
                run = uploading_run(event_name, payload, self.repo.default_branch)
                retention = int(step["with"]["retention-days"])
                self.repo.upload_artifact(
                    name, path, datetime.now(UTC), workflow_run_id=run_id, retention_days=retention, **run
                )
                outcome.uploaded = path
        outcome.summary = summary.read_text() if summary.exists() else ""
        return outcome

    def stored_db(self, tmp_name: str = "stored.duckdb") -> Path:
        """The DB in the newest artifact, as the next run would download it."""
        newest = max(self.repo.artifacts, key=lambda artifact: (artifact.created_at, artifact.id))  # as GitHub lists
        target = self.tmp_path / tmp_name
        with zipfile.ZipFile(io.BytesIO(newest.content)) as archive:
            (member,) = archive.namelist()
            target.write_bytes(archive.read(member))
        return target


def uploading_run(event_name: str, payload: dict[str, Any], default_branch: str) -> dict[str, Any]:
    """The run fields GitHub records for a run of ``event_name``. For the pull request events,
    the PR's head side: head branch and head repository (a fork's, for a fork's PR), although a
    ``pull_request_target`` run executes the base branch and its head_sha is the base's commit.
    Otherwise the branch that ran: the event's ``ref`` (workflow_dispatch, push), else the
    default branch (schedule)."""
    if event_name in ("pull_request", "pull_request_target"):
        pr = payload["pull_request"]
        side = pr["base"] if event_name == "pull_request_target" else pr["head"]
        return {
            "event": event_name,
            "head_branch": pr["head"]["ref"],
            "head_repository_id": pr["head"]["repo"]["id"],
            "head_repository_name": pr["head"]["repo"]["full_name"],
            "head_sha": side["sha"],
        }
    ref = str(payload.get("ref") or f"refs/heads/{default_branch}")
    return {"event": event_name, "head_branch": ref.removeprefix("refs/heads/")}


def parse_outputs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and "<<" not in line)


def flat_outputs(outputs: dict[str, dict[str, str]]) -> dict[str, str]:
    return {f"steps.{step}.outputs.{name}": value for step, values in outputs.items() for name, value in values.items()}


FORK = {"id": 9999, "full_name": "contributor/widgets"}


def merged_event(number: int, fork: bool = False) -> dict[str, Any]:
    """The recorded merged webhook, moved to the fake's repository: a PR from a branch of this
    repository (the recording's own head branch), or from a fork (``fork=True``)."""
    event = recorded_sample("webhook_pull_request_closed_merged.json")
    ours = {"full_name": "acme/widgets", "id": 4242, "default_branch": "main"}
    event["number"] = number
    event["pull_request"]["number"] = number
    event["repository"].update(ours)
    event["pull_request"]["base"]["repo"].update(ours)
    event["pull_request"]["head"]["repo"].update({**ours, **FORK, "fork": True} if fork else ours)
    return event


def recent_merged_pulls(count_: int):
    now = datetime.now(UTC)
    pulls = []
    for number in range(1, count_ + 1):
        pr = pull(number, created="2026-11-20 09:00", merged="2026-11-20 10:00")
        pr.merged_at = pr.closed_at = pr.updated_at = now - timedelta(minutes=60 - number)
        pr.commits = [commit("2026-11-20 08:00", seed=("burst", number))]
        pulls.append(pr)
    return pulls


def pull_request_numbers(db: Path) -> list[int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [n for (n,) in con.execute("SELECT number FROM pull_requests ORDER BY number").fetchall()]


@pytest.fixture
def runner(serve, tmp_path):
    def start(*pulls, paced: bool = True, variables: dict[str, str] | None = None) -> Runner:
        repo = repository(*pulls)
        return Runner(serve(repo), repo, tmp_path, paced, variables)

    return start


def test_a_merge_runs_the_workflow_end_to_end(runner):
    actions = runner(*recent_merged_pulls(3))
    first = actions.run("pull_request_target", merged_event(2, fork=True), with_install=True)
    assert first.exit_codes.get("mergelens") == 0, first.logs
    outputs = first.outputs["mergelens"]
    assert outputs["status"] == "complete"
    assert outputs["pr_number"] == "2"
    assert outputs["db_verified"] == "true"
    assert "cycle_time_hours" in outputs
    assert "[acme/widgets#2](https://github.com/acme/widgets/pull/2)" in first.summary
    assert "no unexpired artifact" in first.summary  # the first run says loudly it starts fresh
    assert "::warning title=mergelens%3A database::" in first.logs
    assert TOKEN not in first.logs + first.summary
    # the merge run reconciled the other two recent PRs, and the DB was uploaded
    assert pull_request_numbers(actions.stored_db()) == [1, 2, 3]

    # the next run downloads that artifact and builds on it
    second = actions.run(
        "workflow_dispatch", {"inputs": {"pr_number": "3"}, "repository": {"full_name": "acme/widgets"}}
    )
    assert second.exit_codes["mergelens"] == 0, second.logs
    assert "fresh" not in second.summary and "skipped" not in second.summary, second.summary
    assert len(actions.repo.artifacts) == 2
    with duckdb.connect(str(actions.stored_db("second.duckdb")), read_only=True) as con:
        runs = con.execute("SELECT count(*) FROM sync_runs WHERE pr_number IS NOT NULL").fetchone()[0]
        assert runs == 4, second.logs  # 3 + the rerun
        # and each merge run's record of its catch-up, where the next one starts
        catch_ups = con.execute("SELECT status FROM sync_runs WHERE trigger = 'catch-up' AND pr_number IS NULL")
        assert catch_ups.fetchall() == [("complete",), ("complete",)]


def open_pulls(count_: int):
    pulls = []
    for number in range(1, count_ + 1):
        pr = pull(number, created="2026-11-20 09:00", merged=None)
        pr.commits = [commit("2026-11-20 08:00", seed=("burst", number))]
        pulls.append(pr)
    return pulls


def merge(pr) -> None:
    """GitHub merges the PR: closed, merged, and its updated_at bumped. A second ago: a run starts
    seconds after its merge, and a fetch in the very second of an update (GitHub's timestamps have
    one-second resolution) would rightly count the PR as updated since, and fetch it again."""
    pr.state = "closed"
    pr.merged_at = pr.closed_at = pr.updated_at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    pr.merged_by = BOB


@pytest.mark.parametrize("executed", [(1, 50), (1, 17, 50)], ids=["first-and-last", "some-in-between"])
def test_burst_of_fifty_merges_with_cancelled_pending_runs_loses_nothing(runner, executed):
    """Fifty merges queue fifty runs in one concurrency group. GitHub runs the first, keeps one
    pending and cancels the older pending ones: only the runs in ``executed`` execute, each
    after every PR up to its own has merged. When the last one ends, all fifty are stored complete."""
    pulls = open_pulls(50)
    actions = runner(*pulls, paced=False)
    merged = 0
    for number in executed:
        for pr in pulls[merged:number]:
            merge(pr)
        merged = number
        outcome = actions.run("pull_request_target", merged_event(number))
        assert outcome.exit_codes["mergelens"] == 0, outcome.logs
        # the first run finds no earlier run in its fresh DB and looks back 3 days
        assert ("(since last run)" if number > 1 else "(lookback)") in outcome.summary
    db = actions.stored_db()
    assert pull_request_numbers(db) == list(range(1, 51))
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM pull_requests WHERE sync_status = 'complete'").fetchone() == (50,)
    # the cost: one listing page per run, and each PR fetched exactly once
    paths = actions.server.paths()
    assert paths.count("/repos/acme/widgets/pulls") == len(executed)
    # and one read of the run behind the newest artifact per run that found one (all but the first)
    assert sum(path.startswith("/repos/acme/widgets/actions/runs/") for path in paths) == len(executed) - 1
    assert sorted(
        int(path.rsplit("/", 1)[1]) for path in paths if re.fullmatch(r"/repos/acme/widgets/pulls/\d+", path)
    ) == list(range(1, 51))


def test_each_merge_run_prunes_the_older_copies_in_its_own_job(runner):
    """The workflow's prune job after each merge run's sync job (given the sync job's output, as
    `needs.sync.outputs` does): the copies held stop growing at 3, and the newest holds every PR."""
    actions = runner(*recent_merged_pulls(5), paced=False)
    (actions.tmp_path / "prune").mkdir()
    prune = Runner(actions.server, actions.repo, actions.tmp_path / "prune", paced=False, job=load_job("prune"))
    for number in range(1, 6):
        sync = actions.run("pull_request_target", merged_event(number))
        assert sync.exit_codes["mergelens"] == 0, sync.logs
        prune.context = {"needs.sync.outputs.artifact_name": sync.outputs["mergelens"]["artifact_name"]}
        done = prune.run("pull_request_target", merged_event(number))
        assert list(done.exit_codes.values()) == [0], done.logs
        assert len(actions.repo.artifacts) == min(number, 3)
    assert "## mergelens: database copies" in done.summary and "| deleted |" in done.summary
    assert pull_request_numbers(actions.stored_db()) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(("mode", "expected"), [("prune-artifacts", 0), ("prune", 2)])
def test_the_action_prunes_in_its_own_mode(runner, tmp_path, mode, expected):
    actions = runner(*recent_merged_pulls(1), paced=False)
    db = tmp_path / "seed.duckdb"
    duckdb.connect(str(db)).close()
    for hours in range(5):
        actions.repo.upload_artifact("mergelens-db", db, datetime.now(UTC) - timedelta(hours=hours))
    context = {"inputs.mode": mode, "inputs.github-token": TOKEN, "inputs.keep": "2"}
    action = Runner(actions.server, actions.repo, tmp_path, paced=False, job=load_action_steps(), context=context)
    outcome = action.run("pull_request_target", merged_event(1))
    assert "mergelens" not in outcome.exit_codes and outcome.uploaded is None  # no sync, no upload
    assert max(outcome.exit_codes.values()) == expected, outcome.logs
    assert len(actions.repo.artifacts) == (2 if expected == 0 else 5)
    if expected:
        assert "mergelens: error: the action's mode is sync or prune-artifacts, not: prune" in outcome.logs


def test_scheduled_run_reconciles_and_reuploads_the_db(runner):
    pulls = recent_merged_pulls(2)
    actions = runner(*pulls)
    assert actions.run("pull_request_target", merged_event(1)).exit_codes["mergelens"] == 0
    pulls[0].issue_comments.append(issue_comment(None, "2026-11-20 11:00"))
    pulls[0].updated_at = datetime.now(UTC) + timedelta(minutes=1)  # a comment after the merge
    outcome = actions.run("schedule", {"schedule": "37 4 * * *"})
    assert outcome.exit_codes["mergelens"] == 0, outcome.logs
    assert "fresh" not in outcome.summary, outcome.summary  # built on the merge run's artifact
    assert "### Reconcile" in outcome.summary
    assert len(actions.repo.artifacts) == 2  # re-uploaded even when nothing changed: keeps the DB alive
    with duckdb.connect(str(actions.stored_db()), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM pr_comments WHERE pr_number = 1").fetchone()[0] == 1


def test_scheduled_run_snapshots_open_prs_in_the_db_backfill_left(runner):
    """The schedule runs backfill, then open-prs, each storing the artifact's DB: the second must
    build on the first's file (not on the older artifact), and one DB with both is uploaded."""
    actions = runner(*recent_merged_pulls(2))
    numbers = add_open_queue(actions.repo, datetime.now(UTC))
    outcome = actions.run("schedule", {"schedule": "37 4 * * *"})
    assert outcome.exit_codes["mergelens"] == 0, outcome.logs
    assert "What is waiting in acme/widgets" in outcome.summary
    assert len(actions.repo.artifacts) == 1
    with duckdb.connect(str(actions.stored_db()), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM pull_requests").fetchone() == (2,)  # backfill's
        snapshot = con.execute("SELECT number FROM open_pr_snapshots ORDER BY number").fetchall()
    assert [n for (n,) in snapshot] == sorted(numbers.values())


def merged_hours_ago(number: int, hours: float):
    pr = pull(number, created="2026-11-20 09:00", merged="2026-11-20 10:00")
    pr.merged_at = pr.closed_at = pr.updated_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
    pr.commits = [commit("2026-11-20 08:00", seed=("quota", number))]
    return pr


def move_stored_runs(actions: Runner, hours: float) -> None:
    """The newest artifact's runs happened ``hours`` earlier (a test cannot wait for days)."""
    newest = max(actions.repo.artifacts, key=lambda artifact: artifact.created_at)
    db = actions.stored_db("moved.duckdb")
    with duckdb.connect(str(db)) as con:
        con.execute(
            "UPDATE sync_runs SET started_at = started_at - to_hours(?), finished_at = finished_at - to_hours(?)",
            [hours, hours],
        )
    with zipfile.ZipFile(io.BytesIO(newest.content)) as archive:
        (member,) = archive.namelist()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(db, member)
    newest.content = buffer.getvalue()


def test_the_schedule_fails_loud_after_two_days_of_merge_runs_lost_to_the_storage_quota(runner):
    """Merge runs whose upload hits the storage quota run green up to that step and lose their
    database; nothing else says so. The scheduled run finds their PRs, stores them, and fails its
    step with exit 4, the ::error annotation and the summary's section."""
    actions = runner(merged_hours_ago(1, 72))
    assert actions.run("pull_request_target", merged_event(1)).exit_codes["mergelens"] == 0
    move_stored_runs(actions, 72)
    actions.quota_hit = True
    for number, hours in ((2, 47), (3, 30), (4, 8)):
        actions.repo.add_pull(merged_hours_ago(number, hours))
        lost = actions.run("pull_request_target", merged_event(number))
        assert lost.exit_codes["mergelens"] == 0, lost.logs  # the sync itself succeeded
        assert "Artifact storage quota has been hit" in lost.logs and lost.uploaded is None
    actions.quota_hit = False  # the month turned: the schedule's own upload goes through

    outcome = actions.run("schedule", {"schedule": "37 4 * * *"})
    assert outcome.exit_codes["mergelens"] == 4, outcome.logs
    [line] = [line for line in outcome.logs.splitlines() if line.startswith("mergelens: error:")]
    assert line.startswith(
        "mergelens: error: merge runs of acme/widgets stopped: 3 merged PRs were stored only by this run, "
        "up to 47 h after their merge (#2, #3, #4); no merge run has stored a PR since "
    )
    assert '"Artifact storage quota has been hit" in their logs' in line
    assert f"::error title=mergelens%3A merge runs stopped::{line.removeprefix('mergelens: error: ')}" in outcome.logs
    assert "### ❌ Merge runs stopped" in outcome.summary
    assert "What is waiting in acme/widgets" in outcome.summary  # open-prs ran all the same
    # the step failed, the database it verified was uploaded: the reconciled PRs are kept
    assert outcome.uploaded is not None
    assert pull_request_numbers(actions.stored_db()) == [1, 2, 3, 4]


def test_a_partial_sync_still_uploads_its_db(runner):
    actions = runner(*recent_merged_pulls(1))
    actions.server.add_fault(r"/pulls/1/files$", *[Fault.server_error(502)] * 4)
    outcome = actions.run("pull_request_target", merged_event(1))
    assert outcome.exit_codes["mergelens"] == 3
    assert outcome.outputs["mergelens"]["status"] == "partial"
    assert outcome.uploaded is not None
    assert "::warning title=mergelens%3A partial sync of acme/widgets#1::files" in outcome.logs


def test_a_db_setting_other_than_the_default_keeps_its_history(runner):
    """MERGELENS_DB=artifact:other: the upload step must use that name, or every run starts fresh."""
    actions = runner(*recent_merged_pulls(2), variables={"MERGELENS_DB": "artifact:other"})
    first = actions.run("pull_request_target", merged_event(1))
    assert first.exit_codes["mergelens"] == 0, first.logs
    assert first.outputs["mergelens"]["artifact_name"] == "other"
    second = actions.run(
        "workflow_dispatch", {"inputs": {"pr_number": "2"}, "repository": {"full_name": "acme/widgets"}}
    )
    assert second.exit_codes["mergelens"] == 0, second.logs
    assert "no unexpired artifact" not in second.summary and "fresh" not in second.summary, second.summary
    assert [artifact.name for artifact in actions.repo.artifacts] == ["other", "other"]
    with duckdb.connect(str(actions.stored_db()), read_only=True) as con:
        # 2 PRs + the rerun, beside each merge run's own catch-up row
        assert con.execute("SELECT count(*) FROM sync_runs WHERE pr_number IS NOT NULL").fetchone()[0] == 3
        assert (
            con.execute("SELECT count(*) FROM sync_runs WHERE trigger = 'catch-up' AND pr_number IS NULL").fetchone()[0]
            == 2
        )


def test_an_artifact_uploaded_by_a_fork_run_is_skipped_and_named(runner, tmp_path):
    """Issue 8 end to end: a fork's PR CI uploads a forged `mergelens-db` between two merges."""
    actions = runner(*recent_merged_pulls(2))
    assert actions.run("pull_request_target", merged_event(1)).exit_codes["mergelens"] == 0
    forged = tmp_path / "forged.duckdb"
    shutil.copyfile(actions.stored_db(), forged)
    with duckdb.connect(str(forged)) as con:
        con.execute("UPDATE pull_requests SET title = 'forged'")
    # the fork's CI: a `pull_request` run of this repository's workflow with the fork's code
    fork_ci = {**uploading_run("pull_request", merged_event(2, fork=True), "main"), "head_branch": "main"}
    planted = actions.repo.upload_artifact("mergelens-db", forged, datetime.now(UTC), **fork_ci).id
    outcome = actions.run("pull_request_target", merged_event(2, fork=True))
    assert outcome.exit_codes["mergelens"] == 0, outcome.logs
    assert (
        f"::warning title=mergelens%3A database::skipped untrusted artifact mergelens-db (id {planted}," in outcome.logs
    )
    summary = outcome.summary.replace("\\", "")
    assert "run of event pull_request for branch main of contributor/widgets: that event runs the code of a" in summary
    assert "fresh" not in summary  # the first merge run's artifact was used
    assert actions.repo.artifacts[-1].id != planted and any(a.id == planted for a in actions.repo.artifacts)
    with duckdb.connect(str(actions.stored_db()), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM pull_requests WHERE title = 'forged'").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM pull_requests").fetchone()[0] == 2


# What a caller's checkout may hold (the action runs in the caller's workspace): modules named
# like the action's own code, one of its dependencies, and pip. One, if imported, leaves a mark.
SHADOWS = {
    "fetcher": ["fetcher/__init__.py", "fetcher/__main__.py"],
    "duckdb": ["duckdb.py"],
    "pip": ["pip/__init__.py", "pip/__main__.py"],
}
SHADOW_MARK = "import pathlib, sys; pathlib.Path('SHADOWED-' + __name__).touch(); sys.exit(97)\n"


@pytest.mark.parametrize("shadow", SHADOWS)
def test_the_action_runs_its_own_code_not_the_workspace_s(runner, tmp_path, shadow):
    """A `fetcher/` package, a `duckdb.py` or a `pip/` in the caller's workspace shadows nothing:
    the action's real code syncs the PR, and its relative `db` lands in that workspace."""
    workspace = tmp_path / "workspace"
    for name in SHADOWS[shadow]:
        (workspace / name).parent.mkdir(parents=True, exist_ok=True)
        (workspace / name).write_text(SHADOW_MARK)
    actions = runner(*recent_merged_pulls(2))
    action = Runner(
        actions.server,
        actions.repo,
        tmp_path,
        job=load_action_steps(),
        workspace=workspace,
        context={"inputs.db": "mergelens.duckdb", "inputs.github-token": TOKEN, "inputs.reconcile": "20"},
    )
    outcome = action.run("pull_request_target", merged_event(2))
    assert sorted(p.name for p in workspace.glob("SHADOWED-*")) == [], outcome.logs
    assert set(outcome.exit_codes.values()) == {0}, outcome.logs
    assert outcome.outputs["pip-cache"]["dir"], outcome.logs
    assert outcome.outputs["mergelens"]["status"] == "complete"
    assert outcome.uploaded is None  # a path, not artifact:
    assert pull_request_numbers(workspace / "mergelens.duckdb") == [1, 2]
