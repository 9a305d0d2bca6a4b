"""The working-hours clock: which hours of the week count as work, and the working time between two
instants, in SQL.

One setting, ``MERGELENS_WORK_CALENDAR`` or ``--work-calendar``, e.g.
``tz=Europe/Berlin;days=Mon-Fri;hours=09:00-17:00;holidays=2026-12-24,2026-12-25`` (every part
optional; docs/metrics.md). It is stored in the DB (table ``work_calendar``, like the extra bots) so
``metrics --recompute`` and the dashboard use the calendar the stored metrics were computed with.

The clock is a table of local days, one row per day in the data's range: when its working hours
start and how many working seconds it has, local times of the calendar's zone turned into instants
by DuckDB's ICU ``timezone()`` (so a day on which the clocks change is as long as the zone says), and
the working seconds of all the days before it, held as one list. The working seconds up to an
instant are then that list indexed by the instant's local date (the macro ``work_seconds_at``), and the working time
between two instants a difference of two such values: set-based, no loop per PR.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date

import duckdb

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # ISO weekdays 1..7
HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
TIME_ZONE = re.compile(r"^[A-Za-z0-9_+\-/]{1,64}$")
# Instants outside these years (a commit dated 1970 or 2099 by a broken clock) get no working days.
FIRST_YEAR, LAST_YEAR = 1970, 2100


@dataclass(frozen=True)
class WorkCalendar:
    tz: str = "UTC"
    days: tuple[int, ...] = (1, 2, 3, 4, 5)  # ISO weekdays: 1 = Monday
    start_minute: int = 9 * 60
    end_minute: int = 17 * 60  # 24 * 60: midnight at the end of the day
    holidays: tuple[date, ...] = field(default=())  # local dates

    @property
    def spec(self) -> str:
        """The canonical text of the setting (what ``parse_work_calendar`` reads back)."""
        parts = [
            f"tz={self.tz}",
            "days=" + _day_ranges(self.days),
            f"hours={_clock(self.start_minute)}-{_clock(self.end_minute)}",
        ]
        if self.holidays:
            parts.append("holidays=" + ",".join(day.isoformat() for day in self.holidays))
        return ";".join(parts)


DEFAULT_CALENDAR = WorkCalendar()  # no setting: Mon–Fri 09:00–17:00 UTC


def _day_ranges(days: tuple[int, ...]) -> str:
    """``(1, 2, 3, 4, 5, 7)`` -> ``Mon-Fri,Sun``."""
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(DAY_NAMES[run[0] - 1] + (f"-{DAY_NAMES[run[-1] - 1]}" if len(run) > 1 else "") for run in runs)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_work_calendar(text: str) -> WorkCalendar:
    """``key=value`` parts separated by ``;``: ``tz`` (an IANA zone, default UTC), ``days`` (day
    names and ranges, comma-separated: ``Mon-Fri``, ``Sun-Thu``, ``Mon,Wed``; default Mon-Fri),
    ``hours`` (``HH:MM-HH:MM``, end after start, ``24:00`` allowed; default 09:00-17:00),
    ``holidays`` (local dates ``YYYY-MM-DD``, comma-separated). ValueError says what is wrong,
    without echoing more than a short piece of the input."""
    values: dict[str, str] = {}
    for part in (part.strip() for part in text.split(";")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in ("tz", "days", "hours", "holidays") or key in values:
            raise ValueError(f"{part[:40]!r} is not one of tz=, days=, hours=, holidays= (each once)")
        values[key] = value.strip()
    calendar = DEFAULT_CALENDAR
    tz = values.get("tz", calendar.tz)
    if not TIME_ZONE.match(tz) or not _known_time_zone(tz):
        raise ValueError(f"tz={tz[:40]!r} is not a time zone (IANA name, e.g. Europe/Berlin)")
    days = _parse_days(values["days"]) if "days" in values else calendar.days
    start, end = _parse_hours(values["hours"]) if "hours" in values else (calendar.start_minute, calendar.end_minute)
    holidays: tuple[date, ...] = ()
    if values.get("holidays"):
        try:
            listed = {date.fromisoformat(day.strip()) for day in values["holidays"].split(",") if day.strip()}
            holidays = tuple(sorted(listed))
        except ValueError:
            raise ValueError("holidays= takes dates YYYY-MM-DD, comma-separated") from None
    return WorkCalendar(tz, days, start, end, holidays)


def _parse_days(text: str) -> tuple[int, ...]:
    index = {name.lower(): number for number, name in enumerate(DAY_NAMES, start=1)}
    days: set[int] = set()
    for item in (item.strip().lower() for item in text.split(",") if item.strip()):
        first, _, last = item.partition("-")
        if first not in index or (last and last not in index):
            raise ValueError(f"days={item[:20]!r}: use day names Mon..Sun and ranges like Mon-Fri")
        a, b = index[first], index[last or first]
        days.update(((a - 1 + k) % 7) + 1 for k in range((b - a) % 7 + 1))  # Sun-Thu wraps
    if not days:
        raise ValueError("days= names no day")
    return tuple(sorted(days))


def _parse_hours(text: str) -> tuple[int, int]:
    match = HOURS.match(text)
    if match:
        h1, m1, h2, m2 = (int(group) for group in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 < 24 and m1 < 60 and m2 < 60 and start < end <= 24 * 60:
            return start, end
    raise ValueError("hours= takes HH:MM-HH:MM with the end after the start (24:00 at the latest)")


@functools.cache
def _known_time_zone(tz: str) -> bool:
    with duckdb.connect(":memory:") as con:
        row = con.execute("SELECT count(*) FROM pg_timezone_names() WHERE name = ?", [tz]).fetchone()
    return bool(row and row[0])


# --------------------------------------------------------------------------- stored setting


def stored_calendar(con: duckdb.DuckDBPyConnection) -> WorkCalendar:
    """The calendar the stored metrics use (the default when none is stored)."""
    row = con.execute(CALENDAR_SQL).fetchone()  # an unknown zone reads as the default's
    if row is None:
        return DEFAULT_CALENDAR
    tz, days, start, end, holidays = row  # as written by replace_calendar; a foreign file's days are cut to 1-7
    return WorkCalendar(tz, tuple(day for day in days if 1 <= day <= 7), start, end, tuple(holidays))


def replace_calendar(con: duckdb.DuckDBPyConnection, calendar: WorkCalendar | None) -> bool:
    """Make ``calendar`` the stored one, in the caller's transaction (None: keep what is stored).
    Returns whether it changed: then every PR's ``_work_hours`` must be recomputed."""
    if calendar is None or calendar == stored_calendar(con):
        return False
    con.execute("DELETE FROM work_calendar")
    con.execute(
        "INSERT INTO work_calendar VALUES (?, ?, ?, ?, ?)",
        [calendar.tz, list(calendar.days), calendar.start_minute, calendar.end_minute, list(calendar.holidays)],
    )
    return True


# --------------------------------------------------------------------------- the clock in SQL

# SQL: the stored calendar as one row (tz, days, start_minute, end_minute, holidays), its default when
# none is stored. Read in SQL, never pasted from the DB: a DB file is untrusted.
CALENDAR_SQL = f"""
    -- a zone DuckDB does not know (a foreign file's) counts as the default, never an error
    SELECT coalesce((SELECT any_value(name) FROM pg_timezone_names() WHERE name = any_value(work_calendar.tz)),
                    '{DEFAULT_CALENDAR.tz}') AS tz,
           coalesce(any_value(days), {list(DEFAULT_CALENDAR.days)}) AS days,
           coalesce(any_value(start_minute), {DEFAULT_CALENDAR.start_minute}) AS start_minute,
           coalesce(any_value(end_minute), {DEFAULT_CALENDAR.end_minute}) AS end_minute,
           coalesce(any_value(holidays), []::DATE[]) AS holidays
    FROM work_calendar"""

# Every local day from ``$first`` to ``$last`` (DATEs) of the stored calendar (its default when none
# is stored): when its working hours start, in UTC; how many working seconds it has (0: a weekend or
# holiday); and the working seconds of the days before it. One row: the days are a list indexed by
# the day's distance from the first, so reading the clock is list indexing, not a join per instant.
# Built as a temp table, then held in the variable work_clock (build_clock).
_CLOCK_SQL = f"""
CREATE OR REPLACE TEMP TABLE work_clock AS
WITH cal AS ({CALENDAR_SQL}),
local_days AS (
    SELECT (?::DATE + d::INTEGER) AS day, cal.*
    FROM cal, range(0, ?::DATE - ?::DATE + 1) r(d)
),
intervals AS (
    SELECT day, timezone(tz, day::TIMESTAMP + to_minutes(start_minute)) AS start_at,
           CASE WHEN list_contains(days, isodow(day)) AND NOT list_contains(holidays, day)
                THEN epoch(timezone(tz, day::TIMESTAMP + to_minutes(end_minute)))
                     - epoch(timezone(tz, day::TIMESTAMP + to_minutes(start_minute)))
                ELSE 0 END AS seconds
    FROM local_days
)
SELECT min(day) AS first_day, max(day) AS last_day,
       list({{'start_at': start_at, 'seconds': seconds, 'before_s': before_s}} ORDER BY day) AS days
FROM (
    SELECT day, start_at, seconds,
           coalesce(sum(seconds) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before_s
    FROM intervals
)
"""
_FIRST_DAY, _LAST_DAY = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 1, 1)


def build_clock(con: duckdb.DuckDBPyConnection, first: date | None, last: date | None) -> None:
    """Set the clock for instants on the dates ``first`` to ``last`` (a day either side is added for the
    zone's offset): the SQL variables ``work_clock`` (first_day, last_day and the days) and ``work_tz``
    (the calendar's zone), read by the macro ``work_seconds_at`` (fetcher/compute/sql/rules.sql).
    Days before 1970 and after 2100 are cut: an instant outside the clock's days counts on its first or
    last day. Variables, not a table: they work on a read-only connection too (the dashboard's)."""
    first = max(first or _FIRST_DAY, _FIRST_DAY)
    last = min(max(last or _FIRST_DAY, first), _LAST_DAY)
    first = date.fromordinal(max(first.toordinal() - 1, _FIRST_DAY.toordinal()))
    last = date.fromordinal(min(last.toordinal() + 1, _LAST_DAY.toordinal()))
    con.execute(_CLOCK_SQL, [first, last, first])
    try:
        con.execute(
            "SET VARIABLE work_clock = (SELECT {'first_day': first_day, 'last_day': last_day, 'days': days} "
            "FROM work_clock)"
        )
    finally:
        con.execute("DROP TABLE IF EXISTS work_clock")
    con.execute("SET VARIABLE work_tz = ?", [stored_calendar(con).tz])


def drop_clock(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("RESET VARIABLE work_clock")
    con.execute("RESET VARIABLE work_tz")
