"""Working agreements: the team's targets (``MERGELENS_AGREEMENTS``) and what meeting each one means.

    MERGELENS_AGREEMENTS="pickup=1wd;size=400;open=5wd"

* ``pickup=Nwd``: a ready PR gets its first human review within N working days,
* ``size=N``: a PR changes at most N lines (additions + deletions),
* ``open=Nwd``: a PR is merged within N working days of being opened.

An agreement left out keeps its default (``DEFAULTS``); ``off`` turns one off (``size=off``).
Definitions in docs/metrics.md ("Working agreements"). The SQL conditions are built here, the
queries that use them are ``dashboard.queries`` (``agreement_weekly``, ``agreement_breaches``).
Nothing here imports Streamlit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from fetcher.compute.whose_move import working_days_sql
from fetcher.config import Environment

ENV = "MERGELENS_AGREEMENTS"
NAMES = ("pickup", "size", "open")
LABELS = {
    "pickup": "first review within {days}",
    "size": "at most {n} lines changed",
    "open": "merged within {days}",
}
_DAYS = re.compile(r"(\d{1,3})\s*(?:wd)?")
_LINES = re.compile(r"(\d{1,7})")


def working_days(start: str, end: str) -> str:
    """SQL for the working days from ``start`` to ``end`` (SQL expressions): the ONE place the
    agreements count working days (``fetcher.compute.whose_move.working_days_sql``: the stored calendar's
    working days after the local date of ``start`` up to and including the local date of ``end``)."""
    return working_days_sql(start, end)


@dataclass(frozen=True)
class Agreements:
    """The limits; None: that agreement is off. Hashable: the dashboard caches queries by it."""

    pickup: int | None = 1  # working days
    size: int | None = 400  # lines changed
    open: int | None = 5  # working days

    def active(self) -> dict[str, int]:
        return {name: limit for name in NAMES if (limit := getattr(self, name)) is not None}

    def label(self, name: str) -> str:
        limit = getattr(self, name)
        return LABELS[name].format(n=limit, days=f"{limit} working day{'' if limit == 1 else 's'}")

    def describe(self) -> str:
        """The setting as it is read, in the setting's own format (for captions)."""
        return ";".join(
            f"{name}={'off' if limit is None else f'{limit}wd' if name != 'size' else limit}"
            for name in NAMES
            for limit in [getattr(self, name)]
        )


DEFAULTS = Agreements()


def parse(text: str) -> Agreements:
    """``name=value`` pairs separated by ``;`` (or ``,``). ValueError says what is wrong without
    repeating the text (it comes from the environment)."""
    values: dict[str, int | None] = {}
    for part in re.split(r"[;,]", text):
        if not part.strip():
            continue
        name, sep, value = (s.strip().lower() for s in part.partition("="))
        if not sep or name not in NAMES:
            raise ValueError(f"each entry is NAME=VALUE with NAME one of {', '.join(NAMES)}")
        if name in values:
            raise ValueError(f"{name} is set twice")
        if value == "off":
            values[name] = None
            continue
        match = (_LINES if name == "size" else _DAYS).fullmatch(value)
        if not match:
            unit = "a number of lines, e.g. 400" if name == "size" else "working days, e.g. 1wd"
            raise ValueError(f"{name} takes {unit}, or off")
        values[name] = int(match[1])
    return Agreements(**{**DEFAULTS.__dict__, **values})


def from_environ(environ: Mapping[str, str] | None = None) -> tuple[Agreements, str | None]:
    """The configured agreements, and why the setting was not used (None when it was, or is unset)."""
    text = Environment.from_environ(environ).agreements
    if text is None:
        return DEFAULTS, None
    try:
        return parse(text), None
    except ValueError as exc:
        return DEFAULTS, f"{ENV} is not valid ({exc}): the defaults are used"


# --------------------------------------------------------------------------- SQL


def merged_measures() -> dict[str, str]:
    """Per agreement, the SQL measure of a merged PR (columns of ``dashboard.queries``' ``filtered``);
    NULL where it does not apply (pickup of a PR merged without a human review)."""
    return {
        "pickup": f"CASE WHEN first_review_at IS NOT NULL THEN "
        f"{working_days('coalesce(ready_for_review_at, created_at)', 'first_review_at')} END",
        "size": "size",
        "open": working_days("created_at", "merged_at"),
    }


def open_measures(as_of: str) -> dict[str, str]:
    """Per agreement, the SQL measure of an open PR as of ``as_of`` (columns of ``open_pr_snapshots``
    and ``human_reviews``); NULL where it does not apply (drafts and reviewed PRs for pickup)."""
    return {
        "pickup": f"CASE WHEN NOT draft AND human_reviews = 0 THEN "
        f"{working_days('coalesce(ready_for_review_at, created_at)', as_of)} END",
        "size": "coalesce(additions, 0) + coalesce(deletions, 0)",
        "open": working_days("created_at", as_of),
    }
