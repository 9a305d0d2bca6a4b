"""A realistic, fully deterministic sample repository for the demo and the benchmarks.

``generate_repository()`` builds ``acme/rocket``: ~6 months of merged pull requests by a
team of eight engineers with different habits, plus the things real repositories are
full of — dependabot PRs, a CI bot that comments coverage, an AI reviewer, a former
employee whose account is gone (``None``), drafts, change-request rounds, rebases (force
pushes rewrite committer dates), flaky checks re-run by hand, a 130-file refactor and a
112-commit branch, comments after the merge, and a few PRs closed without merging and
still open. Everything comes from ``random.Random(seed)``: no wall clock, same seed, same
repository.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from tests.support.fake_github.model import (
    CheckRun,
    Commit,
    FileChange,
    IssueComment,
    PullRequest,
    Repository,
    Review,
    ReviewComment,
    TimelineEvent,
    User,
)

DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)

DEPENDABOT = User("dependabot[bot]", 49699333, "Bot")
GITHUB_ACTIONS = User("github-actions[bot]", 41898282, "Bot")
COPILOT = User("copilot-pull-request-reviewer[bot]", 175728472, "Bot")
WEB_FLOW = User("web-flow", 19864447)

# Disjoint id ranges per object kind (each holds 10^8 ids), so an id names one object.
_ID_BASE = {
    "review_comment": 1_400_000_000,
    "review": 1_900_000_000,
    "issue_comment": 2_400_000_000,
    "event": 14_000_000_000,
    "check_run": 26_000_000_000,
    "sha": 0,
}


# --------------------------------------------------------------------------- the team


@dataclass(frozen=True)
class Engineer:
    """A human on the team and their habits. Times are hours; ``active`` is the share of
    the period (start, end) during which they were on the team."""

    login: str
    name: str
    id: int
    tz_hours: float
    pr_weight: float
    review_weight: float
    review_hours: float
    fix_hours: float
    strictness: float
    size: int
    draft_habit: float = 0.12
    rounds_bias: float = 1.0
    active: tuple[float, float] = (0.0, 1.0)
    deleted: bool = False
    noreply_email: bool = False

    @property
    def user(self) -> User | None:
        return None if self.deleted else User(self.login, self.id)

    def email(self, owner: str) -> str:
        if self.noreply_email:
            return f"{self.id}+{self.login}@users.noreply.github.com"
        first = self.name.split()[0].lower().encode("ascii", "ignore").decode()
        return f"{first}@{owner}.dev"

    def is_active(self, frac: float) -> bool:
        return self.active[0] <= frac < self.active[1]


TEAM: tuple[Engineer, ...] = (
    Engineer("maya-chen", "Maya Chen", 4811203, -8, 1.2, 3.0, 2.5, 3, 0.45, 140),
    Engineer("dokafor", "Daniel Okafor", 9134577, 1, 0.8, 1.0, 26, 10, 0.15, 420, draft_habit=0.35),
    Engineer("lena-kowalski", "Lena Kowalski", 12004981, 1, 1.6, 2.0, 1.5, 2, 0.25, 60, noreply_email=True),
    Engineer("rajpatel", "Raj Patel", 20457812, 5.5, 1.0, 1.5, 8, 6, 0.3, 180),
    Engineer("sofia-ruiz", "Sofía Ruiz", 31877450, -5, 0.9, 2.2, 5, 4, 0.6, 90),
    Engineer("tkowal", "Tomasz Wiśniewski", 7340021, 1, 0.7, 0.8, 30, 16, 0.2, 520, draft_habit=0.4),
    Engineer("aiko-t", "Aiko Tanaka", 45120993, 9, 1.0, 1.2, 10, 5, 0.35, 150, noreply_email=True),
    Engineer("bencarter", "Ben Carter", 98214470, -5, 1.1, 0.5, 6, 3, 0.2, 80, rounds_bias=1.8, active=(0.35, 1.0)),
    # A former employee: their account was deleted, so GitHub sends null wherever they appear.
    Engineer("jreyes", "Jordan Reyes", 5520187, 0, 1.0, 1.5, 7, 5, 0.35, 160, active=(0.0, 0.42), deleted=True),
)
_BY_LOGIN = {e.login: e for e in TEAM}

# --------------------------------------------------------------------------- text

_AREAS = ("api", "cli", "storage", "sync", "ui", "auth", "scheduler", "telemetry")
_MODULES = (
    "client", "models", "handlers", "utils", "config", "errors", "cache", "retry",
    "pagination", "serializers", "validators", "events", "metrics", "queue", "workers", "schema",
)  # fmt: skip
_THINGS = (
    "runs", "webhooks", "reviewers", "check runs", "scheduled jobs", "tokens", "artifacts",
    "queued syncs", "repo settings", "timeline events", "labels", "rate limits",
)  # fmt: skip
_TITLES: dict[str, tuple[str, ...]] = {
    "feat": (
        "add pagination to {t} listing", "support filtering {t} by date", "expose {t} in the CLI",
        "add retry with backoff for {t}", "stream {t} results", "add --dry-run flag for {t}",
        "cache {t} lookups", "export {t} to CSV",
    ),
    "fix": (
        "handle empty {t} response", "avoid crash when {t} is null", "correct timezone handling for {t}",
        "retry on 502 when fetching {t}", "off-by-one in {t} pagination", "race in {t} worker shutdown",
        "respect rate limit headers for {t}",
    ),
    "refactor": (
        "split {t} module", "extract {t} client", "simplify {t} error handling", "remove dead {t} code",
    ),
    "chore": ("tidy up {t} logging", "bump ruff and fix new lint", "update CODEOWNERS for {t}"),
    "docs": ("document {t} configuration", "fix typos in README", "add architecture notes for {t}"),
    "test": ("cover {t} edge cases", "add regression test for {t}", "speed up {t} tests"),
    "perf": ("batch {t} inserts", "avoid N+1 queries for {t}"),
    "ci": ("run tests on Python 3.12", "cache pip downloads", "split lint job"),
}  # fmt: skip
_TITLE_WEIGHTS = {"feat": 30, "fix": 30, "refactor": 10, "chore": 7, "docs": 6, "test": 8, "perf": 4, "ci": 5}
# Titles a dashboard must escape: markdown, HTML and script characters.
_TRICKY = (
    ("fix(ui): escape <script> tags in PR titles", "Repro: a title like `<script>alert(1)</script>`."),
    ("feat(ui): render **markdown** & <b>bold</b> in descriptions", "Uses <b>bleach</b> & `markdown-it`."),
    (
        'docs: explain `a < b && c > d` filters & "quoted" values',
        "| op | meaning |\n|---|---|\n| `<` | less |",
    ),
    ("fix(api): don't double-encode `%2F` in branch names 🚀", "Branch `feat/a&b<c>` broke the link."),
)
_SUMMARIES = (
    "This keeps the sync from giving up on the first transient error.",
    "Users hit this when a repository had no history yet.",
    "Follow-up to the discussion in standup; keeps the old behaviour behind a flag.",
    "Small change, mostly moving code around so the next PR is easier to review.",
    "The previous approach did one query per row, which got slow on big repos.",
    "Found while debugging a flaky test on CI.",
)
_BULLETS = (
    "add a helper for the common case", "move validation next to the model", "log the request id on failure",
    "drop the unused `legacy` argument", "add tests for the empty and the error case", "update the docs",
)  # fmt: skip
_CHANGES_REQUESTED = (
    "A few things before this can go in — see inline comments.",
    "Needs a test for the failure path.",
    "I think this changes behaviour for existing users; can we keep the old default?",
    "Close! Mostly naming, plus one real bug in the retry loop.",
)
_APPROVED = (
    "",
    "",
    "",
    "LGTM",
    "LGTM 🚀",
    "Looks good, thanks!",
    "Nice cleanup.",
    "Approving, one nit inline.",
)
_QUESTIONS = ("Question: why not reuse the existing helper?", "Left some thoughts, nothing blocking yet.")
_INLINE = (
    "nit: `data` is vague, maybe `payload`?", "Can this be `None` here?",
    "This swallows the exception — please at least log it.", "Could you add a test for this branch?",
    "Do we need the extra query here?", "```suggestion\n        return self._cache.get(key)\n```",
    "Should this respect the configured timeout?", "Let's not hard-code `100` here.",
)  # fmt: skip
_REPLIES = (
    "Good catch, fixed.", "Done.", "Fixed in the latest push.",
    "I'd rather keep it — the helper has different semantics. WDYT?", "Added a test.",
)  # fmt: skip
_COPILOT_INLINE = (
    "[nitpick] The variable name `data` is ambiguous; consider a more descriptive name like `payload`.",
    "This call can raise `KeyError` when the key is missing. Consider using `.get()` with a default.",
    "The timeout is hard-coded; consider making it configurable.",
    "Missing `await`: the coroutine is created but never executed.",
    "This loop re-fetches the same page on retry, which can duplicate rows.",
)
_AUTHOR_NOTES = (
    "Addressed all comments, ready for another look.",
    "Rebased on main.",
    "Any idea why `test (3.12)` is flaky here?",
    "Thanks for the quick review!",
)
_POST_MERGE = (
    "Heads-up: this caused a regression in the nightly job, fixing in a follow-up.",
    "Nice, this already cut our sync time in half 🎉",
    "Late to the party, but should we backport this to the 1.x branch?",
)
_DEPENDENCIES = (
    ("pip", "requests", "https://github.com/psf/requests"),
    ("pip", "pydantic", "https://github.com/pydantic/pydantic"),
    ("pip", "duckdb", "https://github.com/duckdb/duckdb"),
    ("pip", "urllib3", "https://github.com/urllib3/urllib3"),
    ("pip", "boto3", "https://github.com/boto/boto3"),
    ("pip", "ruff", "https://github.com/astral-sh/ruff"),
    ("pip", "pytest", "https://github.com/pytest-dev/pytest"),
    ("github_actions", "actions/checkout", "https://github.com/actions/checkout"),
    ("github_actions", "actions/setup-python", "https://github.com/actions/setup-python"),
)
_CHECKS = (("lint", 35, 95), ("test (3.11)", 170, 430), ("test (3.12)", 170, 430), ("build", 80, 210))
_CODE_LINES = (
    "def fetch(self, key: str) -> Row | None:", "for page in self.pages(url):", "return self._cache.get(key)",
    "if response.status == 502:", "raise SyncError(f\"{repo}: {exc}\") from exc", "rows = list(batch)",
    "timeout = self.config.timeout", "logger.info(\"synced %d rows\", len(rows))", "yield from items",
)  # fmt: skip


# --------------------------------------------------------------------------- clock and ids


@dataclass
class _Ctx:
    """Shared state of one generation: the random stream, the period and id counters."""

    rng: random.Random
    seed: int
    owner: str
    name: str
    start: datetime
    end: datetime
    counters: dict[str, int] = field(default_factory=dict)

    def next_id(self, kind: str) -> int:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return _ID_BASE[kind] + self.counters[kind]

    def sha(self, kind: str = "commit") -> str:
        n = self.next_id("sha")
        text = f"{self.seed}/{self.owner}/{self.name}/{kind}/{n}"
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    def at(self, frac: float) -> datetime:
        return self.start + (self.end - self.start) * frac

    def frac(self, t: datetime) -> float:
        """Where ``t`` falls in the period, clamped to [0, 1)."""
        return min(max((t - self.start) / (self.end - self.start), 0.0), 0.999999)


def _snap_to_work_hours(rng: random.Random, t: datetime, tz_hours: float) -> datetime:
    """Move ``t`` forward to the next working morning unless it already is in working
    hours (local 08–19, Mon–Fri); some after-hours and weekend work stays where it is."""
    local = t + timedelta(hours=tz_hours)
    if local.weekday() < 5 and 8 <= local.hour < 19:
        return t
    if rng.random() < 0.12:
        return t
    day: date = local.date() if local.hour < 8 else local.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    morning = datetime.combine(day, time(9), tzinfo=UTC) + timedelta(minutes=rng.uniform(0, 150))
    return morning - timedelta(hours=tz_hours)


def _work_delay(rng: random.Random, t: datetime, who: Engineer, mean_hours: float) -> datetime:
    """When ``who`` gets round to something that became possible at ``t``."""
    delay = timedelta(hours=rng.expovariate(1 / mean_hours))
    return _snap_to_work_hours(rng, t + delay + timedelta(minutes=1), who.tz_hours)


def _minutes(rng: random.Random, lo: float, hi: float) -> timedelta:
    return timedelta(minutes=rng.uniform(lo, hi))


def _just_before(rng: random.Random, t: datetime, not_before: datetime, max_seconds: float = 600) -> datetime:
    room = max(0.0, min(max_seconds, (t - not_before).total_seconds() - 1))
    return t - timedelta(seconds=rng.uniform(0, room))


# --------------------------------------------------------------------------- one pull request


@dataclass
class _Pull:
    """A pull request under construction; ``last_push`` is the time of its newest commit."""

    ctx: _Ctx
    pr: PullRequest
    author: Engineer | None  # None for dependabot
    last_push: datetime

    @property
    def rng(self) -> random.Random:
        return self.ctx.rng

    def commit(self, at: datetime, message: str, *, authored_at: datetime | None = None) -> Commit:
        if self.author is None:
            user, name, email = (
                DEPENDABOT,
                "dependabot[bot]",
                "49699333+dependabot[bot]@users.noreply.github.com",
            )
        else:
            user, name, email = self.author.user, self.author.name, self.author.email(self.ctx.owner)
        committer = WEB_FLOW if self.author is None or message.startswith(("Merge branch", "Apply sugg")) else None
        commit = Commit(self.ctx.sha(), user, name, email, authored_at or at, at, message, committer)
        self.pr.commits.append(commit)
        self.pr.head_sha = commit.sha
        self.last_push = max(self.last_push, at)
        return commit

    def review(self, user: User | None, state: str, body: str, at: datetime | None) -> Review:
        review = Review(self.ctx.next_id("review"), user, state, body, at, self.pr.head_sha)
        self.pr.reviews.append(review)
        return review

    def review_comment(
        self,
        user: User | None,
        body: str,
        at: datetime,
        review: Review,
        reply_to: ReviewComment | None = None,
    ) -> ReviewComment:
        if reply_to is not None:
            path, line = reply_to.path, reply_to.line
        else:
            changed = [f for f in self.pr.files if f.status != "removed"] or self.pr.files
            path, line = self.rng.choice(changed).filename, self.rng.randint(3, 240)
        comment = ReviewComment(
            self.ctx.next_id("review_comment"), user, body, at, at, path, review.commit_id, line,
            review.id, reply_to.id if reply_to else None,
        )  # fmt: skip
        self.pr.review_comments.append(comment)
        return comment

    def comment(self, user: User | None, body: str, at: datetime, updated_at: datetime | None = None) -> None:
        self.pr.issue_comments.append(IssueComment(self.ctx.next_id("issue_comment"), user, body, at, updated_at or at))

    def event(
        self,
        name: str,
        actor: User | None,
        at: datetime,
        *,
        reviewer: User | None = None,
        sha: str | None = None,
    ) -> None:
        self.pr.events.append(TimelineEvent(self.ctx.next_id("event"), name, actor, at, sha, reviewer))

    def latest(self) -> datetime:
        return max(_datetimes(self.pr))


def _children(pr: PullRequest) -> Iterator[object]:
    yield pr
    for kind in ("commits", "reviews", "review_comments", "issue_comments", "events", "check_runs"):
        yield from getattr(pr, kind)


def _datetimes(pr: PullRequest) -> Iterator[datetime]:
    for obj in _children(pr):
        for f in dataclasses.fields(obj):  # type: ignore[arg-type]
            value = getattr(obj, f.name)
            if isinstance(value, datetime):
                yield value


def _shift_pull(pr: PullRequest, delta: timedelta) -> None:
    for obj in _children(pr):
        for f in dataclasses.fields(obj):  # type: ignore[arg-type]
            value = getattr(obj, f.name)
            if isinstance(value, datetime):
                setattr(obj, f.name, value + delta)


# --------------------------------------------------------------------------- titles, bodies, files


def _title(rng: random.Random, area: str) -> tuple[str, str]:
    kind = rng.choices(list(_TITLE_WEIGHTS), weights=list(_TITLE_WEIGHTS.values()))[0]
    phrase = rng.choice(_TITLES[kind]).format(t=rng.choice(_THINGS))
    scoped = kind not in ("ci", "docs") and rng.random() < 0.75
    return kind, f"{kind}({area}): {phrase}" if scoped else f"{kind}: {phrase}"


def _body(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.06:
        return None  # GitHub sends "body": null for an empty description
    if roll < 0.1:
        return ""
    bullets = "\n".join(f"- {b}" for b in rng.sample(_BULLETS, rng.randint(1, 3)))
    closes = f"\n\nCloses #{rng.randint(20, 400)}" if rng.random() < 0.4 else ""
    return (
        f"## Summary\n{rng.choice(_SUMMARIES)}\n\n## Changes\n{bullets}\n\n"
        f"## Test plan\n- [x] unit tests\n"
        f"- [{'x' if rng.random() < 0.5 else ' '}] tried it on staging{closes}"
    )


def _patch(rng: random.Random, filename: str, additions: int, deletions: int) -> str | None:
    """A unified-diff hunk for small text changes; GitHub omits it for binaries and big diffs."""
    if additions + deletions > 40 or not filename.endswith((".py", ".md", ".toml", ".yml", ".txt")):
        return None
    start = rng.randint(1, 200)
    lines = [f"@@ -{start},{deletions + 3} +{start},{additions + 3} @@ class Sync:"]
    lines += [f" {rng.choice(_CODE_LINES)}" for _ in range(3)]
    lines += [f"-{rng.choice(_CODE_LINES)}" for _ in range(deletions)]
    lines += [f"+{rng.choice(_CODE_LINES)}" for _ in range(additions)]
    return "\n".join(lines)


def _change(rng: random.Random, filename: str, status: str, lines: int, previous: str | None = None) -> FileChange:
    if status == "added":
        additions, deletions = lines, 0
    elif status == "removed":
        additions, deletions = 0, lines
    else:
        additions = max(0, round(lines * rng.uniform(0.45, 0.9)))
        deletions = lines - additions
    return FileChange(filename, status, additions, deletions, previous, _patch(rng, filename, additions, deletions))


def _feature_files(rng: random.Random, kind: str, area: str, lines: int) -> list[FileChange]:
    """Source files in one area plus tests, docs or CI config depending on the PR's kind."""
    if kind == "docs":
        files = [_change(rng, f"docs/{area}.md", "modified", lines)]
        if rng.random() < 0.3:
            files.append(FileChange(f"docs/img/{area}-overview.png", "added"))  # binary: no patch
        return files
    if kind == "ci":
        return [_change(rng, ".github/workflows/ci.yml", "modified", min(lines, 30))]
    n_src = max(1, min(12, 1 + lines // 90 + rng.randint(0, 1)))
    modules = rng.sample(_MODULES, n_src)
    shares = [rng.random() + 0.2 for _ in modules]
    files = []
    for module, share in zip(modules, shares, strict=True):
        status = rng.choices(("modified", "added", "removed"), weights=(88, 9, 3))[0]
        files.append(_change(rng, f"src/rocket/{area}/{module}.py", status, max(1, round(lines * share / sum(shares)))))
    if kind != "chore" and rng.random() < 0.75:
        files.append(_change(rng, f"tests/{area}/test_{modules[0]}.py", "modified", max(2, lines // 3)))
    if rng.random() < 0.2:
        files.append(_change(rng, "CHANGELOG.md", "modified", 2))
    return files


def _refactor_files(rng: random.Random) -> list[FileChange]:
    """130 files: the ``engine`` package moves to ``core`` and every importer is updated."""
    files = []
    for module in _MODULES:
        for old, new in (
            (f"src/rocket/engine/{module}.py", f"src/rocket/core/{module}.py"),
            (f"tests/engine/test_{module}.py", f"tests/core/test_{module}.py"),
        ):
            lines = 0 if rng.random() < 0.6 else rng.randint(2, 8)
            files.append(_change(rng, new, "renamed", lines, previous=old))
    importers = [f"src/rocket/{area}/{module}.py" for area in _AREAS for module in _MODULES]
    for path in rng.sample(importers, 94):
        files.append(FileChange(path, "modified", 1, 1, None, _patch(rng, path, 1, 1)))
    files.append(_change(rng, "src/rocket/core/__init__.py", "added", 12))
    files.append(_change(rng, "docs/architecture/core.md", "added", 40))
    files.append(_change(rng, "src/rocket/engine/__init__.py", "removed", 9))
    files.append(_change(rng, "src/rocket/engine/compat.py", "removed", 55))
    return files


# --------------------------------------------------------------------------- plans


@dataclass
class _Plan:
    kind: str  # feature | refactor | long_branch | dependabot | abandoned | open | open_draft
    created_at: datetime
    author: Engineer | None
    tricky: int | None = None  # index into _TRICKY: a title a dashboard must escape


def _work_moment(rng: random.Random, day: date, who: Engineer) -> datetime:
    """A moment in ``who``'s working day (local 08:30–18:30, busiest late morning)."""
    hour = min(18.5, max(8.5, rng.triangular(8.5, 18.5, 11)))
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(hours=hour - who.tz_hours)


def _human_plan(ctx: _Ctx, kind: str, lo: float, hi: float, author: Engineer | None = None) -> _Plan:
    """A PR opened between fractions ``lo`` and ``hi`` of the period, on a weekday in the
    author's working hours (one weekend day in ten is kept)."""
    rng = ctx.rng
    frac = rng.uniform(lo, hi)
    while ctx.at(frac).weekday() >= 5 and rng.random() >= 0.1 and hi > lo:
        frac = rng.uniform(lo, hi)
    if author is None:
        active = [e for e in TEAM if e.is_active(frac)]
        author = rng.choices(active, weights=[e.pr_weight for e in active])[0]
    return _Plan(kind, _work_moment(rng, ctx.at(frac).date(), author), author)


def _dependabot_plan(ctx: _Ctx) -> _Plan:
    """Dependabot runs weekly: Monday early morning UTC."""
    t = ctx.at(ctx.rng.uniform(0, 0.97))
    monday = datetime.combine(t.date() - timedelta(days=t.weekday()), time(4), tzinfo=UTC)
    if monday < ctx.start:
        monday += timedelta(days=7)
    return _Plan("dependabot", monday + _minutes(ctx.rng, 0, 150), None)


def _plan_pulls(ctx: _Ctx, n_prs: int) -> list[_Plan]:
    n_specials = 2 if n_prs >= 40 else 0
    n_open = 2 if n_prs >= 20 else 0
    n_bot = max(1, round(n_prs * 0.12))
    n_abandoned = max(1, round(n_prs * 0.045))
    n_feature = max(0, n_prs - n_specials - n_open - n_bot - n_abandoned)
    plans = [_human_plan(ctx, "feature", 0.0, 0.985) for _ in range(n_feature)]
    plans += [_human_plan(ctx, "abandoned", 0.0, 0.95) for _ in range(n_abandoned)]
    plans += [_dependabot_plan(ctx) for _ in range(n_bot)]
    if n_specials:
        plans.append(_human_plan(ctx, "refactor", 0.44, 0.46, _BY_LOGIN["maya-chen"]))
        plans.append(_human_plan(ctx, "long_branch", 0.65, 0.67, _BY_LOGIN["tkowal"]))
    plans += [_human_plan(ctx, kind, 0.975, 0.995) for kind in ("open", "open_draft")[:n_open]]
    plans.sort(key=lambda p: p.created_at)
    features = [p for p in plans if p.kind == "feature"]
    for i in range(min(len(_TRICKY), len(features))):
        features[(2 * i + 1) * len(features) // (2 * len(_TRICKY))].tricky = i
    return plans[:n_prs]


# --------------------------------------------------------------------------- building blocks


def _open_pull(ctx: _Ctx, plan: _Plan, title: str, body: str | None, labels: list[str], head_ref: str) -> _Pull:
    pr = PullRequest(
        number=0, title=title, user=plan.author.user if plan.author else DEPENDABOT,
        created_at=plan.created_at, updated_at=plan.created_at, head_sha="", body=body,
        head_ref=head_ref, base_sha=ctx.sha("base"), labels=labels,
    )  # fmt: skip
    pull = _Pull(ctx, pr, plan.author, plan.created_at)
    for _ in labels:
        pull.event("labeled", pr.user, plan.created_at)
    return pull


def _initial_commits(b: _Pull, n: int, span_hours: float) -> None:
    """Commits made before the PR was opened (the last one a minute or so before)."""
    created = b.pr.created_at
    times = sorted(created - timedelta(hours=b.rng.uniform(0.02, span_hours)) for _ in range(n - 1))
    times.append(created - _minutes(b.rng, 0.5, 3))
    messages = [b.pr.title, "wip", "add tests", "handle edge case", "fix lint", "update docs", "tidy up"]
    for i, at in enumerate(times):
        amended = at - _minutes(b.rng, 5, 90) if b.rng.random() < 0.15 else None
        b.commit(at, messages[0] if i == 0 else b.rng.choice(messages[1:]), authored_at=amended)


def _draft_period(b: _Pull, author: Engineer) -> datetime:
    """Opened as draft, work continues, marked ready — sometimes back to draft and ready again."""
    rng, user = b.rng, author.user
    t = b.pr.created_at
    rounds = 2 if rng.random() < 0.3 else 1
    for round_ in range(rounds):
        for _ in range(rng.randint(0, 2)):
            t = _work_delay(rng, t, author, 5)
            b.commit(t, rng.choice(("wip", "more work", "handle review of design doc", "add tests")))
        t = _work_delay(rng, t, author, 14)
        b.event("ready_for_review", user, t)
        if round_ + 1 < rounds:
            t = _work_delay(rng, t, author, 3)
            b.event("convert_to_draft", user, t)
    return t


def _pick_reviewers(ctx: _Ctx, author: Engineer, frac: float) -> list[Engineer]:
    others = [e for e in TEAM if e is not author and e.is_active(frac)]
    first = ctx.rng.choices(others, weights=[e.review_weight for e in others])[0]
    if ctx.rng.random() < 0.3:
        rest = [e for e in others if e is not first]
        return [first, ctx.rng.choices(rest, weights=[e.review_weight for e in rest])[0]]
    return [first]


def _copilot_review(b: _Pull, at: datetime) -> None:
    """The AI reviewer: a COMMENTED review with an overview and a few inline remarks."""
    rng = b.rng
    b.event("review_requested", b.pr.user, at - _minutes(rng, 0.2, 1), reviewer=COPILOT)
    n = rng.choice((0, 1, 1, 2, 3))
    shown = min(len(b.pr.files), 3)
    table = "\n".join(f"| {f.filename} | {rng.choice(_BULLETS).capitalize()}. |" for f in b.pr.files[:shown])
    body = (
        f"## Pull Request Overview\n\nThis PR {rng.choice(_BULLETS)}.\n\n### Reviewed Changes\n\n"
        f"Copilot reviewed {shown} out of {len(b.pr.files)} changed files in this pull request "
        f"and generated {n} comments.\n\n| File | Description |\n| ---- | ----------- |\n{table}"
    )
    review = b.review(COPILOT, "COMMENTED", body, at)
    for _ in range(n):
        b.review_comment(COPILOT, rng.choice(_COPILOT_INLINE), at, review)


def _self_review(b: _Pull, author: Engineer, at: datetime) -> None:
    """The author reviews their own PR to leave notes for the reviewers."""
    review = b.review(author.user, "COMMENTED", "Some context for reviewers inline.", at)
    for _ in range(b.rng.randint(1, 2)):
        b.review_comment(author.user, "Note: this is the interesting part, the rest is plumbing.", at, review)


def _reply(b: _Pull, author: Engineer, to: ReviewComment, at: datetime) -> None:
    """A reply to an inline comment; GitHub wraps it in its own COMMENTED review with no body."""
    wrapper = b.review(author.user, "COMMENTED", "", at)
    b.review_comment(author.user, b.rng.choice(_REPLIES), at, wrapper, reply_to=to)


def _fix_round(b: _Pull, author: Engineer, comments: list[ReviewComment], requested_at: datetime) -> datetime:
    """The author pushes fix commits after a change request and answers some comments."""
    rng = b.rng
    t = _work_delay(rng, requested_at, author, author.fix_hours)
    messages = (
        "address review comments",
        "Apply suggestions from code review",
        "add missing test",
        "fix typo",
    )
    for _ in range(1 if rng.random() < 0.7 else 2):
        b.commit(t, rng.choice(messages))
        t += _minutes(rng, 2, 40)
    if rng.random() < 0.1:  # "Update branch" button
        b.commit(t, f"Merge branch 'main' into {b.pr.head_ref}")
        t += _minutes(rng, 1, 5)
    for comment in comments:
        if rng.random() < 0.5 and author.user is not None:
            _reply(b, author, comment, t)
            t += _minutes(rng, 0.5, 3)
    if rng.random() < 0.25:
        b.comment(author.user, rng.choice(_AUTHOR_NOTES), t)
    return t


def _rounds_for(rng: random.Random, reviewer: Engineer, author: Engineer, lines: int) -> int:
    """How many times the reviewer requests changes: strictness × PR size × author's track record."""
    p = min(0.9, reviewer.strictness * author.rounds_bias * (0.6 + math.log10(max(lines, 10)) / 3))
    rounds = 0
    while rounds < 3 and rng.random() < p:
        rounds += 1
        p *= 0.55
    return rounds


def _review_rounds(b: _Pull, author: Engineer, reviewer: Engineer, start: datetime, lines: int) -> datetime:
    """First look, 0–3 change-request rounds each followed by fix commits, then approval."""
    rng, user = b.rng, reviewer.user
    t = _work_delay(rng, start, reviewer, reviewer.review_hours)
    if rng.random() < 0.15:
        b.review(user, "COMMENTED", rng.choice(_QUESTIONS), t)
        t = _work_delay(rng, t, author, author.fix_hours / 2)
        b.comment(author.user, "Good question — the helper doesn't handle the paginated case.", t)
        t = _work_delay(rng, t, reviewer, reviewer.review_hours / 2)
    for _ in range(_rounds_for(rng, reviewer, author, lines)):
        review = b.review(user, "CHANGES_REQUESTED", rng.choice(_CHANGES_REQUESTED), t)
        not_before = max(b.last_push, start)
        comments = [
            b.review_comment(user, rng.choice(_INLINE), _just_before(rng, t, not_before), review)
            for _ in range(rng.randint(1, 3))
        ]
        t = _fix_round(b, author, comments, t)
        t = _work_delay(rng, t, reviewer, reviewer.review_hours * 0.6)
    approval = b.review(user, "APPROVED", rng.choice(_APPROVED), t)
    if approval.body.endswith("inline."):
        b.review_comment(user, "nit: not blocking, but a docstring would help here.", t, approval)
    return t


def _force_push(b: _Pull, at: datetime) -> None:
    """A rebase: every commit gets a new sha and the push time as its committer date."""
    for commit in b.pr.commits:
        commit.sha = b.ctx.sha("rebased")
        commit.committed_at = at
    b.pr.head_sha = b.pr.commits[-1].sha
    b.last_push = at
    b.event("head_ref_force_pushed", b.pr.user if b.author is None else b.author.user, at)


def _check_run(b: _Pull, name: str, start: datetime, seconds: float, conclusion: str) -> CheckRun:
    run = CheckRun(
        b.ctx.next_id("check_run"), name, b.pr.head_sha, "completed", conclusion,
        start, start + timedelta(seconds=seconds),
    )  # fmt: skip
    b.pr.check_runs.append(run)
    return run


def _check_runs_for(b: _Pull, flaky: float = 0.07) -> datetime:
    """CI on the head sha after the last push: flaky tests fail and are re-run by hand
    (two runs with one name), and now and then a failed build is merged anyway.
    Returns when the last run finished."""
    rng, done = b.rng, b.last_push
    for name, lo, hi in _CHECKS:
        start = b.last_push + timedelta(seconds=rng.uniform(8, 75))
        if name.startswith("test") and rng.random() < flaky:
            failed = _check_run(b, name, start, rng.uniform(lo, hi), "failure")
            start = failed.completed_at + _minutes(rng, 2, 45)  # type: ignore[operator]
            conclusion = "success"
        else:
            conclusion = "failure" if name == "build" and rng.random() < 0.02 else "success"
        run = _check_run(b, name, start, rng.uniform(lo, hi), conclusion)
        done = max(done, run.completed_at)  # type: ignore[type-var]
    return done


def _coverage_comment(b: _Pull, ci_done: datetime) -> None:
    """github-actions posts coverage after the first CI run and edits it after every push."""
    rng = b.rng
    total, delta = rng.uniform(82, 94), rng.uniform(-0.8, 0.6)
    body = (
        "### Coverage report\n\n| | Coverage | Δ |\n|---|---|---|\n"
        f"| **Total** | {total:.2f}% | {delta:+.2f}% |"
        f"\n\n<sub>Updated for commit {b.pr.head_sha[:7]}</sub>"
    )
    first = min(b.pr.created_at + _minutes(rng, 4, 9), ci_done)
    b.comment(GITHUB_ACTIONS, body, first, updated_at=ci_done + timedelta(seconds=rng.uniform(5, 40)))


def _merge(b: _Pull, merger: User | None, at: datetime) -> None:
    pr = b.pr
    pr.merged_at = pr.closed_at = at
    pr.merged_by, pr.state, pr.draft = merger, "closed", False
    b.event("merged", merger, at, sha=b.ctx.sha("merge"))
    b.event("closed", merger, at)
    b.event("head_ref_deleted", merger, at + timedelta(seconds=b.rng.uniform(1, 4)))


def _close(b: _Pull, actor: User | None, at: datetime, note: str) -> None:
    b.comment(actor, note, at)
    b.pr.closed_at, b.pr.state, b.pr.draft = at, "closed", False
    b.event("closed", actor, at)


def _slug(title: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in title.split(":", 1)[-1].lower()).split()
    return "-".join(words[:5])


# --------------------------------------------------------------------------- kinds of pull requests


@dataclass(frozen=True)
class _Shape:
    """The knobs of a human PR that special kinds override."""

    files: list[FileChange] | None = None
    title: str | None = None
    body: str | None = None
    commits: int | None = None
    commit_span_hours: float | None = None
    force_push: str | None = None  # None: decide at random; "late"; "no"


def _human_pull(ctx: _Ctx, plan: _Plan, shape: _Shape) -> tuple[_Pull, datetime, list[Engineer]]:
    """Opening a human PR up to the moment it is ready for review (returned with its reviewers)."""
    rng, author = ctx.rng, plan.author
    assert author is not None
    area = rng.choice(_AREAS)
    kind, title = _title(rng, area)
    lines = max(1, round(rng.lognormvariate(math.log(author.size), 0.9)))
    labels = {"feat": ["enhancement"], "fix": ["bug"], "docs": ["documentation"], "ci": ["ci"]}.get(kind, [])
    title = shape.title or title
    b = _open_pull(ctx, plan, title, shape.body or _body(rng), labels, f"{author.login}/{_slug(title)}")
    b.pr.files = shape.files or _feature_files(rng, kind, area, lines)
    n_commits = shape.commits or 1 + min(int(rng.expovariate(0.6)), 7)
    _initial_commits(b, n_commits, shape.commit_span_hours or rng.uniform(1, 30))
    drafted = plan.kind == "open_draft" or rng.random() < author.draft_habit
    b.pr.draft = drafted
    reviewers = _pick_reviewers(ctx, author, ctx.frac(plan.created_at))
    if plan.kind == "open_draft":
        return b, plan.created_at, reviewers
    ready = _draft_period(b, author) if drafted else plan.created_at
    b.pr.draft = False
    for reviewer in reviewers:
        b.event("review_requested", author.user, ready, reviewer=reviewer.user)
    if ctx.frac(ready) > 0.3 and rng.random() < 0.65:
        _copilot_review(b, ready + _minutes(rng, 2, 6))
    if author.user is not None and rng.random() < 0.06:
        _self_review(b, author, ready + _minutes(rng, 1, 10))
    return b, ready, reviewers


def _feature(ctx: _Ctx, plan: _Plan, shape: _Shape | None = None) -> _Pull:
    shape = shape or _Shape()
    rng, author = ctx.rng, plan.author
    assert author is not None
    if plan.tricky is not None and shape.title is None:
        title, body = _TRICKY[plan.tricky]
        shape = dataclasses.replace(shape, title=title, body=f"{body}\n\n<script>alert('xss')</script>")
    b, ready, reviewers = _human_pull(ctx, plan, shape)
    force = shape.force_push or rng.choices(("no", "early", "late"), weights=(87, 5, 8))[0]
    t = ready + _minutes(rng, 5, 30)
    if force == "early":
        t = _work_delay(rng, max(t, b.last_push), author, 1.5)
        _force_push(b, t)
        b.comment(author.user, "Rebased on main to pick up the CI fix.", t + _minutes(rng, 0.5, 2))
    lines = sum(f.additions + f.deletions for f in b.pr.files)
    unreviewed = rng.random() < (0.22 if lines < 120 else 0.02)  # "tiny change, merging"
    if not unreviewed:
        t = _review_rounds(b, author, reviewers[0], t, lines)
        if len(reviewers) > 1:
            t = _second_opinion(b, reviewers[1], t)
    if force == "late":
        t = _work_delay(rng, max(t, b.last_push), author, 2)
        _force_push(b, t)
    if rng.random() < 0.04:
        frac = ctx.frac(t)
        idle = [e for e in TEAM if e.user and e.is_active(frac) and e is not author and e not in reviewers]
        b.review(rng.choice(idle).user, "PENDING", "", None)  # started a review, never submitted it
    ci_done = _check_runs_for(b)
    if rng.random() < 0.8:
        _coverage_comment(b, ci_done)
    merger = author if unreviewed or rng.random() < 0.6 else reviewers[0]
    _merge(b, merger.user, _work_delay(rng, max(t, ci_done) + _minutes(rng, 1, 20), merger, 1.0))
    return b


def _second_opinion(b: _Pull, reviewer: Engineer, after: datetime) -> datetime:
    at = _work_delay(b.rng, after, reviewer, reviewer.review_hours / 2)
    state = b.rng.choice(("APPROVED", "APPROVED", "COMMENTED"))
    body = b.rng.choice(_APPROVED) if state == "APPROVED" else b.rng.choice(_QUESTIONS)
    b.review(reviewer.user, state, body, at)
    return at


def _refactor(ctx: _Ctx, plan: _Plan) -> _Pull:
    title = "refactor(core)!: move the engine package to rocket.core"
    body = "Mechanical move, no behaviour change. Review commit by commit; the rename is its own commit."
    return _feature(ctx, plan, _Shape(_refactor_files(ctx.rng), title, body, commits=6, force_push="no"))


def _long_branch(ctx: _Ctx, plan: _Plan) -> _Pull:
    rng = ctx.rng
    files = [
        _change(rng, f"src/rocket/sync/{m}.py", rng.choice(("modified", "added")), rng.randint(20, 160))
        for m in _MODULES
    ] + [_change(rng, f"tests/sync/test_{m}.py", "modified", rng.randint(10, 80)) for m in _MODULES[:10]]
    title = "feat(sync)!: rewrite the sync engine on asyncio"
    body = "Long-lived branch, three weeks of work. Rebased onto main before merging."
    shape = _Shape(files, title, body, commits=112, commit_span_hours=20 * 24, force_push="late")
    return _feature(ctx, plan, shape)


def _abandoned(ctx: _Ctx, plan: _Plan) -> _Pull:
    """Closed without merging: superseded, or the idea was dropped after review."""
    rng, author = ctx.rng, plan.author
    assert author is not None
    b, ready, reviewers = _human_pull(ctx, plan, _Shape())
    t = ready
    if rng.random() < 0.6:
        t = _work_delay(rng, ready, reviewers[0], reviewers[0].review_hours)
        b.review(reviewers[0].user, "CHANGES_REQUESTED", "I don't think we want this approach, see the issue.", t)
    ci_done = _check_runs_for(b, flaky=0.3)
    note = rng.choice(("Closing in favour of a smaller PR.", "Superseded by the async rewrite.", "Dropping this."))
    _close(b, author.user, _work_delay(rng, max(t, ci_done), author, 48), note)
    return b


def _open(ctx: _Ctx, plan: _Plan) -> _Pull:
    """Still open at the end of the period (one of them a draft): not part of any sync of merged PRs."""
    rng = ctx.rng
    b, ready, reviewers = _human_pull(ctx, plan, _Shape())
    b.pr.state = "open"
    b.pr.draft = plan.kind == "open_draft"
    if not b.pr.draft and rng.random() < 0.7:
        t = _work_delay(rng, ready, reviewers[0], reviewers[0].review_hours)
        b.review(reviewers[0].user, "CHANGES_REQUESTED", rng.choice(_CHANGES_REQUESTED), t)
    _check_runs_for(b)
    return b


def _dependabot(ctx: _Ctx, plan: _Plan) -> _Pull:
    """A dependency bump: one commit, auto-approved or approved fast, auto-merged when green."""
    rng = ctx.rng
    ecosystem, package, url = rng.choice(_DEPENDENCIES)
    major, minor, patch = rng.randint(1, 5), rng.randint(0, 30), rng.randint(0, 9)
    old, new = f"{major}.{minor}.{patch}", f"{major}.{minor}.{patch + rng.randint(1, 4)}"
    if rng.random() < 0.3:
        old, new = f"{major}.{minor}.{patch}", f"{major}.{minor + 1}.0"
    scope = "deps-dev" if package in ("ruff", "pytest") else "deps"
    title = f"build({scope}): bump {package} from {old} to {new}"
    body = (
        f"Bumps [{package}]({url}) from {old} to {new}.\n<details>\n<summary>Release notes</summary>\n"
        f'<p><em>Sourced from <a href="{url}/releases">{package}\'s releases</a>.</em></p>\n</details>\n\n'
        "Dependabot will resolve any conflicts with this PR as long as you don't alter it yourself."
    )
    labels = ["dependencies", "python" if ecosystem == "pip" else "github_actions"]
    b = _open_pull(ctx, plan, title, body, labels, f"dependabot/{ecosystem}/{package.replace('/', '-')}-{new}")
    if ecosystem == "pip":
        b.pr.files = [_change(rng, "pyproject.toml", "modified", 2), _change(rng, "uv.lock", "modified", 24)]
    else:
        b.pr.files = [_change(rng, ".github/workflows/ci.yml", "modified", 2)]
    b.commit(plan.created_at - timedelta(seconds=rng.uniform(20, 90)), title)
    return _finish_dependabot(b)


def _finish_dependabot(b: _Pull) -> _Pull:
    rng = b.rng
    ctx, created = b.ctx, b.pr.created_at
    humans = [e for e in TEAM if e.user is not None and e.is_active(ctx.frac(created))]
    owner = rng.choices(humans, weights=[e.review_weight for e in humans])[0]
    t = created
    if rng.random() < 0.15:
        t = _work_delay(rng, created, owner, 4)
        b.comment(owner.user, "@dependabot rebase", t)
        t += _minutes(rng, 1, 4)
        _force_push(b, t)
    ci_done = _check_runs_for(b, flaky=0.05)
    _coverage_comment(b, ci_done)
    if rng.random() < 0.1:  # a newer release came out first
        _close(
            b,
            DEPENDABOT,
            _work_delay(rng, ci_done, owner, 60),
            "Looks like this is up-to-date now, so this is no longer needed.",
        )
        return b
    roll = rng.random()
    if roll < 0.55:
        t = max(t, created) + _minutes(rng, 1, 3)
        b.review(GITHUB_ACTIONS, "APPROVED", "Auto-approved: patch/minor dependency update.", t)
    elif roll < 0.9:
        t = _work_delay(rng, max(t, created), owner, 3)
        b.review(owner.user, "APPROVED", "", t)
    merged = max(t, ci_done) + timedelta(seconds=rng.uniform(15, 90))
    _merge(b, owner.user, merged)
    return b


_BUILDERS = {
    "feature": _feature,
    "refactor": _refactor,
    "long_branch": _long_branch,
    "abandoned": _abandoned,
    "open": _open,
    "open_draft": _open,
    "dependabot": _dependabot,
}


# --------------------------------------------------------------------------- the repository


def _renumber(
    items: list[Review] | list[ReviewComment] | list[IssueComment] | list[TimelineEvent],
) -> dict[int, int]:
    """Hand the ids of ``items`` (already in time order) out again in increasing order, as
    GitHub's ids grow with time; returns old id -> new id."""
    mapping = dict(zip([i.id for i in items], sorted(i.id for i in items), strict=True))
    for item in items:
        item.id = mapping[item.id]
    return mapping


def _finalize(b: _Pull) -> PullRequest:
    """Order child rows the way GitHub lists them, with ids growing with time, and set updated_at."""
    pr = b.pr
    pr.reviews.sort(key=lambda r: (r.submitted_at is None, r.submitted_at or pr.created_at, r.id))
    pr.review_comments.sort(key=lambda c: (c.created_at, c.in_reply_to_id is not None, c.id))
    pr.issue_comments.sort(key=lambda c: (c.created_at, c.id))
    pr.events.sort(key=lambda e: (e.created_at, e.id))
    reviews = _renumber(pr.reviews)
    comments = _renumber(pr.review_comments)
    for c in pr.review_comments:
        c.pull_request_review_id = reviews[c.pull_request_review_id] if c.pull_request_review_id else None
        c.in_reply_to_id = comments[c.in_reply_to_id] if c.in_reply_to_id else None
    _renumber(pr.issue_comments)
    _renumber(pr.events)
    pr.updated_at = b.latest()
    return pr


def _fit_into_period(pr: PullRequest, end: datetime) -> None:
    """A PR whose activity runs past ``end`` moves back by whole weeks (keeping weekdays)."""
    overflow = max(_datetimes(pr)) - end
    if overflow > timedelta(0):
        weeks = math.ceil(overflow / timedelta(weeks=1))
        _shift_pull(pr, -timedelta(weeks=weeks))


def _post_merge_chatter(ctx: _Ctx, pr: PullRequest) -> None:
    """Some merged PRs get a comment afterwards, so updated_at moves past merged_at."""
    rng = ctx.rng
    if pr.merged_at is None or rng.random() >= 0.1:
        return
    who = rng.choice([e for e in TEAM if e.is_active(ctx.frac(pr.merged_at))])
    at = _work_delay(rng, pr.merged_at, who, 30)
    if at >= ctx.end:
        return
    body = rng.choice(_POST_MERGE)
    pr.issue_comments.append(IssueComment(ctx.next_id("issue_comment"), who.user, body, at, at))
    pr.updated_at = max(pr.updated_at, at)


def _number(ctx: _Ctx, pulls: list[PullRequest]) -> None:
    """Numbers increase with created_at; issues share the sequence, so there are gaps."""
    pulls.sort(key=lambda pr: pr.created_at)
    number = ctx.rng.randint(40, 260)
    for pr in pulls:
        number += 1 if ctx.rng.random() < 0.7 else ctx.rng.randint(2, 4)
        pr.number = number


def generate_repository(
    seed: int = 7,
    n_prs: int = 180,
    owner: str = "acme",
    name: str = "rocket",
    end: datetime = DEFAULT_END,
    months: int = 6,
) -> Repository:
    """A realistic sample repository: ``n_prs`` pull requests (~93% merged, a few closed
    without merging, two still open) over ``months`` months ending at ``end``."""
    start = end - timedelta(days=round(months * 30.44))
    ctx = _Ctx(random.Random(seed), seed, owner, name, start, end)
    pulls = []
    for plan in _plan_pulls(ctx, n_prs):
        pr = _finalize(_BUILDERS[plan.kind](ctx, plan))
        _fit_into_period(pr, end)
        _post_merge_chatter(ctx, pr)
        pulls.append(pr)
    _number(ctx, pulls)
    repo = Repository(owner, name, id=600_000_000 + seed % 100_000_000)
    for pr in pulls:
        repo.add_pull(pr)
    return repo


def generate_bulk(seed: int = 11, n_prs: int = 2000, owner: str = "acme", name: str = "monorepo") -> Repository:
    """A bigger repository for benchmarks: the same mix over a proportionally longer period."""
    return generate_repository(seed, n_prs, owner, name, DEFAULT_END, months=max(6, round(6 * n_prs / 180)))
