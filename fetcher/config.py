"""Every setting of the fetcher and the dashboard, read from the environment here and nowhere else
(the GitHub Actions way): ``VARIABLES`` declares them, ``Environment.from_environ`` reads those once
into a frozen, typed object, and ``resolve`` is the one rule for a setting that is also an option
(the option wins, else the variable; a DB-stored setting neither sets keeps the DB's value).

The docs' settings table lists exactly ``VARIABLES`` (tests/test_docs.py); no other module reads
``os.environ`` (tests/test_docs.py too). The dashboard also takes its settings as root-level keys
of ``secrets.toml``; ``dashboard/auth.py`` is the one reader of ``st.secrets`` (its ``[auth]``
section, and a login setting the environment does not have).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from fetcher.errors import UsageError

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_DB = "mergelens.duckdb"
DEFAULT_REFRESH_S = 300.0  # MERGELENS_REFRESH_SECONDS unset or unusable

T = TypeVar("T")

# Every environment variable mergelens reads (the docs' settings table lists exactly these).
VARIABLES = (
    # GitHub and the credentials that read it
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "MERGELENS_APP_ID",
    "MERGELENS_APP_PRIVATE_KEY",
    "MERGELENS_APP_PRIVATE_KEY_FILE",
    "GITHUB_API_URL",
    "GITHUB_SERVER_URL",
    # where the DB lives
    "MERGELENS_DB",
    "MERGELENS_LAKE_DATA_PATH",
    "MERGELENS_PYTHON",
    "MERGELENS_LAKE_PYTHON",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
    "MERGELENS_ARTIFACT_BRANCHES",
    "MERGELENS_ARTIFACT_WORKFLOWS",
    "MERGELENS_ARTIFACT_KEEP",
    # what a run stores and publishes
    "MERGELENS_BOTS",
    "MERGELENS_WORK_CALENDAR",
    "MERGELENS_STORE_PATCHES",
    "MERGELENS_DIGEST_WEBHOOK",
    "MERGELENS_DIGEST_ISSUE",
    "MERGELENS_MISSED_AFTER_HOURS",
    "MERGELENS_DIGEST_WEBHOOK_ALERTS",
    "SENTRY_DSN",
    # set by GitHub Actions
    "GITHUB_REPOSITORY",
    "GITHUB_REPOSITORY_ID",
    "GITHUB_EVENT_NAME",
    "GITHUB_EVENT_PATH",
    "GITHUB_RUN_ID",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_OUTPUT",
    "GITHUB_ACTIONS",
    "RUNNER_TEMP",
    # the dashboard
    "MERGELENS_ALLOWED_USERS",
    "MERGELENS_PUBLIC",
    "MERGELENS_AGREEMENTS",
    "MERGELENS_CACHE_DIR",
    "MERGELENS_REFRESH_SECONDS",
)


@dataclass(frozen=True)
class S3Settings:
    """The usual AWS_* variables. The secrets never appear in a repr, a log line or an error."""

    endpoint_url: str | None = None  # AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (MinIO, moto, R2, ...)
    region: str | None = None  # AWS_REGION or AWS_DEFAULT_REGION
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Environment:
    token: str | None
    api_url: str
    event_name: str | None
    event_path: str | None
    repository: str | None
    db: str
    step_summary: str | None
    output: str | None
    run_id: str | None
    runner_temp: str | None = None  # RUNNER_TEMP: where the artifact store leaves the DB to upload
    in_actions: bool = False  # GITHUB_ACTIONS=true: print annotations
    server_url: str = "https://github.com"  # GITHUB_SERVER_URL, for links in the step summary
    sentry_dsn: str | None = None  # SENTRY_DSN: report permanent failures to Sentry
    # Which artifacts the artifact store trusts (fetcher/storage/trust.py):
    repository_id: int | None = None  # GITHUB_REPOSITORY_ID: only this repository's own runs
    artifact_branches: tuple[str, ...] = ()  # MERGELENS_ARTIFACT_BRANCHES (comma-separated); () = default branch
    artifact_keep: str | None = None  # MERGELENS_ARTIFACT_KEEP: prune-artifacts' --keep (validated by the CLI)
    # MERGELENS_ARTIFACT_WORKFLOWS (comma-separated workflow paths); () = .github/workflows/mergelens.yml
    artifact_workflows: tuple[str, ...] = ()
    store_patches: bool = False  # MERGELENS_STORE_PATCHES=1: as --patches (pr_files.patch)
    bots: str | None = None  # MERGELENS_BOTS: extra bot logins, comma-separated (unset or empty: keep the DB's)
    # open-prs' daily digest (fetcher/publish/digest.py): a Slack-compatible incoming webhook (a secret:
    # never printed, not in a repr either) and an issue to comment on
    digest_webhook: str | None = field(default=None, repr=False)
    digest_issue: str | None = None
    # --check-merge-runs (fetcher/compute/merge_runs.py): a merged PR no merge run stored within this many
    # hours is missed (unset: 6); and =1: post the notice to the digest's webhook too
    missed_after_hours: str | None = None  # MERGELENS_MISSED_AFTER_HOURS
    digest_webhook_alerts: bool = False  # MERGELENS_DIGEST_WEBHOOK_ALERTS=1
    # A DuckLake (--db ducklake:...): where its Parquet files go, and the S3 settings DuckDB uses
    # for an s3:// data path (boto3 reads the same AWS_* variables itself for s3:// DB files).
    lake_data_path: str | None = None  # MERGELENS_LAKE_DATA_PATH: a directory or s3://BUCKET/PREFIX/
    s3: S3Settings = field(default_factory=lambda: S3Settings())
    work_calendar: str | None = None  # MERGELENS_WORK_CALENDAR: working hours (unset or empty: keep the DB's)
    # A GitHub App instead of the token (fetcher/collect/credentials.py): its id and private key (PEM
    # text, or a file holding it). The key is a secret: no repr.
    app_id: str | None = None  # MERGELENS_APP_ID
    app_private_key: str | None = field(default=None, repr=False)  # MERGELENS_APP_PRIVATE_KEY
    app_private_key_file: str | None = None  # MERGELENS_APP_PRIVATE_KEY_FILE
    # `copy` between a DB file and a lake runs the other side in the other line's interpreter
    # (fetcher/storage/lake/copy.py); unset: the repository's .venv / .venv-lake
    python: str | None = None  # MERGELENS_PYTHON
    lake_python: str | None = None  # MERGELENS_LAKE_PYTHON
    # The dashboard. Its login settings are as set (None: unset, then secrets.toml's are used;
    # "" is set): MERGELENS_ALLOWED_USERS is parsed by dashboard/auth.py, MERGELENS_PUBLIC is
    # true for 1, true or yes.
    allowed_users: str | None = None  # MERGELENS_ALLOWED_USERS
    public: bool | None = None  # MERGELENS_PUBLIC
    agreements: str | None = None  # MERGELENS_AGREEMENTS: parsed by dashboard/agreements.py (bad: the defaults)
    cache_dir: str | None = None  # MERGELENS_CACHE_DIR: a remote DB's local copy (unset: the temp directory's)
    refresh_seconds: float = DEFAULT_REFRESH_S  # MERGELENS_REFRESH_SECONDS: >= 0, anything else the default

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Environment:
        """The settings of ``environ`` (default: this process's environment), read once."""
        given = os.environ if environ is None else environ
        env = {name: value for name in VARIABLES if (value := given.get(name)) is not None}  # the declared only
        return cls(
            token=env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None,
            api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            event_name=env.get("GITHUB_EVENT_NAME") or None,
            event_path=env.get("GITHUB_EVENT_PATH") or None,
            repository=env.get("GITHUB_REPOSITORY") or None,
            db=env.get("MERGELENS_DB") or DEFAULT_DB,
            step_summary=env.get("GITHUB_STEP_SUMMARY") or None,
            output=env.get("GITHUB_OUTPUT") or None,
            run_id=env.get("GITHUB_RUN_ID") or None,
            runner_temp=env.get("RUNNER_TEMP") or None,
            in_actions=env.get("GITHUB_ACTIONS") == "true",
            server_url=(env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
            sentry_dsn=env.get("SENTRY_DSN") or None,
            repository_id=positive_id(env.get("GITHUB_REPOSITORY_ID")),
            artifact_branches=_names(env.get("MERGELENS_ARTIFACT_BRANCHES")),
            artifact_workflows=_names(env.get("MERGELENS_ARTIFACT_WORKFLOWS")),
            artifact_keep=env.get("MERGELENS_ARTIFACT_KEEP", "").strip() or None,
            store_patches=env.get("MERGELENS_STORE_PATCHES", "").strip() == "1",
            bots=env.get("MERGELENS_BOTS", "").strip() or None,
            digest_webhook=env.get("MERGELENS_DIGEST_WEBHOOK", "").strip() or None,
            digest_issue=env.get("MERGELENS_DIGEST_ISSUE", "").strip() or None,
            missed_after_hours=env.get("MERGELENS_MISSED_AFTER_HOURS", "").strip() or None,
            digest_webhook_alerts=env.get("MERGELENS_DIGEST_WEBHOOK_ALERTS", "").strip() == "1",
            lake_data_path=env.get("MERGELENS_LAKE_DATA_PATH") or None,
            s3=S3Settings(
                endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
                region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
                access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
                secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
                session_token=env.get("AWS_SESSION_TOKEN") or None,
            ),
            work_calendar=env.get("MERGELENS_WORK_CALENDAR", "").strip() or None,
            app_id=env.get("MERGELENS_APP_ID", "").strip() or None,
            app_private_key=env.get("MERGELENS_APP_PRIVATE_KEY", "").strip() or None,
            app_private_key_file=env.get("MERGELENS_APP_PRIVATE_KEY_FILE", "").strip() or None,
            python=env.get("MERGELENS_PYTHON") or None,
            lake_python=env.get("MERGELENS_LAKE_PYTHON") or None,
            allowed_users=env.get("MERGELENS_ALLOWED_USERS"),
            public=None if (public := env.get("MERGELENS_PUBLIC")) is None else truthy(public),
            agreements=env.get("MERGELENS_AGREEMENTS", "").strip() or None,
            cache_dir=env.get("MERGELENS_CACHE_DIR") or None,
            refresh_seconds=seconds(env.get("MERGELENS_REFRESH_SECONDS"), DEFAULT_REFRESH_S),
        )

    def check(self) -> None:
        """Raise UsageError for a setting no run can use, before any request and before the DB is
        touched (each would otherwise end in a traceback, some after the DB was stored): a GitHub
        URL that is not http(s) with a host, a SENTRY_DSN sentry-sdk refuses, a step summary or
        output file that cannot be written."""
        for name, url in (("GITHUB_API_URL", self.api_url), ("GITHUB_SERVER_URL", self.server_url)):
            if "@" in url:  # a user name or password in it: never printed
                raise UsageError(f"{name} holds a user name or password: give the bare URL (the token: GITHUB_TOKEN)")
            if not is_http_url(url):
                raise UsageError(f"{name} is not an http(s) URL with a host: {url[:100]!r}")
        if self.sentry_dsn is not None:
            from sentry_sdk.utils import BadDsn, Dsn  # only when set: most runs have none

            try:
                Dsn(self.sentry_dsn)
            except (BadDsn, ValueError):
                raise UsageError("SENTRY_DSN is not a Sentry DSN (https://KEY@HOST/PROJECT; not printed)") from None
        for name, path in (("GITHUB_STEP_SUMMARY", self.step_summary), ("GITHUB_OUTPUT", self.output)):
            try:
                if path is not None:
                    open(path, "a", encoding="utf-8").close()  # what the runner creates; a run appends to it
            except OSError as exc:
                raise UsageError(f"{name} cannot be written: {path}: {exc.strerror}") from None


def resolve(option: str | None, variable: str | None, parse: Callable[[str], T], names: str) -> T | None:
    """A setting that is both an option and a variable (``--bots`` / MERGELENS_BOTS): the option,
    else the variable, parsed; a value ``parse`` refuses (ValueError) is a usage error naming both.
    None when neither is set: a setting stored in the DB (the bots, the work calendar) keeps the
    DB's value."""
    text = option if option is not None else variable
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise UsageError(f"{names}: {exc}") from None


def truthy(value: str | None) -> bool:
    """A yes of the dashboard's settings: 1, true or yes (any case)."""
    return (value or "").strip().lower() in ("1", "true", "yes")


def seconds(text: str | None, default: float) -> float:
    """A number of seconds >= 0; anything else (unset, no number, negative, NaN) is ``default``."""
    try:
        value = float(text or "")
    except ValueError:
        return default
    return value if value >= 0 and not math.isnan(value) else default


def is_http_url(url: str) -> bool:
    """http:// or https://, a host, a valid port, nothing a URL cannot hold (spaces, controls)."""
    if not url.isprintable() or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number or out of range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _names(text: str | None) -> tuple[str, ...]:
    """A comma-separated list, each name once, blanks dropped."""
    return tuple(dict.fromkeys(name.strip() for name in (text or "").split(",") if name.strip()))


def positive_id(text: str | None) -> int | None:
    """A GitHub id (a positive int64) from the environment; None for anything else. Checked before
    int(), which refuses strings of over 4,300 digits with a ValueError."""
    value = (text or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 19 and 0 < int(value) < 2**63 else None
