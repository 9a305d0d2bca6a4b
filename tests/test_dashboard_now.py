"""The Now page: its queries on a DB whose rows are written here and whose every number is worked
out by hand below, the agreements setting, and the page itself (AppTest).

Merged PRs (acme/widgets; weeks start on Monday; "wd" = working days, Monday to Friday, counted
after the start's date up to and including the end's date):

  #1 alice  created Mon 03-02 09:00, first review Tue 03-03 17:00 (pickup 1 wd), 300+100 = 400 lines,
            merged Mon 03-09 09:00 (open 5 wd): all three met, each at its boundary.
  #2 bob    created Fri 03-06 16:00, first review Tue 03-10 10:00 (pickup 2 wd: broken), 401 lines
            (broken), merged Fri 03-13 12:00 (open 5 wd: met).
  #3 carol  created Thu 03-05 10:00, no human review (pickup not measured), 10 lines, merged
            Fri 03-13 10:00 (open 6 wd: broken).
  #4 dependabot[bot] created and merged Mon 03-09, 5000 lines (broken), no review: a bot, left out.
  #5 dave   created Sat 03-07 10:00, first review Mon 03-09 15:00 (pickup 1 wd: the weekend does not
            count), no line stored (0), merged Mon 03-09 18:00 (open 1 wd).
  #6 erin   created Mon 02-23 09:00, reviewed 10:00 (0 wd), 50 lines, merged Tue 02-24 (1 wd).

  week 02-23: pickup 1/1, size 1/1, open 1/1.
  week 03-09: pickup #1 #2 #5 -> 2 of 3; size #1 #2 #3 #5 -> 3 of 4; open #1 #2 #3 #5 -> 3 of 4.
              with bots: size 3 of 5, open 4 of 5 (#4: 0 wd), pickup still 2 of 3.

Open-PR snapshots: acme/widgets at Mon 03-09 09:00 (#12 #14 #20 #21), Wed 03-11 09:00 (#10 #12 #14;
#20 closed without merge Tue 03-10 15:00, #21 merged), Fri 03-13 09:00 (#10 #11 #12 #13 #14: the
latest); acme/gadgets at Thu 03-12 09:00 with no open PR. As of Fri 03-13 09:00:

  #10 alice  ready, created Tue 03-10 09:00, no review: waiting_for_first_review, 3.0 days;
             pickup 3 wd (broken at 1), 100 lines, open 3 wd.
  #11 bob    ready, created Thu 03-12 09:00: waiting_for_first_review; pickup 1 wd (met: boundary), 400 lines (met).
  #12 carol  draft, created Mon 03-02 09:00, 401 lines (broken), open 9 wd (broken); pickup n/a (draft).
  #13 dependabot[bot]: a bot, shown with bots only.
  #14 dave   created Fri 03-06 09:00, approved by erin Thu 03-12 10:00, checks green: ready_to_merge;
             open 5 wd (met: boundary); pickup n/a (reviewed).
  #20 eve    created Wed 03-04 09:00, closed without merge Tue 03-10 15:00: open 4 wd.
  #22        closed without merge 2026-01-05: more than 30 days before the latest snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import agreements, queries
from dashboard import db as dashboard_db
from dashboard.agreements import Agreements
from dashboard.queries import Filters
from fetcher.compute import work_calendar
from fetcher.db import safe_open, store
from tests.support.dashboard_support import SCRIPT_TITLE, empty_db, loopback

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
W = "acme/widgets"
ALL = Filters()


def t(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}").replace(tzinfo=UTC)


def merged(number: int, login: str, created: str, merged_at: str, lines: tuple[int, int] | None,
           first_review: str | None, kind: str = "User") -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    pr = {"repo": W, "number": number, "title": f"merged {number}", "author_login": login, "author_type": kind,
          "state": "closed", "created_at": t(created), "merged_at": t(merged_at), "base_ref": "main",
          "additions": lines[0] if lines else None, "deletions": lines[1] if lines else None,
          "html_url": f"https://github.com/{W}/pull/{number}", "sync_status": "complete",
          "fetched_at": t("03-14 00:00")}  # fmt: skip
    metrics = {"repo": W, "number": number, "first_review_at": t(first_review) if first_review else None,
               "ready_for_review_at": t(created)}  # fmt: skip
    return pr, metrics


def snap(number: int, at: str, login: str, created: str, lines: int = 0, draft: bool = False,
         reviews: list[dict[str, Any]] | None = None, kind: str = "User", **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "repo": W,
        "number": number,
        "snapshot_at": t(at),
        "title": extra.pop("title", f"open {number}"),
        "html_url": f"https://github.com/{W}/pull/{number}",
        "author_login": login,
        "author_type": kind,
        "draft": draft,
        "created_at": t(created),
        "additions": lines,
        "deletions": 0,
        "latest_reviews": reviews or [],
        "review_decision": None,
        "checks_state": None,
        "last_reviewer_activity_at": None,
        **extra,
    }  # fmt: skip  (every row has every key: Arrow reads the first's)


def build_now_db(path: Path) -> Path:
    con = safe_open.open_migrated(path)
    try:
        rows = [
            merged(1, "alice", "03-02 09:00", "03-09 09:00", (300, 100), "03-03 17:00"),
            merged(2, "bob", "03-06 16:00", "03-13 12:00", (400, 1), "03-10 10:00"),
            merged(3, "carol", "03-05 10:00", "03-13 10:00", (10, 0), None),
            merged(4, "dependabot[bot]", "03-09 08:00", "03-09 09:00", (5000, 0), None, kind="Bot"),
            merged(5, "dave", "03-07 10:00", "03-09 18:00", None, "03-09 15:00"),
            merged(6, "erin", "02-23 09:00", "02-24 09:00", (50, 0), "02-23 10:00"),
        ]
        store.insert_rows(con, "pull_requests", [pr for pr, _ in rows])
        store.insert_rows(con, "pr_metrics", [m for _, m in rows])
        approved = [{"reviewer_login": "erin", "reviewer_type": "User", "state": "APPROVED",
                     "submitted_at": t("03-12 10:00")}]  # fmt: skip
        first, second, last = "03-09 09:00", "03-11 09:00", "03-13 09:00"
        store.insert_rows(
            con,
            "open_pr_snapshots",
            [
                snap(12, first, "carol", "03-02 09:00", 401, draft=True),
                snap(14, first, "dave", "03-06 09:00", 50),
                snap(20, first, "eve", "03-04 09:00", title="abandoned idea"),
                snap(21, first, "alice", "03-08 09:00"),
                snap(10, second, "alice", "03-10 09:00", 100),
                snap(12, second, "carol", "03-02 09:00", 401, draft=True),
                snap(14, second, "dave", "03-06 09:00", 50),
                snap(10, last, "alice", "03-10 09:00", 100, title=SCRIPT_TITLE),
                snap(11, last, "bob", "03-12 09:00", 400),
                snap(12, last, "carol", "03-02 09:00", 401, draft=True),
                snap(13, last, "dependabot[bot]", "03-13 08:00", 2, kind="Bot"),
                snap(
                    14,
                    last,
                    "dave",
                    "03-06 09:00",
                    50,
                    reviews=approved,
                    review_decision="APPROVED",
                    checks_state="SUCCESS",
                    last_reviewer_activity_at=t("03-12 10:00"),
                ),
            ],
        )
        store.insert_rows(
            con,
            "open_pr_closures",
            [
                {
                    "repo": W,
                    "number": 20,
                    "closed_at": t("03-10 15:00"),
                    "merged": False,
                    "state_reason": "not_planned",
                    "closed_by_login": "eve",
                    "detected_at": t(second),
                },
                {"repo": W, "number": 21, "closed_at": t("03-10 12:00"), "merged": True, "detected_at": t(second)},
                {
                    "repo": W,
                    "number": 22,
                    "closed_at": t("01-05 12:00"),
                    "merged": False,
                    "detected_at": t("01-06 09:00"),
                },
            ],
        )
        runs = [(W, first, 4), (W, second, 3), ("acme/gadgets", "03-12 09:00", 0), (W, last, 5)]
        for repo, at, count in runs:
            con.execute("INSERT INTO open_pr_snapshot_runs VALUES (?, ?, ?, 0, 3, NULL)", [repo, t(at), count])
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def now_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_now_db(tmp_path_factory.mktemp("now") / "now.duckdb")


@pytest.fixture
def con(now_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = dashboard_db.connect(now_path)
    yield connection
    connection.close()


# --------------------------------------------------------------------------- the setting


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pickup=1wd;size=400;open=5wd", Agreements(1, 400, 5)),
        ("size=200", Agreements(1, 200, 5)),  # the others keep their defaults
        (" Pickup = 2 ; open=10wd ;", Agreements(2, 400, 10)),
        ("pickup=0wd,size=off", Agreements(0, None, 5)),
        ("open=3", Agreements(1, 400, 3)),  # wd is the only unit of days
    ],
)
def test_the_setting_is_read(text: str, expected: Agreements) -> None:
    assert agreements.parse(text) == expected


@pytest.mark.parametrize("text", ["pickup", "review=1wd", "size=4wd", "pickup=1h", "size=-1", "size=1;size=2"])
def test_a_bad_setting_keeps_the_defaults_and_never_echoes_itself(text: str) -> None:
    with pytest.raises(ValueError):
        agreements.parse(text)
    agreed, problem = agreements.from_environ({agreements.ENV: text + ";https://evil.example"})
    assert agreed == agreements.DEFAULTS
    assert problem and "MERGELENS_AGREEMENTS" in problem and "evil" not in problem


def test_unset_means_the_defaults() -> None:
    assert agreements.from_environ({}) == (Agreements(1, 400, 5), None)
    assert Agreements(1, None, 5).describe() == "pickup=1wd;size=off;open=5wd"


# --------------------------------------------------------------------------- agreements on merged PRs


Week = dict[tuple[str, str], tuple[int, int]]


def weekly(con: duckdb.DuckDBPyConnection, filters: Filters, agreed: Agreements = agreements.DEFAULTS) -> Week:
    frame = queries.agreement_weekly(con, filters, agreed)
    return {(row.week.date().isoformat(), row.agreement): (row.met, row.prs) for row in frame.itertuples()}


def test_each_agreement_per_week_as_worked_out_by_hand(con: duckdb.DuckDBPyConnection) -> None:
    assert weekly(con, Filters()) == {
        ("2026-02-23", "pickup"): (1, 1),
        ("2026-02-23", "size"): (1, 1),
        ("2026-02-23", "open"): (1, 1),
        ("2026-03-09", "pickup"): (2, 3),  # #2 broke it (2 wd); #1 at 1 wd and #5 over a weekend met it
        ("2026-03-09", "size"): (3, 4),  # #2 (401) broke it; #1 at exactly 400 met it
        ("2026-03-09", "open"): (3, 4),  # #3 (6 wd) broke it; #1 and #2 at exactly 5 met it
    }
    frame = queries.agreement_weekly(con, Filters(), Agreements())
    assert frame.loc[frame["agreement"] == "size", "share"].tolist() == [1.0, 0.75]
    assert set(frame["label"]) == {"first review within 1 working day", "at most 400 lines changed",
                                   "merged within 5 working days"}  # fmt: skip


@pytest.mark.parametrize(
    ("agreed", "march"),
    [
        (Agreements(pickup=2), {"pickup": (3, 3)}),  # #2's 2 wd is now at the boundary
        (Agreements(pickup=0), {"pickup": (0, 3)}),  # 1, 2 and 1 wd: all broken
        (Agreements(size=401), {"size": (4, 4)}),
        (Agreements(size=399), {"size": (2, 4)}),  # #1's 400 breaks it now
        (Agreements(open=6), {"open": (4, 4)}),
        (Agreements(open=4), {"open": (1, 4)}),  # only #5 (1 wd)
    ],
)
def test_the_boundaries_follow_the_limits(con: duckdb.DuckDBPyConnection, agreed: Agreements, march: dict) -> None:
    got = weekly(con, Filters(), agreed)
    for name, counts in march.items():
        assert got[("2026-03-09", name)] == counts


def test_agreements_follow_the_filters(con: duckdb.DuckDBPyConnection) -> None:
    with_bots = weekly(con, Filters(include_bots=True))
    assert with_bots[("2026-03-09", "size")] == (3, 5) and with_bots[("2026-03-09", "open")] == (4, 5)
    assert with_bots[("2026-03-09", "pickup")] == (2, 3)  # the bot's PR had no review
    march = weekly(con, Filters(start=date(2026, 3, 1), end=date(2026, 3, 31), authors=("bob",)))
    assert march == {("2026-03-09", "pickup"): (0, 1), ("2026-03-09", "size"): (0, 1), ("2026-03-09", "open"): (1, 1)}
    assert weekly(con, Filters(), Agreements(pickup=None, size=None))[("2026-02-23", "open")] == (1, 1)
    assert queries.agreement_weekly(con, Filters(), Agreements(None, None, None)).empty


# --------------------------------------------------------------------------- the open queue


def test_the_open_queue_of_the_latest_snapshot(con: duckdb.DuckDBPyConnection) -> None:
    assert queries.latest_snapshot(con) == t("03-13 09:00")
    assert queries.latest_snapshot(con, ("acme/gadgets",)) == t("03-12 09:00")
    queue = queries.open_queue(con, Filters())
    # the digest's order: first reviews, then ready to merge, ..., drafts; longest waiting first
    assert list(zip(queue["number"], queue["move"], strict=True)) == [
        (10, "waiting_for_first_review"),
        (11, "waiting_for_first_review"),
        (14, "ready_to_merge"),
        (12, "draft"),
    ]
    row = queue.set_index("number").loc[10]
    assert row["waited_days"] == pytest.approx(3.0) and row["idle_working_days"] == 3 and row["size"] == 100
    assert row["title"] == SCRIPT_TITLE  # text as stored: the page shows it as plain text
    bots = queries.open_queue(con, Filters(include_bots=True))
    assert 13 in set(bots["number"]) and len(bots) == 5
    assert queries.open_queue(con, Filters(authors=("carol",)))["number"].tolist() == [12]
    assert queries.open_queue(con, Filters(repos=("acme/gadgets",))).empty  # its run found no open PR


def test_the_queue_over_time_counts_every_run(con: duckdb.DuckDBPyConnection) -> None:
    frame = queries.queue_over_time(con, Filters())
    rows = [(r.repo, r.snapshot_at.strftime("%m-%d"), r.ready, r.drafts) for r in frame.itertuples()]
    assert rows == [
        (W, "03-09", 3, 1),
        (W, "03-11", 2, 1),
        ("acme/gadgets", "03-12", 0, 0),  # a run that found nothing is a 0, not a gap
        (W, "03-13", 3, 1),
    ]
    assert queries.queue_over_time(con, Filters(include_bots=True))["open_prs"].tolist() == [4, 3, 0, 5]


def test_abandoned_prs_are_recent_closes_without_merge(con: duckdb.DuckDBPyConnection) -> None:
    frame = queries.abandoned_prs(con, Filters())
    assert frame["number"].tolist() == [20]  # #21 was merged, #22 closed in January
    row = frame.iloc[0]
    assert (row["title"], row["author"], row["state_reason"], row["closed_by"]) == (
        "abandoned idea", "eve", "not_planned", "eve",
    )  # fmt: skip
    assert row["open_working_days"] == 4  # Wed 03-04 to Tue 03-10
    assert queries.abandoned_prs(con, Filters(), 90)["number"].tolist() == [20, 22]
    assert queries.abandoned_prs(con, Filters(authors=("alice",))).empty


def breaking(con: duckdb.DuckDBPyConnection, agreed: Agreements, filters: Filters = ALL) -> list[tuple]:
    frame = queries.agreement_breaches(con, filters, agreed)
    return [(r.agreement, r.number, r.value, r.limit) for r in frame.itertuples()]


def test_open_prs_breaking_an_agreement_now(con: duckdb.DuckDBPyConnection) -> None:
    # #11 (pickup 1 wd, 400 lines) and #14 (open 5 wd) are at the boundaries: not listed
    assert breaking(con, Agreements()) == [("pickup", 10, 3, 1), ("size", 12, 401, 400), ("open", 12, 9, 5)]
    # tighter limits: #11's 1 wd and 400 lines break them; drafts and reviewed PRs have no pickup
    assert breaking(con, Agreements(pickup=0, size=399, open=None)) == [
        ("pickup", 10, 3, 0), ("pickup", 11, 1, 0), ("size", 12, 401, 399), ("size", 11, 400, 399),
    ]  # fmt: skip
    assert breaking(con, Agreements(open=4))[-1] == ("open", 14, 5, 4)
    assert breaking(con, Agreements(), Filters(authors=("alice",))) == [("pickup", 10, 3, 1)]
    assert queries.agreement_breaches(con, Filters(), Agreements(None, None, None)).empty


# --------------------------------------------------------------------------- the working calendar


def test_working_days_follow_the_stored_calendar(tmp_path: Path) -> None:
    # Sunday to Thursday, Sunday 03-08 a holiday; Fridays and Saturdays never count:
    #   merged: #1 Mon 03-02 -> Mon 03-09 open 4 wd (Tue Wed Thu Mon); #2 pickup Fri 03-06 -> Tue 03-10
    #   2 wd (still broken), open -> Fri 03-13 4 wd; #3 Thu 03-05 -> Fri 03-13 open 4 wd (met, was 6);
    #   #5 Sat 03-07 -> Mon 03-09 pickup 1 wd (met; 2 without the holiday), open 1 wd.
    #   open as of Fri 03-13 09:00: #10 Tue 03-10 -> 2 wd (Wed Thu); #12 Mon 03-02 -> 7 wd; #14 Fri 03-06 -> 4 wd.
    #   abandoned #20 Wed 03-04 -> Tue 03-10: 3 wd (Thu Mon Tue).
    path = build_now_db(tmp_path / "calendar.duckdb")
    for calendar, march in [
        ("days=Sun-Thu", {"pickup": (1, 3), "open": (4, 4)}),  # without the holiday #5's pickup takes 2 wd
        ("days=Sun-Thu;holidays=2026-03-08", {"pickup": (2, 3), "open": (4, 4)}),  # the one kept below
    ]:
        with safe_open.open_migrated(path) as writer:
            work_calendar.replace_calendar(writer, work_calendar.parse_work_calendar(calendar))
        connection = dashboard_db.connect(path)
        try:
            got = weekly(connection, Filters())
            assert {name: got[("2026-03-09", name)] for name in march} == march, calendar
        finally:
            connection.close()
    connection = dashboard_db.connect(path)
    try:
        assert breaking(connection, Agreements()) == [("pickup", 10, 2, 1), ("size", 12, 401, 400), ("open", 12, 7, 5)]
        assert queries.open_queue(connection, Filters()).set_index("number").loc[10, "idle_working_days"] == 2
        assert queries.abandoned_prs(connection, Filters())["open_working_days"].tolist() == [3]
    finally:
        connection.close()


def test_a_db_without_snapshots_has_an_empty_queue(tmp_path: Path) -> None:
    connection = dashboard_db.connect(empty_db(tmp_path / "empty.duckdb"))
    try:
        assert queries.latest_snapshot(connection) is None
        assert queries.open_queue(connection, Filters()).empty
        assert queries.abandoned_prs(connection, Filters()).empty
        assert queries.agreement_breaches(connection, Filters(), Agreements()).empty
        assert queries.queue_over_time(connection, Filters()).empty
    finally:
        connection.close()


# --------------------------------------------------------------------------- the page


@pytest.fixture
def fresh() -> Iterator[None]:
    st.cache_data.clear()
    with loopback():
        yield
    st.cache_data.clear()
    st.cache_resource.clear()


def now_page(db: Path, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("MERGELENS_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["page"] = "now"
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


def test_the_now_page_shows_the_queue_and_the_agreements(
    fresh: None, now_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MERGELENS_AGREEMENTS", "pickup=1wd;size=400;open=5wd")
    at = now_page(now_path, monkeypatch)
    assert not at.exception and not at.error, [e.value for e in at.exception]
    cards = {m.label: m.value for m in at.metric}
    assert cards["Open PRs"] == "4" and cards["Waiting for a first review"] == "2" and cards["Drafts"] == "1"
    assert cards["Merged within 5 working days"] == "80%"  # 4 of 5 (#3 broke it)
    frames = [df.value for df in at.dataframe]
    queue = next(f for f in frames if "whose" in f.columns)
    assert queue["number"].tolist() == [10, 11, 14, 12]
    assert SCRIPT_TITLE in queue["title"].tolist()  # a dataframe cell: plain text
    assert queue["html_url"].tolist()[0] == f"https://github.com/{W}/pull/10"
    broken = next(f for f in frames if "limit" in f.columns)
    assert broken["number"].tolist() == [10, 12, 12]
    gone = next(f for f in frames if "state_reason" in f.columns)
    assert gone["number"].tolist() == [20]
    # the bot switch is shared with the other pages
    at.sidebar.checkbox(key="bots").check().run()
    assert {m.label: m.value for m in at.metric}["Open PRs"] == "5"


def test_a_bad_agreements_setting_is_a_warning_without_its_value(
    fresh: None, now_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MERGELENS_AGREEMENTS", "pickup=[x](https://evil.example)")
    at = now_page(now_path, monkeypatch)
    assert not at.exception
    warning = next(w.value for w in at.warning if "MERGELENS_AGREEMENTS" in w.value)
    assert "evil" not in warning and "defaults" in warning


def test_the_now_page_without_snapshots_says_how_to_get_them(
    fresh: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = now_page(empty_db(tmp_path / "empty.duckdb"), monkeypatch)
    assert not at.exception
    assert any("No open-PR snapshots yet" in box.value for box in at.info)
    assert any("python -m fetcher open-prs" in code.value for code in at.code)
