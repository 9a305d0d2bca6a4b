"""Every shell block a newcomer copies from README.md and docs/*.md runs, as written, against the
real parts: ``python -m fetcher`` against tests/support/fake_github, a real DuckDB file, moto's S3 server
for ``s3://``, a PostgreSQL-cataloged DuckLake for ``ducklake:`` (on the lake's interpreter). The
docs' placeholders (``OWNER/NAME``, ``ghp_...``, ``PATH``, ``DATE``…) are filled in from
STAND_INS alone. A synopsis runs with every optional part given (the first alternative of each
group), then once per other alternative of a group. A block that cannot run here is marked
``<!-- illustrative: why -->`` (tests/test_docs.py still checks what it can of it); an unmarked
block with a command this test cannot run fails it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from tests.conftest import TOKEN, unavailable
from tests.support.factories import pull, repository
from tests.support.fake_github import FakeGitHub
from tests.support.services import ServiceUnavailable, create_database, moto_server
from tests.test_docs import PLACEHOLDERS, ROOT, commands, shell_blocks
from tests.test_storage_prune import MERGE_RUN, START

BUCKET = "docs-bucket"
# The docs' placeholders, longest first, and what a run puts in their place ({s3}, {lake}: the
# services this module starts).
STAND_INS = {
    "'ducklake:postgres:dbname=lake host=…'": "'{lake}'",
    "ducklake:…": "'{lake}'",
    "s3://…": "s3://{s3}",
    "artifact:NAME": "artifact:mergelens-db",
    "OWNER/NAME": "acme/widgets",
    "ghp_...": TOKEN,
    "--pr 1234": "--pr 1",
    "--db …": "--db mergelens.duckdb",
    "--db PATH": "--db mergelens.duckdb",
    "LOGIN,…": "renovate-bot",
}
# A command this test runs: python (the main line's or the lake's) -m fetcher, or an export.
RUNS = re.compile(r"^(?:export [A-Z_]+=|(?:\.venv-lake/bin/)?python -m fetcher )")
MERGED = 3  # the fake repository's merged PRs; #4 is open
ARTIFACT_COPIES = 5  # more than `prune-artifacts --keep N` keeps


def filled(command: str, services: dict[str, str]) -> str:
    for placeholder, value in STAND_INS.items():
        command = command.replace(placeholder, value.format(**services))
    for name, value in PLACEHOLDERS.items():
        command = re.sub(rf"\b{name}\b", value, command)
    return command


def runs_of(command: str) -> list[str]:
    """A synopsis as the command lines run: every ``[…]`` group given (its first alternative),
    then each other alternative of a group in its place (``[--db P | s3://…]``: a bare value is
    the option's)."""
    groups = list(re.finditer(r"\[([^\]]*)\]", command))
    if not groups:
        return [command]

    def line(chosen: dict[int, str]) -> str:
        out, last = "", 0
        for i, group in enumerate(groups):
            out += command[last : group.start()] + chosen.get(i, group[1].split(" | ")[0])
            last = group.end()
        return out + command[last:]

    variants = [line({})]
    for i, group in enumerate(groups):
        first, *others = group[1].split(" | ")
        option = first.split()[0]
        variants += [line({i: other if other.startswith("-") else f"{option} {other}"}) for other in others]
    return variants


def script(text: str, services: dict[str, str]) -> str:
    """The block as one bash script: placeholders filled in, each synopsis expanded."""
    lines = []
    for command in commands(text):
        assert RUNS.match(command), f"{command}: this test cannot run it: mark the block illustrative"
        lines += runs_of(filled(command, services))
    return "\n".join(lines)


def runnable_blocks() -> list[tuple[str, int, str]]:
    return [block for block in shell_blocks() if not block[2].startswith("python -c")]  # test_docs runs those


@pytest.fixture(scope="module")
def docs_world(tmp_path_factory: pytest.TempPathFactory, lake_python: Path, postgres: str) -> Iterator[dict]:
    """One fake GitHub, one S3 server, one lake, and a workspace whose mergelens.duckdb holds the
    merged PRs (a DB in S3 and the lake the same): what a block's commands expect to find."""
    home = tmp_path_factory.mktemp("docs-run")
    pulls = [pull(number) for number in range(1, MERGED + 1)] + [pull(MERGED + 1, merged=None)]
    repo = repository(*pulls)
    server = FakeGitHub([repo], token=TOKEN).start()
    bin_dir = home / "bin"  # `python` on PATH is this interpreter, `.venv-lake/bin/python` the lake's
    workspace = home / "workspace"
    for wrapper, python in ((bin_dir / "python", sys.executable), (workspace / ".venv-lake/bin/python", lake_python)):
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(str(python))} "$@"\n')
        wrapper.chmod(0o755)
    try:
        with moto_server() as endpoint:
            env = {
                "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                "HOME": str(home),
                "PYTHONPATH": str(ROOT),
                "GITHUB_API_URL": server.api_url,
                "GITHUB_TOKEN": TOKEN,
                "GITHUB_REPOSITORY": "acme/widgets",
                "RUNNER_TEMP": f"{home}/runner",  # where an artifact: DB's updated copy is left
                "MERGELENS_PYTHON": sys.executable,
                "MERGELENS_LAKE_PYTHON": str(lake_python),
                "MERGELENS_LAKE_DATA_PATH": f"{home}/lake-data/",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": endpoint,
            }
            services = {"s3": f"{BUCKET}/mergelens.duckdb", "lake": f"ducklake:postgres:{create_database(postgres)}"}
            seed = [
                *(f"python -m fetcher sync --repo acme/widgets --pr {n} --request-interval 0" for n in range(1, 4)),
                f"python -m fetcher copy --from mergelens.duckdb --to '{services['lake']}'",
            ]
            done = subprocess.run(
                ["bash", "-ec", "\n".join(seed)], cwd=workspace, env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stderr
            s3 = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            s3.create_bucket(Bucket=BUCKET)
            s3.upload_file(str(workspace / "mergelens.duckdb"), BUCKET, "mergelens.duckdb")
            for hour in range(ARTIFACT_COPIES):  # what merge runs uploaded: artifact:NAME and its pruning
                repo.upload_artifact(
                    "mergelens-db", workspace / "mergelens.duckdb", START + timedelta(hours=hour), **MERGE_RUN
                )
            yield {"env": env, "services": services, "workspace": workspace, "home": home}
    except ServiceUnavailable as exc:
        unavailable(str(exc))
    finally:
        server.stop()


@pytest.mark.slow  # services and a subprocess per command: `make test-fast` skips it
@pytest.mark.parametrize(("name", "line", "text"), [pytest.param(*b, id=f"{b[0]}:{b[1]}") for b in runnable_blocks()])
def test_every_unmarked_shell_block_runs(docs_world, tmp_path, name, line, text):
    """The block's commands, in order, in a copy of the workspace: each must exit 0."""
    workspace = tmp_path / "workspace"
    shutil.copytree(docs_world["workspace"], workspace, symlinks=True)
    code = script(text, docs_world["services"])
    done = subprocess.run(
        ["bash", "-exc", code], cwd=workspace, env=docs_world["env"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{name}:{line}:\n{code}\n{done.stderr[-3000:]}"
    assert TOKEN not in done.stdout


def test_the_runner_fills_in_and_expands_a_synopsis():
    services = {"s3": "b/k", "lake": "ducklake:postgres:dbname=l"}
    [sync] = runs_of(filled("python -m fetcher sync --repo OWNER/NAME --pr 1234 [--db PATH] [--json]", services))
    assert sync == "python -m fetcher sync --repo acme/widgets --pr 1 --db mergelens.duckdb --json"
    recompute = "python -m fetcher metrics --recompute [--db PATH | s3://… | artifact:NAME] [--bots LOGIN,…]"
    assert runs_of(filled(recompute, services)) == [
        "python -m fetcher metrics --recompute --db mergelens.duckdb --bots renovate-bot",
        "python -m fetcher metrics --recompute --db s3://b/k --bots renovate-bot",
        "python -m fetcher metrics --recompute --db artifact:mergelens-db --bots renovate-bot",
    ]
    with pytest.raises(AssertionError, match="mark the block illustrative"):
        script("make dashboard", services)
    with pytest.raises(AssertionError, match="mark the block illustrative"):
        script("docker build -t x .", services)
