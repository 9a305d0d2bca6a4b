"""GitHub's page-number pagination: ``per_page`` (default 30, max 100), 1-based ``page`` and
a ``Link`` header with absolute URLs (rel="prev", "next", "last", "first")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import urlencode

T = TypeVar("T")

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


def _positive_int(value: str | None, default: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if number >= 1 else default


def page_url(url: str, query: dict[str, str], page: int) -> str:
    """``url`` with the request's other parameters kept and ``page`` set (GitHub puts it last)."""
    params = {k: v for k, v in query.items() if k != "page"}
    params["page"] = str(page)
    return f"{url}?{urlencode(params)}"


def paginate(items: Sequence[T], query: dict[str, str], url: str) -> tuple[list[T], str | None]:
    """One page of ``items`` and its Link header (None when everything fits on page 1).

    GitHub caps ``per_page`` at 100 silently and answers an empty list past the last page.
    The Link header lists rel="prev", "next", "last", "first" in that order, each only when
    it applies: no prev/first on page 1, no next/last on the last page.
    """
    per_page = min(_positive_int(query.get("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE)
    page = _positive_int(query.get("page"), 1)
    last = max(1, -(-len(items) // per_page))
    chunk = list(items[(page - 1) * per_page : page * per_page])
    links: list[str] = []
    if page > 1:
        links.append(f'<{page_url(url, query, min(page - 1, last))}>; rel="prev"')
    if page < last:
        links.append(f'<{page_url(url, query, page + 1)}>; rel="next"')
        links.append(f'<{page_url(url, query, last)}>; rel="last"')
    if page > 1:
        links.append(f'<{page_url(url, query, 1)}>; rel="first"')
    return chunk, (", ".join(links) or None)
