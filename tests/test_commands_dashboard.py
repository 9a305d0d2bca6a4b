"""``python -m fetcher dashboard`` (``mergelens dashboard``): the command line it hands to Streamlit.
Served for real by tests/test_package.py (installed) and refused in one line without Streamlit by
tests/test_requirements.py (the fetcher's lock alone)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fetcher.commands.arguments import build_parser, parse
from fetcher.commands.dashboard import dashboard_command

ROOT = Path(__file__).resolve().parents[1]


def test_streamlit_runs_the_dashboard_beside_the_fetcher_on_loopback():
    command = dashboard_command()
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py")]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options == {
        "--server.headless": "true",
        "--server.address": "127.0.0.1",
        "--browser.gatherUsageStats": "false",
    }


def test_streamlit_options_follow_the_command_and_no_other_command_takes_them():
    args = parse(build_parser(), ["dashboard", "--server.port", "8600", "--theme.base=dark"])
    assert (args.command, args.streamlit_args) == ("dashboard", ["--server.port", "8600", "--theme.base=dark"])
    assert parse(build_parser(), ["dashboard"]).streamlit_args == []


def test_a_checkout_has_no_version_of_its_own():
    done = subprocess.run(
        [sys.executable, "-m", "fetcher", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "mergelens (not installed: run from a checkout)\n")
