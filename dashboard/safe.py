"""Output hygiene: what the dashboard does with text and links it did not write itself.

Repository names, logins, branch names, section names, paths and error texts come from the DB
file or the URL. Streamlit renders Markdown in st.markdown, st.caption, st.warning / info / error,
headers, metric and expander labels, so such a value is never put there as it is:

* ``literal(value)`` makes it an inline code span. Backslash-escaping Markdown is not enough in
  Streamlit 1.67 (checked in Chromium): GFM turns ``https://…``, ``www.…`` and e-mail addresses in
  text into links after escapes are resolved, and Streamlit rewrites ``:material/…:`` in the raw
  source into an icon. Inside a code span there are no links, images, HTML, emphasis, math,
  directives or icons. (Streamlit still shows ``:material/x:`` in a code span as ``:material_x:``.)
* ``github_link(url, server)`` keeps a URL only if it is an https link on the configured GitHub
  host (``GITHUB_SERVER_URL``, read by ``fetcher.config``); anything else is not linked.
* ``csv_bytes(frame)`` writes a table for spreadsheets with OWASP's CSV-injection rule applied.

Nothing here imports Streamlit, so it is tested on its own.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from fetcher.config import Environment

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BACKTICKS = re.compile(r"`+")
# OWASP "CSV Injection": a cell starting with one of these is a formula to Excel / LibreOffice / Sheets.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def literal(value: Any) -> str:
    """``value`` as an inline code span for a Markdown string: shown as typed, never interpreted.

    Whitespace runs (newlines included: a blank line would end the span) become one space; the
    fence is one backtick longer than any run of backticks in the value."""
    text = " ".join(_CONTROL.sub(" ", "" if value is None else str(value)).split())
    if not text:
        return "—"
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def server_url() -> str:
    """The GitHub web root links may point to: ``GITHUB_SERVER_URL``, as the fetcher reads it."""
    return Environment.from_environ().server_url


def github_link(url: Any, server: str) -> str | None:
    """``url`` when it is an ``https://`` link on the host of ``server``, else None (not linked).

    The check is a prefix match on ``server + "/"`` (so ``https://github.com.evil.example`` and
    ``https://github.com@evil.example`` fail), on a server that is itself a plain https root."""
    root = urlsplit(server)
    if root.scheme != "https" or not root.hostname or root.username or root.password or root.query or root.fragment:
        return None
    if not isinstance(url, str) or _CONTROL.search(url) or " " in url or "\\" in url:
        return None
    return url if url.startswith(server.rstrip("/") + "/") else None


# GitHub logins: letters, digits and single hyphens, at most 39; an app's bot account is "slug[bot]"
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_BOT = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9-]{0,99}))\[bot\]")


def profile_link(login: Any, server: str) -> str | None:
    """The GitHub page of a login (``{server}/{login}``; a bot's: ``{server}/apps/{slug}``), or None
    for anything that is not a login (``ghost``, a stored name with ``/``, ``?`` or spaces)."""
    if not isinstance(login, str) or login == "ghost":
        return None
    bot = _BOT.fullmatch(login)
    if bot:
        return github_link(f"{server.rstrip('/')}/apps/{bot[1]}", server)
    return github_link(f"{server.rstrip('/')}/{login}", server) if _LOGIN.fullmatch(login) else None


def github_links(values: pd.Series, server: str) -> pd.Series:
    """``github_link`` over a column: the links to show, None where a stored URL is not shown."""
    return values.map(lambda url: github_link(url, server)).astype(object)


def csv_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading ``'`` (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The table as CSV (UTF-8, RFC 4180 CRLF rows): text columns escaped with ``csv_cell``, numbers
    left as numbers. The writer quotes a cell holding a quote, a comma or a character of the line
    terminator, so with pandas' default ``\n`` a lone ``\r`` would go unquoted and split the row."""
    text_columns = [
        column
        for column in frame.columns
        if pd.api.types.is_object_dtype(frame[column]) or pd.api.types.is_string_dtype(frame[column])
    ]
    escaped = frame.assign(**{column: frame[column].map(csv_cell) for column in text_columns})
    return escaped.to_csv(index=False, lineterminator="\r\n").encode()
