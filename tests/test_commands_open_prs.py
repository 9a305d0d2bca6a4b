"""open-prs: dated snapshots of the open PRs (GraphQL, against the fake GitHub), how PRs left the
queue, whose move each PR is (every class worked out by hand), the cost, and the daily digest
(a loopback webhook receiver and the fake's issue-comment route)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from fetcher.compute import work_calendar
from fetcher.compute.whose_move import whose_move, working_days_sql
from fetcher.db import safe_open
from tests.conftest import TOKEN, Receiver
from tests.support.factories import repository
from tests.support.fake_github import Fault, TimelineEvent, User
from tests.support.fake_github.open_queue import EXPECTED, add_open_queue

REPO = "acme/widgets"
FAST = ["--request-interval", "0", "--retry-backoff", "0.01"]


def snapshot(cli, server, db, *extra: str, **env: Any):
    return cli(server, "open-prs", "--repo", REPO, "--db", str(db), "--json", *FAST, *extra, **env)


def moves(db, as_of: datetime | None = None, stale_days: int = 5) -> dict[int, str]:
    con = safe_open.open_migrated(db, read_only=True)
    try:
        return {row["number"]: row["move"] for row in whose_move(con, as_of or datetime.now(UTC), None, stale_days)}
    finally:
        con.close()


@pytest.fixture
def queue(serve):
    repo = repository()
    numbers = add_open_queue(repo, datetime.now(UTC))
    return repo, numbers, serve(repo)


# --- whose move ------------------------------------------------------------------------------


def test_every_class_as_worked_out_by_hand(cli, queue, db_path):
    _repo, numbers, server = queue
    run = snapshot(cli, server, db_path)
    assert run.exit_code == 0, run.stderr
    assert run.result["open_prs"] == len(EXPECTED)
    got = moves(db_path)
    assert {case: got[number] for case, number in numbers.items()} == EXPECTED
    assert set(EXPECTED.values()) == {
        "draft",
        "stale",
        "waiting_for_author",
        "waiting_for_checks",
        "ready_to_merge",
        "waiting_for_reviewer",
        "waiting_for_first_review",
    }


def test_the_snapshot_row_holds_what_the_classes_read(cli, queue, db_path):
    _repo, numbers, server = queue
    snapshot(cli, server, db_path)
    with duckdb.connect(str(db_path), read_only=True) as con:
        row = con.execute(
            "SELECT requested_reviewers, requested_teams, latest_reviews, checks_state, mergeable, draft "
            "FROM open_pr_snapshots WHERE number = ?",
            [numbers["first_review"]],
        ).fetchone()
        re_requested = con.execute(
            "SELECT requested_reviewers, last_review_request_at IS NOT NULL, last_author_activity_at IS NOT NULL "
            "FROM open_pr_snapshots WHERE number = ?",
            [numbers["re_requested"]],
        ).fetchone()
    people, teams, reviews, checks, mergeable, draft = row
    assert people == ["rajpatel"] and teams == ["backend"]
    # the AI reviewer's comment is kept, with its [bot] login; the classes leave bots out
    assert [(r["reviewer_login"], r["reviewer_type"], r["state"]) for r in reviews] == [
        ("copilot-pull-request-reviewer[bot]", "Bot", "COMMENTED")
    ]
    assert (checks, mergeable, draft) == ("SUCCESS", "MERGEABLE", False)
    assert re_requested == (["rajpatel"], True, True)


def quiet_since_friday():
    """The open queue with its PR waiting for a first review last active Friday 2026-11-13 10:00 UTC."""
    repo = repository()
    add_open_queue(repo, datetime(2026, 11, 16, 12, tzinfo=UTC))
    friday = datetime(2026, 11, 13, 10, tzinfo=UTC)
    pr = repo.pulls[9001 + list(EXPECTED).index("first_review")]
    pr.created_at = pr.updated_at = pr.commits[0].committed_at = pr.commits[0].authored_at = friday
    return repo, pr


def test_stale_counts_working_days_only(cli, serve, db_path):
    # last activity on Friday 2026-11-13: Monday 16th is 1 working day later, Friday 20th 5
    repo, pr = quiet_since_friday()
    server = serve(repo)
    snapshot(cli, server, db_path)
    assert moves(db_path, datetime(2026, 11, 16, 9, tzinfo=UTC))[pr.number] == "waiting_for_first_review"
    assert moves(db_path, datetime(2026, 11, 19, 23, tzinfo=UTC))[pr.number] == "waiting_for_first_review"
    assert moves(db_path, datetime(2026, 11, 20, 0, 1, tzinfo=UTC))[pr.number] == "stale"
    assert moves(db_path, datetime(2026, 11, 16, 9, tzinfo=UTC), stale_days=1)[pr.number] == "stale"


def test_stale_follows_the_stored_calendar(cli, serve, db_path):
    # last activity Friday 2026-11-13 10:00 UTC, seen Thursday 19th 23:00: Mon-Fri 4 working days
    # (not stale); Sun-Thu 5 (Sun..Thu: stale); Sun-Thu with Sunday 15th a holiday 4 again
    repo, pr = quiet_since_friday()
    snapshot(cli, serve(repo), db_path)
    thursday = datetime(2026, 11, 19, 23, tzinfo=UTC)
    for calendar, move in [
        (None, "waiting_for_first_review"),
        ("days=Sun-Thu", "stale"),
        ("days=Sun-Thu;holidays=2026-11-15", "waiting_for_first_review"),
        # Thursday 23:00 UTC is Friday 08:00 in Tokyo: Mon..Fri there, 5 working days
        ("tz=Asia/Tokyo", "stale"),
    ]:
        with safe_open.open_migrated(db_path) as con:
            work_calendar.replace_calendar(con, work_calendar.parse_work_calendar(calendar or ""))
        assert moves(db_path, thursday)[pr.number] == move, calendar


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ("2026-11-13 17:00", "2026-11-16 09:00", 1),  # Friday -> Monday
        ("2026-11-14 10:00", "2026-11-15 10:00", 0),  # Saturday -> Sunday
        ("2026-11-16 10:00", "2026-11-16 18:00", 0),  # the same day
        ("2026-11-02 10:00", "2026-11-16 10:00", 10),  # two weeks
    ],
)
def test_working_days(tmp_path, start, end, days):
    # no stored calendar: Monday to Friday, UTC dates
    assert working_days(tmp_path, None, start, end) == days


def working_days(tmp_path, calendar: str | None, start: str, end: str) -> int | None:
    """The working days from ``start`` to ``end`` (UTC) in a DB that stores ``calendar`` (None: none)."""
    with safe_open.open_migrated(tmp_path / "calendar.duckdb") as con:
        work_calendar.replace_calendar(con, work_calendar.parse_work_calendar(calendar) if calendar else None)
        sql = f"SELECT {working_days_sql('$a', '$b')}"
        row = con.execute(sql, {"a": utc(start) if start else None, "b": utc(end)}).fetchone()
        return row[0] if row else None


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


SUN_THU = "days=Sun-Thu;holidays=2026-11-15"  # Sunday 2026-11-15 a holiday


@pytest.mark.parametrize(
    ("calendar", "start", "end", "days"),
    [
        # Friday 13th -> Thursday 19th: Mon-Fri counts Mon..Thu (4); Sun-Thu counts Sun..Thu (5), but
        # the 15th is a holiday (4); a Friday and a Saturday never count under Sun-Thu
        ("days=Sun-Thu", "2026-11-13 10:00", "2026-11-19 10:00", 5),
        (SUN_THU, "2026-11-13 10:00", "2026-11-19 10:00", 4),
        (SUN_THU, "2026-11-13 10:00", "2026-11-15 23:00", 0),
        ("days=Sun-Thu", "2026-11-19 10:00", "2026-11-21 10:00", 0),
        # Friday 10:00 UTC is Friday 19:00 in Tokyo; Sunday 20:00 UTC is already Monday 05:00 there
        ("tz=Asia/Tokyo", "2026-11-13 10:00", "2026-11-15 20:00", 1),
        ("tz=UTC", "2026-11-13 10:00", "2026-11-15 20:00", 0),
        # Monday 03:00 UTC is still Sunday 19:00 in Los Angeles: Monday 18:00 UTC is a day later there
        ("tz=America/Los_Angeles", "2026-11-16 03:00", "2026-11-16 18:00", 1),
        ("tz=America/Los_Angeles;holidays=2026-11-16", "2026-11-16 03:00", "2026-11-16 18:00", 0),
        (SUN_THU, "", "2026-11-16 18:00", None),  # no start: not measured
    ],
)
def test_working_days_follow_the_stored_calendar(tmp_path, calendar, start, end, days):
    assert working_days(tmp_path, calendar, start, end) == days


# --- snapshots and closures ----------------------------------------------------------------------


def test_prs_that_left_the_queue_are_recorded_once(cli, queue, db_path):
    repo, numbers, server = queue
    assert snapshot(cli, server, db_path).exit_code == 0
    now = datetime.now(UTC).replace(microsecond=0)
    dropped = repo.pulls[numbers["stale"]]
    dropped.state, dropped.closed_at = "closed", now - timedelta(minutes=5)
    dropped.events.append(
        TimelineEvent(1, "closed", User("maya-chen", 4811203), dropped.closed_at, state_reason="not_planned")
    )
    merged = repo.pulls[numbers["approved_green"]]
    merged.state, merged.closed_at = "closed", now - timedelta(minutes=3)
    merged.merged_at = merged.closed_at
    second = snapshot(cli, server, db_path)
    assert second.exit_code == 0, second.stderr
    assert second.result["open_prs"] == len(EXPECTED) - 2
    third = snapshot(cli, server, db_path)
    assert third.result["closed"] == []  # seen once: the previous snapshot no longer holds them
    with duckdb.connect(str(db_path), read_only=True) as con:
        closures = con.execute(
            "SELECT number, closed_at, merged, state_reason, closed_by_login FROM open_pr_closures ORDER BY number"
        ).fetchall()
        runs = con.execute("SELECT open_prs, closed_found FROM open_pr_snapshot_runs ORDER BY snapshot_at").fetchall()
        per_run = con.execute("SELECT count(DISTINCT snapshot_at) FROM open_pr_snapshots").fetchone()
    assert sorted(closures) == sorted(
        [
            (dropped.number, dropped.closed_at, False, "not_planned", "maya-chen"),
            (merged.number, merged.merged_at, True, None, None),
        ]
    )
    assert runs == [(10, 0), (8, 2), (8, 0)] and per_run == (3,)
    assert dropped.number not in moves(db_path) and len(moves(db_path)) == 8


def test_an_empty_queue_is_a_snapshot_too(cli, serve, db_path):
    repo = repository()
    numbers = add_open_queue(repo, datetime.now(UTC))
    server = serve(repo)
    snapshot(cli, server, db_path)
    for number in numbers.values():
        repo.pulls[number].state, repo.pulls[number].closed_at = "closed", datetime.now(UTC)
    run = snapshot(cli, server, db_path)
    assert run.result["open_prs"] == 0 and len(run.result["closed"]) == len(EXPECTED)
    assert moves(db_path) == {}


def test_a_failing_query_stores_nothing(cli, queue, db_path):
    _repo, _numbers, server = queue
    snapshot(cli, server, db_path)
    server.add_fault(r"/graphql$", *[Fault.server_error(502)] * 3)
    run = snapshot(cli, server, db_path)
    assert run.exit_code == 1
    assert run.stderr.strip().endswith("nothing was stored")
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM open_pr_snapshot_runs").fetchone() == (1,)


# --- cost ----------------------------------------------------------------------------------------


def test_five_hundred_open_prs_cost_under_25_points(cli, serve, db_path):
    repo = repository()
    now = datetime.now(UTC)
    for block in range(50):
        add_open_queue(repo, now, first_number=1 + 10 * block)
    server = serve(repo)
    run = snapshot(cli, server, db_path)
    assert run.result["open_prs"] == 500
    listing = [record for record in server.graphql_log if "OpenPullRequests" in record.query]
    assert [record.cost for record in listing] == [3] * 5  # 1 + 100 x 3 connection requests a page
    assert run.result["points"] == 15 < 25  # 0.03 points per open PR
    # the next run: every PR closed since costs one point per 100 for how they left
    for number in range(1, 101):
        repo.pulls[number].state, repo.pulls[number].closed_at = "closed", now
    run = snapshot(cli, server, db_path)
    assert run.result["points"] == 12 + 1 and len(run.result["closed"]) == 100


# --- the digest ----------------------------------------------------------------------------------


def test_digest_posts_to_the_webhook_once_a_day_escaped(cli, queue, db_path, webhook, tmp_path):
    _repo, numbers, server = queue
    summary = tmp_path / "summary.md"
    run = snapshot(cli, server, db_path, digest_webhook=webhook, step_summary=str(summary))
    assert run.exit_code == 0, run.stderr
    [posted] = Receiver.bodies
    text = posted["text"]
    assert "*What is waiting in acme/widgets*" in text
    # the title "feat(api): paginate <b>webhooks</b> & *runs*": no tag, no link, no mention
    assert "paginate &lt;b&gt;webhooks&lt;/b&gt; &amp; *runs*" in text
    assert f"<https://github.com/acme/widgets/pull/{numbers['first_review']}|#{numbers['first_review']}>" in text
    assert "*Waiting for a first review* (the reviewers' move)" in text
    # the step summary has the Markdown digest, escaped
    shown = summary.read_text()
    assert "paginate &lt;b&gt;webhooks&lt;/b&gt; &amp; \\*runs\\*" in shown
    # the same day again: stored, not posted again
    assert snapshot(cli, server, db_path, digest_webhook=webhook).exit_code == 0
    assert len(Receiver.bodies) == 1
    for out in (run.stdout, run.stderr, shown):
        assert "s3cretWebhookPath" not in out and TOKEN not in out


MENTIONS = "ping @alice, @acme/core, @here and @channel <!here> <!channel> <@U024BE7LH>"


def test_digest_mentions_notify_nobody(cli, queue, db_path, webhook):
    """A PR title's @alice or @org/team would notify them from the digest's issue comment (GitHub
    links mentions after rendering the Markdown), and @here/@channel ping a whole channel through a
    Slack-compatible webhook (Mattermost reads the plain form, Slack the <!here> form)."""
    repo, numbers, server = queue
    repo.pulls[numbers["first_review"]].title = MENTIONS
    repo.issues[7] = []
    run = snapshot(cli, server, db_path, digest_webhook=webhook, digest_issue="7")
    assert run.exit_code == 0, run.stderr
    [posted], [comment] = Receiver.bodies, repo.issues[7]
    for text in (posted["text"], comment.body):
        assert re.findall(r"@\w", text) == []  # each "@" is followed by a zero-width joiner
        assert "@\u200dalice" in text and "@\u200dacme/core" in text and "@\u200dhere" in text
    assert "<!" not in posted["text"] and "<@" not in posted["text"]
    assert "&lt;!here&gt; &lt;!channel&gt; &lt;@\u200dU024BE7LH&gt;" in posted["text"]
    # read without the joiner, the title is what its author wrote
    assert "ping @alice, @acme/core, @here and @channel" in comment.body.replace("\u200d", "")


def test_a_failing_webhook_is_a_warning_that_never_shows_the_url(cli, queue, db_path, webhook, tmp_path):
    _repo, _numbers, server = queue
    Receiver.status = 500
    run = snapshot(cli, server, db_path, digest_webhook=webhook, step_summary=str(tmp_path / "s.md"), in_actions=True)
    assert run.exit_code == 3
    assert "the digest webhook answered HTTP 500" in run.stderr
    unreachable = webhook.rsplit(":", 1)[0] + ":9/services/s3cretWebhookPath"
    with duckdb.connect(str(db_path)) as con:  # a new day for the digest
        con.execute("UPDATE open_pr_snapshot_runs SET digest_posted_at = digest_posted_at - INTERVAL 1 DAY")
    again = snapshot(cli, server, db_path, digest_webhook=unreachable)
    assert again.exit_code == 3 and "could not be reached (ConnectionError)" in again.stderr
    plain = snapshot(cli, server, db_path, digest_webhook="http://hooks.example.com/s3cretWebhookPath")
    for out in (run.stdout, run.stderr, again.stdout, again.stderr, (tmp_path / "s.md").read_text(), plain.stderr):
        assert "s3cretWebhookPath" not in out
    with duckdb.connect(str(db_path), read_only=True) as con:  # the snapshots were stored all the same
        assert con.execute("SELECT count(*) FROM open_pr_snapshot_runs").fetchone() == (3,)


def test_digest_as_a_comment_on_the_named_issue(cli, queue, db_path):
    repo, _numbers, server = queue
    repo.issues[7] = []
    run = snapshot(cli, server, db_path, digest_issue="7")
    assert run.exit_code == 0, run.stderr
    [comment] = repo.issues[7]
    assert comment.body.startswith("### What is waiting in acme/widgets")
    assert "paginate &lt;b&gt;webhooks&lt;/b&gt; &amp; \\*runs\\*" in comment.body
    missing = snapshot(cli, server, db_path.with_name("other.duckdb"), digest_issue="8")
    assert missing.exit_code == 3 and "issue #8" in missing.stderr and "issues: write" in missing.stderr
    bad = snapshot(cli, server, db_path, digest_issue="seven")
    assert bad.exit_code == 2 and "MERGELENS_DIGEST_ISSUE" in bad.stderr
