"""A stopped pipeline is loud: the scheduled run (``backfill --lookback 7 --check-merge-runs``) fails
with one line when merge runs stopped storing merged PRs, after storing what it reconciled.

Merge runs are the real CLI on a ``pull_request_target`` event; a merge run that "ran" days ago is
one whose ``sync_runs`` rows are moved to that time (the test cannot wait for days). A merge run
that failed (quota hit, expired secret, ...) is one that stored nothing: it is simply not run."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fetcher.compute import merge_runs
from fetcher.errors import EXIT_STOPPED
from fetcher.publish import digest
from tests.conftest import TOKEN, Receiver, query
from tests.support.factories import commit, issue_comment, pull, repository
from tests.support.fake_github import FakeGitHub

NOW = datetime.now(UTC).replace(microsecond=0)
SCHEDULED = ("backfill", "--resume", "--lookback", "7", "--max-minutes", "10", "--check-merge-runs")


@pytest.fixture(autouse=True)
def now(monkeypatch: pytest.MonkeyPatch) -> None:
    """NOW is when the test starts, not when the module was imported: the notices count hours from
    the real clock, and in a parallel run a test may start long after collection."""
    monkeypatch.setattr(sys.modules[__name__], "NOW", datetime.now(UTC).replace(microsecond=0))


def merged(number: int, hours_ago: float):
    pr = pull(number, created="2026-11-01 09:00")
    pr.merged_at = pr.closed_at = pr.updated_at = NOW - timedelta(hours=hours_ago)
    pr.commits = [commit("2026-11-01 08:00", seed=("loud", number))]
    return pr


def merge_run(
    cli: Any,
    server: FakeGitHub,
    db: Path,
    tmp_path: Path,
    number: int,
    ran_at: datetime | None = None,
    repo: str = "acme/widgets",
):
    """The workflow's merge run of PR ``number`` (``sync --reconcile since-last-run`` on its
    ``pull_request_target`` event); ``ran_at``: when it ran (its sync_runs rows are moved there)."""
    event = tmp_path / f"event-{repo.replace('/', '-')}-{number}.json"
    payload = {
        "action": "closed",
        "number": number,
        "pull_request": {"number": number, "merged": True},
        "repository": {"full_name": repo},
    }
    event.write_text(json.dumps(payload))
    began = datetime.now(UTC)
    run = cli(
        server,
        *("sync", "--db", str(db), "--reconcile", "since-last-run", "--json"),
        event_name="pull_request_target",
        event_path=str(event),
        repository=repo,
    )
    assert run.exit_code == 0, run.stderr
    if ran_at is not None:
        with duckdb.connect(str(db)) as con:
            con.execute(
                "UPDATE sync_runs SET finished_at = ? + (finished_at - started_at), started_at = ? "
                "WHERE started_at >= ?",
                [ran_at, ran_at, began],
            )
    return run


def scheduled(cli: Any, server: FakeGitHub, db: Path, tmp_path: Path, **env: Any):
    """The workflow's scheduled command, in Actions (annotations, the step summary)."""
    summary = tmp_path / "summary.md"
    summary.unlink(missing_ok=True)
    run = cli(
        server,
        *SCHEDULED,
        "--repo",
        "acme/widgets",
        "--db",
        str(db),
        "--json",
        in_actions=True,
        step_summary=str(summary),
        **env,
    )
    return run, summary.read_text() if summary.exists() else ""


def result_of(run: Any) -> dict[str, Any]:
    """The --json document (after the annotations on stdout)."""
    return json.loads(next(line for line in run.stdout.splitlines() if line.startswith("{")))


def annotations(run: Any) -> list[str]:
    return [line for line in run.stdout.splitlines() if line.startswith("::")]


def errors(run: Any) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("mergelens: error:")]


@pytest.fixture
def two_failing_days(serve: Any, cli: Any, db_path: Path, tmp_path: Path):
    """PR 1's merge run stored it 72 h ago; then two days of merges whose merge runs stored
    nothing (PRs 2-5, merged 47 to 8 h ago); PR 6 merged an hour ago (not late yet)."""
    repo = repository(merged(1, 72))
    server = serve(repo)
    merge_run(cli, server, db_path, tmp_path, 1, ran_at=NOW - timedelta(hours=72) + timedelta(minutes=2))
    for number, hours_ago in ((2, 47), (3, 36), (4, 20), (5, 8), (6, 1)):
        repo.add_pull(merged(number, hours_ago))
    return repo, server


def test_a_scheduled_run_after_two_days_of_failing_merge_runs_fails_with_the_notice(
    two_failing_days: Any, cli: Any, db_path: Path, tmp_path: Path
):
    repo, server = two_failing_days
    run, summary = scheduled(cli, server, db_path, tmp_path)

    assert run.exit_code == EXIT_STOPPED == 4
    # one line: what is wrong, and what to check
    [line] = errors(run)
    assert line == (
        "mergelens: error: merge runs of acme/widgets stopped: 4 merged PRs were stored only by this run, "
        "up to 47 h after their merge (#2, #3, #4, #5); no merge run has stored a PR since "
        f"{NOW - timedelta(hours=72) + timedelta(minutes=2):%Y-%m-%d %H:%M} UTC (72 h ago), and none stored "
        "the 4 merged PRs since then more than 6 h ago: check the merge runs (the workflow's runs for merged PRs): "
        '"Artifact storage quota has been hit" in their logs, an expired token or secret, a removed permission, '
        "or the workflow disabled (docs/troubleshooting.md)"
    )
    # the annotation says the same
    stopped = [a for a in annotations(run) if a.startswith("::error ")]
    assert stopped == [f"::error title=mergelens%3A merge runs stopped::{line.removeprefix('mergelens: error: ')}"]
    # the step summary: the PRs and what to check for each cause
    assert "### ❌ Merge runs stopped" in summary
    for number in (2, 3, 4, 5):
        assert f"| #{number} | " in summary
    assert "| #6 |" not in summary and "| #1 |" not in summary
    for name, _how in merge_runs.CAUSES:
        assert f"- **{name}**: " in summary
    # the JSON result
    check = result_of(run)["merge_runs"]
    assert check["stopped"] is True
    assert check["missed"] == {"2": "backfill", "3": "backfill", "4": "backfill", "5": "backfill"}
    assert check["merged_since_last_run"] == 4
    # nothing lost: everything the reconcile found is stored, complete
    assert query(db_path, "SELECT number, sync_status FROM pull_requests ORDER BY number") == [
        (n, "complete") for n in range(1, 7)
    ]

    # the cause is fixed: the next merge's run stores its PR; the next scheduled run is quiet again
    repo.add_pull(merged(7, 0))
    merge_run(cli, server, db_path, tmp_path, 7)
    again, summary = scheduled(cli, server, db_path, tmp_path)
    assert again.exit_code == 0, again.stderr
    assert not errors(again) and not [a for a in annotations(again) if a.startswith("::error")]
    assert "Merge runs stopped" not in summary
    assert result_of(again)["merge_runs"]["stopped"] is False


def test_a_quiet_repository_is_not_a_stopped_pipeline(serve: Any, cli: Any, db_path: Path, tmp_path: Path):
    server = serve(repository(merged(1, 72)))
    last = NOW - timedelta(hours=72) + timedelta(minutes=2)
    merge_run(cli, server, db_path, tmp_path, 1, ran_at=last)
    run, summary = scheduled(cli, server, db_path, tmp_path)  # three days without a merge
    assert run.exit_code == 0, run.stderr
    assert not errors(run) and "Merge runs stopped" not in summary
    check = result_of(run)["merge_runs"]
    assert check == {
        "stopped": False,
        "missed_after_hours": 6.0,
        "first_merge_run_at": check["first_merge_run_at"],
        "last_merge_run_at": last.isoformat(),
        "merged_since_last_run": 0,
        "missed": {},
        "warnings": [],
    }


def test_healthy_merge_runs_raise_no_alarm(serve: Any, cli: Any, db_path: Path, tmp_path: Path):
    """Each PR stored by a merge run within minutes; PR 3's run was cancelled (a newer one was
    queued) and PR 4's run caught it up hours later: stored by a merge run, not missed. A comment
    after the merge makes the schedule sync PR 2 again: it was not missed either. PR 5 merged into
    an old branch without the workflow file (no merge run starts there): the schedule stores it."""
    pulls = [merged(1, 47), merged(2, 36), merged(3, 20), merged(4, 8)]
    repo = repository()
    server = serve(repo)
    for pr in pulls:  # merged one after the other, each merge run right after its merge
        repo.add_pull(pr)
        if pr.number != 3:
            merge_run(cli, server, db_path, tmp_path, pr.number, ran_at=pr.merged_at + timedelta(minutes=2))
    old_branch = merged(5, 30)
    old_branch.base_ref = "v1"
    repo.add_pull(old_branch)
    pulls[1].issue_comments.append(issue_comment(None, "2026-11-02 10:00", body="late comment"))
    pulls[1].updated_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)

    run, summary = scheduled(cli, server, db_path, tmp_path)
    assert run.exit_code == 0, run.stderr
    assert result_of(run)["reconcile"]["prs"] == {"2": "updated after last fetch", "5": "missing"}
    assert not errors(run) and "Merge runs stopped" not in summary
    assert result_of(run)["merge_runs"]["stopped"] is False
    # the caught-up PR is recorded as stored by a merge run
    assert query(db_path, "SELECT trigger FROM sync_runs WHERE pr_number = 3") == [("catch-up",)]


def test_merges_no_merge_run_followed_keep_it_loud_after_a_reconcile_by_hand(
    serve: Any, cli: Any, db_path: Path, tmp_path: Path
):
    """PRs 2 and 3 were stored yesterday by a reconcile run by hand, not by this run: the merge
    runs have still not followed them, so the scheduled run stays loud."""
    repo = repository(merged(1, 72))
    server = serve(repo)
    last = NOW - timedelta(hours=72) + timedelta(minutes=2)
    merge_run(cli, server, db_path, tmp_path, 1, ran_at=last)
    repo.add_pull(merged(2, 40))
    repo.add_pull(merged(3, 30))
    began = datetime.now(UTC)
    by_hand = cli(server, "reconcile", "--repo", "acme/widgets", "--db", str(db_path))
    assert by_hand.exit_code == 0, by_hand.stderr
    with duckdb.connect(str(db_path)) as con:
        con.execute("UPDATE sync_runs SET started_at = started_at - INTERVAL 20 HOUR WHERE started_at >= ?", [began])

    run, _ = scheduled(cli, server, db_path, tmp_path)
    assert run.exit_code == 4
    [line] = errors(run)
    assert line.startswith(
        f"mergelens: error: merge runs of acme/widgets stopped: no merge run has stored a PR since "
        f"{last:%Y-%m-%d %H:%M} UTC (72 h ago), and none stored the 2 merged PRs since then more than 6 h ago: "
    )
    assert result_of(run)["merge_runs"]["missed"] == {}  # none first stored by this run


def test_the_threshold_is_a_setting(two_failing_days: Any, cli: Any, db_path: Path, tmp_path: Path):
    _repo, server = two_failing_days
    server.clear_log()
    bad, _ = scheduled(cli, server, db_path, tmp_path, missed_after_hours="soon")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == (
        "mergelens: error: MERGELENS_MISSED_AFTER_HOURS='soon' is not a number of hours (above 0, at most a year)"
    )
    assert server.requests == []  # refused before any request
    # two days late is not late for a 48 h threshold: PR 2 merged 47 h ago
    lenient, _ = scheduled(cli, server, db_path, tmp_path, missed_after_hours="48")
    assert lenient.exit_code == 0, lenient.stderr
    assert result_of(lenient)["merge_runs"]["missed_after_hours"] == 48.0


def test_the_notice_goes_to_the_digest_webhook_when_asked(
    two_failing_days: Any, cli: Any, db_path: Path, tmp_path: Path, webhook: str
):
    _repo, server = two_failing_days
    run, _ = scheduled(cli, server, db_path, tmp_path, digest_webhook=webhook, digest_webhook_alerts=True)
    assert run.exit_code == 4
    [line] = errors(run)
    [posted] = Receiver.bodies
    assert posted == {"text": digest.slack_text(line.removeprefix("mergelens: error: "))}
    assert posted["text"].startswith("merge runs of acme/widgets stopped: 4 merged PRs")
    assert "<" not in posted["text"] and "@" not in posted["text"]  # plain text: no link, no mention
    assert "s3cretWebhookPath" not in run.stdout + run.stderr and TOKEN not in run.stdout + run.stderr


def test_a_failing_alert_webhook_is_a_warning_and_the_run_still_fails_loud(
    two_failing_days: Any, cli: Any, db_path: Path, tmp_path: Path, webhook: str
):
    _repo, server = two_failing_days
    Receiver.status = 500
    run, summary = scheduled(cli, server, db_path, tmp_path, digest_webhook=webhook, digest_webhook_alerts=True)
    assert run.exit_code == 4
    assert "warning: the digest webhook answered HTTP 500: the notice was not posted" in run.stderr
    assert "::warning title=mergelens%3A merge runs::the digest webhook answered HTTP 500" in run.stdout
    assert "the notice was not posted" in summary
    assert "s3cretWebhookPath" not in run.stdout + run.stderr + summary
    # without the opt-in nothing is posted
    Receiver.status = 200
    quiet, _ = scheduled(cli, server, db_path, tmp_path, digest_webhook=webhook)
    assert quiet.exit_code == 4 and len(Receiver.bodies) == 1  # only the failed post above


def test_reconcile_carries_the_check_too_and_without_it_nothing_changes(
    two_failing_days: Any, cli: Any, db_path: Path, tmp_path: Path
):
    _repo, server = two_failing_days
    plain = cli(server, "reconcile", "--repo", "acme/widgets", "--db", str(db_path), "--lookback", "1", "--json")
    assert plain.exit_code == 0 and "merge_runs" not in plain.result  # PRs 4-6 stored, nothing said
    checked = cli(
        server,
        *("reconcile", "--repo", "acme/widgets", "--db", str(db_path), "--check-merge-runs", "--json"),
    )
    assert checked.exit_code == 4
    # PRs 2 and 3 stored by this run; 4 and 5 by the one before: all four not followed by a merge run
    assert checked.result["merge_runs"]["missed"] == {"2": "reconcile", "3": "reconcile"}
    assert checked.result["merge_runs"]["merged_since_last_run"] == 4


def test_organisation_mode_fails_with_the_stopped_repository(serve: Any, cli: Any, db_path: Path, tmp_path: Path):
    widgets = repository(merged(1, 72))
    gadgets = repository(merged(1, 30), name="gadgets")
    server = serve(widgets, gadgets)
    merge_run(cli, server, db_path, tmp_path, 1, ran_at=NOW - timedelta(hours=72))
    widgets.add_pull(merged(2, 30))
    merge_run(cli, server, db_path, tmp_path, 1, repo="acme/gadgets")  # its merge run stored it: fine
    run = cli(
        server,
        *SCHEDULED,
        *("--repos", "acme/widgets,acme/gadgets", "--db", str(db_path), "--json"),
    )
    assert run.exit_code == 4
    [line] = errors(run)
    assert line.startswith("mergelens: error: merge runs of acme/widgets stopped: 1 merged PR was stored only")
    assert run.result["repos"]["acme/gadgets"]["merge_runs"]["stopped"] is False


def test_stopped_merge_runs_go_to_sentry(two_failing_days: Any, cli: Any, db_path: Path, tmp_path: Path, sentry: Any):
    _repo, server = two_failing_days
    dsn, events = sentry
    run, _ = scheduled(cli, server, db_path, tmp_path, sentry_dsn=dsn)
    assert run.exit_code == 4
    (event,) = events
    assert event["tags"] == {"repo": "acme/widgets", "section": "merge runs"}
    message = event["message"]["formatted"] if isinstance(event["message"], dict) else event["message"]
    assert message.startswith("mergelens: merge runs failed: merge runs of acme/widgets stopped: 4 merged PRs")
