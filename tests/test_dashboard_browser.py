"""The dashboard in a real browser: ``streamlit run`` on a loopback port, Debian's Chromium
driven by Playwright. Opens the overview, clicks into the PR whose title is a ``<script>`` tag,
and checks its timeline shows, no error box appears and the script never runs.

Screenshots go to the test's tmp dir; with MERGELENS_UPDATE_SCREENSHOT=1 the overview is also
saved to docs/dashboard.png (the README's picture), and the Now page to docs/now.png."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from dashboard import queries
from tests.conftest import required_module, unavailable
from tests.support.dashboard_support import serve_dashboard, session_demo_db

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# one card per overview metric
OVERVIEW_CARDS = len(queries.OVERVIEW_METRICS)
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'

playwright_api = required_module("playwright.sync_api", "install requirements-dev.txt (make test does)")


def require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"{CHROMIUM} not found: install Debian's chromium package (.ci/run does)")


@contextmanager
def chromium_page(profile: Path) -> Iterator[object]:
    """A page of a fresh headless Chromium (its own profile: no cookies from another test)."""
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_chromium()
    db = session_demo_db(tmp_path_factory)
    with serve_dashboard(db, tmp_path_factory.mktemp("streamlit") / "streamlit.log") as url:
        yield url


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    with chromium_page(tmp_path / "chromium-profile") as page:
        yield page


# Streamlit marks its app root with the script's run state ("initial" until the first run, then
# "running" / "notRunning"; static/js of Streamlit 1.67), as its own end-to-end tests read it.
APP = '[data-testid="stApp"]'
IDLE = f'{APP}[data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]'


def wait_until_idle(page: object) -> None:
    """The script has run (since the page loaded) and is not running: what it drew is all there.
    After an action that reruns the script on a page already idle, use ``rerun``."""
    page.locator(IDLE).wait_for(timeout=30_000)  # type: ignore[attr-defined]


def rerun(page: object, action: Callable[[], object]) -> None:
    """Do ``action`` (a click) and wait for the rerun it causes to finish: the app root is
    watched for a "running" state from before the action, so a rerun that is quick is not missed."""
    page.evaluate(  # type: ignore[attr-defined]
        """(app) => { const root = document.querySelector(app); window.mergelensRuns = 0;
        new MutationObserver(() => { if (root.dataset.testScriptState === 'running') window.mergelensRuns++; })
            .observe(root, {attributes: true, attributeFilter: ['data-test-script-state']}); }""",
        APP,
    )
    action()
    page.wait_for_function("() => window.mergelensRuns > 0", timeout=30_000)  # type: ignore[attr-defined]
    wait_until_idle(page)


def script_pr(db: Path) -> tuple[str, int, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            "SELECT repo, number, title FROM pull_requests WHERE title LIKE '%<script>%' AND merged_at IS NOT NULL "
            "ORDER BY number LIMIT 1"
        ).fetchone()
    assert row is not None, "the demo data has a PR titled with a <script> tag"
    return row


def test_overview_then_a_pr_timeline_in_chromium(
    dashboard_url: str, page: object, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    p = page  # a playwright.sync_api.Page
    dialogs: list[str] = []
    p.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]
    repo, number, title = script_pr(session_demo_db(tmp_path_factory))

    p.goto(dashboard_url, wait_until="networkidle")  # type: ignore[attr-defined]
    p.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=60_000)  # type: ignore[attr-defined]
    p.get_by_text("Merged PRs per week").wait_for()  # type: ignore[attr-defined]
    p.locator('[data-testid="stVegaLiteChart"]').first.wait_for()  # type: ignore[attr-defined]
    wait_until_idle(p)
    assert p.locator(ERRORS).count() == 0  # type: ignore[attr-defined]
    # the cards render one by one: wait for all of them (a count taken at once saw 3 under load)
    playwright_api.expect(p.locator('[data-testid="stMetric"]')).to_have_count(OVERVIEW_CARDS, timeout=30_000)  # type: ignore[attr-defined]
    overview = tmp_path / "overview.png"
    p.screenshot(path=str(overview), full_page=True)  # type: ignore[attr-defined]
    if os.environ.get("MERGELENS_UPDATE_SCREENSHOT") == "1":
        shutil.copy(overview, ROOT / "docs" / "dashboard.png")

    sidebar = p.locator('[data-testid="stSidebar"]')  # type: ignore[attr-defined]
    rerun(p, sidebar.get_by_text("All time", exact=True).click)
    sidebar.get_by_text("PR explorer", exact=True).click()
    p.get_by_text("Open a PR").wait_for()  # type: ignore[attr-defined]
    wait_until_idle(p)
    p.locator('[data-testid="stSelectbox"]').click()  # type: ignore[attr-defined]
    p.keyboard.type(f"#{number}")  # type: ignore[attr-defined]
    p.get_by_role("option", name=re.compile(rf"#{number}\b")).first.click()  # type: ignore[attr-defined]

    p.get_by_text("Timeline", exact=True).wait_for(timeout=30_000)  # type: ignore[attr-defined]
    p.get_by_text("Where each number comes from").wait_for()  # type: ignore[attr-defined]
    wait_until_idle(p)
    charts = p.locator('[data-testid="stVegaLiteChart"]')  # type: ignore[attr-defined]
    charts.first.wait_for()
    # the title shows as the text it is, and its script never ran
    assert p.locator('[data-testid="stText"]', has_text=title).count() >= 1  # type: ignore[attr-defined]
    scripts = p.evaluate("() => [...document.scripts].filter(s => s.textContent.includes('alert(')).length")  # type: ignore[attr-defined]
    assert scripts == 0 and dialogs == []
    assert p.locator(ERRORS).count() == 0  # type: ignore[attr-defined]
    assert f"pr={repo.replace('/', '%2F')}%23{number}" in p.url  # type: ignore[attr-defined]
    p.screenshot(path=str(tmp_path / "pr.png"), full_page=True)  # type: ignore[attr-defined]

    # the URL is shareable: a fresh load opens the same PR
    p.goto(p.url, wait_until="networkidle")  # type: ignore[attr-defined]
    p.get_by_text("Timeline", exact=True).wait_for(timeout=30_000)  # type: ignore[attr-defined]
    wait_until_idle(p)
    assert p.locator(ERRORS).count() == 0  # type: ignore[attr-defined]


def test_reviewer_response_first_timers_and_size_scatter_in_chromium(dashboard_url: str, page: object) -> None:
    p = page  # a playwright.sync_api.Page
    p.goto(f"{dashboard_url}/?page=reviews", wait_until="networkidle")  # type: ignore[attr-defined]
    p.get_by_text("Reviewer response from the request", exact=True).wait_for(timeout=60_000)  # type: ignore[attr-defined]
    p.get_by_text("First-time contributors", exact=True).wait_for()  # type: ignore[attr-defined]
    p.get_by_text("Merged without a human review", exact=True).wait_for()  # type: ignore[attr-defined]
    wait_until_idle(p)
    assert p.locator(ERRORS).count() == 0  # type: ignore[attr-defined]
    assert p.get_by_text("No review requests on these PRs.").count() == 0  # type: ignore[attr-defined]

    p.goto(f"{dashboard_url}/?page=trends", wait_until="networkidle")  # type: ignore[attr-defined]
    p.get_by_text("PR size against cycle time", exact=True).wait_for(timeout=60_000)  # type: ignore[attr-defined]
    # the scatter: the chart right after its heading, drawn (charts render one by one: wait for it)
    scatter = p.locator(  # type: ignore[attr-defined]
        "xpath=//*[normalize-space()='PR size against cycle time']/following::*[@data-testid='stVegaLiteChart'][1]"
    )
    scatter.locator("canvas, svg").first.wait_for(timeout=30_000)
    wait_until_idle(p)
    assert p.locator(ERRORS).count() == 0  # type: ignore[attr-defined]


def test_the_now_page_in_chromium(dashboard_url: str, page: object, tmp_path: Path) -> None:
    p = page  # a playwright.sync_api.Page
    p.goto(f"{dashboard_url}/?page=now", wait_until="networkidle")  # type: ignore[attr-defined]
    p.get_by_text("The queue, by whose move").wait_for(timeout=60_000)  # type: ignore[attr-defined]
    p.get_by_text("Working agreements: merged PRs meeting each, per week").wait_for(timeout=30_000)  # type: ignore[attr-defined]
    # the queue-over-time and the agreements charts
    playwright_api.expect(p.locator('[data-testid="stVegaLiteChart"]')).to_have_count(2, timeout=30_000)  # type: ignore[attr-defined]
    wait_until_idle(p)
    assert p.locator(ERRORS).count() == 0  # type: ignore[attr-defined]
    # the open-queue cards: every class of the demo's queue, with "Open PRs" first
    playwright_api.expect(p.locator('[data-testid="stMetric"]').first).to_contain_text("Open PRs")  # type: ignore[attr-defined]
    now = tmp_path / "now.png"
    p.screenshot(path=str(now), full_page=True)  # type: ignore[attr-defined]
    if os.environ.get("MERGELENS_UPDATE_SCREENSHOT") == "1":
        shutil.copy(now, ROOT / "docs" / "now.png")


def test_the_stage_chart_in_working_hours_in_chromium(dashboard_url: str, page: object, tmp_path: Path) -> None:
    p = page  # a playwright.sync_api.Page
    p.goto(f"{dashboard_url}?page=trends&clock=work", wait_until="networkidle")  # type: ignore[attr-defined]
    heading = p.get_by_text("Where the time went, per week", exact=True)  # type: ignore[attr-defined]
    heading.wait_for(timeout=60_000)
    wait_until_idle(p)
    assert p.locator(ERRORS).count() == 0  # type: ignore[attr-defined]
    # the stage chart is drawn: the chart right after its heading and caption, with its marks
    stage_chart = p.locator(  # type: ignore[attr-defined]
        "xpath=//*[normalize-space()='Where the time went, per week']/following::*[@data-testid='stVegaLiteChart'][1]"
    )
    stage_chart.wait_for(timeout=30_000)
    stage_chart.scroll_into_view_if_needed()
    stage_chart.locator("canvas, svg").first.wait_for(timeout=30_000)
    assert stage_chart.bounding_box()["height"] > 100
    sidebar = p.locator('[data-testid="stSidebar"]')  # type: ignore[attr-defined]
    assert sidebar.get_by_role("radio", name="working hours").is_checked()
    assert "clock=work" in p.url  # type: ignore[attr-defined]
    p.get_by_text("Durations in working hours", exact=False).first.wait_for()  # type: ignore[attr-defined]
    # the README's picture of the stage chart (MERGELENS_UPDATE_SCREENSHOT=1 refreshes docs/stages.png)
    stages = tmp_path / "stages.png"
    stage_chart.screenshot(path=str(stages))
    if os.environ.get("MERGELENS_UPDATE_SCREENSHOT") == "1":
        shutil.copy(stages, ROOT / "docs" / "stages.png")


def test_the_repositories_page_in_chromium(dashboard_url: str, page: object) -> None:
    p = page  # a playwright.sync_api.Page
    p.goto(f"{dashboard_url}/?page=repositories", wait_until="networkidle")  # type: ignore[attr-defined]
    heading = p.get_by_text("Median cycle time by repository, and its stages", exact=True)  # type: ignore[attr-defined]
    heading.wait_for(timeout=60_000)
    # the table, and the chart right after the heading, drawn (charts render one by one: wait for it)
    table = p.locator('[data-testid="stDataFrame"]').first  # type: ignore[attr-defined]
    table.wait_for(timeout=30_000)
    stage_chart = p.locator(  # type: ignore[attr-defined]
        "xpath=//*[normalize-space()='Median cycle time by repository, and its stages']"
        "/following::*[@data-testid='stVegaLiteChart'][1]"
    )
    stage_chart.scroll_into_view_if_needed(timeout=30_000)
    stage_chart.locator("canvas, svg").first.wait_for(timeout=30_000)
    wait_until_idle(p)
    assert p.locator(ERRORS).count() == 0  # type: ignore[attr-defined]
    assert stage_chart.bounding_box()["height"] > 50
    # the demo holds one repository: said so, and the roll-up row is there
    p.get_by_text("One repository in this view", exact=False).wait_for()  # type: ignore[attr-defined]
    p.get_by_text("not the median of the repositories' medians", exact=False).wait_for()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "headers",
    [{"X-Forwarded-For": "203.0.113.7"}, {"Forwarded": "for=203.0.113.7;proto=https"}, {"X-Real-IP": "203.0.113.7"}],
    ids=["x-forwarded-for", "forwarded", "x-real-ip"],
)
def test_a_visit_through_a_proxy_gets_no_data_without_login(
    dashboard_url: str, page: object, headers: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Served on 127.0.0.1 without login, the dashboard is this machine's only; a reverse proxy in
    front of the port (nginx, Caddy, cloudflared, tailscale serve) would serve anyone who reaches
    the proxy. Chromium sends the proxy's header with every request, the session's WebSocket
    handshake included (what st.context.headers holds), as a proxy would."""
    p = page  # a playwright.sync_api.Page
    p.set_extra_http_headers(headers)  # type: ignore[attr-defined]
    p.goto(dashboard_url, wait_until="networkidle")  # type: ignore[attr-defined]
    refusal = p.get_by_text("This visit came through a proxy", exact=False)  # type: ignore[attr-defined]
    refusal.wait_for(timeout=60_000)
    wait_until_idle(p)
    error = p.locator('[data-testid="stAlertContentError"]').inner_text()  # type: ignore[attr-defined]
    assert next(iter(headers)) in error  # names the header that gave the proxy away
    assert p.locator('[data-testid="stMetric"]').count() == 0  # type: ignore[attr-defined]
    assert p.locator('[data-testid="stSidebar"]').count() == 0  # type: ignore[attr-defined]
    _repo, _number, title = script_pr(session_demo_db(tmp_path_factory))
    assert title not in p.content()  # type: ignore[attr-defined]
    # the same browser without the header, straight from this machine: the data
    p.set_extra_http_headers({})  # type: ignore[attr-defined]
    p.goto(dashboard_url, wait_until="networkidle")  # type: ignore[attr-defined]
    p.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=60_000)  # type: ignore[attr-defined]
