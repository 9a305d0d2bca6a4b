"""What the Actions event asks for: the recorded webhook samples, and broken event files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import recorded_sample
from tests.support.factories import repository
from tests.test_commands_sync import complete_pr


def write_event(tmp_path: Path, payload: object) -> str:
    path = tmp_path / "event.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return str(path)


@pytest.mark.parametrize("event_name", ["pull_request", "pull_request_target"])
def test_closed_without_merge_is_skipped_without_any_api_call(serve, cli, tmp_path, event_name):
    sample = recorded_sample("webhook_pull_request_closed_unmerged.json")
    assert sample["pull_request"]["merged"] is False
    server = serve(repository(complete_pr()))
    db = tmp_path / "db.duckdb"
    run = cli(
        server,
        "sync",
        "--db",
        str(db),
        "--json",
        event_name=event_name,
        event_path=write_event(tmp_path, sample),
    )
    assert run.exit_code == 0
    assert run.result == {
        "status": "skipped",
        "reason": f"PR #{sample['number']} was closed without merging: nothing to sync",
        "api_requests": 0,
    }
    assert server.requests == []
    assert not db.exists()


def test_other_pull_request_actions_are_skipped(serve, cli, tmp_path):
    sample = recorded_sample("webhook_pull_request_closed_merged.json")
    sample["action"] = "opened"
    server = serve(repository(complete_pr()))
    run = cli(server, "sync", event_name="pull_request", event_path=write_event(tmp_path, sample))
    assert run.exit_code == 0
    assert "not closed: nothing to sync" in run.stderr
    assert server.requests == []


def test_event_name_is_inferred_from_the_payload(serve, cli, tmp_path):
    sample = recorded_sample("webhook_pull_request_closed_unmerged.json")
    run = cli(None, "sync", event_name=None, event_path=write_event(tmp_path, sample))
    assert run.exit_code == 0
    assert "closed without merging" in run.stderr


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "does not hold a JSON object"),
        ({"action": "closed", "pull_request": {"merged": True}}, "without pull_request.number"),
    ],
)
def test_malformed_event_file_exits_1_with_what_was_wrong(cli, tmp_path, payload, expected):
    run = cli(None, "sync", event_name="pull_request", event_path=write_event(tmp_path, payload))
    assert run.exit_code == 1
    assert expected in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr


def merged_close(**pull_request: object) -> dict[str, object]:
    return {
        "action": "closed",
        "repository": {"full_name": "acme/widgets"},
        "pull_request": {"merged": True, "number": 12, **pull_request},
    }


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
        ({**merged_close(), "repository": {"full_name": ["acme", "widgets"]}}, "repository.full_name is not a string"),
        ({**merged_close(), "repository": {"full_name": 7}}, "repository.full_name is not a string"),
        (merged_close(number=True), "pull_request.number is not a PR number"),
        (merged_close(number=0), "pull_request.number is not a PR number"),
        (merged_close(number=-12), "pull_request.number is not a PR number"),
        (merged_close(number=12.0), "pull_request.number is not a PR number"),
        (merged_close(number="12"), "pull_request.number is not a PR number"),
        (merged_close(number=2**31), "pull_request.number is not a PR number"),
    ],
    ids=["deep", "name-list", "name-int", "true", "zero", "negative", "float", "string", "beyond-int32"],
)
def test_an_event_we_cannot_use_exits_1_before_any_request(serve, cli, tmp_path, payload, expected):
    server = serve(repository(complete_pr()))
    db = tmp_path / "db.duckdb"
    run = cli(server, "sync", "--db", str(db), event_name="pull_request", event_path=write_event(tmp_path, payload))
    assert run.exit_code == 1, run.stderr
    assert expected in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert server.requests == []
    assert not db.exists()


def test_a_dispatch_beyond_the_largest_pr_number_exits_1(serve, cli, tmp_path):
    server = serve(repository(complete_pr()))
    for inputs in ({"pr_number": str(2**31)}, {"pr_number": "0"}):
        run = cli(server, "sync", event_name="workflow_dispatch", event_path=write_event(tmp_path, {"inputs": inputs}))
        assert run.exit_code == 1 and "is not a PR number" in run.stderr, run.stderr
    run = cli(server, "sync", event_name="workflow_dispatch", event_path=write_event(tmp_path, {"inputs": [12]}))
    assert run.exit_code == 1 and "inputs is not a JSON object" in run.stderr, run.stderr
    assert server.requests == []


def test_missing_event_file(cli, tmp_path):
    run = cli(None, "sync", event_name="pull_request", event_path=str(tmp_path / "absent.json"))
    assert run.exit_code == 1
    assert "event file not found" in run.stderr


def test_merged_event_without_any_repository(cli, tmp_path):
    sample = recorded_sample("webhook_pull_request_closed_merged.json")
    del sample["repository"]
    run = cli(None, "sync", event_name="pull_request", event_path=write_event(tmp_path, sample), repository=None)
    assert run.exit_code == 1
    assert "GITHUB_REPOSITORY" in run.stderr


@pytest.mark.parametrize(("inputs", "code"), [({}, 2), ({"pr_number": "twelve"}, 1), ({"pr_number": "-3"}, 1)])
def test_workflow_dispatch_needs_a_pr_number(cli, tmp_path, inputs, code):
    sample = recorded_sample("webhook_workflow_dispatch.json")
    sample["inputs"] = inputs
    run = cli(None, "sync", event_name="workflow_dispatch", event_path=write_event(tmp_path, sample))
    assert run.exit_code == code
    assert "pr_number" in run.stderr


def test_schedule_event_names_no_pr(cli, tmp_path):
    run = cli(None, "sync", event_name="schedule", event_path=write_event(tmp_path, {"schedule": "0 3 * * *"}))
    assert run.exit_code == 2
    assert "names no PR" in run.stderr


def test_repo_flag_overrides_the_event_repository(serve, cli, tmp_path):
    sample = recorded_sample("webhook_pull_request_closed_merged.json")
    pr = complete_pr()
    pr.number = sample["pull_request"]["number"]
    server = serve(repository(pr))
    run = cli(
        server,
        "sync",
        "--repo",
        "acme/widgets",
        "--db",
        str(tmp_path / "db.duckdb"),
        "--json",
        event_name="pull_request",
        event_path=write_event(tmp_path, sample),
    )
    assert run.exit_code == 0, run.stderr
    assert run.result["repo"] == "acme/widgets"
