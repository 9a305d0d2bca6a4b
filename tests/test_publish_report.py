"""What a run reports in GitHub Actions: step summary, annotations, outputs, and Sentry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fetcher.publish import report
from tests.support.factories import repository
from tests.support.fake_github import Fault
from tests.test_commands_sync import complete_pr


def actions_env(tmp_path: Path) -> dict[str, object]:
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    summary.touch()
    output.touch()
    return {"step_summary": str(summary), "output": str(output), "in_actions": True}


def read_outputs(path: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in Path(path).read_text().splitlines())


def test_summary_outputs_and_annotations_of_a_complete_sync(serve, cli, db_path, tmp_path):
    pr = complete_pr()
    pr.title = "<script>alert('pwned')</script> **bold** [link](http://evil.example)"
    server = serve(repository(pr))
    env = actions_env(tmp_path)
    run = cli(server, "sync", "--repo", "acme/widgets", "--pr", "12", "--db", str(db_path), **env)
    assert run.exit_code == 0, run.stderr
    summary = Path(env["step_summary"]).read_text()
    assert "✅ **complete**: [acme/widgets#12](https://github.com/acme/widgets/pull/12)" in summary
    assert "<script>" not in summary and "&lt;script&gt;" in summary  # inert: escaped HTML
    assert "\\*\\*bold\\*\\*" in summary and "\\[link\\]" in summary  # inert: escaped Markdown
    assert "| commits | 2 |" in summary and "| review_rounds | 1 |" in summary
    assert str(db_path) in summary.replace("\\", "")
    outputs = read_outputs(env["output"])
    assert outputs["status"] == "complete"
    assert outputs["pr_number"] == "12"
    assert outputs["db_verified"] == "true"
    assert Path(outputs["db_path"]).exists()
    assert outputs["review_rounds"] == "1"
    assert "::" not in run.stdout  # nothing to annotate


def test_partial_sync_raises_a_warning_annotation(serve, cli, db_path, tmp_path):
    server = serve(repository(complete_pr()))
    server.add_fault(r"/pulls/12/files$", *[Fault.server_error(503)] * 4)
    env = actions_env(tmp_path)
    run = cli(server, "sync", "--repo", "acme/widgets", "--pr", "12", "--db", str(db_path), **env)
    assert run.exit_code == 3
    (line,) = [line for line in run.stdout.splitlines() if line.startswith("::")]
    assert line.startswith("::warning title=mergelens%3A partial sync of acme/widgets#12::files: HTTP 503")
    summary = Path(env["step_summary"]).read_text()
    assert "⚠️ **partial**" in summary
    assert "| files | failed: kept previous rows |" in summary
    assert read_outputs(env["output"])["status"] == "partial"
    assert read_outputs(env["output"])["db_verified"] == "true"  # a partial DB is still pushed


def test_failed_run_raises_an_error_annotation_and_says_not_verified(serve, cli, db_path, tmp_path):
    server = serve(repository(complete_pr()))
    env = actions_env(tmp_path)
    run = cli(server, "sync", "--repo", "acme/widgets", "--pr", "404", "--db", str(db_path), **env)
    assert run.exit_code == 1
    assert "::error title=mergelens failed::PR #404 not found in acme/widgets (HTTP 404)" in run.stdout
    outputs = read_outputs(env["output"])
    assert outputs == {
        "status": "failed",
        "pr_number": "404",
        "db_path": "",
        "db_verified": "false",
        "artifact_name": "",
    }
    assert "❌ **failed**" in Path(env["step_summary"]).read_text()


def test_skipped_event_writes_outputs(cli, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "closed", "number": 5, "pull_request": {"number": 5, "merged": False}}))
    env = actions_env(tmp_path)
    run = cli(None, "sync", event_name="pull_request_target", event_path=str(event), repository="acme/widgets", **env)
    assert run.exit_code == 0
    assert read_outputs(env["output"])["status"] == "skipped"
    assert "closed without merging" in Path(env["step_summary"]).read_text()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\nb", "a b"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert\\(1\\)&gt;"),
        ("#1 | x", "\\#1 \\| x"),
        ('it\'s "done"', 'it\'s "done"'),  # no entity whose # is escaped in turn (was &\\#x27;)
    ],
)
def test_markdown_text_is_inert(value, expected):
    assert report.markdown_text(value) == expected


def test_annotation_escaping():
    assert report.annotation("warning", "a: b, c", "50%\nnext") == "::warning title=a%3A b%2C c::50%25%0Anext"


def test_outputs_with_newlines_use_a_heredoc(tmp_path):
    path = tmp_path / "out"
    report.write_outputs(str(path), {"status": "complete", "note": "two\nlines"})
    text = path.read_text()
    assert text.startswith("status=complete\nnote<<ghadelimiter_")
    assert "\ntwo\nlines\nghadelimiter_" in text


def test_permanent_section_failure_goes_to_sentry_with_tags(serve, cli, db_path, tmp_path, sentry):
    dsn, events = sentry
    server = serve(repository(complete_pr()))
    server.add_fault(r"/issues/12/timeline$", *[Fault.server_error(500)] * 4)
    run = cli(server, "sync", "--repo", "acme/widgets", "--pr", "12", "--db", str(db_path), sentry_dsn=dsn)
    assert run.exit_code == 3
    (event,) = events
    assert event["level"] == "error"
    assert event["tags"] == {"repo": "acme/widgets", "pr_number": "12", "section": "timeline"}
    assert (
        "timeline failed: HTTP 500" in event["message"]["formatted"]
        if isinstance(event["message"], dict)
        else ("timeline failed: HTTP 500" in event["message"])
    )


def test_complete_run_sends_nothing_to_sentry(serve, cli, db_path, sentry):
    dsn, events = sentry
    server = serve(repository(complete_pr()))
    assert (
        cli(server, "sync", "--repo", "acme/widgets", "--pr", "12", "--db", str(db_path), sentry_dsn=dsn).exit_code == 0
    )
    assert events == []


def test_failed_run_goes_to_sentry(serve, cli, db_path, sentry):
    dsn, events = sentry
    server = serve(repository(complete_pr()))
    run = cli(server, "sync", "--repo", "acme/widgets", "--pr", "77", "--db", str(db_path), sentry_dsn=dsn)
    assert run.exit_code == 1
    (event,) = events
    assert event["tags"]["section"] == "run"
    assert event["tags"]["repo"] == "acme/widgets"


def test_the_json_documents_keep_their_keys_in_order(serve, cli, db_path):
    """--json is read by scripts: every command's document keeps its keys, in their order."""
    server = serve(repository(complete_pr()))
    sync = cli(
        server, "sync", "--repo", "acme/widgets", "--pr", "12", "--db", str(db_path), "--json", "--reconcile", "1"
    )
    assert list(sync.result) == [
        *["repo", "pr_number", "status", "trigger", "run_id", "db", "counts", "errors", "warnings", "metrics"],
        *["api_requests", "retries", "duration_s", "title", "reconcile", "reconciled", "storage"],
    ]
    assert sync.result["api_requests"] == 8 + 1  # the run's: the PR's 8, then reconcile's one page of closed PRs
    assert list(sync.result["storage"]) == [
        *["location", "local_path", "size_bytes", "counts", "created", "attempts", "notes", "artifact_name"],
        *["artifact_copies", "verified"],
    ]
    reconcile = cli(server, "reconcile", "--repo", "acme/widgets", "--db", str(db_path), "--json")
    assert list(reconcile.result) == [
        *["status", "repo", "since", "reconcile", "reconciled", "storage", "api_requests", "duration_s"]
    ]
    failed = cli(server, "sync", "--repo", "acme/widgets", "--pr", "404", "--db", str(db_path), "--json")
    assert list(failed.result) == ["status", "error", "repo", "pr_number"]
