"""The dashboard's container recipe (Dockerfile), held to what can be checked without a Docker
daemon: hadolint finds nothing in it, it installs the runtime set with the merge workflow's flags, it
copies only fetcher/ and dashboard/ and runs as a non-root user, and its CMD and HEALTHCHECK,
run here on a copy of just what the image copies, serve the dashboard on a real DB."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.dashboard_support import free_port, session_demo_db
from tests.test_dashboard_lake import copy_into_lake, environment

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
BIN = Path(sys.executable).parent
IMAGE_PORT = "8501"


@dataclass(frozen=True)
class Instruction:
    name: str  # FROM, RUN, COPY, ... (upper case)
    args: str  # the rest of the instruction, continuation lines joined


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions: comments dropped, `\\` continuations joined."""
    found: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        name, _, args = (pending + line).strip().partition(" ")
        found.append(Instruction(name.upper(), " ".join(args.split())))
        pending = ""
    return found


def dockerfile() -> list[Instruction]:
    return instructions(DOCKERFILE.read_text(encoding="utf-8"))


def only(name: str) -> str:
    [args] = [i.args for i in dockerfile() if i.name == name]
    return args


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in (i.args for i in dockerfile() if i.name == "ENV"):
        env.update(dict(pair.split("=", 1) for pair in shlex.split(args)))
    return env


def exec_form(args: str) -> list[str]:
    """A CMD or HEALTHCHECK in exec (JSON) form: no shell between Docker and the process."""
    command = json.loads(args[args.index("[") :])
    assert isinstance(command, list) and all(isinstance(part, str) for part in command), args
    return command


def build_args() -> dict[str, str]:
    """The Dockerfile's ARGs and their defaults (``docker build --build-arg NAME=VALUE`` overrides one)."""
    return dict(i.args.split("=", 1) for i in dockerfile() if i.name == "ARG")


def workflow_install() -> str:
    with (ROOT / ".github" / "workflows" / "mergelens.yml").open(encoding="utf-8") as f:
        steps = yaml.safe_load(f)["jobs"]["sync"]["steps"]
    [install] = [step["run"].strip() for step in steps if step.get("name") == "Install mergelens"]
    return install


# --- the recipe -------------------------------------------------------------------------------


def hadolint(path: Path) -> subprocess.CompletedProcess:
    tool = BIN / "hadolint"
    if not tool.exists():
        pytest.fail(f"{tool} is missing: install requirements-dev.txt into the venv")
    return subprocess.run([str(tool), "--no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_hadolint_finds_nothing_in_the_dockerfile(tmp_path: Path) -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
    # Control: the same file with pip's cache left in the image is caught (DL3042), so the clean
    # result above means the file really was linted, at hadolint's default threshold (info).
    cached = DOCKERFILE.read_text(encoding="utf-8").replace(" --no-cache-dir", "")
    (tmp_path / "Dockerfile").write_text(cached, encoding="utf-8")
    assert "DL3042" in hadolint(tmp_path / "Dockerfile").stdout


def test_the_image_installs_the_runtime_set_as_the_merge_workflow_installs_its_own() -> None:
    # One install: the workflow's command (--require-hashes, wheels only) on the whole runtime set
    # (the dashboard's; the merge job installs the fetcher's lock only), with --no-cache-dir so
    # pip's download cache does not stay in the image.
    [install] = [i.args for i in dockerfile() if i.name == "RUN" and "pip install" in i.args]
    runtime_set = workflow_install().replace("-r requirements-fetcher.txt", "-r requirements.txt")
    assert install == runtime_set.replace(" -r ", " --no-cache-dir -r ")
    assert install == "python -m pip install --require-hashes --only-binary :all: --no-cache-dir -r requirements.txt"
    copies = [i.args for i in dockerfile() if i.name == "COPY"]
    assert copies[0] == "${REQUIREMENTS} requirements.txt"  # the file that install reads, copied before it


def test_the_lake_line_is_one_build_argument_away() -> None:
    # `--build-arg REQUIREMENTS=requirements-lake.txt` (docs/serve-dashboard.md) installs
    # the lake's line under the same name: the same install command, the same pins-with-hashes rule.
    assert build_args() == {"REQUIREMENTS": "requirements.txt"}
    assert "--build-arg REQUIREMENTS=requirements-lake.txt" in DOCKERFILE.read_text(encoding="utf-8")
    recipe = (ROOT / "docs" / "serve-dashboard.md").read_text(encoding="utf-8")
    assert "--build-arg REQUIREMENTS=requirements-lake.txt" in recipe
    lake = (ROOT / "requirements-lake.txt").read_text(encoding="utf-8")
    assert "duckdb==1.5.5" in lake and "duckdb-extension-ducklake==" in lake and "streamlit==" in lake


def test_the_image_holds_only_the_dashboard_and_runs_it_as_non_root() -> None:
    steps = dockerfile()
    assert steps[0].name == "FROM" and steps[0].args.startswith("python:3.11-slim")
    assert [i.args for i in steps if i.name == "COPY"] == [
        "${REQUIREMENTS} requirements.txt",
        "fetcher/ fetcher/",
        "dashboard/ dashboard/",
    ]
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[ignore.index("*") :][:5] == [
        "*",
        "!requirements.txt",
        "!requirements-lake.txt",
        "!fetcher/",
        "!dashboard/",
    ]
    user, _, group = only("USER").partition(":")
    assert user.isdigit() and int(user) > 0 and group.isdigit() and int(group) > 0
    # USER comes after every RUN: nothing runs as root once the server's user is set.
    names = [i.name for i in steps]
    assert names.index("USER") > max(index for index, name in enumerate(names) if name == "RUN")
    assert image_env()["MERGELENS_DB"]
    command = exec_form(only("CMD"))
    assert command[:3] == ["streamlit", "run", "dashboard/app.py"]
    flags = dict(zip(command[3::2], command[4::2], strict=True))
    assert flags == {
        "--server.address": "0.0.0.0",
        "--server.port": IMAGE_PORT,
        "--server.headless": "true",
        "--browser.gatherUsageStats": "false",
    }


# --- the image's command, run without a daemon ----------------------------------------------------


@dataclass(frozen=True)
class Image:
    workdir: Path  # a copy of what the Dockerfile copies into WORKDIR, and nothing else
    env: dict[str, str]  # the Dockerfile's ENV, a HOME, PATH; nothing else of this environment
    bin: Path = BIN  # the venv of the image's line: what its `pip install` would have installed


def copy_image(root: Path, db: str, bin: Path = BIN, **build: str) -> Image:
    """What ``docker build`` (with ``build``'s ``--build-arg``s) copies into WORKDIR, under ``root``;
    ``bin`` the venv that stands for the packages it installs."""
    workdir = root / "app"
    workdir.mkdir(parents=True)
    args_of_build = build_args() | build
    for args in (i.args for i in dockerfile() if i.name == "COPY"):
        source, target = args.split()
        source = args_of_build.get(source.removeprefix("${").removesuffix("}"), source)
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, workdir / target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / source, workdir / target)
    home = root / "home"
    home.mkdir()
    env = {**image_env(), "MERGELENS_DB": db, "HOME": str(home), "PATH": f"{bin}:/usr/bin:/bin"}
    return Image(workdir, env, bin)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    return copy_image(tmp_path_factory.mktemp("image"), str(session_demo_db(tmp_path_factory)))


def on_loopback(command: list[str], port: int, bin: Path = BIN) -> list[str]:
    """The image's command as run here: ``bin``'s executables, a free loopback port."""
    local = [str(bin / part) if part in ("python", "streamlit") else part for part in command]
    return [
        {"0.0.0.0": "127.0.0.1", IMAGE_PORT: str(port)}.get(part, part).replace(f":{IMAGE_PORT}/", f":{port}/")
        for part in local
    ]


def healthcheck(image: Image, port: int) -> subprocess.CompletedProcess:
    check = on_loopback(exec_form(only("HEALTHCHECK")), port, image.bin)
    return subprocess.run(check, cwd=image.workdir, env=image.env, capture_output=True, text=True, timeout=30)


@contextmanager
def serve_image(image: Image, log: Path, port: int | None = None) -> Iterator[tuple[subprocess.Popen, int]]:
    """The image's CMD, run here from its copy on a loopback port (``port`` or a free one)."""
    port = port or free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            on_loopback(exec_form(only("CMD")), port, image.bin),
            cwd=image.workdir,
            env=image.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield server, port
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        print(log.read_text())  # shown by pytest when the test fails


def wait_healthy(image: Image, server: subprocess.Popen, port: int) -> None:
    """Before Streamlit listens the healthcheck fails; wait (up to 60 s) for it to pass."""
    deadline = time.monotonic() + 60
    while (check := healthcheck(image, port)).returncode != 0:
        assert server.poll() is None, "streamlit exited"
        assert time.monotonic() < deadline, check.stderr
        time.sleep(0.2)


def test_the_image_command_serves_and_its_healthcheck_sees_it(image: Image, tmp_path: Path) -> None:
    with serve_image(image, tmp_path / "streamlit.log") as (server, port):
        wait_healthy(image, server, port)
        server.terminate()
        server.wait(timeout=10)
        down = healthcheck(image, port)
    assert down.returncode != 0  # a stopped server is reported unhealthy
    assert "Connection refused" in down.stderr


# The app, run from an image's copy with nothing else on sys.path (-I: no current directory, no
# PYTHONPATH) on the image's line, renders the overview. The image listens on every interface.
RENDER = (
    "from streamlit import config\n"
    "from streamlit.testing.v1 import AppTest\n"
    "config.set_option('server.address', '0.0.0.0')\n"
    "at = AppTest.from_file('dashboard/app.py', default_timeout=60).run()\n"
    "assert not at.exception, [e.value for e in at.exception]\n"
    "print('errors', len(at.error), 'metrics', len(at.metric))\n"
    "print({m.label: m.value for m in at.metric}.get('Merged PRs', 'none'))\n"
)


def render(image: Image, **env: str) -> list[str]:
    result = subprocess.run(
        [str(image.bin / "python"), "-I", "-c", RENDER],
        cwd=image.workdir,
        env={**image.env, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_copied_files_alone_render_the_dashboard(image: Image) -> None:
    # Without login it shows nothing unless told it is public.
    refused = render(image)
    assert refused[:4] == ["errors", "1", "metrics", "0"] and refused[-1] == "none", refused
    served = render(image, MERGELENS_PUBLIC="1")
    assert served[:2] == ["errors", "0"], served
    assert int(served[-1]) > 0


@pytest.mark.slow
def test_the_lake_image_serves_a_lake(lake_python: Path, tmp_path: Path, tmp_path_factory) -> None:
    """The lake line's image (``--build-arg REQUIREMENTS=requirements-lake.txt``): its copy, on the
    lake's interpreter, serves its CMD and renders a ``ducklake:`` DB's overview, which the file
    line's image refuses (DuckDB 2.0 has no DuckLake extension)."""
    env = environment(tmp_path, tmp_path)
    spec = f"ducklake:sqlite:{tmp_path}/meta.sqlite"
    copy_into_lake(session_demo_db(tmp_path_factory), spec, env, lake_python)
    lake_env = {
        name: env[name] for name in ("MERGELENS_LAKE_DATA_PATH", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
    }
    lake = copy_image(tmp_path / "lake", spec, lake_python.parent, REQUIREMENTS="requirements-lake.txt")
    lake.env.update(lake_env)
    assert (lake.workdir / "requirements.txt").read_bytes() == (ROOT / "requirements-lake.txt").read_bytes()
    served = render(lake, MERGELENS_PUBLIC="1")
    assert served[:2] == ["errors", "0"], served
    assert int(served[-1]) > 0
    with serve_image(lake, tmp_path / "streamlit.log") as (server, port):
        wait_healthy(lake, server, port)
    files = copy_image(tmp_path / "file", spec)
    files.env.update(lake_env)
    refused = render(files, MERGELENS_PUBLIC="1")
    assert refused[:4] == ["errors", "1", "metrics", "0"], refused
