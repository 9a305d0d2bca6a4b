"""dashboard.safe on its own: code spans for names, which links are links, CSV cells for spreadsheets."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from dashboard.safe import csv_bytes, github_link, literal, profile_link, server_url


@pytest.mark.parametrize(
    ("value", "markdown"),
    [
        ("acme/widgets", "` acme/widgets `"),
        ("[x](https://evil.example/)", "` [x](https://evil.example/) `"),
        ("a`b", "`` a`b ``"),  # the fence outgrows the value's backticks
        ("``x", "``` ``x ```"),
        ("one\n\n# two\r\tthree", "` one # two three `"),  # a blank line would end the span
        ("nul\x00bell\x07", "` nul bell `"),
        (42, "` 42 `"),
        ("", "—"),
        (None, "—"),
    ],
)
def test_literal_is_one_code_span(value: object, markdown: str) -> None:
    assert literal(value) == markdown


GITHUB = "https://github.com"


@pytest.mark.parametrize(
    ("url", "server", "shown"),
    [
        ("https://github.com/acme/widgets/pull/1", GITHUB, True),
        ("https://github.com/acme/widgets/pull/1", "https://github.com/", True),
        ("https://ghe.example.com/acme/widgets/pull/1", "https://ghe.example.com", True),
        ("https://github.com/acme/widgets/pull/1", "https://ghe.example.com", False),
        ("javascript:alert(1)", GITHUB, False),
        ("JAVASCRIPT:alert(1)//https://github.com/", GITHUB, False),
        ("data:text/html,<script>alert(1)</script>", GITHUB, False),
        ("http://github.com/acme/widgets/pull/1", GITHUB, False),
        ("https://github.com.evil.example/acme/widgets/pull/1", GITHUB, False),
        ("https://github.com@evil.example/acme/widgets/pull/1", GITHUB, False),
        ("https://github.com:443@evil.example/", GITHUB, False),
        ("//github.com/acme/widgets/pull/1", GITHUB, False),
        ("/acme/widgets/pull/1", GITHUB, False),
        ("https://github.com/a\nb", GITHUB, False),
        ("https://github.com/a\\@evil.example", GITHUB, False),
        ("https://github.com", GITHUB, False),  # not a page of it
        (None, GITHUB, False),
        (float("nan"), GITHUB, False),
        # a server that is not a plain https root links nothing
        ("http://ghe.example.com/acme/widgets/pull/1", "http://ghe.example.com", False),
        ("https://x@ghe.example.com/a", "https://x@ghe.example.com", False),
    ],
)
def test_only_https_links_on_the_github_host(url: object, server: str, shown: bool) -> None:
    assert github_link(url, server) == (url if shown else None)


def test_the_host_is_github_server_url_as_the_fetcher_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_SERVER_URL", raising=False)
    assert server_url() == "https://github.com"
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://ghe.example.com/")
    assert server_url() == "https://ghe.example.com"


def test_csv_cells_that_start_a_formula_are_escaped_and_numbers_are_not() -> None:
    frame = pd.DataFrame(
        {
            "title": ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "a\r\nb", '=HYPERLINK("http://x","y")', None],
            "hours": [-1.5, 2.0, -3.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0],
            "count": [-1, 2, 3, 4, 5, 6, 7, 8, 9],
            "merged_at": pd.to_datetime(["2026-03-01T00:00:00Z"] * 9),
        }
    )
    data = csv_bytes(frame).decode()
    rows = list(csv.reader(io.StringIO(data, newline="")))
    assert [row[0] for row in rows[1:]] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "a\r\nb", """'=HYPERLINK("http://x","y")""", "",
    ]  # fmt: skip
    assert [row[1] for row in rows[1:3]] == ["-1.5", "2.0"] and rows[1][2] == "-1"
    assert rows[1][3] == "2026-03-01 00:00:00+00:00"
    # the writer quotes what needs it: the formula with quotes and commas is one quoted cell
    assert '"\'=HYPERLINK(""http://x"",""y"")"' in data


@pytest.mark.parametrize(
    ("login", "server", "url"),
    [
        ("alice", "https://github.com", "https://github.com/alice"),
        ("a-b-9", "https://ghe.example.com/", "https://ghe.example.com/a-b-9"),
        ("dependabot[bot]", "https://github.com", "https://github.com/apps/dependabot"),
        ("ghost", "https://github.com", None),
        ("../evil", "https://github.com", None),
        ("a/b", "https://github.com", None),
        ("alice?x=1", "https://github.com", None),
        ("@evil.example", "https://github.com", None),
        ("alice", "http://github.com", None),
        (None, "https://github.com", None),
        ("x" * 40, "https://github.com", None),
    ],
)
def test_profile_links(login: object, server: str, url: str | None) -> None:
    assert profile_link(login, server) == url
