"""Databases for the dashboard's tests, built by the real fetcher from the fake GitHub.

``demo_db`` is a demo-like DB (the seeded generator, 40 PRs), built once per test session.
``hand_db`` is a small repository whose every number is worked out by hand below.
``hostile_db`` holds what a DB from elsewhere may: non-GitHub links, Markdown names, formula titles.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamlit import config

from fetcher.collect.rest import ClientSettings, GitHubSource
from fetcher.commands.open_prs import take_snapshot
from fetcher.compute.whose_move import STALE_WORKING_DAYS
from fetcher.db import safe_open, store
from fetcher.extract.records import PullRequestBundle, SectionError, pull_request_row
from fetcher.pipeline.sync_pr import sync_many
from scripts.demo import DEMO_NOW, store_open_snapshots
from tests.support.factories import (
    ACTIONS_BOT,
    ALICE,
    BOB,
    CAROL,
    COPILOT,
    DAVE,
    DEPENDABOT,
    GHOST,
    check_run,
    commit,
    event,
    issue_comment,
    pull,
    repository,
    review,
)
from tests.support.fake_github import FakeGitHub, FileChange, Repository
from tests.support.fake_github.generator import generate_repository
from tests.support.fake_github.open_queue import add_open_queue
from tests.support.services import free_port  # the dashboard tests take it from here too

TOKEN = "dashboard-test-token"
SCRIPT_TITLE = "<script>alert('mergelens')</script> fix **bold** [link](javascript:alert(1))"

ROOT = Path(__file__).resolve().parents[2]


def sync_repositories(db: Path, *repos: Repository, numbers: dict[str, list[int]] | None = None) -> Path:
    """Sync every merged PR of each repository (or the given numbers) into ``db``."""
    with FakeGitHub(list(repos), token=TOKEN) as github:
        source = GitHubSource(ClientSettings(github.api_url, TOKEN, request_interval=0))
        try:
            for repo in repos:
                wanted = (numbers or {}).get(repo.full_name) or sorted(
                    number for number, pr in repo.pulls.items() if pr.merged_at is not None
                )
                outcome = sync_many(source, db, repo.full_name, wanted, "test")
                assert not outcome.failures, outcome.failures
        finally:
            source.close()
    return db


def build_demo_db(path: Path, seed: int = 7, n_prs: int = 40) -> Path:
    """As `make demo` builds it: the merged PRs synced, then the open-PR snapshots (scripts/demo.py)."""
    repo = generate_repository(seed=seed, n_prs=n_prs)
    add_open_queue(repo, DEMO_NOW)
    sync_repositories(path, repo)
    with FakeGitHub([repo], token=TOKEN) as github:
        source = GitHubSource(ClientSettings(github.api_url, TOKEN, request_interval=0))
        try:
            store_open_snapshots(source, path, repo, DEMO_NOW)
        finally:
            source.close()
    return path


ORG_REPOS = (("acme", "rocket", 3), ("acme", "comet", 5), ("umbrella", "probe", 9))  # owner, name, seed


def build_org_db(path: Path, n_prs: int = 12) -> Path:
    """Three generated repositories of two owners in one DB, their merged PRs synced, and one
    open-PR snapshot of the first (the others have no open PRs known)."""
    repos = [generate_repository(seed=seed, n_prs=n_prs, owner=owner, name=name) for owner, name, seed in ORG_REPOS]
    add_open_queue(repos[0], DEMO_NOW)
    sync_repositories(path, *repos)
    with FakeGitHub(repos, token=TOKEN) as github:
        source = GitHubSource(ClientSettings(github.api_url, TOKEN, request_interval=0))
        con = safe_open.open_migrated(path)
        try:
            take_snapshot(source, con, repos[0].full_name, DEMO_NOW, STALE_WORKING_DAYS, digest=False)
        finally:
            con.close()
            source.close()
    return path


def session_demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo-like DB, built on first use and shared by every test module of the session."""
    path = tmp_path_factory.getbasetemp() / "dashboard-demo" / "demo.duckdb"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        build_demo_db(path)
    return path


def empty_db(path: Path) -> Path:
    """A DB with the schema and nothing in it (what a first sync creates before its first PR)."""
    safe_open.open_migrated(path).close()
    return path


# --------------------------------------------------------------------------- the hand-checked DB
#
# Current period 2026-03-01 .. 2026-03-14 (14 days), previous period 2026-02-15 .. 2026-02-28.
#
# acme/widgets
#   #1 alice   created 03-02 09:00, merged 03-03 09:00: cycle 24 h; bob APPROVED 11:00: pickup 2 h.
#              Size 10+5. Checks on its head commit: test failed, then passed (same commit), lint passed.
#              Comments: carol (counts), github-actions[bot] (doesn't).
#   #2 carol   created 03-04 08:00, ready_for_review 12:00, bob CHANGES_REQUESTED 16:00: pickup 4 h,
#              force push 17:30, commit 18:00: one round, fix response 2 h; bob APPROVED 20:00;
#              merged 03-06 08:00: cycle 48 h. Base main.
#   #3 alice   created 03-09 10:00, merged 16:00: cycle 6 h; only Copilot and alice herself reviewed:
#              merged without a human review. Base "release".
#   #4 dependabot[bot] created 03-10 00:00, merged 12:00: cycle 12 h; bob APPROVED 01:00: pickup 1 h.
#   #5 (deleted account) created 03-11 00:00, merged 03-12 00:00: cycle 24 h; carol APPROVED 06:00: 6 h.
#   #6 bob     created 02-16 00:00, merged 02-17 00:00: cycle 24 h; alice APPROVED 10:00: pickup 10 h.
#   #7 bob     created 02-20 00:00, merged 02-23 00:00: cycle 72 h; carol CHANGES_REQUESTED 08:00: 8 h,
#              commit 12:00: one round, fix 4 h.
#   #8 alice   still open (synced on purpose): never counted.
# acme/gadgets
#   #1 dave    created 03-05 00:00, merged 10:00: cycle 10 h; alice APPROVED 03:00: pickup 3 h.
#
# Current period, humans only (widgets #1 #2 #3 #5, gadgets #1): 5 merged PRs, cycle times
# 6 10 24 24 48 -> median 24, p90 24 + 0.6 * 24 = 38.4; pickups 2 3 4 6 -> median 3.5;
# rounds 0 1 0 0 0 -> 0.2 per PR; fix responses [2] -> 2.
# Previous period (#6 #7): 2 PRs, median cycle 48, p90 24 + 0.9 * 48 = 67.2, pickup 9, rounds 0.5, fix 4.
#
# Review requests, current period, humans only: bob 2 (widgets #1 answered 1.5 h, gadgets #1 unanswered at
# the merge), carol 1 (commented 2.5 h), dave 1 (removed), team acme/core 1 (bob's review, 1.5 h), alice 1
# (2 h); with bots, bob also answers dependabot's #4 in 0.5 h.


def hand_repositories() -> tuple[Repository, Repository]:
    pr1 = pull(1, ALICE, "2026-03-02 09:00", "2026-03-03 09:00", title=SCRIPT_TITLE)
    pr1.commits.append(commit("2026-03-02 08:50", ALICE))
    pr1.files.append(FileChange("src/app.py", "modified", 10, 5))
    pr1.reviews.append(review(BOB, "APPROVED", "2026-03-02 11:00"))
    pr1.issue_comments += [
        issue_comment(CAROL, "2026-03-02 12:00", "lgtm <b>nice</b>"),
        issue_comment(ACTIONS_BOT, "2026-03-02 09:10", "coverage 90%"),
    ]
    pr1.events += [  # review requests (pr_review_requests): bob reviews 1.5 h later, carol comments 2.5 h
        event("review_requested", "2026-03-02 09:30", ALICE, requested_reviewer=BOB),  # later, dave is
        event("review_requested", "2026-03-02 09:30", ALICE, requested_reviewer=CAROL),  # removed, the team
        event("review_requested", "2026-03-02 09:30", ALICE, requested_reviewer=DAVE),  # is answered by bob's
        event("review_requested", "2026-03-02 09:30", ALICE, requested_team="core"),  # review, Copilot is
        event("review_requested", "2026-03-02 09:30", ALICE, requested_reviewer=COPILOT),  # no reviewer
        event("review_request_removed", "2026-03-02 10:00", ALICE, requested_reviewer=DAVE),
    ]
    pr1.check_runs += [
        check_run("test", pr1.head_sha, "failure", "2026-03-02 09:05"),
        check_run("test", pr1.head_sha, "success", "2026-03-02 10:05"),
        check_run("lint", pr1.head_sha, "success", "2026-03-02 09:05"),
    ]

    pr2 = pull(2, CAROL, "2026-03-04 08:00", "2026-03-06 08:00")
    pr2.commits += [commit("2026-03-04 07:30", CAROL), commit("2026-03-04 18:00", CAROL)]
    pr2.files.append(FileChange("src/core.py", "modified", 100, 20))
    pr2.events += [
        event("ready_for_review", "2026-03-04 12:00", CAROL),
        event("head_ref_force_pushed", "2026-03-04 17:30", CAROL),
    ]
    pr2.reviews += [
        review(BOB, "CHANGES_REQUESTED", "2026-03-04 16:00", body="please split this"),
        review(BOB, "APPROVED", "2026-03-04 20:00"),
    ]

    pr3 = pull(3, ALICE, "2026-03-09 10:00", "2026-03-09 16:00")
    pr3.base_ref = "release"
    pr3.commits.append(commit("2026-03-09 09:00", ALICE))
    pr3.reviews += [
        review(COPILOT, "COMMENTED", "2026-03-09 10:05", body="Copilot reviewed 1 file"),
        review(ALICE, "APPROVED", "2026-03-09 10:30"),
    ]

    pr4 = pull(4, DEPENDABOT, "2026-03-10 00:00", "2026-03-10 12:00", title="build(deps): bump duckdb")
    pr4.commits.append(commit("2026-03-09 23:59", DEPENDABOT))
    pr4.reviews.append(review(BOB, "APPROVED", "2026-03-10 01:00"))
    pr4.events.append(event("review_requested", "2026-03-10 00:30", DEPENDABOT, requested_reviewer=BOB))  # 0.5 h

    pr5 = pull(5, GHOST, "2026-03-11 00:00", "2026-03-12 00:00")
    pr5.commits.append(commit("2026-03-10 23:00", GHOST))
    pr5.reviews.append(review(CAROL, "APPROVED", "2026-03-11 06:00"))

    pr6 = pull(6, BOB, "2026-02-16 00:00", "2026-02-17 00:00")
    pr6.commits.append(commit("2026-02-15 23:00", BOB))
    pr6.reviews.append(review(ALICE, "APPROVED", "2026-02-16 10:00"))

    pr7 = pull(7, BOB, "2026-02-20 00:00", "2026-02-23 00:00")
    pr7.commits += [commit("2026-02-19 23:00", BOB), commit("2026-02-20 12:00", BOB)]
    pr7.reviews.append(review(CAROL, "CHANGES_REQUESTED", "2026-02-20 08:00"))

    pr8 = pull(8, ALICE, "2026-03-12 00:00", None)
    pr8.commits.append(commit("2026-03-11 22:00", ALICE))

    gadget = pull(1, DAVE, "2026-03-05 00:00", "2026-03-05 10:00")
    gadget.commits.append(commit("2026-03-04 23:00", DAVE))
    gadget.reviews.append(review(ALICE, "APPROVED", "2026-03-05 03:00"))
    gadget.events += [  # alice answers in 2 h; bob never does: unanswered at the merge
        event("review_requested", "2026-03-05 01:00", DAVE, requested_reviewer=ALICE),
        event("review_requested", "2026-03-05 01:00", DAVE, requested_reviewer=BOB),
    ]

    widgets = repository(pr1, pr2, pr3, pr4, pr5, pr6, pr7, pr8, owner="acme", name="widgets")
    gadgets = repository(gadget, owner="acme", name="gadgets")
    return widgets, gadgets


def build_hand_db(path: Path) -> Path:
    widgets, gadgets = hand_repositories()
    return sync_repositories(path, widgets, gadgets, numbers={"acme/widgets": [1, 2, 3, 4, 5, 6, 7, 8]})


# --------------------------------------------------------------------------- the hostile DB
#
# What a DB file from elsewhere may hold: links that are not GitHub's, Markdown and Streamlit
# directives in names, and titles a spreadsheet would run as formulas. Written with the store's
# own write path, as a sync would.

EVIL = "https://evil.example"
HOSTILE_REPO = f"acme/[w]({EVIL}/)"
LINK_TITLE = f"[click]({EVIL}/) ![]({EVIL}/img.png) **bold** :material/home: :red[red]"
FORMULA_TITLE = "=cmd|' /C calc'!A0"
HOSTILE_LOGIN = f"![]({EVIL}/avatar.png)"
HOSTILE_BRANCH = ":material/home: www.evil.example <b>x</b> $x$"
HOSTILE_SECTION = f"[reviews]({EVIL}/section)"
# (number, title, html_url, author, merged at, created at); merged before created: a negative cycle time.
HOSTILE_PRS = (
    (1, FORMULA_TITLE, "javascript:alert(1)", HOSTILE_LOGIN, "2026-03-03T09:00:00Z", "2026-03-02T09:00:00Z"),
    (2, LINK_TITLE, f"{EVIL}/acme/widgets/pull/2", "bob", "2026-03-04T09:00:00Z", "2026-03-04T08:00:00Z"),
    (3, "+SUM(1)", "https://github.com.evil.example/acme/widgets/pull/3", "bob", "2026-03-05T09:00:00Z",
     "2026-03-05T10:00:00Z"),
    (4, "@SUM(1)", "http://github.com/acme/widgets/pull/4", "bob", "2026-03-06T09:00:00Z", "2026-03-06T08:00:00Z"),
    (5, "-2+3", "https://github.com/acme/widgets/pull/5", "bob", "2026-03-07T09:00:00Z", "2026-03-07T08:00:00Z"),
    (6, "\tTab", "https://github.com@evil.example/acme/widgets/pull/6", "bob", "2026-03-08T09:00:00Z",
     "2026-03-08T08:00:00Z"),
)  # fmt: skip
GOOD_URL = "https://github.com/acme/widgets/pull/5"


def build_hostile_db(path: Path) -> Path:
    """HOSTILE_PRS in HOSTILE_REPO; #1 partial, its failed section named HOSTILE_SECTION."""
    con = safe_open.open_migrated(path)
    try:
        for number, title, url, login, merged_at, created_at in HOSTILE_PRS:
            payload = {
                "number": number,
                "title": title,
                "body": LINK_TITLE,
                "user": {"login": login, "type": "User"},
                "state": "closed",
                "base": {"ref": "main", "sha": "b" * 40},
                "head": {"ref": HOSTILE_BRANCH, "sha": f"{number:040d}"},
                "created_at": created_at,
                "merged_at": merged_at,
                "closed_at": merged_at,
                "additions": 1,
                "deletions": 1,
                "changed_files": 1,
                "commits": 1,
                "html_url": url,
            }
            bundle = PullRequestBundle(HOSTILE_REPO, number, pull_request_row(HOSTILE_REPO, payload))
            if number == 1:
                bundle.errors.append(SectionError(HOSTILE_SECTION, 502, "Bad Gateway"))
            started = datetime(2026, 3, 9, tzinfo=UTC)
            run = store.SyncRun(f"run-{number}", HOSTILE_REPO, number, "test", started, started)
            store.write_pull_request(con, bundle, run, started)
    finally:
        con.close()
    return path


@contextmanager
def loopback(address: str | None = "127.0.0.1") -> Iterator[None]:
    """Streamlit's ``server.address`` for AppTest runs (AppTest has no server; the option is global)."""
    saved = config.get_option("server.address")
    config.set_option("server.address", address)
    try:
        yield
    finally:
        config.set_option("server.address", saved)


SERVER_FLAGS = (
    "--server.headless=true",
    "--server.address=127.0.0.1",
    "--server.fileWatcherType=none",
    "--browser.gatherUsageStats=false",
)


STREAMLIT_RUN = (sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), *SERVER_FLAGS)


@contextmanager
def serve_dashboard(
    db: Path,
    log: Path,
    cwd: Path = ROOT,
    port: int | None = None,
    launcher: Sequence[str] = STREAMLIT_RUN,
    environ: Mapping[str, str] = os.environ,
) -> Iterator[str]:
    """``streamlit run dashboard/app.py`` (or ``launcher``: ``mergelens dashboard``) on loopback
    (``port``, or a free one), from ``cwd`` (where Streamlit looks for ``.streamlit/secrets.toml``),
    in ``environ``; yields its URL once ``/_stcore/health`` answers."""
    port = port or free_port()
    env = {**environ, "MERGELENS_DB": str(db), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with log.open("w") as out:
        server = subprocess.Popen(
            [*launcher, f"--server.port={port}"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
