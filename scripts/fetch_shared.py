"""Fetch the tests' recorded GitHub data into ../shared when it is absent (the project's own CI).

    python3 scripts/fetch_shared.py [--dest DIR] [--base-url URL]

The tests read real GitHub payloads from ``../shared`` beside the checkout (tests/conftest.py
SHARED): GitHub's GraphQL schema and sample payloads (``github-samples/``) and two recordings
(``realdata/devlake-ants``, ``realdata/pygithub-replay``). None of it is in this repository (other
projects' files under their own licences). This script rebuilds it from the upstream repositories
at pinned commits, with the same extraction the recordings' READMEs describe (their
``extract.py``), and checks every file's SHA-256 before laying anything out: one wrong byte and
nothing is written. ``--base-url`` replaces https://raw.githubusercontent.com (files are read as
``BASE/OWNER/REPO/COMMIT/PATH``); the tests serve a fake upstream on loopback through it.

Plain stdlib: it runs before any virtualenv exists. Exit codes: 0 laid out (or already there),
1 failed (a download or a checksum), 2 usage.
"""

from __future__ import annotations

import argparse
import base64
import csv
import functools
import gzip
import hashlib
import io
import json
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

RAW_GITHUB = "https://raw.githubusercontent.com"
DEFAULT_DEST = Path(__file__).resolve().parents[2] / "shared"  # tests/conftest.py SHARED

SCHEMA = ("octokit/graphql-schema", "82ff2d4780080e6929ebb95608cefa22dfa05ac7")
WEBHOOKS = ("octokit/webhooks", "3a58428aa5c399cf5aa12c8663aea1fb1f515254")
ISSUE_BRANCH = ("robvanderleek/create-issue-branch", "e7fb4da7cf3ba869b25ff78b84238c2a4c8996e4")
PYGITHUB = ("PyGithub/PyGithub", "5cdf6ab395c52efb652d0bc1f28fdf2e452b1b41")
# PyGithub's check runs: the original 2020 recording; later versions of the file were hand-edited
PYGITHUB_CHECK_RUNS = ("PyGithub/PyGithub", "c77c06760eb2634bffba2cc762a93202fda5bcb4")
GITHUB3 = ("sigmavirus24/github3.py", "9eeac0ddb241bf3099a6c904411e3aa23b62fd0d")
DEVLAKE = ("apache/incubator-devlake", "420e494b4ede9a16c4bfb59de099c797bcd7f5f1")

# Every file the tests read, as ../shared held it when this list was made (November 2026).
PINNED = {
    "github-samples": {
        "check_runs.json": "2aca3b7caa005c29c9e106a1372893b03280bd58112c4872a77d16d9258d3d0e",
        "github-schema.graphql": "3c62d0526d133cee53221c89de9b455ade24db78b9e7ad56d642c4c15bce2654",
        "issue_comments.json": "617e624361d9d6ed0e0c477a0f7738e08ab5f6674c58c47ef2ab229dec567f4d",
        "pull.json": "d1cd1cdbfc0a4fd3c2c711f5b12451667d00e4730abec6a47faf4eeae188eba1",
        "pull_commits.json": "ee9943e6afddb8371a7855c0c69553ffced67c753a1c735957a740a338366132",
        "pull_files.json": "9b5f20aaac19c6ec1297980ba6a9dd85d3e15a8cd7da1382510a00865959778a",
        "pull_review_comments.json": "03391f03c25a43c0558e1d1e7150cd4202ed84408f98d2f912aa8ef5a8f5db65",
        "pull_reviews.json": "835ae3799d48012958ab5fb356c01a40c818f07980d321bb077b065acd4c8c49",
        "pull_reviews_with_approval.json": "618083564239cb8b7ca6f5d3b78c0c8c28c0cf850f461ef47395937e52bbc7b0",
        "webhook_pull_request_closed_merged.json": "66301500a622f62d14f00aeff7982e1d3edc0cbdd7c47ddb4403ebb6f33c7d18",
        "webhook_pull_request_closed_unmerged.json": "1c8d595665f16d52287371a03258e0f0437dab0680420af4a66493fa1f69a489",
        "webhook_workflow_dispatch.json": "3dae5527df952fd58f4d5c89904a389d3ec5e045db2dcc4ddf2ff1609bd9e21d",
    },
    "realdata/devlake-ants": {
        "issue_comments.jsonl": "16d6108a724cbb9357fba8efbd4eca76f00c6a2f9a5088279bd45c9636147698",
        "issue_events.jsonl": "0b9a59005f23d5818497c0420b74adb38f14c76d7675a2377a123913c2292b8e",
        "pull_commits.jsonl": "9378cc33a09bc7e5d40506bceecf7e912c9fce09785ff1e66ff65b924991a0d3",
        "pull_review_comments.jsonl": "a133057e9f55a18da9da55e8b35ef3a6c06637afb3d0089b14b2de140a78255f",
        "pull_reviews.jsonl": "06837618ad016d302464ef127a608aca77fc2abbe9ba8ac4c94240b4659df27b",
        "pulls.jsonl": "fd7d0d96ad0886bea36b6fe4063fc548384fd133f0c4369eaa42c50076e0249d",
    },
    "realdata/devlake-ants/snapshot": {
        "_tool_github_commits.csv": "391efb2c333b703faafd048cad9aeb0ba8520f0df45c051c8368e4579c53bb8f",
        "_tool_github_issue_events.csv": "261211cd7e963dc7293289fba7612ac9635a9e72b784a52dcad567d848b7ce87",
        "_tool_github_pull_request_comments.csv": "39088fb779c38856047f59eff72e0efbce383a35a5e6cb67c7e2ee646286ac35",
        "_tool_github_pull_request_commits.csv": "c342dbfe98c5436144e1fb89da91e646ba176e537e12adeaf87fdb012fc180ad",
        "_tool_github_pull_request_reviews.csv": "9417e770fd6d42b87590a3fe330021f9a35836cbea7310c74db01c3891f4a41d",
        "_tool_github_pull_requests.csv": "8f20576b4f6a8b9ef8bb997dabcdb474d8953b5ae06f913d32300cae0205b84f",
    },
    "realdata/pygithub-replay": {
        "prs.json": "6d533d91222c6bd1ea475aba06726408f917308bbe6d19956e638f33b0284db5",
    },
}
SHA256 = {f"{folder}/{name}": digest for folder, files in PINNED.items() for name, digest in files.items()}


Read = Callable[[tuple[str, str], str], str]
REPLAY = "tests/ReplayData/"
PR = "/repos/PyGithub/PyGithub"


class FetchError(Exception):
    """One line for the user: what failed and where."""


def raw_reader(base_url: str) -> Read:
    """Reads BASE/OWNER/REPO/COMMIT/PATH as text, the way the READMEs' ``git show`` did (UTF-8,
    universal newlines), so the rebuilt files match byte for byte. Each file is downloaded once."""

    @functools.cache
    def read(source: tuple[str, str], path: str) -> str:
        url = f"{base_url.rstrip('/')}/{source[0]}/{source[1]}/{path}"
        try:
            with urllib.request.urlopen(url, timeout=60) as answer:
                data = answer.read()
        except (urllib.error.URLError, OSError) as exc:
            raise FetchError(f"cannot download {url}: {exc}") from None
        return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None).read()

    return read


def replay_body(read: Read, source: tuple[str, str], name: str, path: str) -> Any:
    """The first recorded ``GET path`` in a PyGithub ReplayData file: each record is 10 lines
    (protocol, verb, host, port, path, request headers, request body, status, response headers,
    response body) and a blank line."""
    lines = read(source, REPLAY + name).split("\n")
    for i in range(len(lines) - 9):
        if lines[i] in ("http", "https") and lines[i + 1] == "GET" and lines[i + 4] == path:
            return json.loads(lines[i + 9])
    raise FetchError(f"{source[0]}@{source[1]}:{REPLAY}{name} has no GET {path}")


def cassette_body(read: Read, name: str, uri: str) -> Any:
    """A github3.py Betamax cassette's response body for ``uri`` (base64 of a gzipped body)."""
    cassette = json.loads(read(GITHUB3, f"tests/cassettes/{name}"))
    for interaction in cassette["http_interactions"]:
        if interaction["request"]["uri"] == uri:
            return json.loads(gzip.decompress(base64.b64decode(interaction["response"]["body"]["base64_string"])))
    raise FetchError(f"{GITHUB3[0]}@{GITHUB3[1]}:tests/cassettes/{name} has no {uri}")


def pretty(payload: Any) -> str:
    """github-samples/README.md: pretty-printed, 2-space indent, key order kept, lists cut to 5."""
    if isinstance(payload, list):
        payload = payload[:5]
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def samples(read: Read) -> dict[str, str]:
    """github-samples/: GitHub's schema verbatim, the payloads as its README's table says."""
    check_ref = f"{PR}/commits/6bc9ecc8c849df4e45e60c1e6a5df8876180a20a/check-runs"
    g3 = "https://api.github.com/repos/sigmavirus24/github3.py/pulls"
    hooks = "payload-examples/api.github.com"
    files = {
        "github-schema.graphql": read(SCHEMA, "schema.graphql"),
        "webhook_pull_request_closed_merged.json": pretty(
            json.loads(read(ISSUE_BRANCH, "test/fixtures/pull_request.closed.json"))
        ),
        "webhook_pull_request_closed_unmerged.json": pretty(
            json.loads(read(WEBHOOKS, f"{hooks}/pull_request/closed.payload.json"))
        ),
        "webhook_workflow_dispatch.json": pretty(json.loads(read(WEBHOOKS, f"{hooks}/workflow_dispatch/payload.json"))),
        "pull_files.json": pretty(cassette_body(read, "PullRequest_files.json", f"{g3}/235/files?per_page=100")),
        "pull_reviews.json": pretty(
            cassette_body(read, "PullRequest_pull_reviews.json", f"{g3}/671/reviews?per_page=100")
        ),
        "check_runs.json": pretty(
            replay_body(read, PYGITHUB_CHECK_RUNS, "CheckRun.testGetCheckRunsForRef.txt", check_ref)
        ),
    }
    replays = {
        "pull.json": ("CompletableGithubObjectWithPaginatedProperty.testPullCommitsFiles.txt", f"{PR}/pulls/3370"),
        "pull_commits.json": (
            "CompletableGithubObjectWithPaginatedProperty.testPullCommitsFilesDefault.txt",
            f"{PR}/pulls/3370/commits",
        ),
        "pull_reviews_with_approval.json": ("PullRequestReview.testAttributes.txt", f"{PR}/pulls/538/reviews"),
        "pull_review_comments.json": ("PullRequest.testGetReviewComments.txt", REVIEW_COMMENTS_31),
        "issue_comments.json": (
            "PaginatedList.testCustomPerPageReversedIterationSinglePage.txt",
            f"{PR}/issues/3372/comments?per_page=4",
        ),
    }
    for out, (name, path) in replays.items():
        files[out] = pretty(replay_body(read, PYGITHUB, name, path))
    return {f"github-samples/{name}": text for name, text in files.items()}


REVIEW_COMMENTS_31 = f"{PR}/pulls/31/comments?sort=updated&direction=desc&since=1970-01-01T00%3A00%3A00Z"
FILES_3370 = "CompletableGithubObjectWithPaginatedProperty.testPullCommitsFiles.txt"
SHA_3370 = "3253acaabd86de12b73d0a24c98eb9c13d1987b5"


def pygithub_replay(read: Read) -> dict[str, str]:
    """realdata/pygithub-replay/prs.json, as its extract.py builds it (see its README)."""
    sources: dict[str, list[str]] = {}

    def take(name: str, path: str, source: tuple[str, str] = PYGITHUB) -> Any:
        sources.setdefault(f"{source[1]}:{REPLAY}{name}", []).append(path)
        return replay_body(read, source, name, path)

    timeline31 = take("PullRequest.testGetIssueTimeline.txt", f"{PR}/issues/31/timeline")
    pr31 = {
        "pr": take("PullRequest.setUp.txt", f"{PR}/pulls/31"),
        "commits": take("PullRequest.testGetCommits.txt", f"{PR}/pulls/31/commits"),
        "files": take("PullRequest.testGetFiles.txt", f"{PR}/pulls/31/files"),
        # no recording of GET /pulls/31/reviews: the timeline's `reviewed` items are those reviews
        # plus `event`, their state in lower case where the reviews list says "COMMENTED"
        "reviews": [
            {**{k: v for k, v in e.items() if k != "event"}, "state": e["state"].upper()}
            for e in timeline31
            if e["event"] == "reviewed"
        ],
        "review_comments": take("PullRequest.testGetReviewComments.txt", REVIEW_COMMENTS_31),
        "issue_comments": take("PullRequest.testGetIssueComments.txt", f"{PR}/issues/31/comments"),
        "timeline": timeline31,
        "check_runs": [],
    }
    page1 = take(FILES_3370, f"{PR}/commits/{SHA_3370}?page=1&per_page=2")
    page2 = take(FILES_3370, f"/repositories/3544490/commits/{SHA_3370}?page=2&per_page=2")
    check_runs = take(
        "CheckRun.testGetCheckRunsForRef.txt",
        f"{PR}/commits/6bc9ecc8c849df4e45e60c1e6a5df8876180a20a/check-runs",
        PYGITHUB_CHECK_RUNS,
    )
    pr3370 = {
        "pr": take(FILES_3370, f"{PR}/pulls/3370"),
        "commits": take(FILES_3370, f"{PR}/pulls/3370/commits?per_page=2"),
        "files": page1["files"] + page2["files"],
        "reviews": [],
        "review_comments": [],
        "issue_comments": [],
        "timeline": [],
        "check_runs": check_runs["check_runs"],
    }
    out = {"source": {"repository": PYGITHUB[0], "files": sources}, "pulls": {"31": pr31, "3370": pr3370}}
    return {"realdata/pygithub-replay/prs.json": json.dumps(out, ensure_ascii=False, indent=1) + "\n"}


E2E = "backend/plugins/github/e2e"
DEVLAKE_RAW = {
    # output file: (raw table, how to tell which PR or issue a row belongs to)
    "pulls.jsonl": ("_raw_github_api_pull_requests.csv", "number"),
    "pull_commits.jsonl": ("_raw_github_api_pull_request_commits.csv", "input"),
    "pull_reviews.jsonl": ("_raw_github_api_pull_request_reviews.csv", "input"),
    "pull_review_comments.jsonl": ("_raw_github_api_pull_request_review_comments.csv", "pull_request_url"),
    "issue_comments.jsonl": ("_raw_github_api_comments.csv", "issue_url"),
    "issue_events.jsonl": ("_raw_github_api_events.csv", "issue"),
}
DEVLAKE_SNAPSHOTS = [
    "_tool_github_pull_requests.csv",
    "_tool_github_pull_request_commits.csv",
    "_tool_github_commits.csv",
    "_tool_github_pull_request_reviews.csv",
    "_tool_github_pull_request_comments.csv",
    "_tool_github_issue_events.csv",
]


def number_of(how: str, row: dict[str, str], data: dict[str, Any]) -> int:
    if how == "number":
        return int(data["number"])
    if how == "input":
        return int(json.loads(row["input"])["Number"])
    if how == "issue":
        return int(data["issue"]["number"])
    return int(data[how].rstrip("/").rsplit("/", 1)[1])


def devlake_ants(read: Read) -> dict[str, str]:
    """realdata/devlake-ants/, as its extract.py builds it (see its README)."""
    csv.field_size_limit(1 << 30)
    files: dict[str, str] = {}
    for out, (table, how) in DEVLAKE_RAW.items():
        kept, seen = [], set()
        for row in csv.DictReader(io.StringIO(read(DEVLAKE, f"{E2E}/raw_tables/{table}"))):
            data = json.loads(row["data"])
            key = json.dumps(data, sort_keys=True)
            # DevLake repeats a few items under a second connection (ConnectionId 2, or a malformed
            # params) to test its connection scoping; its snapshots use connection 1
            if '"ConnectionId":1,' not in row["params"].replace(" ", "") or key in seen:
                continue
            seen.add(key)
            kept.append(
                {"raw_id": int(row["id"]), "number": number_of(how, row, data), "url": row["url"], "data": data}
            )
        kept.sort(key=lambda r: r["raw_id"])  # DevLake's id: the order the pages were read
        files[out] = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in kept)
    for table in DEVLAKE_SNAPSHOTS:
        files[f"snapshot/{table}"] = read(DEVLAKE, f"{E2E}/snapshot_tables/{table}")
    return {f"realdata/devlake-ants/{name}": text for name, text in files.items()}


def build(read: Read) -> dict[str, bytes]:
    """Every file, checked against SHA256: a missing, extra or changed file stops it."""
    files = {
        path: text.encode() for part in (samples, pygithub_replay, devlake_ants) for path, text in part(read).items()
    }
    if sorted(files) != sorted(SHA256):
        raise FetchError(f"built {sorted(set(files) ^ set(SHA256))}, which the pinned list does not match")
    for path, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        if digest != SHA256[path]:
            raise FetchError(f"{path}: SHA-256 {digest} is not the pinned {SHA256[path]}; nothing was written")
    return files


def lay_out(files: dict[str, bytes], dest: Path) -> None:
    """Writes into a folder beside dest and renames it: dest is whole or absent."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".shared-", dir=dest.parent))
    try:
        for path, data in files.items():
            (staging / path).parent.mkdir(parents=True, exist_ok=True)
            (staging / path).write_bytes(data)
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fetch_shared.py", description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where to lay the files out (../shared)")
    parser.add_argument("--base-url", default=RAW_GITHUB, help="serves OWNER/REPO/COMMIT/PATH (raw GitHub)")
    args = parser.parse_args(argv)
    if args.dest.exists():
        print(f"fetch_shared: {args.dest} is there already; nothing fetched")
        return 0
    try:
        lay_out(build(raw_reader(args.base_url)), args.dest)
    except (FetchError, OSError, ValueError, KeyError, TypeError, csv.Error) as exc:  # upstream not as pinned
        print(f"mergelens: error: fetch_shared: {exc}", file=sys.stderr)
        return 1
    print(f"fetch_shared: {len(SHA256)} files laid out in {args.dest}, every SHA-256 as pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
