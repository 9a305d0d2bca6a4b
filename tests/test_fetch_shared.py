"""scripts/fetch_shared.py: rebuilds ../shared from a fake upstream on loopback, byte for byte.

The fake upstream is laid out like raw.githubusercontent.com (OWNER/REPO/COMMIT/PATH) and made
from ../shared itself, in the upstream formats: DevLake's raw CSV tables, PyGithub's ReplayData
records, github3.py's Betamax cassettes (base64 of gzip), the webhook and schema files. The
script's extraction must turn them back into exactly the pinned files.
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scripts import fetch_shared as fs
from tests.conftest import REALDATA, SAMPLES, SHARED, shared_data
from tests.support.fake_github.graphql import SCHEMA_PATH
from tests.support.realdata import load_ants, load_pygithub

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "fetch_shared.py"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _put(upstream: Path, source: tuple[str, str], path: str, text: str) -> None:
    target = upstream / source[0] / source[1] / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _replay(records: list[tuple[str, Any]]) -> str:
    """A PyGithub ReplayData file: 10 lines a record, then a blank line."""
    lines: list[str] = []
    for path, body in records:
        lines += ["https", "GET", "api.github.com", "None", path, "{}", "None", "200", "[]", json.dumps(body), ""]
    return "\n".join(lines)


def _cassette(uri: str, body: Any) -> str:
    encoded = base64.b64encode(gzip.compress(json.dumps(body).encode())).decode()
    return json.dumps(
        {"http_interactions": [{"request": {"uri": uri}, "response": {"body": {"base64_string": encoded}}}]}
    )


def _devlake_table(rows: list[dict[str, Any]], how: str) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["id", "params", "data", "url", "input"])
    writer.writeheader()
    for row in rows:
        params = '{"ConnectionId":1,"Name":"panjf2000/ants"}'
        given = json.dumps({"Number": row["number"]}) if how == "input" else "null"
        writer.writerow(
            {"id": row["raw_id"], "params": params, "data": json.dumps(row["data"]), "url": row["url"], "input": given}
        )
    return out.getvalue()


def build_upstream(upstream: Path) -> None:
    samples = shared_data(SAMPLES)
    ants = shared_data(REALDATA / "devlake-ants")
    prs = _json(shared_data(REALDATA / "pygithub-replay" / "prs.json"))["pulls"]
    pr31, pr3370 = prs["31"], prs["3370"]
    hooks = "payload-examples/api.github.com"
    _put(upstream, fs.SCHEMA, "schema.graphql", (samples / "github-schema.graphql").read_text(encoding="utf-8"))
    _put(
        upstream,
        fs.WEBHOOKS,
        f"{hooks}/pull_request/closed.payload.json",
        (samples / "webhook_pull_request_closed_unmerged.json").read_text(),
    )
    _put(
        upstream,
        fs.WEBHOOKS,
        f"{hooks}/workflow_dispatch/payload.json",
        (samples / "webhook_workflow_dispatch.json").read_text(),
    )
    _put(
        upstream,
        fs.ISSUE_BRANCH,
        "test/fixtures/pull_request.closed.json",
        (samples / "webhook_pull_request_closed_merged.json").read_text(),
    )
    g3 = "https://api.github.com/repos/sigmavirus24/github3.py/pulls"
    _put(
        upstream,
        fs.GITHUB3,
        "tests/cassettes/PullRequest_files.json",
        _cassette(f"{g3}/235/files?per_page=100", _json(samples / "pull_files.json")),
    )
    _put(
        upstream,
        fs.GITHUB3,
        "tests/cassettes/PullRequest_pull_reviews.json",
        _cassette(f"{g3}/671/reviews?per_page=100", _json(samples / "pull_reviews.json")),
    )
    check_runs = f"{fs.PR}/commits/6bc9ecc8c849df4e45e60c1e6a5df8876180a20a/check-runs"
    _put(
        upstream,
        fs.PYGITHUB_CHECK_RUNS,
        fs.REPLAY + "CheckRun.testGetCheckRunsForRef.txt",
        _replay([(check_runs, _json(samples / "check_runs.json"))]),
    )
    replays: dict[str, list[tuple[str, Any]]] = {
        fs.FILES_3370: [
            (f"{fs.PR}/pulls/3370", pr3370["pr"]),
            (f"{fs.PR}/pulls/3370/commits?per_page=2", pr3370["commits"]),
            (f"{fs.PR}/commits/{fs.SHA_3370}?page=1&per_page=2", {"files": pr3370["files"][:2]}),
            (f"/repositories/3544490/commits/{fs.SHA_3370}?page=2&per_page=2", {"files": pr3370["files"][2:]}),
        ],
        "CompletableGithubObjectWithPaginatedProperty.testPullCommitsFilesDefault.txt": [
            (f"{fs.PR}/pulls/3370/commits", _json(samples / "pull_commits.json"))
        ],
        "PullRequestReview.testAttributes.txt": [
            (f"{fs.PR}/pulls/538/reviews", _json(samples / "pull_reviews_with_approval.json"))
        ],
        "PullRequest.testGetReviewComments.txt": [(fs.REVIEW_COMMENTS_31, pr31["review_comments"])],
        "PaginatedList.testCustomPerPageReversedIterationSinglePage.txt": [
            (f"{fs.PR}/issues/3372/comments?per_page=4", _json(samples / "issue_comments.json"))
        ],
        "PullRequest.testGetIssueTimeline.txt": [(f"{fs.PR}/issues/31/timeline", pr31["timeline"])],
        "PullRequest.setUp.txt": [(f"{fs.PR}/pulls/31", pr31["pr"])],
        "PullRequest.testGetCommits.txt": [(f"{fs.PR}/pulls/31/commits", pr31["commits"])],
        "PullRequest.testGetFiles.txt": [(f"{fs.PR}/pulls/31/files", pr31["files"])],
        "PullRequest.testGetIssueComments.txt": [(f"{fs.PR}/issues/31/comments", pr31["issue_comments"])],
    }
    for name, records in replays.items():
        _put(upstream, fs.PYGITHUB, fs.REPLAY + name, _replay(records))
    for out, (table, how) in fs.DEVLAKE_RAW.items():
        rows = [json.loads(line) for line in (ants / out).read_text(encoding="utf-8").splitlines()]
        _put(upstream, fs.DEVLAKE, f"{fs.E2E}/raw_tables/{table}", _devlake_table(rows, how))
    for table in fs.DEVLAKE_SNAPSHOTS:
        target = upstream / fs.DEVLAKE[0] / fs.DEVLAKE[1] / fs.E2E / "snapshot_tables" / table
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ants / "snapshot" / table).read_bytes())


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A fake raw.githubusercontent.com on loopback, serving tmp_path/upstream."""
    root = tmp_path / "upstream"
    build_upstream(root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_default_destination_is_where_the_tests_look():
    assert fs.DEFAULT_DEST == SHARED


def test_a_good_fetch_lays_out_what_the_tests_read(upstream: tuple[Path, str], tmp_path: Path) -> None:
    dest = tmp_path / "shared"
    result = run("--dest", str(dest), "--base-url", upstream[1])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    laid_out = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert laid_out == sorted(fs.SHA256)
    for path in laid_out:  # byte for byte what ../shared holds
        assert (dest / path).read_bytes() == (SHARED / path).read_bytes(), path
    # where tests/conftest.py and the fake GitHub look for them, relative to ../shared
    assert (dest / SCHEMA_PATH.relative_to(SHARED)).is_file()
    assert (dest / SAMPLES.relative_to(SHARED) / "pull.json").is_file()
    ants = load_ants(dest / REALDATA.relative_to(SHARED) / "devlake-ants")
    pygithub = load_pygithub(dest / REALDATA.relative_to(SHARED) / "pygithub-replay")
    assert ants == load_ants(REALDATA / "devlake-ants")
    assert pygithub == load_pygithub(REALDATA / "pygithub-replay")
    # a second run leaves what is there alone
    again = run("--dest", str(dest), "--base-url", "http://127.0.0.1:9")
    assert again.returncode == 0
    assert "nothing fetched" in again.stdout


def test_a_tampered_file_is_refused_in_one_line(upstream: tuple[Path, str], tmp_path: Path) -> None:
    schema = upstream[0] / fs.SCHEMA[0] / fs.SCHEMA[1] / "schema.graphql"
    schema.write_text(schema.read_text(encoding="utf-8") + "\n# planted\n", encoding="utf-8")
    dest = tmp_path / "shared"
    result = run("--dest", str(dest), "--base-url", upstream[1])
    assert result.returncode == 1
    assert result.stderr.startswith("mergelens: error: fetch_shared: github-samples/github-schema.graphql: SHA-256 ")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".shared-")] == []


def test_a_missing_upstream_file_fails_in_one_line(upstream: tuple[Path, str], tmp_path: Path) -> None:
    (upstream[0] / fs.SCHEMA[0] / fs.SCHEMA[1] / "schema.graphql").unlink()
    dest = tmp_path / "shared"
    result = run("--dest", str(dest), "--base-url", upstream[1])
    assert result.returncode == 1
    assert result.stderr.startswith("mergelens: error: fetch_shared: cannot download http://127.0.0.1:")
    assert len(result.stderr.splitlines()) == 1
    assert not dest.exists()
