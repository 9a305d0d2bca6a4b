"""The dashboard's query functions, on DBs written by the real fetcher from the fake GitHub.

The hand-checked numbers are worked out in tests/support/dashboard_support.py, next to the PRs."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dashboard import db as dashboard_db
from dashboard import queries
from dashboard.queries import Filters
from dashboard.views.explorer import stage_spans
from fetcher.compute import metrics
from fetcher.compute.metrics import STAGES
from fetcher.compute.rules import use_rules
from fetcher.db import safe_open, schema, store
from tests.support.dashboard_support import SCRIPT_TITLE, build_hand_db, empty_db, session_demo_db

CURRENT = Filters(start=date(2026, 3, 1), end=date(2026, 3, 14))


@pytest.fixture(scope="module")
def hand_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hand_db(tmp_path_factory.mktemp("hand") / "hand.duckdb")


@pytest.fixture
def hand(hand_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = dashboard_db.connect(hand_path)
    yield con
    con.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    con = dashboard_db.connect(session_demo_db(tmp_path_factory))
    yield con
    con.close()


def values(frame: pd.DataFrame) -> dict[str, float | None]:
    return {row.metric: row.current for row in frame.itertuples()}


def test_filter_options_list_merged_prs_only(hand: duckdb.DuckDBPyConnection) -> None:
    options = queries.filter_options(hand)
    assert options.repos == ("acme/gadgets", "acme/widgets")
    assert options.authors == ("alice", "bob", "carol", "dave", "dependabot[bot]", "ghost")
    assert options.base_refs == ("main", "release")
    assert (options.first_merge, options.last_merge) == (date(2026, 2, 17), date(2026, 3, 12))
    assert options.merged_prs == 8  # the open PR #8 is not among them


def test_overview_against_hand_checked_numbers(hand: duckdb.DuckDBPyConnection) -> None:
    frame = queries.overview(hand, CURRENT).set_index("metric")
    assert frame.loc["merged_prs", "current"] == 5
    assert frame.loc["cycle_time_median", "current"] == pytest.approx(24)
    assert frame.loc["cycle_time_p90", "current"] == pytest.approx(38.4)
    assert frame.loc["pickup_median", "current"] == pytest.approx(3.5)
    assert frame.loc["review_rounds_mean", "current"] == pytest.approx(0.2)
    assert frame.loc["fix_response_median", "current"] == pytest.approx(2)
    # the previous 14 days: #6 and #7
    assert frame.loc["merged_prs", "previous"] == 2
    assert frame.loc["cycle_time_median", "previous"] == pytest.approx(48)
    assert frame.loc["cycle_time_p90", "previous"] == pytest.approx(67.2)
    assert frame.loc["pickup_median", "previous"] == pytest.approx(9)
    assert frame.loc["review_rounds_mean", "previous"] == pytest.approx(0.5)
    assert frame.loc["fix_response_median", "previous"] == pytest.approx(4)
    assert frame.loc["merged_prs", "change"] == 3
    assert frame.loc["cycle_time_median", "change"] == pytest.approx(-24)


def test_previous_period_has_equal_length() -> None:
    previous = CURRENT.previous()
    assert previous is not None
    assert (previous.start, previous.end) == (date(2026, 2, 15), date(2026, 2, 28))
    assert Filters().previous() is None


def test_overview_without_a_date_range_has_no_comparison(hand: duckdb.DuckDBPyConnection) -> None:
    frame = queries.overview(hand, Filters()).set_index("metric")
    assert frame.loc["merged_prs", "current"] == 7  # every merged PR by a person
    assert frame["previous"].isna().all() and frame["change"].isna().all()


@pytest.mark.parametrize(
    ("filters", "merged", "median_cycle"),
    [
        (Filters(start=CURRENT.start, end=CURRENT.end, include_bots=True), 6, 18),  # + dependabot's 12 h
        (Filters(start=CURRENT.start, end=CURRENT.end, authors=("alice",)), 2, 15),  # 24 and 6
        (Filters(start=CURRENT.start, end=CURRENT.end, authors=("ghost",)), 1, 24),  # the deleted account
        (Filters(start=CURRENT.start, end=CURRENT.end, repos=("acme/gadgets",)), 1, 10),
        (Filters(start=CURRENT.start, end=CURRENT.end, base_refs=("release",)), 1, 6),
        (Filters(start=date(2026, 3, 3), end=date(2026, 3, 3)), 1, 24),  # the end day is included
        (Filters(start=CURRENT.start, end=CURRENT.end, authors=("dependabot[bot]",)), 0, None),  # bots off
    ],
)
def test_every_filter_changes_the_numbers(
    hand: duckdb.DuckDBPyConnection, filters: Filters, merged: int, median_cycle: float | None
) -> None:
    result = values(queries.overview(hand, filters))
    assert result["merged_prs"] == merged
    if median_cycle is None:
        assert pd.isna(result["cycle_time_median"])
    else:
        assert result["cycle_time_median"] == pytest.approx(median_cycle)
    assert len(queries.pr_table(hand, filters)) == merged


def test_weekly_trends(hand: duckdb.DuckDBPyConnection) -> None:
    frame = queries.weekly_trends(hand, Filters())
    weeks = {row.week.date().isoformat(): row for row in frame.itertuples()}
    # weeks start on Monday (UTC): 02-16 (#6), 02-23 (#7), 03-02 (#1, #2, gadgets #1), 03-09 (#3, #5)
    assert list(weeks) == ["2026-02-16", "2026-02-23", "2026-03-02", "2026-03-09"]
    assert [weeks[w].merged_prs for w in weeks] == [1, 1, 3, 2]
    assert weeks["2026-03-02"].cycle_time_hours == pytest.approx(24)  # 24, 48, 10
    assert weeks["2026-03-02"].pickup_hours == pytest.approx(3)  # 2, 4, 3
    assert weeks["2026-03-02"].review_rounds_mean == pytest.approx(1 / 3)
    assert weeks["2026-03-02"].size_median == 15  # sizes 15, 120, 0 (gadgets #1 changed no file)


def test_stage_split_per_week_stacks_up_to_the_mean_cycle_time(hand: duckdb.DuckDBPyConnection) -> None:
    for clock in queries.CLOCKS:
        filters = Filters(clock=clock)
        stages = queries.weekly_stages(hand, filters)
        assert list(stages["stage"].head(4)) == list(STAGES)  # in order, a row per stage and week
        per_week = stages.groupby("week")["hours"].sum()
        cycle = queries.filtered_frame(
            hand,
            filters,
            "SELECT date_trunc('week', merged_at) AS week, avg(cycle_time_hours) AS c FROM filtered GROUP BY ALL",
        ).set_index("week")["c"]
        assert per_week.to_dict() == pytest.approx(cycle.to_dict())
    wall = queries.weekly_stages(hand, Filters())["hours"].sum()
    assert queries.weekly_stages(hand, Filters(clock="work"))["hours"].sum() < wall


def test_stage_medians_and_the_clocked_columns(hand: duckdb.DuckDBPyConnection) -> None:
    assert queries.clocked("cycle_time_hours", "work") == "cycle_time_work_hours"
    assert queries.clocked("cycle_time_hours", "wall") == "cycle_time_hours"
    assert queries.clocked("review_rounds", "work") == "review_rounds"  # not a duration
    medians = queries.stage_medians(hand, Filters())
    assert list(medians["stage"]) == list(STAGES)
    use_rules(hand)
    expected = hand.execute(
        f"SELECT {', '.join(f'median({s})' for s in STAGES)} FROM pr_metrics JOIN pull_requests USING (repo, number) "
        "WHERE merged_at IS NOT NULL AND NOT is_bot(author_login, author_type)"
    ).fetchone()
    assert list(medians["median"]) == pytest.approx(list(expected))


def test_the_explorer_draws_a_pr_s_stages_end_to_end(hand: duckdb.DuckDBPyConnection) -> None:
    p = queries.pull_request(hand, "acme/widgets", 2).iloc[0]
    spans = stage_spans(queries.pr_stages(hand, "acme/widgets", 2), "wall")
    assert spans["at"].iloc[0] == p["created_at"] and spans["end_at"].iloc[-1] == p["merged_at"]
    assert (spans["end_at"].iloc[:-1].to_numpy() == spans["at"].iloc[1:].to_numpy()).all()  # contiguous
    assert list(spans["hours"]) == [p[s] for s in STAGES]
    assert list(stage_spans(queries.pr_stages(hand, "acme/widgets", 2), "work")["hours"]) == [
        p[s.replace("_hours", "_work_hours")] for s in STAGES
    ]


def test_each_stage_names_the_events_that_bound_it(hand: duckdb.DuckDBPyConnection) -> None:
    """widgets #2 (tests/support/dashboard_support.py), Mon-Fri 09:00-17:00 UTC: opened Wednesday 08:00, ready
    12:00, bob requests changes 16:00 and approves 20:00, merged Friday 08:00."""
    stages = queries.pr_stages(hand, "acme/widgets", 2)
    assert stages[["stage", "from_event", "to_event"]].values.tolist() == [
        ["stage_draft_hours", "opened", "ready for review"],
        ["stage_pickup_hours", "ready for review", "first review"],
        ["stage_review_hours", "first review", "last approval"],
        ["stage_merge_hours", "last approval", "merged"],
    ]
    assert [t.strftime("%a %H:%M") for t in stages["to_at"]] == ["Wed 12:00", "Wed 16:00", "Wed 20:00", "Fri 08:00"]
    assert stages["hours"].tolist() == [4, 4, 4, 36]
    assert stages["work_hours"].tolist() == [3, 4, 1, 8]  # 09-12; 12-16; 16-17; Thursday
    stored = hand.execute(
        f"SELECT {', '.join(STAGES)} FROM pr_metrics WHERE repo = 'acme/widgets' AND number = 2"
    ).fetchone()
    assert tuple(stages["hours"]) == stored  # the same SQL as the stored metrics
    # widgets #3: nobody but a bot and the author reviewed it; merged 6 h after it opened
    unreviewed = queries.pr_stages(hand, "acme/widgets", 3)
    assert unreviewed[["from_event", "to_event", "hours"]].values.tolist() == [
        ["opened", "opened (never a draft before its first review)", 0],
        ["opened (never a draft before its first review)", "merged (nobody responded)", 6],
        ["merged (nobody responded)", "end of pickup (no review after it)", 0],
        ["end of pickup (no review after it)", "merged", 0],
    ]
    assert queries.pr_stages(hand, "acme/widgets", 8).empty  # open: no stages
    evidence = {e.metric: e for e in queries.metric_evidence(hand, "acme/widgets", 2)}
    assert evidence["stage_review_hours"].rows[["to_event", "hours", "work_hours"]].values.tolist() == [
        ["last approval", 4, 1]
    ]


def test_size_distribution(hand: duckdb.DuckDBPyConnection) -> None:
    frame = queries.size_distribution(hand, CURRENT)
    assert dict(zip(frame["bucket"], frame["prs"], strict=True)) == {"XS": 3, "S": 1, "M": 1}


def test_review_dynamics(hand: duckdb.DuckDBPyConnection) -> None:
    rounds = queries.review_rounds_distribution(hand, CURRENT)
    assert dict(zip(rounds["review_rounds"], rounds["prs"], strict=True)) == {0: 4, 1: 1}

    fixes = queries.fix_responses(hand, CURRENT)
    assert fixes[["number", "reviewer"]].values.tolist() == [[2, "bob"]]
    assert fixes["fix_response_hours"].tolist() == pytest.approx([2])

    load = queries.reviewer_load(hand, CURRENT).set_index("reviewer")
    assert set(load.index) == {"bob", "carol", "alice"}  # not copilot, not alice on her own PR
    counts = ["prs_reviewed", "reviews", "changes_requested", "approvals", "first_reviewer"]
    assert load.loc["bob"][counts].tolist() == [2, 3, 1, 2, 2]
    assert load.loc["bob", "median_pickup_hours"] == pytest.approx(3)  # 2 h on #1, 4 h on #2
    assert load.loc["carol", "median_pickup_hours"] == pytest.approx(6)
    assert load.loc["alice", "median_pickup_hours"] == pytest.approx(3)

    unreviewed = queries.unreviewed_prs(hand, CURRENT)
    assert unreviewed[["repo", "number"]].values.tolist() == [["acme/widgets", 3]]


def test_reviewer_response_from_the_request(hand: duckdb.DuckDBPyConnection) -> None:
    frame = queries.reviewer_response(hand, CURRENT).set_index("reviewer")
    assert frame.index.tolist() == ["bob", "acme/core", "alice", "carol", "dave"]  # most requested first
    assert frame["is_team"].tolist() == [False, True, False, False, False]
    counts = ["requests", "answered", "reviewed", "commented", "removed", "merged_unanswered", "open"]
    assert frame.loc["bob", counts].tolist() == [2, 1, 1, 0, 0, 1, 0]  # gadgets #1: unanswered at the merge
    assert frame.loc["carol", counts].tolist() == [1, 1, 0, 1, 0, 0, 0]
    assert frame.loc["dave", counts].tolist() == [1, 0, 0, 0, 1, 0, 0]
    assert frame["median_response_hours"].tolist()[:4] == pytest.approx([1.5, 1.5, 2, 2.5])
    assert pd.isna(frame.loc["dave", "median_response_hours"])
    with_bots = queries.reviewer_response(hand, replace(CURRENT, include_bots=True)).set_index("reviewer")
    assert with_bots.loc["bob", "requests"] == 3  # dependabot's #4 too, answered in 0.5 h
    assert with_bots.loc["bob", "median_response_hours"] == pytest.approx(1.0)
    assert with_bots.loc["bob", "p90_response_hours"] == pytest.approx(0.5 + 0.9 * 1.0)
    assert queries.reviewer_response(hand, Filters(start=date(2026, 2, 15), end=date(2026, 2, 28))).empty


def test_size_and_cycle_time(hand: duckdb.DuckDBPyConnection) -> None:
    frame = queries.size_and_cycle_time(hand, CURRENT)
    # widgets #1 (15 lines, 24 h) and #2 (120 lines, 48 h); #3, #5 and gadgets #1 changed no line: no log place
    assert frame[["number", "size"]].values.tolist() == [[1, 15], [2, 120]]
    assert frame["cycle_time_hours"].tolist() == pytest.approx([24, 48])


def first_time(path: Path) -> dict[tuple[str, int], bool | None]:
    with duckdb.connect(str(path), read_only=True) as con:
        use_rules(con)
        rows = con.execute(metrics.FIRST_TIME_CONTRIBUTOR_SQL).fetchall()
    return {(repo, number): flag for repo, number, flag in rows}


def test_first_time_contributor_rule_by_hand(hand_path: Path, tmp_path: Path) -> None:
    """docs/metrics.md "First-time contributor": GitHub's FIRST_TIME_* association, else the author's
    earliest merged PR stored for the repository unless OWNER/MEMBER/COLLABORATOR; never a bot's."""
    copy = shutil.copy(hand_path, tmp_path / "first.duckdb")
    with duckdb.connect(str(copy)) as con:  # the hand DB calls every person a CONTRIBUTOR (fetched after the merge)
        con.execute("UPDATE pull_requests SET author_association = 'MEMBER' WHERE repo = 'acme/widgets' AND number = 2")
        con.execute("UPDATE pull_requests SET author_association = 'FIRST_TIMER' WHERE repo = 'acme/gadgets'")
        con.execute("UPDATE pull_requests SET author_association = 'FIRST_TIME_CONTRIBUTOR' WHERE number = 7")
    assert first_time(copy) == {
        ("acme/gadgets", 1): True,  # dave: GitHub said FIRST_TIMER
        ("acme/widgets", 6): True,  # bob's earliest merged PR here (17 Feb), a CONTRIBUTOR
        ("acme/widgets", 7): True,  # bob's second, but GitHub said FIRST_TIME_CONTRIBUTOR at the fetch
        ("acme/widgets", 1): True,  # alice's earliest (3 March)
        ("acme/widgets", 3): False,  # alice's second (9 March)
        ("acme/widgets", 2): False,  # carol's only PR, but she is a MEMBER
        ("acme/widgets", 4): False,  # dependabot[bot]: a bot never is, though this is its earliest
        ("acme/widgets", 5): False,  # a deleted account (NONE): no history to tell by
    }  # the open #8 is no merged PR
    with duckdb.connect(str(copy)) as con:  # a later backfill stores an older merged PR of alice's
        con.execute(
            "INSERT INTO pull_requests (repo, number, author_login, author_type, author_association, created_at, "
            "merged_at, fetched_at, sync_status) VALUES ('acme/widgets', 90, 'alice', 'User', 'CONTRIBUTOR', "
            "'2025-12-01 09:00+00', '2025-12-02 09:00+00', now(), 'complete')"
        )
        con.execute("UPDATE pull_requests SET author_association = NULL WHERE repo = 'acme/widgets' AND number = 5")
    flags = first_time(copy)
    assert (flags["acme/widgets", 90], flags["acme/widgets", 1]) == (True, False)  # no stale flag left on #1
    assert flags["acme/widgets", 5] is None  # no association stored (before schema version 3): not known


def test_first_time_contributors_against_the_rest(hand_path: Path, tmp_path: Path) -> None:
    copy = shutil.copy(hand_path, tmp_path / "first.duckdb")
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE pull_requests SET author_association = 'MEMBER' WHERE repo = 'acme/widgets' AND number = 2")
        con.execute("UPDATE pull_requests SET author_association = NULL WHERE repo = 'acme/widgets' AND number = 5")
    con = dashboard_db.connect(copy)
    try:
        frame = queries.first_time_contributors(con, CURRENT).set_index("authors")
    finally:
        con.close()
    assert frame.index.tolist() == ["first-time contributors", "everyone else", "not known"]
    assert frame["prs"].tolist() == [2, 2, 1]  # widgets #1 (alice's first) + gadgets #1; #2 (a member) + #3; #5
    assert frame["median_cycle_time_hours"].tolist() == pytest.approx([17, 27, 24])  # (24+10)/2, (48+6)/2
    assert frame["median_pickup_hours"].tolist() == pytest.approx([2.5, 4, 6])  # #3 has no review
    assert frame["review_rounds_mean"].tolist() == pytest.approx([0, 0.5, 0])
    assert frame["share_with_rounds"].tolist() == pytest.approx([0, 0.5, 0])


def test_ci_checks_and_flaky(hand: duckdb.DuckDBPyConnection) -> None:
    checks = queries.check_summary(hand, CURRENT).set_index("name")
    assert checks.loc["test"][["runs", "prs", "failures", "flaky_prs"]].tolist() == [2, 1, 1, 1]
    assert checks.loc["test", "failure_rate"] == pytest.approx(0.5)
    assert checks.loc["test", "median_duration_s"] == pytest.approx(25 * 60)
    assert checks.loc["lint"][["runs", "failures", "flaky_prs"]].tolist() == [1, 0, 0]
    flaky = queries.flaky_checks(hand, CURRENT)
    assert flaky[["number", "name", "failures", "same_commit"]].values.tolist() == [[1, "test", 1, True]]
    # outside the period: nothing
    assert queries.check_summary(hand, Filters(start=date(2026, 2, 1), end=date(2026, 2, 28))).empty


def test_pr_table_columns_and_text(hand: duckdb.DuckDBPyConnection) -> None:
    table = queries.pr_table(hand, CURRENT)
    assert table["number"].tolist() == [5, 3, 2, 1, 1]  # newest merge first
    first = table[(table["repo"] == "acme/widgets") & (table["number"] == 1)].iloc[0]
    assert first["title"] == SCRIPT_TITLE  # stored and returned verbatim: escaping is the app's job
    assert first["size"] == 15 and first["html_url"].endswith("/acme/widgets/pull/1")
    assert table.loc[table["number"] == 5, "author"].item() == "ghost"


def test_timeline_of_a_pr(hand: duckdb.DuckDBPyConnection) -> None:
    timeline = queries.pr_timeline(hand, "acme/widgets", 2)
    assert timeline["kind"].tolist() == [
        "commit",  # 07:30, before the PR was opened
        "opened",
        "ready for review",
        "review",  # CHANGES_REQUESTED 16:00
        "force push",
        "commit",  # 18:00
        "review",  # APPROVED 20:00
        "merged",
    ]
    assert timeline["at"].is_monotonic_increasing
    assert "please split this" in timeline.loc[3, "detail"]
    checks = queries.pr_timeline(hand, "acme/widgets", 1)
    runs = checks[checks["kind"] == "check run"]
    assert len(runs) == 3 and runs["end_at"].notna().all() and runs["is_bot"].all()
    assert queries.pr_timeline(hand, "acme/widgets", 999).empty


def test_extra_bots_are_listed_for_the_pages_that_explain_them(hand_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "bots.duckdb"
    shutil.copy(hand_path, path)
    con = safe_open.open_migrated(path)
    try:
        assert queries.extra_bots(con) == []
        assert metrics.use_settings(con, ("golangcibot", "carol"))
        assert queries.extra_bots(con) == ["carol", "golangcibot"]
        # carol now counts as a bot: her comment on widgets#1 is no longer counted
        pr1 = {e.metric: e for e in queries.metric_evidence(con, "acme/widgets", 1)}
        assert pr1["total_comments"].rows["counted"].sum() == pr1["total_comments"].value == 0
    finally:
        con.close()


def test_evidence_of_a_pr_by_hand(hand: duckdb.DuckDBPyConnection) -> None:
    evidence = {e.metric: e for e in queries.metric_evidence(hand, "acme/widgets", 2)}
    assert evidence["cycle_time_hours"].value == pytest.approx(48)
    ready = evidence["ready_for_review_at"].rows
    assert ready.loc[ready["counted"], "event"].tolist() == ["ready_for_review"]
    assert evidence["pickup_hours"].value == pytest.approx(4)
    rounds = evidence["review_rounds"].rows
    assert rounds["counted"].tolist() == [True] and rounds["fix_response_hours"].tolist() == pytest.approx([2])
    assert evidence["commits_after_first_review"].rows["counted"].tolist() == [False, True]
    assert evidence["force_pushes"].value == 1 and len(evidence["force_pushes"].rows) == 1

    pr3 = {e.metric: e for e in queries.metric_evidence(hand, "acme/widgets", 3)}
    why = pr3["first_review_at"].rows.set_index("reviewer")["excluded_because"]
    assert why.to_dict() == {"copilot-pull-request-reviewer[bot]": "a bot", "alice": "the author"}
    assert pd.isna(pr3["pickup_hours"].value)

    pr1 = {e.metric: e for e in queries.metric_evidence(hand, "acme/widgets", 1)}
    comments = pr1["total_comments"].rows
    assert comments.loc[comments["counted"], "author"].tolist() == ["carol"]
    assert queries.metric_evidence(hand, "acme/widgets", 999) == []


def test_evidence_agrees_with_stored_metrics_on_every_demo_pr(demo: duckdb.DuckDBPyConnection) -> None:
    """Re-deriving each metric from the rows the explorer shows gives what the fetcher stored."""
    prs = demo.execute("SELECT repo, number FROM pull_requests ORDER BY number").fetchall()
    assert len(prs) >= 30
    for repo, number in prs:
        evidence = {e.metric: e for e in queries.metric_evidence(demo, repo, number)}
        context = f"{repo}#{number}"
        reviews = evidence["first_review_at"].rows
        counted = reviews.loc[reviews["counted"], "submitted_at"]
        first = evidence["first_review_at"].value
        if counted.empty:
            assert pd.isna(first), context
        else:
            assert counted.min() == first, context
        ready = evidence["ready_for_review_at"].rows
        assert ready.loc[ready["counted"], "created_at"].tolist() == [evidence["ready_for_review_at"].value], context
        assert evidence["review_rounds"].rows["counted"].sum() == evidence["review_rounds"].value, context
        fixes = evidence["avg_fix_response_hours"].rows["fix_response_hours"]
        if fixes.empty:
            assert pd.isna(evidence["avg_fix_response_hours"].value), context
        else:
            assert math.isclose(fixes.mean(), evidence["avg_fix_response_hours"].value), context
        late = evidence["commits_after_first_review"]
        assert late.rows["counted"].sum() == late.value, context
        comments = evidence["total_comments"]
        assert comments.rows["counted"].sum() == comments.value, context
        assert len(evidence["force_pushes"].rows) == evidence["force_pushes"].value, context
        assert_first_response_evidence(evidence, context)


def assert_first_response_evidence(evidence: dict[str, queries.Evidence], context: str) -> None:
    """The first response is the earliest row not excluded (a bot, the author, after the merge)."""
    responses = evidence["first_response_at"].rows
    answering = responses.loc[responses["excluded_because"].isna(), "at"].dropna()
    value = evidence["first_response_at"].value
    if answering.empty:
        assert pd.isna(value), context
    else:
        assert answering.min() == value and responses["counted"].any(), context


def test_stages_add_up_to_the_cycle_time_on_every_demo_pr(demo: duckdb.DuckDBPyConnection) -> None:
    """The sum invariant (docs/metrics.md, "Stages"), wall clock and working hours, over the demo DB."""
    for clock in ("hours", "work_hours"):
        names = [name.replace("_hours", f"_{clock}") for name in STAGES]
        rows = demo.execute(
            f"SELECT {' + '.join(names)}, cycle_time_{clock}, least({', '.join(names)}), merged_at IS NULL "
            "FROM pr_metrics JOIN pull_requests USING (repo, number)"
        ).fetchall()
        merged = [row for row in rows if not row[3]]
        assert len(merged) > 20
        for total, cycle, smallest, _ in merged:
            assert total == pytest.approx(cycle, abs=1e-9) and smallest >= 0
        assert all(total is None and cycle is None for total, cycle, _, unmerged in rows if unmerged)


def test_demo_db_queries_cover_the_dataset(demo: duckdb.DuckDBPyConnection) -> None:
    everything = Filters(include_bots=True)
    table = queries.pr_table(demo, everything)
    stored = demo.execute("SELECT count(*) FROM pull_requests WHERE merged_at IS NOT NULL").fetchone()
    assert stored is not None and len(table) == stored[0]
    people = queries.pr_table(demo, Filters())
    assert 0 < len(people) < len(table) and not people["author_is_bot"].any()
    assert queries.weekly_trends(demo, everything)["merged_prs"].sum() == len(table)
    assert queries.review_rounds_distribution(demo, everything)["prs"].sum() == len(table)
    checks = queries.check_summary(demo, everything)
    assert checks["runs"].sum() == demo.execute("SELECT count(*) FROM pr_check_runs").fetchone()[0]  # type: ignore[index]
    assert not queries.flaky_checks(demo, everything).empty  # the generator re-runs flaky checks
    assert any("<script>" in title for title in table["title"])


def test_health(hand_path: Path, tmp_path: Path) -> None:
    copy = shutil.copy(hand_path, tmp_path / "health.duckdb")
    with duckdb.connect(str(copy)) as con:
        con.execute(
            "UPDATE pull_requests SET sync_status = 'partial', failed_sections = ['reviews', 'check_runs'] "
            "WHERE repo = 'acme/widgets' AND number = 2"
        )
    con = dashboard_db.connect(copy)
    try:
        summary = queries.health_summary(con)
        assert summary["prs"] == 9 and summary["merged_prs"] == 8 and summary["partial_prs"] == 1
        assert summary["sync_runs"] == 9 and summary["failed_runs"] == 0
        assert summary["last_successful_sync_at"] is not None
        partial = queries.partial_prs(con)
        assert partial[["number", "failed_sections"]].values.tolist() == [[2, "reviews, check_runs"]]
        assert queries.partial_prs(con, ("acme/gadgets",)).empty
        runs = queries.recent_sync_runs(con, ("acme/gadgets",))
        assert runs["repo"].tolist() == ["acme/gadgets"] and runs["status"].tolist() == ["complete"]
        assert len(queries.recent_sync_runs(con, limit=3)) == 3
    finally:
        con.close()


def test_database_size_and_the_artifact_copies_held(hand_path: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copy(hand_path, tmp_path / "copies.duckdb"))
    listed = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    rows = [
        {"name": "mergelens-db", "artifact_id": 7, "created_at": listed - timedelta(hours=h), "expires_at": None,
         "size_bytes": 2_000_000, "status": status, "listed_at": listed}
        for h, status in ((1, "used"), (3, "older"), (0, "untrusted"))
    ]  # fmt: skip
    rows = [{**row, "artifact_id": 7 + i} for i, row in enumerate(rows)]
    with safe_open.open_migrated(copy) as con:
        store.replace_artifact_copies(con, rows)
    con = dashboard_db.connect(copy)
    try:
        size = queries.database_size(con)
        assert size is not None and 0 < copy.stat().st_size - size <= 16384  # the file: its blocks and a header
        copies = queries.artifact_copies(con)
        assert copies["artifact_id"].tolist() == [9, 7, 8]  # newest first
        assert copies["status"].tolist() == ["untrusted", "used", "older"]
        assert copies["size_bytes"].sum() == 6_000_000
    finally:
        con.close()
    with safe_open.open_migrated(copy) as con:  # the next run's listing replaces it
        store.replace_artifact_copies(con, rows[:1])
        assert con.execute("SELECT artifact_id FROM artifact_copies").fetchall() == [(7,)]


def test_empty_db_queries_return_empty_frames(tmp_path: Path) -> None:
    con = dashboard_db.connect(empty_db(tmp_path / "empty.duckdb"))
    try:
        options = queries.filter_options(con)
        assert options.merged_prs == 0 and options.last_merge is None
        assert values(queries.overview(con, CURRENT))["merged_prs"] == 0
        for query in (
            queries.weekly_trends,
            queries.reviewer_load,
            queries.check_summary,
            queries.pr_table,
            queries.reviewer_response,
            queries.size_and_cycle_time,
            queries.first_time_contributors,
        ):
            assert query(con, CURRENT).empty
        with pytest.raises(dashboard_db.Problem) as problem:
            dashboard_db.check_has_prs(con, "empty.duckdb")
        assert problem.value.kind == "empty"
    finally:
        con.close()


def test_user_values_are_bound_not_spliced(hand: duckdb.DuckDBPyConnection) -> None:
    nasty = "x'); DROP TABLE pull_requests; --"
    assert queries.pr_table(hand, Filters(authors=(nasty,), repos=(nasty,), base_refs=(nasty,))).empty
    assert queries.pr_timeline(hand, nasty, 1).empty


# --------------------------------------------------------------------------- opening the file


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(dashboard_db.Problem) as problem:
        dashboard_db.file_key(tmp_path / "nope.duckdb")
    assert problem.value.kind == "missing" and "make demo" in problem.value.hint


def test_file_key_changes_when_a_sync_replaces_the_file(hand_path: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copy(hand_path, tmp_path / "a.duckdb"))
    before = dashboard_db.file_key(copy)
    replacement = Path(shutil.copy(hand_path, tmp_path / "b.duckdb"))
    replacement.replace(copy)  # what fetcher.storage does: write a copy, rename it over
    assert dashboard_db.file_key(copy) != before


def test_the_connection_is_read_only(hand: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.Error):
        hand.execute("DELETE FROM pull_requests")


def _older(con: duckdb.DuckDBPyConnection) -> None:
    schema.ensure_schema(con, schema.SCHEMA_VERSION - 1)  # a real file of the previous version


@pytest.mark.parametrize(
    ("setup", "kind"),
    [
        ("CREATE TABLE mergelens_schema (version INTEGER, migrated_at TIMESTAMPTZ); "
         f"INSERT INTO mergelens_schema VALUES ({schema.SCHEMA_VERSION + 1}, now())", "newer_schema"),
        (_older, "older_schema"),
        ("CREATE TABLE something_else (x INTEGER)", "not_mergelens"),
        ("", "empty"),
    ],
)  # fmt: skip
def test_schema_problems(tmp_path: Path, setup: str | Callable[[duckdb.DuckDBPyConnection], None], kind: str) -> None:
    path = tmp_path / "other.duckdb"
    with duckdb.connect(str(path)) as con:
        if callable(setup):
            setup(con)
        for statement in filter(None, setup.split("; ") if isinstance(setup, str) else []):
            con.execute(statement)
    with pytest.raises(dashboard_db.Problem) as problem:
        dashboard_db.connect(path)
    assert problem.value.kind == kind


PASSWD_AS_TITLES = [
    "ALTER TABLE pull_requests RENAME TO stored_prs",
    "CREATE VIEW pull_requests AS SELECT * REPLACE (content AS title) FROM stored_prs, read_text('/etc/passwd')",
]


def test_a_planted_view_is_refused_by_name_never_shown(hand_path: Path, tmp_path: Path) -> None:
    """The finding: a pull_requests view over /etc/passwd showed the file as PR titles."""
    path = Path(shutil.copy(hand_path, tmp_path / "planted.duckdb"))
    with duckdb.connect(str(path)) as con:
        for statement in PASSWD_AS_TITLES:
            con.execute(statement)
        assert "root:" in con.execute("SELECT title FROM pull_requests LIMIT 1").fetchone()[0]  # type: ignore[index]
    with pytest.raises(dashboard_db.Problem) as problem:
        dashboard_db.connect(path)
    assert problem.value.kind == "not_mergelens"
    assert "a view pull_requests that mergelens did not create" in problem.value.detail
    shown = problem.value.title + problem.value.detail + problem.value.hint
    assert "root:" not in shown and "passwd" not in shown and "SELECT" not in shown


def test_not_a_duckdb_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("hello, not a database\n" * 200)
    with pytest.raises(dashboard_db.Problem) as problem:
        dashboard_db.connect(path)
    assert problem.value.kind == "unreadable"


def test_a_writer_holding_the_file_is_a_clear_problem(hand_path: Path, tmp_path: Path) -> None:
    """DuckDB lets one process write a file, and a read-only open from another process fails
    while it does: the dashboard says so instead of showing a traceback."""
    path = Path(shutil.copy(hand_path, tmp_path / "busy.duckdb"))
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        with pytest.raises(dashboard_db.Problem) as problem:
            dashboard_db.connect(path)
        assert problem.value.kind == "locked" and "Reload" in problem.value.detail
    finally:
        writer.kill()
        writer.wait()
    deadline = time.monotonic() + 10
    while True:  # the lock goes with the writer
        try:
            dashboard_db.connect(path).close()
            break
        except dashboard_db.Problem:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
