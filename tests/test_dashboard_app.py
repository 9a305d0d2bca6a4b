"""The Streamlit app, run by Streamlit's AppTest on fetcher-built DBs, a hostile DB, an empty DB and no DB."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import db as dashboard_db
from dashboard.app import PAGES, table_csv
from dashboard.db import file_key
from dashboard.queries import CLOCKS, Filters
from dashboard.views.repositories import ALL as ALL_REPOSITORIES
from fetcher.compute.metrics import STAGES
from fetcher.compute.rules import use_rules
from fetcher.db import safe_open, schema, store
from tests.support.dashboard_support import (
    EVIL,
    FORMULA_TITLE,
    GOOD_URL,
    HOSTILE_BRANCH,
    HOSTILE_LOGIN,
    HOSTILE_PRS,
    HOSTILE_REPO,
    HOSTILE_SECTION,
    LINK_TITLE,
    SCRIPT_TITLE,
    build_hand_db,
    build_hostile_db,
    build_org_db,
    empty_db,
    loopback,
    session_demo_db,
)
from tests.support.factories import repository
from tests.test_compute_merge_runs import NOW, merge_run, merged, scheduled

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
CURRENT = {"from": "2026-03-01", "to": "2026-03-14"}


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    st.cache_data.clear()
    with loopback():  # served to this machine only: no login needed (tests/test_dashboard_auth.py)
        yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def hand_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hand_db(tmp_path_factory.mktemp("hand-app") / "hand.duckdb")


@pytest.fixture(scope="module")
def hostile_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hostile_db(tmp_path_factory.mktemp("hostile-app") / "hostile.duckdb")


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_demo_db(tmp_path_factory)


def app(db: Path, monkeypatch: pytest.MonkeyPatch, **params: str | list[str]) -> AppTest:
    monkeypatch.setenv("MERGELENS_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


def param(at: AppTest, name: str) -> list[str]:
    """A URL parameter's values (AppTest gives one value as a string, several as a list)."""
    value = at.query_params.get(name)
    return [] if value is None else value if isinstance(value, list) else [value]


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def nodes(at: AppTest) -> Iterator[Any]:
    stack: list[Any] = [at._tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(getattr(node, "children", {}).values())


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_on_the_demo_db(demo_path: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    at = app(demo_path, monkeypatch, page=page)
    assert_clean(at)
    assert at.sidebar.radio(key="page").value == page
    assert at.header[0].value == PAGES[page]
    # the whole history too, bots included
    at.sidebar.button[0].click().run()  # "All time"
    at.sidebar.checkbox(key="bots").check().run()
    assert_clean(at)


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_on_an_empty_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    at = app(empty_db(tmp_path / "empty.duckdb"), monkeypatch, page=page)
    assert not at.exception
    assert any("No merged PRs yet" in w.value for w in at.warning)
    assert any("make demo" in code.value for code in at.code)


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_without_a_db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    at = app(tmp_path / "nowhere.duckdb", monkeypatch, page=page, pr="acme/widgets#1")
    assert not at.exception
    assert any("No database yet" in w.value for w in at.warning)
    assert any("make demo" in code.value and "python -m fetcher sync" in code.value for code in at.code)


@pytest.mark.parametrize(
    ("version", "message", "kind"),
    [(schema.SCHEMA_VERSION + 1, "newer than this dashboard", "error"), (1, "older mergelens", "warning")],
)
def test_a_db_from_another_schema_version_gets_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: int, message: str, kind: str
) -> None:
    path = tmp_path / "other.duckdb"
    with duckdb.connect(str(path)) as con:
        schema.ensure_schema(con, min(version, schema.SCHEMA_VERSION))
        con.execute("INSERT INTO mergelens_schema VALUES (?, now())", [version])
    at = app(path, monkeypatch)
    assert not at.exception
    assert any(message in box.value for box in getattr(at, kind))


def test_a_planted_view_is_named_on_the_page_never_shown(
    hand_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(shutil.copy(hand_path, tmp_path / "planted.duckdb"))
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE pull_requests RENAME TO stored_prs")
        con.execute(
            "CREATE VIEW pull_requests AS SELECT * REPLACE (content AS title) FROM stored_prs, read_text('/etc/passwd')"
        )
    at = app(path, monkeypatch, page="prs")
    assert not at.exception
    assert any("a view pull_requests that mergelens did not create" in box.value for box in at.error), [
        box.value for box in at.error
    ]
    page = repr([getattr(node, "value", None) for node in nodes(at)])
    assert "root:" not in page and "/bin/" not in page


def test_the_default_period_ends_at_the_latest_merge(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hand_path, monkeypatch)
    assert_clean(at)
    # 90 days up to 2026-03-12 hold every merged PR: 7 by people
    assert metrics(at)["Merged PRs"] == "7"
    assert param(at, "from") == ["2026-02-17"] and param(at, "to") == ["2026-03-12"]


def test_changing_a_filter_changes_the_numbers_and_the_url(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hand_path, monkeypatch, **CURRENT)
    assert_clean(at)
    assert metrics(at)["Merged PRs"] == "5"
    assert metrics(at)["Cycle time, median"] == "24.0 h"
    assert metrics(at)["Cycle time, p90"] == "38.4 h"
    assert metrics(at)["Pickup, median"] == "3.5 h"
    merged = next(m for m in at.metric if m.label == "Merged PRs")
    assert merged.proto.delta == "+3"  # 2 in the previous 14 days

    at.sidebar.checkbox(key="bots").check().run()
    assert metrics(at)["Merged PRs"] == "6" and metrics(at)["Cycle time, median"] == "18.0 h"
    assert param(at, "bots") == ["1"]

    at.sidebar.multiselect(key="authors").select("alice").run()
    assert metrics(at)["Merged PRs"] == "2" and metrics(at)["Cycle time, median"] == "15.0 h"
    assert param(at, "author") == ["alice"]

    at.sidebar.multiselect(key="authors").unselect("alice").run()
    at.sidebar.multiselect(key="repos").select("acme/gadgets").run()
    assert metrics(at)["Merged PRs"] == "1"
    at.sidebar.multiselect(key="repos").unselect("acme/gadgets").run()
    at.sidebar.multiselect(key="bases").select("release").run()
    assert metrics(at)["Merged PRs"] == "1" and metrics(at)["Cycle time, median"] == "6.0 h"
    assert_clean(at)


@pytest.mark.parametrize("page", list(PAGES))
def test_the_working_hours_switch_holds_on_every_page(
    hand_path: Path, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    at = app(hand_path, monkeypatch, page=page, clock="work", pr="acme/widgets#2", **CURRENT)
    assert_clean(at)
    assert at.sidebar.radio(key="clock").value == "work" and param(at, "clock") == ["work"]
    if page != "health":  # the only page without durations
        assert any("Durations in working hours" in c.value for c in at.caption), page
    at.sidebar.radio(key="page").set_value("overview" if page != "overview" else "trends").run()
    assert param(at, "clock") == ["work"]  # kept from page to page
    at.sidebar.radio(key="clock").set_value("wall").run()
    assert_clean(at)
    assert param(at, "clock") == [] and not any("Durations in working hours" in c.value for c in at.caption)


def test_the_working_hours_switch_changes_the_numbers(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hand_path, monkeypatch, **CURRENT)
    assert metrics(at)["Cycle time, median"] == "24.0 h"
    assert any("Slowest stage" in i.value for i in at.info)
    at.sidebar.radio(key="clock").set_value("work").run()
    with dashboard_db.connect(hand_path) as con:  # as the app opens it (DuckDB refuses another configuration)
        use_rules(con)
        (expected,) = con.execute(
            "SELECT median(cycle_time_work_hours) FROM pr_metrics JOIN pull_requests USING (repo, number) "
            "WHERE merged_at >= '2026-03-01' AND merged_at < '2026-03-15' "
            "AND NOT is_bot(author_login, author_type)"
        ).fetchone()
    assert expected != 24 and metrics(at)["Cycle time, median"] == f"{expected:.1f} h"
    at = app(hand_path, monkeypatch, page="prs", pr="acme/widgets#2", clock="work", **CURRENT)
    with dashboard_db.connect(hand_path) as con:
        (pr2,) = con.execute(
            "SELECT cycle_time_work_hours FROM pr_metrics WHERE repo = 'acme/widgets' AND number = 2"
        ).fetchone()
    assert metrics(at)["Cycle time"] == f"{pr2:.1f} h" != "48.0 h"


def test_a_shared_url_opens_the_same_view(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hand_path, monkeypatch, page="reviews", author=["alice", "carol"], bots="1", **CURRENT)
    assert_clean(at)
    assert at.sidebar.radio(key="page").value == "reviews"
    assert at.sidebar.multiselect(key="authors").value == ["alice", "carol"]
    assert at.sidebar.checkbox(key="bots").value is True
    assert [str(d) for d in at.sidebar.date_input(key="dates").value] == ["2026-03-01", "2026-03-14"]


def test_unknown_url_values_are_ignored(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hand_path, monkeypatch, page="nope", author="mallory", repo="x/y", to="not-a-date", pr="garbage")
    assert_clean(at)
    assert at.sidebar.radio(key="page").value == "overview"
    assert at.sidebar.multiselect(key="authors").value == []


def test_a_pr_chosen_in_the_url_opens_its_timeline(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hand_path, monkeypatch, page="prs", pr="acme/widgets#2", **CURRENT)
    assert_clean(at)
    assert "Timeline" in [s.value for s in at.subheader]
    timeline = next(df.value for df in at.dataframe if "kind" in df.value.columns and "when" in df.value.columns)
    assert timeline["kind"].tolist() == [
        "commit", "opened", "ready for review", "review", "force push", "commit", "review", "merged",
    ]  # fmt: skip
    assert any("Force-pushed 1 time" in w.value for w in at.warning)  # commit-date caveat
    assert {"Cycle time: 48.0 h", "Pickup: 4.0 h", "Review rounds: 1", "Fix response: 2.0 h"} <= {
        e.label for e in at.expander
    }
    assert metrics(at)["Cycle time"] == "48.0 h"


def test_the_explorer_shows_each_stage_and_what_bounds_it(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """widgets #2: draft 08:00-12:00 (ready), pickup to bob's first review 16:00, review to his approval
    20:00, merge Friday 08:00; in working hours (Mon-Fri 09-17 UTC) 3, 4, 1 and 8 h."""
    at = app(hand_path, monkeypatch, page="prs", pr="acme/widgets#2", **CURRENT)
    assert_clean(at)
    labels = {e.label for e in at.expander}
    assert {"Draft: 4.0 h", "Pickup (stage): 4.0 h", "Review: 4.0 h", "Merge: 36.0 h"} <= labels
    bounds = [df.value for df in at.dataframe if "to_event" in df.value.columns]
    assert [frame["to_event"].tolist() for frame in bounds] == [
        ["ready for review"],
        ["first review"],
        ["last approval"],
        ["merged"],
    ]
    at.sidebar.radio(key="clock").set_value("work").run()
    assert {"Draft: 3.0 h", "Pickup (stage): 4.0 h", "Review: 1.0 h", "Merge: 8.0 h"} <= {e.label for e in at.expander}


def test_picking_a_pr_puts_it_in_the_url(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hand_path, monkeypatch, page="prs", **CURRENT)
    assert_clean(at)
    assert "Timeline" not in [s.value for s in at.subheader]
    at.selectbox(key="pr_pick").set_value("acme/gadgets#1").run()
    assert_clean(at)
    assert param(at, "pr") == ["acme/gadgets#1"]
    assert "Timeline" in [s.value for s in at.subheader]
    # the selection survives a visit to another page
    at.sidebar.radio(key="page").set_value("ci").run()
    at.sidebar.radio(key="page").set_value("prs").run()
    assert at.selectbox(key="pr_pick").value == "acme/gadgets#1"


def test_a_pr_outside_the_filters_or_missing(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hand_path, monkeypatch, page="prs", pr="acme/widgets#6", **CURRENT)  # merged in February
    assert_clean(at)
    assert "Timeline" in [s.value for s in at.subheader]
    at = app(hand_path, monkeypatch, page="prs", pr="acme/widgets#999")
    assert_clean(at)
    assert any("not in this database" in w.value for w in at.warning)


def test_a_script_title_stays_inert(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hand_path, monkeypatch, page="prs", pr="acme/widgets#1", **CURRENT)
    assert_clean(at)
    assert SCRIPT_TITLE in [t.value for t in at.text]  # st.text: plain text
    for node in nodes(at):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "allow_html"):
            assert not proto.allow_html, node
        if getattr(node, "type", None) == "html":
            pytest.fail(f"an HTML element was rendered: {node}")
    # markdown elements (captions, labels) never carry the raw tag
    for node in nodes(at):
        value = getattr(node, "value", None)
        if isinstance(value, str) and getattr(node, "type", None) in ("markdown", "caption"):
            assert "<script>" not in value, value
    source = APP.read_text()
    assert "unsafe_allow_html" not in source and "st.html" not in source


def test_the_csv_is_the_filtered_table(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hand_path, monkeypatch, page="prs", **CURRENT)
    assert_clean(at)
    table = next(df.value for df in at.dataframe if "html_url" in df.value.columns)
    assert sorted(table["number"].tolist()) == [1, 1, 2, 3, 5]
    csv = table_csv(file_key(hand_path), Filters(start=date(2026, 3, 1), end=date(2026, 3, 14))).decode()
    lines = csv.strip().splitlines()
    assert len(lines) == 6 and lines[0].startswith("repo,number,html_url,title")


def test_health_shows_the_database_size_and_the_artifact_copies_held(
    hand_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = Path(shutil.copy(hand_path, tmp_path / "plain.duckdb"))
    at = app(plain, monkeypatch, page="health")
    assert_clean(at)
    assert metrics(at)["Database size"] == f"{plain.stat().st_size / 1e6:,.1f} MB"
    assert "Artifact copies held" not in metrics(at)  # a local file: no artifact
    path = Path(shutil.copy(hand_path, tmp_path / "copies.duckdb"))  # (the app keeps the first one open)
    listed = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    rows = [
        {"name": "mergelens-db", "artifact_id": 40 + i, "created_at": listed, "expires_at": None,
         "size_bytes": 3_700_000, "status": status, "listed_at": listed}
        for i, status in enumerate(("older", "used", "untrusted"))
    ]  # fmt: skip
    with safe_open.open_migrated(path) as con:
        store.replace_artifact_copies(con, rows)
    at = app(path, monkeypatch, page="health")
    assert_clean(at)
    assert metrics(at)["Artifact copies held"] == "3"
    assert "11.1 MB zipped" in next(m.help for m in at.metric if m.label == "Artifact copies held")
    [table] = [frame.value for frame in at.dataframe if "artifact_id" in frame.value.columns]
    assert table["status"].tolist() == ["untrusted", "used", "older"]


def test_a_sync_that_replaces_the_file_shows_on_reload(
    hand_path: Path, demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = Path(shutil.copy(hand_path, tmp_path / "live.duckdb"))
    at = app(live, monkeypatch, page="health")
    assert_clean(at)
    assert metrics(at)["PRs stored"] == "9"
    fresh = Path(shutil.copy(demo_path, tmp_path / ".live.duckdb.tmp"))
    os.replace(fresh, live)  # what a sync does with a local DB
    at.run()
    assert_clean(at)
    assert metrics(at)["PRs stored"] != "9"


# --------------------------------------------------------------------------- text and links from elsewhere

MARKDOWN_BODIES = ("markdown", "caption", "error", "warning", "info", "success", "title", "header", "subheader")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
# What must never reach Streamlit's Markdown renderer outside a code span: a link or image to
# the hostile host (GFM autolinks it even when escaped), an icon or colour directive, HTML, math.
LIVE_MARKUP = ("evil.example", ":material/", ":red[", "<b>", "$x$")


def markdown_texts(at: AppTest) -> list[str]:
    """Every string AppTest holds that Streamlit renders as Markdown: the bodies of markdown,
    captions, alerts and headings, and the labels of metrics, expanders and widgets."""
    texts = []
    for node in nodes(at):
        kind = getattr(node, "type", None)
        if kind in MARKDOWN_BODIES and isinstance(getattr(node, "value", None), str):
            texts.append(node.value)
        label = getattr(node, "label", None)
        if isinstance(label, str):
            texts.append(label)
    return texts


def code_spans(markdown: str) -> list[str]:
    return [body.strip() for _, body in CODE_SPAN.findall(markdown)]


def assert_inert(at: AppTest) -> None:
    for text in markdown_texts(at):
        # backslashes dropped: Streamlit still autolinks `https\://evil\.example` and shows an icon
        # for `\:material/home\:` (checked in Chromium), so escaping is no defence
        outside = CODE_SPAN.sub("", text).replace("\\", "")
        for markup in LIVE_MARKUP:
            assert markup not in outside, text


def explorer_table(at: AppTest) -> Any:
    return next(df.value for df in at.dataframe if "cycle_time_hours" in df.value.columns)


@pytest.mark.parametrize("page", list(PAGES))
def test_text_from_the_db_is_never_markdown(hostile_path: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    at = app(hostile_path, monkeypatch, page=page, pr=f"{HOSTILE_REPO}#1")
    assert_clean(at)
    assert_inert(at)


def test_a_pr_from_a_hostile_db_shows_its_names_as_typed(hostile_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hostile_path, monkeypatch, page="prs", pr=f"{HOSTILE_REPO}#1")
    assert_clean(at)
    assert_inert(at)
    assert any(code_spans(s.value) == [f"{HOSTILE_REPO}#1"] for s in at.subheader)
    byline = next(c.value for c in at.caption if c.value.startswith("by "))
    assert code_spans(byline)[:2] == [HOSTILE_LOGIN, HOSTILE_BRANCH]
    assert any(HOSTILE_SECTION in code_spans(w.value) for w in at.warning)  # the partial sync's failed section
    assert FORMULA_TITLE in [t.value for t in at.text] and LINK_TITLE in [t.value for t in at.text]


def test_url_params_are_never_markdown(hostile_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    link, image = f"[x]({EVIL}/)", f"![]({EVIL}/img.png)"
    at = app(hostile_path, monkeypatch, page="prs", repo=[link, image], pr=f"{link}\n\n{image}#7")
    assert_clean(at)
    assert_inert(at)
    warning = next(w.value for w in at.warning if "not in this database" in w.value)
    assert code_spans(warning) == [f"{link} {image}#7"]  # shown as typed, on one line


def pr_buttons(at: AppTest) -> list[str]:
    return [button.proto.url for button in at.get("link_button") if button.proto.label == "Open on GitHub"]


def test_only_https_links_to_the_github_host_are_links(hostile_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hostile_path, monkeypatch, page="prs")
    assert_clean(at)
    table = explorer_table(at)
    urls = [url if isinstance(url, str) else None for url in table["html_url"]]
    links = dict(zip(table["number"], urls, strict=True))
    assert links == {number: (GOOD_URL if number == 5 else None) for number, *_ in HOSTILE_PRS}
    for number, *_ in HOSTILE_PRS:
        at = app(hostile_path, monkeypatch, page="prs", pr=f"{HOSTILE_REPO}#{number}")
        assert_clean(at)
        assert pr_buttons(at) == ([GOOD_URL] if number == 5 else [])
    at = app(hostile_path, monkeypatch, page="health")  # #1 is partial: the health page lists it
    partial = next(df.value for df in at.dataframe if "failed_sections" in df.value.columns)
    assert partial["number"].tolist() == [1] and partial["html_url"].isna().all()


def test_links_follow_the_configured_github_host(hostile_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://ghe.example.com")
    at = app(hostile_path, monkeypatch, page="prs", pr=f"{HOSTILE_REPO}#5")
    assert_clean(at)
    assert explorer_table(at)["html_url"].isna().all()  # github.com is not this GitHub
    assert pr_buttons(at) == []


def test_the_csv_escapes_cells_a_spreadsheet_would_run(hostile_path: Path) -> None:
    data = table_csv(file_key(hostile_path), Filters()).decode()
    rows = {int(row["number"]): row for row in csv.DictReader(io.StringIO(data))}
    titles = {number: rows[number]["title"] for number in rows}
    assert titles == {
        1: "'" + FORMULA_TITLE,
        2: LINK_TITLE,
        3: "'+SUM(1)",
        4: "'@SUM(1)",
        5: "'-2+3",
        6: "'\tTab",
    }
    assert rows[3]["cycle_time_hours"] == "-1.0"  # a negative number stays a number
    assert rows[1]["html_url"] == "javascript:alert(1)"  # data, not a link: exported as it is
    assert f"1,javascript:alert(1),'{FORMULA_TITLE}," in data


def test_people_and_check_runs_link_to_github(hand_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Path(shutil.copy(hand_path, tmp_path / "links.duckdb"))
    with duckdb.connect(str(db)) as con:  # the fake GitHub's URLs are http://127.0.0.1: make the runs' https
        con.execute("UPDATE pr_check_runs SET html_url = 'https://github.com/acme/widgets/runs/' || id")
        (run_url,) = con.execute(
            "SELECT html_url FROM pr_check_runs WHERE name = 'test' AND conclusion = 'success'"
        ).fetchone()
    at = app(db, monkeypatch, page="prs", **CURRENT)
    table = explorer_table(at)
    assert dict(zip(table["author"], table["author_url"], strict=True))["alice"] == "https://github.com/alice"
    at = app(db, monkeypatch, page="prs", pr="acme/widgets#1", **CURRENT)
    assert "https://github.com/alice" in [b.proto.url for b in at.get("link_button")]
    # the PR's timeline: every check run links to its run; rows with no page (a commit) link nowhere
    timeline = next(df.value for df in at.dataframe if "detail" in df.value.columns)
    runs = timeline[timeline["kind"] == "check run"]
    assert len(runs) and all(url.startswith("https://github.com/acme/widgets/runs/") for url in runs["html_url"])
    assert not timeline[timeline["kind"] == "commit"]["html_url"].map(lambda url: isinstance(url, str)).any()
    at = app(db, monkeypatch, page="reviews", bots="1", **CURRENT)
    load = next(df.value for df in at.dataframe if "reviewer" in df.value.columns)
    assert len(load) and load["reviewer_url"].tolist() == [f"https://github.com/{login}" for login in load["reviewer"]]
    at = app(db, monkeypatch, page="ci", **CURRENT)
    flaky = next(df.value for df in at.dataframe if "same_commit" in df.value.columns)
    assert flaky["html_url"].tolist() == [run_url]  # the passing run


def test_hostile_logins_are_not_linked(hostile_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hostile_path, monkeypatch, page="prs")
    table = explorer_table(at)
    by_author = dict(zip(table["author"], table["author_url"], strict=True))
    assert not isinstance(by_author[HOSTILE_LOGIN], str)  # not linked (None, NaN after the round trip)


def test_review_dynamics_shows_reviewer_response_and_first_timers(
    hand_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(hand_path, monkeypatch, page="reviews", **CURRENT)
    assert_clean(at)
    subheaders = [s.value for s in at.subheader]
    assert "Reviewer response from the request" in subheaders and "First-time contributors" in subheaders
    response = next(df.value for df in at.dataframe if "median_response_hours" in df.value.columns)
    by_reviewer = response.set_index("reviewer")
    assert by_reviewer.loc["bob", "requests"] == 2 and by_reviewer.loc["bob", "merged_unanswered"] == 1
    assert by_reviewer.loc["acme/core", "is_team"]  # a team, not linked as a person
    assert by_reviewer.loc["dave", "removed"] == 1
    groups = next(df.value for df in at.dataframe if "authors" in df.value.columns)
    # every author is a CONTRIBUTOR as GitHub said after the merge: the earliest merged PR of alice (#1),
    # carol (#2) and dave (gadgets #1) are first-time contributors' PRs; alice's #3 and a deleted account's #5 not
    assert groups["authors"].tolist() == ["first-time contributors", "everyone else"]
    assert groups["prs"].tolist() == [3, 2]
    at = app(hand_path, monkeypatch, page="reviews", **{"from": "2026-02-15", "to": "2026-02-28"})
    assert_clean(at)
    assert any("No review requests" in info.value for info in at.info)


def test_review_dynamics_follows_the_working_hours_switch(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mon-Fri 09:00-17:00 UTC (no calendar stored): hand-computed from tests/support/dashboard_support.py."""

    def frames(at: AppTest) -> tuple[Any, Any]:
        load = next(df.value for df in at.dataframe if "median_pickup_hours" in df.value.columns)
        response = next(df.value for df in at.dataframe if "median_response_hours" in df.value.columns)
        return load.set_index("reviewer")["median_pickup_hours"], response.set_index("reviewer")

    at = app(hand_path, monkeypatch, page="reviews", **CURRENT)
    pickup, response = frames(at)
    assert any("1 rounds: median 2.0 h" in c.value for c in at.caption)  # #2: asked Wed 16:00, fixed 18:00
    assert pickup.to_dict() == pytest.approx({"bob": 3, "alice": 3, "carol": 6})
    assert response["median_response_hours"].dropna().to_dict() == pytest.approx(
        {"bob": 1.5, "acme/core": 1.5, "alice": 2, "carol": 2.5}
    )
    at.sidebar.radio(key="clock").set_value("work").run()
    assert_clean(at)
    pickup, response = frames(at)
    assert any("1 rounds: median 1.0 h" in c.value for c in at.caption)  # 16:00-17:00 only
    # carol reviewed #5 at 06:00, alice gadgets #1 at 03:00: before the working day, 0 working hours
    assert pickup.to_dict() == pytest.approx({"bob": 3, "alice": 0, "carol": 0})
    assert response["median_response_hours"].dropna().to_dict() == pytest.approx(
        {"bob": 1.5, "acme/core": 1.5, "alice": 0, "carol": 2.5}  # alice: asked 01:00, answered 03:00
    )
    assert response["merged_unanswered"].to_dict()["bob"] == 1  # counts do not depend on the clock
    assert not any("wall-clock" in c.value for c in at.caption)


def test_trends_shows_size_against_cycle_time(hand_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(hand_path, monkeypatch, page="trends", **CURRENT)
    assert_clean(at)
    assert "PR size against cycle time" in [s.value for s in at.subheader]
    specs = [node.proto.spec for node in nodes(at) if getattr(node, "type", "") == "vega_lite_chart"]
    assert sum('"type":"log"' in spec.replace(" ", "") for spec in specs) == 1  # both axes of one chart


# --------------------------------------------------------------------------- repositories side by side


@pytest.fixture(scope="module")
def org_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_org_db(tmp_path_factory.mktemp("org-app") / "org.duckdb")


def repositories_table(at: AppTest) -> Any:
    return next(df.value for df in at.dataframe if "ci_failure_rate" in df.value.columns).set_index("repo")


def test_repositories_compares_each_repository_and_rolls_up_every_pr(
    hand_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(hand_path, monkeypatch, page="repositories", **CURRENT)
    assert_clean(at)
    table = repositories_table(at)
    assert list(table.index) == ["acme/gadgets", "acme/widgets", ALL_REPOSITORIES]
    widgets, gadgets, everyone = (table.loc[name] for name in ("acme/widgets", "acme/gadgets", ALL_REPOSITORIES))
    # widgets #1 #2 #3 #5 (dependabot's #4 left out): cycle 24 48 6 24 h; first review 2, 8, 6 h (#3 none);
    # rounds 0 1 0 0; check runs of #1: test failed, test passed, lint passed
    assert (widgets.merged_prs, widgets.cycle_time_median, widgets.first_review_median) == (4, 24.0, 6.0)
    assert (widgets.review_rounds_median, widgets.review_rounds_mean) == (0, 0.25)
    assert widgets.ci_failure_rate == pytest.approx(1 / 3)
    assert (gadgets.merged_prs, gadgets.cycle_time_median, gadgets.first_review_median) == (1, 10.0, 3.0)
    assert pd.isna(gadgets.ci_failure_rate)  # no check runs
    # every PR of both: 6 10 24 24 48 -> 24 (the median of the two medians would be 17); first review 2 3 6 8 -> 4.5
    assert (everyone.merged_prs, everyone.cycle_time_median, everyone.first_review_median) == (5, 24.0, 4.5)
    assert everyone.review_rounds_mean == pytest.approx(0.2) and everyone.ci_failure_rate == pytest.approx(1 / 3)
    assert "open_prs" not in table.columns  # no open-PR snapshot in this DB
    assert any("not the median of the repositories' medians" in c.value for c in at.caption)
    assert len(charts(at)) == 1


def charts(at: AppTest) -> list[Any]:
    return [node for node in nodes(at) if getattr(node, "type", "") == "vega_lite_chart"]


def direct_figures(db: Path, clock: str, repos: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """What the Repositories page must show, straight from the stored rows: per repository and
    over all of their PRs together (bots' PRs left out, as by default)."""
    hours = {
        "cycle_time_median": "cycle_time_hours",
        **{f"{stage}_median": stage for stage in STAGES},
        "first_review_median": "time_to_first_review_hours",
    }
    if clock == "work":
        hours = {figure: column.replace("_hours", "_work_hours") for figure, column in hours.items()}
    medians = ", ".join(f"median(m.{column}) AS {figure}" for figure, column in hours.items())
    prs = (
        "FROM pull_requests p LEFT JOIN pr_metrics m USING (repo, number) WHERE p.merged_at IS NOT NULL "
        "AND NOT is_bot(p.author_login, p.author_type) AND (len($repos) = 0 OR list_contains($repos, p.repo))"
    )
    figures = f"""count(*) AS merged_prs, {medians}, median(coalesce(m.review_rounds, 0)) AS review_rounds_median,
                  avg(coalesce(m.review_rounds, 0)) AS review_rounds_mean"""
    failed = "c.conclusion IN ('failure', 'timed_out', 'startup_failure', 'action_required')"
    rate = f"count(*) FILTER (WHERE {failed}) / count(c.conclusion)"
    runs = f"FROM pr_check_runs c JOIN (SELECT p.repo, p.number {prs}) f ON f.repo = c.repo AND f.number = c.pr_number"
    params = {"repos": list(repos)}
    with dashboard_db.connect(db) as con:
        use_rules(con)  # the bot rule
        rows = con.execute(f"SELECT p.repo, {figures} {prs} GROUP BY p.repo", params).df().set_index("repo")
        result = {str(repo): dict(row) for repo, row in rows.iterrows()}
        result[ALL_REPOSITORIES] = dict(con.execute(f"SELECT {figures} {prs}", params).df().iloc[0])
        for repo, value in con.execute(f"SELECT c.repo, {rate} {runs} GROUP BY c.repo", params).fetchall():
            result[repo]["ci_failure_rate"] = value
        result[ALL_REPOSITORIES]["ci_failure_rate"] = con.execute(f"SELECT {rate} {runs}", params).fetchone()[0]
    return result


def assert_figures(table: Any, expected: dict[str, dict[str, Any]]) -> None:
    assert sorted(table.index) == sorted(expected)
    for repo, figures in expected.items():
        for figure, value in figures.items():
            shown = table.loc[repo, figure]
            assert (pd.isna(shown) and pd.isna(value)) or shown == pytest.approx(value), (repo, figure)


@pytest.mark.parametrize("clock", list(CLOCKS))
def test_repositories_figures_are_direct_sql_over_the_same_prs(
    org_path: Path, monkeypatch: pytest.MonkeyPatch, clock: str
) -> None:
    at = app(org_path, monkeypatch, page="repositories", clock=clock)
    at.sidebar.button[0].click().run()  # "All time"
    assert_clean(at)
    table = repositories_table(at)
    expected = direct_figures(org_path, clock)
    assert_figures(table.drop(columns="open_prs"), expected)
    everyone = table.loc[ALL_REPOSITORIES]
    repos = table.drop(index=ALL_REPOSITORIES)
    assert everyone.merged_prs == repos["merged_prs"].sum() and len(repos) == 3
    assert everyone.cycle_time_median != pytest.approx(repos["cycle_time_median"].median())  # not a median of medians
    # the open PRs of acme/rocket's latest snapshot; none known of the others
    with dashboard_db.connect(org_path) as con:
        use_rules(con)
        (waiting,) = con.execute(
            "SELECT count(*) FROM open_pr_snapshots WHERE repo = 'acme/rocket' AND snapshot_at = "
            "(SELECT max(snapshot_at) FROM open_pr_snapshot_runs WHERE repo = 'acme/rocket') "
            "AND NOT is_bot(author_login, author_type)"
        ).fetchone()
    assert waiting > 0 and table["open_prs"].to_dict() == {
        "acme/comet": 0, "acme/rocket": waiting, "umbrella/probe": 0, ALL_REPOSITORIES: waiting,
    }  # fmt: skip

    # the sidebar's repositories: those rows, and the roll-up over theirs alone
    at.sidebar.multiselect(key="repos").select("acme/comet").select("umbrella/probe").run()
    assert_clean(at)
    picked = ("acme/comet", "umbrella/probe")
    assert_figures(repositories_table(at), direct_figures(org_path, clock, picked))  # no snapshot of theirs


# --------------------------------------------------------------------------- stopped merge runs


def test_the_health_page_shows_stopped_merge_runs_in_red(
    serve: Any, cli: Any, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DB the scheduled run left after two days of merge runs that stored nothing
    (tests/test_compute_merge_runs.py): the page says so in red, with the PRs and what to check."""
    repo = repository(merged(1, 72))
    server = serve(repo)
    merge_run(cli, server, db_path, tmp_path, 1, ran_at=NOW - timedelta(hours=72))
    for number, hours_ago in ((2, 47), (3, 20)):
        repo.add_pull(merged(number, hours_ago))
    assert scheduled(cli, server, db_path, tmp_path)[0].exit_code == 4

    at = app(db_path, monkeypatch, page="health")
    assert not at.exception, [e.value for e in at.exception]
    [error] = at.error
    assert error.value.startswith(
        "**Merge runs of ` acme/widgets ` stopped: 2 merged PRs were first stored by another run, up to 47 h "
        "after their merge (#2, #3); no merge run has stored a PR since "
    )
    assert "Artifact storage quota" in " ".join(m.value for m in at.markdown)
    missed = next(df.value for df in at.dataframe if "first_stored_by" in df.value.columns)
    assert missed[["number", "first_stored_by"]].values.tolist() == [[2, "backfill"], [3, "backfill"]]

    # a merge run stores the next merge: no red, when the last merge run began, the missed PRs as history
    repo.add_pull(merged(4, 0))
    merge_run(cli, server, db_path, tmp_path, 4)
    at = app(db_path, monkeypatch, page="health")
    assert not at.error and not at.exception, [e.value for e in at.error]
    assert any("Merge runs: the last one that stored a PR began" in c.value for c in at.caption)
    missed = next(df.value for df in at.dataframe if "first_stored_by" in df.value.columns)
    assert missed["number"].tolist() == [2, 3]
