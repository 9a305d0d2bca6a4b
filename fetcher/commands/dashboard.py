"""``dashboard``: serve the dashboard that ships beside this fetcher with Streamlit, as
``make dashboard`` does (headless, on 127.0.0.1, no usage statistics); Streamlit's own options
follow the command. The fetcher never imports the dashboard: Streamlit runs it in place of this
process."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

import fetcher
from fetcher.config import Environment
from fetcher.errors import MergelensError


def dashboard_app() -> Path:
    """dashboard/app.py beside the fetcher package: in a checkout, and in an installed wheel (which
    puts both packages in one site-packages)."""
    return Path(fetcher.__file__).resolve().parents[1] / "dashboard" / "app.py"


def dashboard_command() -> list[str]:
    """The Streamlit command line, before the user's options (a later option replaces an earlier one)."""
    loopback = ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    return [sys.executable, "-m", "streamlit", "run", str(dashboard_app()), "--server.headless", "true", *loopback]


def run_dashboard(args: argparse.Namespace, env: Environment) -> int:
    if not dashboard_app().is_file():
        raise MergelensError(f"no dashboard beside this fetcher ({dashboard_app()})")
    if importlib.util.find_spec("streamlit") is None:
        # requirements-fetcher.txt (a merge run's install) has no dashboard packages; requirements.txt has
        raise MergelensError("the dashboard needs Streamlit, which this Python lacks: install requirements.txt")
    command = [*dashboard_command(), *args.streamlit_args]
    # exec: Streamlit gets this process (its signals, its exit code), the environment as it is
    os.execv(command[0], command)
    return 1  # not reached: execv returns only by raising OSError
