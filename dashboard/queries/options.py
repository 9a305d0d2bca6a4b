"""What the sidebar offers and says: the filter choices, the working-hours calendar, the extra bots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dashboard.queries.common import Connection, run
from fetcher.compute.work_calendar import stored_calendar


@dataclass(frozen=True)
class FilterOptions:
    repos: tuple[str, ...]
    authors: tuple[str, ...]
    base_refs: tuple[str, ...]
    first_merge: date | None
    last_merge: date | None
    merged_prs: int


def filter_options(con: Connection) -> FilterOptions:
    """The choices the sidebar offers, from every merged PR."""
    merged = "FROM pull_requests WHERE merged_at IS NOT NULL"
    repos = [row[0] for row in run(con, f"SELECT DISTINCT repo {merged} ORDER BY 1").fetchall()]
    authors = run(
        con, f"SELECT DISTINCT login_or_ghost(author_login) {merged} ORDER BY lower(login_or_ghost(author_login))"
    ).fetchall()
    bases = run(con, f"SELECT DISTINCT base_ref {merged} AND base_ref IS NOT NULL ORDER BY 1").fetchall()
    row = run(con, f"SELECT min(merged_at)::DATE, max(merged_at)::DATE, count(*) {merged}").fetchone()
    first, last, count = row if row else (None, None, 0)
    return FilterOptions(
        tuple(repos), tuple(a for (a,) in authors), tuple(b for (b,) in bases), first, last, int(count or 0)
    )


def work_calendar_spec(con: Connection) -> str:
    """The working-hours calendar the stored ``_work_hours`` metrics use, as its setting's text."""
    return stored_calendar(con).spec


def extra_bots(con: Connection) -> list[str]:
    """The bot logins listed besides GitHub's own rule (MERGELENS_BOTS / --bots), as the metrics used them."""
    return [login for (login,) in run(con, "SELECT login FROM bot_logins ORDER BY login").fetchall()]
