"""The merge workflow, the CI workflow and the composite action: linted, audited, and held to
their contract (triggers, least privilege, one writer per database, pinned actions, and never a
checkout of pull request code under pull_request_target)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
MERGELENS = WORKFLOWS / "mergelens.yml"
CI = WORKFLOWS / "ci.yml"
ACTION = ROOT / "action.yml"
ALL_FILES = [MERGELENS, CI, ACTION]
BIN = Path(sys.executable).parent

READ_SCOPES = {"contents", "pull-requests", "issues", "checks", "actions"}
UPLOAD_IF = "always() && steps.mergelens.outputs.db_verified == 'true' && startsWith(env.MERGELENS_DB, 'artifact:')"
ACTION_UPLOAD_IF = "always() && steps.mergelens.outputs.db_verified == 'true' && startsWith(inputs.db, 'artifact:')"
SYNC_SCRIPT = """\
if [ -n "$SINCE" ]; then
  python -m fetcher backfill --since "$SINCE" --resume --max-minutes 10
elif [ "$GITHUB_EVENT_NAME" = "schedule" ] ||
   { [ "$GITHUB_EVENT_NAME" = "workflow_dispatch" ] && [ -z "$PR_NUMBER" ]; }; then
  # the open PRs even when the backfill ended partial or failed; the step fails with its first failure
  rc=0
  python -m fetcher backfill --resume --lookback 7 --max-minutes 10 --check-merge-runs || rc=$?
  python -m fetcher open-prs || rc=$((rc ? rc : $?))
  exit "$rc"
else
  python -m fetcher sync --reconcile since-last-run
fi
"""
# The only zizmor findings ignored, each inline with its reason: (file, the key on that line, rule).
IGNORED = [
    ("mergelens.yml", "pull_request_target", "dangerous-triggers"),
    ("mergelens.yml", "AWS_ACCESS_KEY_ID", "secrets-outside-env"),
    ("mergelens.yml", "AWS_SECRET_ACCESS_KEY", "secrets-outside-env"),
    ("mergelens.yml", "SENTRY_DSN", "secrets-outside-env"),
    ("mergelens.yml", "MERGELENS_DIGEST_WEBHOOK", "secrets-outside-env"),
]
PINNED_USES = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+\s*$")
HEAD_REFS = ("pull_request.head", "github.head_ref", "refs/pull/")
# The action's install: the fetcher's lock, as the merge workflow installs it (tests/test_requirements.py).
ACTION_INSTALL = (
    'python -P -m pip install --require-hashes --only-binary :all: -r "$GITHUB_ACTION_PATH/requirements-fetcher.txt"'
)


def load(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def triggers(doc: dict) -> dict:
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True.
    return doc["on"] if "on" in doc else doc[True]


def steps_of(doc: dict) -> list[dict]:
    if "runs" in doc:  # an action definition
        return list(doc["runs"].get("steps", []))
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def strings(node, path=()):
    """Every string value in a parsed YAML document (comments are not values), with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, (*path, i))
    elif isinstance(node, str):
        yield path, node


def head_checkouts(doc: dict) -> list[str]:
    """Places where a document would fetch the pull request's head: a `ref:` or `repository:`
    naming pull_request.head / github.head_ref, a checkout allowed to fetch fork code, or any
    value at all that names the PR head."""
    found = []
    for path, value in strings(doc):
        key = path[-1] if path else None
        checkout_of_head = key in ("ref", "repository") and ("head_ref" in value or "head.sha" in value)
        if checkout_of_head or any(marker in value for marker in HEAD_REFS):
            found.append(f"{'.'.join(map(str, path))}: {value}")
    for step in steps_of(doc):
        if str(step.get("with", {}).get("allow-unsafe-pr-checkout", "false")).lower() != "false":
            found.append(f"{step.get('name', step.get('uses'))}: allow-unsafe-pr-checkout")
    return found


def run_tool(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    tool = BIN / args[0]
    if not tool.exists():
        pytest.fail(f"{tool} is missing: install requirements-dev.txt into the venv")
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")}
    return subprocess.run(
        [str(tool), *args[1:]], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env, **kwargs
    )


# --- linters ------------------------------------------------------------------------------------


def test_actionlint_passes_on_both_workflows():
    result = run_tool(["actionlint", "-no-color", "-oneline", str(MERGELENS), str(CI)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def zizmor(*args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    result = run_tool(["zizmor", "--offline", "--format", "json", *args])
    return result, json.loads(result.stdout or "[]")


@pytest.mark.parametrize("persona", ["regular", "pedantic", "auditor"])
def test_zizmor_finds_nothing_in_workflows_and_action(persona):
    # regular: the default; pedantic adds code smells; auditor runs every audit at every
    # confidence, with no severity floor.
    result, findings = zizmor("--persona", persona, ".github/workflows", "action.yml")
    assert findings == [], json.dumps(findings, indent=1)[:4000]
    assert result.returncode == 0, result.stderr
    # All three files were audited.
    for name in ("mergelens.yml", "ci.yml", "action.yml"):
        assert name in result.stderr


def test_zizmor_ignores_silence_exactly_the_justified_findings():
    result, findings = zizmor("--persona", "auditor", "--no-ignores", ".github/workflows", "action.yml")
    assert result.returncode != 0
    found = [(Path(f["locations"][0]["symbolic"]["key"]["Local"]["verbatim_path"]).name, f["ident"]) for f in findings]
    assert sorted(found) == sorted((name, rule) for name, _, rule in IGNORED)


def test_each_zizmor_ignore_sits_on_its_line_with_a_reason():
    hits = []
    for path in ALL_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "zizmor:" in line:
                key, _, comment = line.partition("#")
                hits.append((path.name, key.split(":")[0].strip(), comment))
    assert [(name, key) for name, key, _ in hits] == [(name, key) for name, key, _ in IGNORED]
    for (_, _, comment), (_, _, rule) in zip(hits, IGNORED, strict=True):
        assert comment.startswith(f" zizmor: ignore[{rule}] -- "), "each ignore needs its justification"
    assert "base branch" in hits[0][2]


def test_zizmor_audits_the_composite_action(tmp_path):
    # Control: an input interpolated into a run: block of the action is caught, so the clean
    # result above means the action really was audited.
    bad = ACTION.read_text(encoding="utf-8").replace(
        ACTION_INSTALL,
        "python -P -m pip install ${{ inputs.db }}",
    )
    assert bad != ACTION.read_text(encoding="utf-8")
    (tmp_path / "action.yml").write_text(bad, encoding="utf-8")
    _, findings = zizmor(str(tmp_path / "action.yml"))
    assert "template-injection" in {f["ident"] for f in findings}


# --- the merge workflow -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict:
    return load(MERGELENS)


@pytest.fixture(scope="module")
def job(workflow) -> dict:
    assert list(workflow["jobs"]) == ["sync", "prune"]
    return workflow["jobs"]["sync"]


@pytest.fixture(scope="module")
def prune_job(workflow) -> dict:
    return workflow["jobs"]["prune"]


def test_triggers(workflow):
    on = triggers(workflow)
    assert set(on) == {"pull_request_target", "workflow_dispatch", "schedule"}
    assert on["pull_request_target"] == {"types": ["closed"]}
    inputs = on["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"pr_number", "since"}
    for spec in inputs.values():
        assert spec["type"] == "string"
        assert spec["required"] is False
    [schedule] = on["schedule"]
    minute, hour, *rest = schedule["cron"].split()
    assert rest == ["*", "*", "*"], "daily"
    assert minute.isdigit() and int(minute) not in (0, 30), "off the hour: the top of the hour is GitHub's busiest"
    assert hour.isdigit()


def test_job_runs_only_for_merged_prs(job):
    assert job["if"] == "github.event_name != 'pull_request_target' || github.event.pull_request.merged == true"
    assert isinstance(job["timeout-minutes"], int) and 0 < job["timeout-minutes"] <= 30


def test_permissions_are_exactly_the_five_read_scopes(workflow, job):
    assert workflow["permissions"] == {}
    assert job["permissions"] == dict.fromkeys(READ_SCOPES, "read")
    # Each scope says why it is there.
    text = MERGELENS.read_text(encoding="utf-8")
    for scope in READ_SCOPES:
        lines = [ln for ln in text.splitlines() if ln.strip().startswith((f"{scope}: read", f"{scope}: write"))]
        assert lines
        for line in lines:
            assert re.search(r"(read|write)\s+#\s*\S", line), line


def test_only_the_prune_job_may_delete_artifacts(workflow, prune_job):
    """Least privilege: `actions: write` (delete artifacts) in the prune job alone, beside the read
    it needs to check out its code; no other job of any workflow here holds a write scope."""
    assert prune_job["permissions"] == {"contents": "read", "actions": "write"}
    for path in (MERGELENS, CI, WORKFLOWS / "mergelens-org.yml", ROOT / "examples" / "mergelens-caller.yml"):
        doc = load(path)
        for name, each in doc["jobs"].items():
            granted = {**(doc.get("permissions") or {}), **(each.get("permissions") or {})}
            writes = {scope for scope, level in granted.items() if level == "write"}
            assert writes == ({"actions"} if (path, name) == (MERGELENS, "prune") else set()), (path.name, name)


def test_the_prune_job_runs_after_every_verified_artifact_db(job, prune_job):
    assert prune_job["needs"] == "sync"
    # after a partial sync or a failed upload too; never when the sync verified no artifact DB
    assert prune_job["if"] == "always() && needs.sync.outputs.artifact_name != ''"
    assert job["outputs"] == {"artifact_name": "${{ steps.mergelens.outputs.artifact_name }}"}
    # its own group: queued in the sync job's group it would cancel a pending merge run
    group = "mergelens-${{ github.repository }}-prune"
    assert prune_job["concurrency"] == {"group": group, "cancel-in-progress": False}
    assert isinstance(prune_job["timeout-minutes"], int) and prune_job["timeout-minutes"] <= 15
    uses = [s.get("uses", "").split("@")[0] or "run" for s in prune_job["steps"]]
    assert uses == ["actions/checkout", "actions/setup-python", "run", "run"]
    assert prune_job["steps"][:3] == job["steps"][:3]  # the same pinned checkout, Python and install
    prune = prune_job["steps"][-1]
    assert prune["run"].strip() == "python -m fetcher prune-artifacts"
    assert prune["env"] == {
        "GITHUB_TOKEN": "${{ github.token }}",
        "MERGELENS_DB": "artifact:${{ needs.sync.outputs.artifact_name }}",
        "MERGELENS_ARTIFACT_KEEP": "${{ vars.MERGELENS_ARTIFACT_KEEP }}",
    }


def test_one_writer_per_database(workflow, job):
    # At job level: a skipped run (PR closed without merge) never joins the group and so never
    # cancels a pending merge run.
    assert "concurrency" not in workflow
    assert job["concurrency"] == {"group": "mergelens-${{ github.repository }}-db", "cancel-in-progress": False}


def test_sync_step(job):
    assert job["env"] == {"MERGELENS_DB": "${{ vars.MERGELENS_DB || 'artifact:mergelens-db' }}"}
    [step] = [s for s in job["steps"] if s.get("id") == "mergelens"]
    assert step["run"] == SYNC_SCRIPT
    env = step["env"]
    assert env["GITHUB_TOKEN"] == "${{ github.token }}"
    assert env["SINCE"] == "${{ inputs.since }}"
    assert env["PR_NUMBER"] == "${{ inputs.pr_number }}"
    assert env["SENTRY_DSN"] == "${{ secrets.SENTRY_DSN }}"
    assert env["MERGELENS_BOTS"] == "${{ vars.MERGELENS_BOTS }}"  # extra bot logins, stored in the DB
    assert env["MERGELENS_WORK_CALENDAR"] == "${{ vars.MERGELENS_WORK_CALENDAR }}"  # working hours, stored too
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        assert f"MERGELENS_{name}" in env[name]
    assert env["AWS_ACCESS_KEY_ID"].startswith("${{ secrets.")
    assert env["AWS_SECRET_ACCESS_KEY"].startswith("${{ secrets.")
    # the digest (optional): its webhook a secret, its issue a variable
    assert env["MERGELENS_DIGEST_WEBHOOK"] == "${{ secrets.MERGELENS_DIGEST_WEBHOOK }}"
    assert env["MERGELENS_DIGEST_ISSUE"] == "${{ vars.MERGELENS_DIGEST_ISSUE }}"


def test_an_hourly_open_prs_schedule_is_offered_commented_out():
    text = MERGELENS.read_text(encoding="utf-8")
    [line] = [ln for ln in text.splitlines() if "cron:" in ln and ln.strip().startswith("#")]
    minute, hour, *rest = line.split('"')[1].split()
    assert hour == "*" and rest == ["*", "*", "*"] and int(minute) not in (0, 30)


def test_steps_in_order(job):
    uses = [s.get("uses", "").split("@")[0] or "run" for s in job["steps"]]
    assert uses == ["actions/checkout", "actions/setup-python", "run", "run", "actions/upload-artifact"]
    setup = job["steps"][1]["with"]
    # pip's cache is keyed on the file the install reads
    assert setup == {"python-version": "3.11", "cache": "pip", "cache-dependency-path": "requirements-fetcher.txt"}
    # The job's own set only, no dashboard, hash-pinned (tests/test_requirements.py holds the files to that).
    assert (
        job["steps"][2]["run"].strip()
        == "python -m pip install --require-hashes --only-binary :all: -r requirements-fetcher.txt"
    )


def test_upload_step(job):
    [upload] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == UPLOAD_IF
    assert upload["with"] == {
        "name": "${{ steps.mergelens.outputs.artifact_name }}",  # the NAME of artifact:NAME, whatever db says
        "path": "${{ steps.mergelens.outputs.db_path }}",
        "retention-days": 7,  # every merge and the daily schedule upload a fresh copy; prune keeps a few
        "compression-level": 1,  # a DuckDB file barely shrinks past it; 4x faster at 100,000 PRs
        "if-no-files-found": "error",
    }


# --- all three files ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_uses_is_pinned_to_a_commit_sha_with_its_version(path):
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if re.match(r"^\s*(-\s+)?uses:", ln)]
    parsed = [s["uses"] for s in steps_of(load(path)) if "uses" in s]
    assert len(lines) == len(parsed) > 0
    for line in lines:
        assert PINNED_USES.match(line), f"not pinned to a full SHA with a # vX.Y.Z comment: {line.strip()}"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_no_step_checks_out_the_pull_request_head(path):
    doc = load(path)
    assert head_checkouts(doc) == []
    for step in steps_of(doc):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert set(step.get("with", {})) == {"persist-credentials"}, "checkout the event's (base) ref only"
            assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize(
    "bad",
    [
        {"ref": "${{ github.event.pull_request.head.sha }}"},
        {"ref": "${{ github.event.pull_request.head.ref }}"},
        {"repository": "${{ github.event.pull_request.head.repo.full_name }}"},
        {"ref": "${{ github.head_ref }}"},
        {"ref": "refs/pull/${{ github.event.number }}/merge"},
        {"allow-unsafe-pr-checkout": True},
    ],
)
def test_head_checkout_detector_catches(bad):
    doc = load(MERGELENS)
    doc["jobs"]["sync"]["steps"][0]["with"].update(bad)
    assert head_checkouts(doc)
    action = load(ACTION)
    action["runs"]["steps"].insert(0, {"uses": "actions/checkout@" + "0" * 40, "with": bad})
    assert head_checkouts(action)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_no_expression_inside_run_blocks(path):
    runs = [s["run"] for s in steps_of(load(path)) if "run" in s]
    assert runs
    for script in runs:
        assert "${{" not in script, script


# --- the composite action and CI ----------------------------------------------------------------


def test_composite_action():
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert inputs["db"]["default"] == "artifact:mergelens-db"
    assert inputs["github-token"]["default"] == "${{ github.token }}"
    assert inputs["python-version"]["default"] == "3.11"
    assert inputs["reconcile"]["default"] == "since-last-run"
    assert inputs["bots"]["default"] == ""  # empty: keep the extra bots stored in the DB
    assert inputs["mode"]["default"] == "sync" and inputs["keep"]["default"] == ""
    assert {k: v["value"] for k, v in action["outputs"].items()} == {
        "status": "${{ steps.mergelens.outputs.status }}",
        "pr_number": "${{ steps.mergelens.outputs.pr_number }}",
        "db-path": "${{ steps.mergelens.outputs.db_path }}",
        "artifact-name": "${{ steps.mergelens.outputs.artifact_name }}",
    }
    steps = action["runs"]["steps"]
    for step in steps:
        if "run" in step:
            assert step["shell"] == "bash"
    [install] = [s for s in steps if "pip install" in s.get("run", "")]
    assert install["run"].strip() == ACTION_INSTALL
    [sync] = [s for s in steps if s.get("id") == "mergelens"]
    assert sync["run"] == SYNC_SCRIPT.replace("--reconcile since-last-run", '--reconcile "$RECONCILE"')
    assert sync["env"] == {
        "GITHUB_TOKEN": "${{ inputs.github-token }}",
        "MERGELENS_DB": "${{ inputs.db }}",
        "SINCE": "${{ inputs.since }}",
        "PR_NUMBER": "${{ github.event.inputs.pr_number }}",
        "RECONCILE": "${{ inputs.reconcile }}",
        "MERGELENS_BOTS": "${{ inputs.bots }}",
        "MERGELENS_WORK_CALENDAR": "${{ inputs.work-calendar }}",
        "PYTHONPATH": "${{ github.action_path }}",
        "PYTHONSAFEPATH": "1",
    }
    [cache] = [s for s in steps if s.get("uses", "").startswith("actions/cache@")]
    assert "${{ steps.pip-cache.outputs.hash }}" in cache["with"]["key"]
    [locate] = [s for s in steps if s.get("id") == "pip-cache"]
    assert 'sha256sum "$GITHUB_ACTION_PATH/requirements-fetcher.txt"' in locate["run"]  # the file the install reads
    [upload] = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == ACTION_UPLOAD_IF
    assert upload["with"]["name"] == "${{ steps.mergelens.outputs.artifact_name }}"
    assert upload["with"]["if-no-files-found"] == "error"
    assert upload["with"]["retention-days"] == 7
    # mode: sync (the sync step, then the upload) or prune-artifacts (its own step); anything else stops
    assert sync["if"] == "inputs.mode == 'sync'"
    [check] = [s for s in steps if s.get("name") == "Check the mode"]
    assert check["if"] == "inputs.mode != 'sync' && inputs.mode != 'prune-artifacts'"
    assert check["env"] == {"MODE": "${{ inputs.mode }}"} and "exit 2" in check["run"]
    [prune] = [s for s in steps if "python -m fetcher prune-artifacts" in s.get("run", "")]
    assert prune["if"] == "inputs.mode == 'prune-artifacts'"
    assert prune["run"].strip() == "python -m fetcher prune-artifacts"
    assert prune["env"] == {
        "GITHUB_TOKEN": "${{ inputs.github-token }}",
        "MERGELENS_DB": "${{ inputs.db }}",
        "MERGELENS_ARTIFACT_KEEP": "${{ inputs.keep }}",
        "PYTHONPATH": "${{ github.action_path }}",
        "PYTHONSAFEPATH": "1",
    }
    # The action runs its own code: nothing is checked out.
    assert not [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]


def test_every_python_of_the_action_leaves_the_workspace_off_sys_path():
    """The steps run in the caller's workspace: each python runs with -P or PYTHONSAFEPATH=1, so
    a module there never shadows the action's code, its dependencies or pip
    (tests/test_actions_run.py plants such modules and runs the steps)."""
    runs = [s for s in load(ACTION)["runs"]["steps"] if "run" in s]
    invocations = [(step, line) for step in runs for line in re.findall(r"\bpython\b[^\n]*", step["run"])]
    assert len(invocations) == 7
    for step, line in invocations:
        assert line.startswith("python -P -m ") or step.get("env", {}).get("PYTHONSAFEPATH") == "1", line


def test_ci_workflow():
    ci = load(CI)
    on = triggers(ci)
    assert on["push"] == {"branches": ["main"]}
    assert "pull_request" in on and "pull_request_target" not in on
    assert ci["permissions"] == {"contents": "read"}
    [job] = ci["jobs"].values()
    assert "permissions" not in job or job["permissions"] == {"contents": "read"}
    setup = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
    assert setup[0]["with"] == {
        "python-version": "3.11",
        "cache": "pip",
        "cache-dependency-path": "requirements.txt\nrequirements-dev.txt\n",
    }
    assert job["steps"][-1]["run"].strip() == "bash .ci/run"
    # the tests' recorded data (../shared) is fetched first: the runner has none
    assert job["steps"][-2]["run"].strip() == "python scripts/fetch_shared.py"


# --- organisation mode: the central workflow and the per-repository caller ------------------------

ORG = WORKFLOWS / "mergelens-org.yml"
CALLER = ROOT / "examples" / "mergelens-caller.yml"
ORG_FILES = [ORG, CALLER]
CALLER_USES = re.compile(
    r"^\s*uses:\s+[\w.-]+/[\w.-]+/\.github/workflows/mergelens-org\.yml@[0-9a-f]{40} # v\d+\.\d+\.\d+\s*$"
)


def test_actionlint_passes_on_the_organisation_files():
    result = run_tool(["actionlint", "-no-color", "-oneline", *map(str, ORG_FILES)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("persona", ["regular", "pedantic", "auditor"])
def test_zizmor_finds_nothing_in_the_organisation_files(persona):
    result, findings = zizmor("--persona", persona, *map(str, ORG_FILES))
    assert findings == [], json.dumps(findings, indent=1)[:4000]
    assert result.returncode == 0, result.stderr
    unignored = zizmor("--persona", "auditor", "--no-ignores", *map(str, ORG_FILES))[1]
    # the one ignore: the caller's pull_request_target, justified on its line
    assert [
        (Path(f["locations"][0]["symbolic"]["key"]["Local"]["verbatim_path"]).name, f["ident"]) for f in unignored
    ] == [("mergelens-caller.yml", "dangerous-triggers")]
    [line] = [ln for ln in CALLER.read_text(encoding="utf-8").splitlines() if "zizmor:" in ln]
    assert "# zizmor: ignore[dangerous-triggers] -- safe:" in line


@pytest.mark.parametrize("path", ORG_FILES, ids=lambda p: p.name)
def test_organisation_files_ask_for_the_least(path):
    doc = load(path)
    assert doc["permissions"] == {}
    text = path.read_text(encoding="utf-8")
    for job in doc["jobs"].values():
        granted = job["permissions"]
        assert set(granted) <= READ_SCOPES and set(granted.values()) == {"read"}, granted
        for scope in granted:  # each scope says why it is there
            assert any(re.search(rf"^\s*{scope}: read\s+#\s*\S", ln) for ln in text.splitlines()), scope


def test_central_jobs_read_nothing_but_their_own_code():
    jobs = load(ORG)["jobs"]
    assert set(jobs) == {"merge", "organisation", "compact"}
    # the App reads the organisation's repositories; the job's own token reads only this one
    assert jobs["organisation"]["permissions"] == {"contents": "read"}
    assert jobs["compact"]["permissions"] == {"contents": "read"}
    assert jobs["merge"]["permissions"] == dict.fromkeys(READ_SCOPES - {"actions"}, "read")
    # the App key only where the App is used; the checkout App's only where the central code is checked out
    assert [name for name, job in jobs.items() if "MERGELENS_APP_PRIVATE_KEY" in json.dumps(job)] == ["organisation"]
    assert [name for name, job in jobs.items() if "MERGELENS_CHECKOUT_APP" in json.dumps(job)] == ["merge"]
    [mint] = [s for s in jobs["merge"]["steps"] if s.get("uses", "").startswith("actions/create-github-app-token@")]
    # one repository, Contents read: nothing but the checkout
    assert {k: v for k, v in mint["with"].items() if k.startswith("permission-")} == {"permission-contents": "read"}
    assert mint["with"]["repositories"] and mint["with"]["owner"]


def test_lake_writers_are_not_serialised_per_repository():
    jobs = load(ORG)["jobs"]
    merge = jobs["merge"]["concurrency"]
    assert merge["cancel-in-progress"] is False
    assert "github.event.pull_request.number" in merge["group"]  # only the same PR's runs wait
    assert jobs["organisation"]["concurrency"]["cancel-in-progress"] is False
    assert (
        jobs["merge"]["if"] == "github.event_name == 'pull_request_target' && github.event.pull_request.merged == true"
    )


def test_every_job_that_runs_the_fetcher_installs_its_own_set_not_the_dashboard():
    """A merge run waits for its install: the merge workflow, the action and every central job
    install the fetcher's lock (requirements-fetcher.txt, or its lake line's), never the runtime
    set with the dashboard (requirements.txt, requirements-lake.txt)."""

    def installed(steps: list[dict]) -> list[str]:
        return [s["run"].split(" -r ")[1].strip().strip('"') for s in steps if "pip install" in s.get("run", "")]

    assert installed(load(MERGELENS)["jobs"]["sync"]["steps"]) == ["requirements-fetcher.txt"]
    assert installed(load(ACTION)["runs"]["steps"]) == ["$GITHUB_ACTION_PATH/requirements-fetcher.txt"]
    for name, job in load(ORG)["jobs"].items():
        assert installed(job["steps"]) == ["requirements-lake-fetcher.txt"], name


def test_organisation_uses_are_pinned():
    for path in ORG_FILES:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if re.match(r"^\s*(-\s+)?uses:", ln)]
        assert lines
        for line in lines:
            assert PINNED_USES.match(line) or CALLER_USES.match(line), line.strip()
    # the same action versions as the merge workflow, and the checkout App's token action (v2's latest tag)
    pinned = {
        ln.split("uses:")[1].strip() for ln in MERGELENS.read_text(encoding="utf-8").splitlines() if "uses:" in ln
    } | {"actions/create-github-app-token@fee1f7d63c2ff003460e3d139729b119787bc349 # v2.2.2"}
    for line in ORG.read_text(encoding="utf-8").splitlines():
        if "uses:" in line:
            assert line.split("uses:")[1].strip() in pinned


@pytest.mark.parametrize("path", ORG_FILES, ids=lambda p: p.name)
def test_organisation_files_never_check_out_the_pr_or_expand_text_in_run(path):
    doc = load(path)
    assert head_checkouts(doc) == []
    for step in steps_of(doc) if "jobs" in doc and all("steps" in j for j in doc["jobs"].values()) else []:
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
        assert "${{" not in step.get("run", ""), step["run"]


def test_caller_passes_named_secrets_and_the_pinned_commit():
    job = load(CALLER)["jobs"]["mergelens"]
    assert triggers(load(CALLER)) == {"pull_request_target": {"types": ["closed"]}}
    assert job["secrets"] != "inherit" and set(job["secrets"]) <= set(triggers(load(ORG))["workflow_call"]["secrets"])
    assert job["uses"].endswith("@" + job["with"]["mergelens-ref"])


def scheduled_step_scripts() -> dict[str, tuple[str, dict[str, str]]]:
    """The script of each step that runs the scheduled backfill and open-prs, with the event env
    of a scheduled run: the single repository's workflow, the action, the organisation's."""
    action = next(s for s in load(ACTION)["runs"]["steps"] if s.get("id") == "mergelens")
    [single] = [s for job in load(MERGELENS)["jobs"].values() for s in job["steps"] if s.get("id") == "mergelens"]
    org = next(s for s in load(ORG)["jobs"]["organisation"]["steps"] if s.get("id") == "mergelens")
    scheduled = {"GITHUB_EVENT_NAME": "schedule", "SINCE": "", "PR_NUMBER": "", "REPOS": "", "ORG": "acme"}
    return {name: (step["run"], scheduled) for name, step in (("action", action), ("single", single), ("org", org))}


@pytest.mark.parametrize("name", ["single", "action", "org"])
@pytest.mark.parametrize(("backfill", "open_prs", "expected"), [(3, 0, 3), (1, 0, 1), (0, 1, 1), (3, 1, 3), (0, 0, 0)])
def test_the_open_prs_are_snapshotted_even_when_the_backfill_fails(name, backfill, open_prs, expected, tmp_path):
    """The scheduled script under the shell GitHub runs it with (bash -e -o pipefail): open-prs runs
    after a partial or failed backfill (exit 3 or 1: one repository of an organisation the App cannot
    read), and the step fails with the first failure. A stand-in `python` records what it is asked to
    run (the fetcher itself is tested elsewhere; here the shell's logic is what is under test)."""
    script, env = scheduled_step_scripts()[name]
    calls = tmp_path / "calls"
    stand_in = tmp_path / "bin" / "python"
    stand_in.parent.mkdir()
    stand_in.write_text(
        f'#!/bin/sh\necho "$*" >> "{calls}"\n'
        f'case "$*" in *" backfill "*) exit {backfill};; *" open-prs"*) exit {open_prs};; esac\nexit 99\n'
    )
    stand_in.chmod(0o755)
    step = tmp_path / "step.sh"
    step.write_text(script)
    ran = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(step)],
        env={"PATH": f"{stand_in.parent}:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
    )
    commands = [line.split()[2] for line in calls.read_text().splitlines()]
    assert commands == ["backfill", "open-prs"], ran.stderr
    assert ran.returncode == expected, ran.stderr


def test_the_organisation_jobs_cache_pip_on_the_lake_lock():
    steps = [step for job in load(ORG)["jobs"].values() for step in job.get("steps", [])]
    setups = [s["with"] for s in steps if s.get("uses", "").startswith("actions/setup-python@")]
    assert len(setups) == 3
    for setup in setups:
        assert setup["cache"] == "pip"
        # pip's cache is keyed on the file the jobs' install reads
        assert setup["cache-dependency-path"] == "requirements-lake-fetcher.txt"
