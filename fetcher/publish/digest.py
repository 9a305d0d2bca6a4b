"""The daily digest of open PRs: what waits longest, by whose move (fetcher.compute.whose_move).

Rendered as GitHub Markdown (the step summary and an issue comment; PR text escaped with
``report.markdown_text``) and as Slack mrkdwn (an incoming webhook; ``&``, ``<`` and ``>``
escaped, so a title cannot make a link or a ``<!here>``). In both, an ``@`` in PR text is
followed by an invisible joiner (``inert_mentions``), so ``@alice``, ``@org/team``, ``@here`` or
``@channel`` in a title notifies nobody. Posting is off unless configured:
``MERGELENS_DIGEST_WEBHOOK`` (a secret: the URL is never printed, not even in an error) and
``MERGELENS_DIGEST_ISSUE`` (needs ``issues: write``). A failed post is a warning, never an error
that loses the snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from fetcher.collect import policy
from fetcher.collect.rest import GitHubSource
from fetcher.compute.whose_move import MOVES
from fetcher.publish.report import markdown_text

PER_MOVE = 5  # PRs listed per class, longest waiting first
TIMEOUT_S = 10.0
HEADINGS = {
    "waiting_for_first_review": "Waiting for a first review",
    "waiting_for_reviewer": "Waiting for reviewers",
    "waiting_for_author": "Waiting for the author",
    "waiting_for_checks": "Approved, checks running",
    "ready_to_merge": "Ready to merge",
    "stale": "Stale (no activity)",
    "draft": "Drafts",
}
# Whose move each class says it is.
WHOSE = {
    "waiting_for_first_review": "the reviewers' move",
    "waiting_for_reviewer": "the reviewers' move",
    "waiting_for_author": "the author's move",
    "waiting_for_checks": "CI's move",
    "ready_to_merge": "a merger's move",
    "stale": "nobody moved",
    "draft": "the author's move",
}
# The order a reader wants: what others are blocked on first.
ORDER = (
    "waiting_for_first_review",
    "waiting_for_reviewer",
    "ready_to_merge",
    "waiting_for_author",
    "waiting_for_checks",
    "stale",
    "draft",
)
assert set(ORDER) == set(MOVES) == set(HEADINGS) == set(WHOSE)


def _by_move(moves: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {move: [] for move in ORDER}
    for pr in sorted(moves, key=lambda pr: (pr["waiting_since"] is None, pr["waiting_since"], pr["number"])):
        groups[pr["move"]].append(pr)
    return groups


def _waited(pr: dict[str, Any], as_of: datetime) -> str:
    since = pr["waiting_since"]
    if since is None:
        return ""
    days = (as_of - since).total_seconds() / 86400
    return f"{days:.1f} days" if days >= 1 else f"{days * 24:.0f} h"


def _counts(groups: dict[str, list[dict[str, Any]]]) -> str:
    return ", ".join(f"{len(prs)} {HEADINGS[move].lower()}" for move, prs in groups.items() if prs)


@dataclass(frozen=True)
class Dialect:
    """How one place writes the digest: how it escapes text from GitHub, its title, a group's
    heading, a PR's link, its bullet, and whether headings stand between blank lines (Markdown)."""

    text: Callable[[object], str]
    title: str  # {repo}
    heading: str  # {heading} {whose}
    link: str  # {url} {number}
    bullet: str
    spaced: bool


# U+200D ZERO WIDTH JOINER. GitHub turns "@name" into a mention after rendering the Markdown (a
# backslash before the "@" does not stop it; only code spans and links do), when a letter or
# digit follows the "@"; Mattermost and other Slack-compatible webhooks notify on a plain "@here",
# "@channel" or "@all". An invisible character between the "@" and the name stops both, and the
# text still reads the same.
_MENTION_BREAK = "\u200d"


def inert_mentions(text: str) -> str:
    """``text`` with every ``@`` unable to start a mention (see ``_MENTION_BREAK``)."""
    return text.replace("@", "@" + _MENTION_BREAK)


def markdown_digest_text(text: object) -> str:
    """Untrusted text for the digest's Markdown (an issue comment notifies whoever it mentions)."""
    return inert_mentions(markdown_text(text))


def slack_text(text: object) -> str:
    """Untrusted text for Slack mrkdwn: the three characters Slack asks to escape (so no
    ``<!here>`` or ``<@U123>``), mentions made inert, on one line."""
    one_line = " ".join(str(text).split())
    return inert_mentions(one_line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


MARKDOWN = Dialect(
    markdown_digest_text, "### What is waiting in {repo}", "**{heading}** ({whose})", "[#{number}]({url})", "-", True
)
SLACK = Dialect(slack_text, "*What is waiting in {repo}*", "*{heading}* ({whose})", "<{url}|#{number}>", "•", False)


def render(dialect: Dialect, repo: str, moves: Sequence[dict[str, Any]], as_of: datetime, server_url: str) -> str:
    """The digest in ``dialect``: every text from GitHub escaped, links built from the server URL
    and the PR number only."""
    gap = [""] if dialect.spaced else []
    lines = [dialect.title.format(repo=dialect.text(repo)), *gap]
    groups = _by_move(moves)
    if not moves:
        lines.append("No open pull requests.")
    else:
        lines.append(f"{len(moves)} open PRs as of {as_of:%Y-%m-%d %H:%M} UTC: {_counts(groups)}.")
    for move in ORDER:
        prs = groups[move]
        if not prs:
            continue
        lines += [*gap, dialect.heading.format(heading=HEADINGS[move], whose=WHOSE[move]), *gap]
        for pr in prs[:PER_MOVE]:
            link = dialect.link.format(url=f"{server_url}/{repo}/pull/{pr['number']}", number=pr["number"])
            author = f" by {dialect.text(pr['author_login'])}" if pr["author_login"] else ""
            title = dialect.text(pr["title"] or "")
            lines.append(f"{dialect.bullet} {link} {title}{author}: {_waited(pr, as_of)}")
        if len(prs) > PER_MOVE:
            lines.append(f"{dialect.bullet} and {len(prs) - PER_MOVE} more")
    return "\n".join(lines) + ("\n" if dialect.spaced else "")


def markdown(repo: str, moves: Sequence[dict[str, Any]], as_of: datetime, server_url: str) -> str:
    """The digest as GitHub Markdown (the step summary, an issue comment)."""
    return render(MARKDOWN, repo, moves, as_of, server_url)


def slack(repo: str, moves: Sequence[dict[str, Any]], as_of: datetime, server_url: str) -> str:
    """The digest as Slack mrkdwn (an incoming webhook's ``text``)."""
    return render(SLACK, repo, moves, as_of, server_url)


def post_webhook(url: str, text: str, what: str = "the digest") -> str | None:
    """POST ``{"text": text}`` to a Slack-compatible incoming webhook; None when it was
    accepted, else why ``what`` was not posted, in words that never hold the URL (it carries the secret)."""
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        return f"MERGELENS_DIGEST_WEBHOOK is not an https:// URL: {what} was not posted"
    try:
        response = requests.post(url, json={"text": text}, timeout=TIMEOUT_S, allow_redirects=False)
    except requests.RequestException as exc:  # its text holds the URL: only its kind is told
        return f"the digest webhook could not be reached ({type(exc).__name__}): {what} was not posted"
    if not 200 <= response.status_code < 300:
        return f"the digest webhook answered HTTP {response.status_code}: {what} was not posted"
    return None


def post_issue_comment(source: GitHubSource, repo: str, issue: int, body: str) -> str | None:
    """The digest as a comment on issue ``issue`` (the token needs ``issues: write``); None when
    posted, else why not."""
    try:
        source.github.requester.requestJsonAndCheck(
            "POST", f"/repos/{repo}/issues/{issue}/comments", input={"body": body}
        )
    except Exception as exc:
        failure = policy.classify(exc)
        hint = " (the workflow must grant `issues: write`)" if failure.status in (403, 404) else ""
        return f"the digest could not be posted on issue #{issue}: {failure.for_log}{hint}"
    return None
