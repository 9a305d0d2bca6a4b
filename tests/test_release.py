"""Releases (docs/releases.md): the release workflow's shape (a pushed vX.Y.Z tag, least privilege,
pinned actions), its logic in scripts/release.py, and a dry run of its steps in a temporary git
repository: tag -> version check -> notes -> build -> the release created with the built files ->
the major tag moved on the origin. Only what cannot run here stands in: `gh` (GitHub's API) and
the build frontend (`python -m build` is not installed in the dev set: the stand-in writes the two
files the real one would, and the workflow's build command is asserted as written)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from fetcher import errors
from scripts import release
from tests.test_workflows import PINNED_USES, load, run_tool, steps_of, triggers, zizmor

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / ".github" / "workflows" / "release.yml"
CI = ROOT / ".github" / "workflows" / "ci.yml"
CHANGELOG = ROOT / "CHANGELOG.md"
SCRIPT = ROOT / "scripts" / "release.py"
BUILD = (
    "python -m pip install --require-hashes --only-binary :all: -r requirements-build.txt\n"
    "python -m build --no-isolation\n"
)
# GitHub's branding colours for an action (the icons are Feather's: these are some of those allowed).
COLOURS = {"white", "black", "yellow", "blue", "green", "orange", "red", "purple", "gray-dark"}
ICONS = {"git-merge", "git-pull-request", "git-branch", "git-commit", "database", "activity", "bar-chart-2"}


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def changelog_section(text: str, version: str) -> str:
    """The lines under ``## [version]`` up to the next ``## `` heading or the link references, read
    here independently of scripts/release.py."""
    after = text.split(f"\n## [{version}]", 1)[1].split("\n", 1)[1]
    body = re.split(r"^(?:## |\[[^\]]+\]: )", after, maxsplit=1, flags=re.M)[0]
    return body.strip() + "\n"


# --- the workflow's shape -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict:
    return load(RELEASE)


def test_it_runs_on_a_pushed_release_tag_only(workflow):
    assert triggers(workflow) == {"push": {"tags": ["v*.*.*"]}}
    # the tags it accepts are the tags scripts/release.py accepts
    assert release.TAG.match("v1.0.0") and not release.TAG.match("v1") and not release.TAG.match("v1.0.0-rc.1")


def test_least_privilege_the_release_job_alone_may_write(workflow):
    assert workflow["permissions"] == {}
    assert set(workflow["jobs"]) == {"test", "release"}
    test, publish = workflow["jobs"]["test"], workflow["jobs"]["release"]
    assert test["permissions"] == {"contents": "read"}
    assert publish["permissions"] == {"contents": "write"}
    assert publish["needs"] == "test"  # nothing is published before the whole CI passed
    text = RELEASE.read_text(encoding="utf-8")
    for scope in ("contents: read", "contents: write"):  # each grant says why
        [line] = [ln for ln in text.splitlines() if ln.strip().startswith(scope)]
        assert re.search(r"#\s*\S", line), line
    # the token reaches only the steps that run gh
    for step in publish["steps"]:
        gives_token = "GH_TOKEN" in (step.get("env") or {})
        assert gives_token == step.get("run", "").lstrip().startswith("gh "), step["name"]
        if gives_token:
            assert step["env"]["GH_TOKEN"] == "${{ github.token }}"


def test_the_tests_are_the_ci_workflow_itself(workflow):
    """The release runs the CI as a reusable workflow (the same steps, not a copy of them)."""
    assert workflow["jobs"]["test"]["uses"] == "$/.github/workflows/ci.yml"  # GitHub's self-repository form
    assert "workflow_call" in triggers(load(CI))


def test_actions_are_pinned_to_the_shas_the_other_workflows_use():
    lines = [ln for ln in RELEASE.read_text(encoding="utf-8").splitlines() if re.match(r"^\s*(-\s+)?uses:", ln)]
    lines = [ln for ln in lines if "uses: $/" not in ln]  # the CI workflow, called from this repository
    assert len(lines) == len([s for s in steps_of(load(RELEASE)) if "uses" in s]) == 2
    known = {ln.split("uses:")[1].strip() for ln in CI.read_text(encoding="utf-8").splitlines() if "uses:" in ln}
    for line in lines:
        assert PINNED_USES.match(line), line
        assert line.split("uses:")[1].strip() in known, "no new action, no new pin"
    [checkout] = [s for s in steps_of(load(RELEASE)) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"] == {"persist-credentials": False}


def test_the_steps(workflow):
    steps = workflow["jobs"]["release"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert runs == [
        'python scripts/release.py check-version "$TAG"',
        'python scripts/release.py notes "${TAG#v}" > "$RUNNER_TEMP/notes.md"',
        BUILD,
        'gh release create "$TAG" dist/* --verify-tag --title "$TAG" --notes-file "$RUNNER_TEMP/notes.md"',
        'gh auth setup-git\ngit tag -f "${TAG%%.*}" HEAD\ngit push -f origin "refs/tags/${TAG%%.*}"\n',
    ]
    for step in steps:
        assert "${{" not in step.get("run", "")  # expressions reach a script through env: only
        if "TAG" in step.get("run", ""):
            assert step["env"]["TAG"] == "${{ github.ref_name }}"


def test_actionlint_and_zizmor_pass_on_the_release_workflow():
    result = run_tool(["actionlint", "-no-color", "-oneline", str(RELEASE), str(CI)])
    assert (result.returncode, result.stdout.strip()) == (0, "")
    done, findings = zizmor("--persona", "auditor", str(RELEASE))
    assert findings == [], json.dumps(findings, indent=1)[:4000]
    assert "release.yml" in done.stderr


# --- scripts/release.py -------------------------------------------------------------------------


def run_script(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(cwd / "scripts" / "release.py"), *args], cwd=cwd, capture_output=True, text=True
    )


def test_check_version_passes_the_tag_of_pyprojects_version():
    done = run_script("check-version", f"v{project_version()}")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{project_version()}\n", "")


@pytest.mark.parametrize("tag", ["v9.9.9", "1.0.0", "v1.0", "v1.0.0-rc.1", "v1"])
def test_check_version_refuses_any_other_tag_in_one_line(tag):
    done = run_script("check-version", tag)
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("release: error: ") and tag in line


def test_notes_print_the_versions_changelog_section():
    done = run_script("notes", project_version())
    assert done.returncode == 0, done.stderr
    assert done.stdout == changelog_section(CHANGELOG.read_text(encoding="utf-8"), project_version())
    assert done.stdout.startswith("The first release") and "### Added" in done.stdout
    assert "[unreleased]:" not in done.stdout and "## [" not in done.stdout


@pytest.mark.parametrize(("version", "says"), [("0.9.0", "has no section"), ("Unreleased", "is empty")])
def test_notes_of_a_missing_or_empty_section_fail_in_one_line(version, says):
    done = run_script("notes", version)
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("release: error: CHANGELOG.md") and says in line


def test_the_changelog_keeps_a_changelog():
    """Keep a Changelog 1.1.0: Unreleased first, then each release newest first with its date, a
    link reference for each; the current version is released (so its tag can be)."""
    text = CHANGELOG.read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.M)
    assert headings[0] == ("Unreleased", "")
    released = [version for version, date in headings[1:] if date]
    assert len(released) == len(headings) - 1 and released[0] == project_version()
    links = dict(re.findall(r"^\[([^\]]+)\]: (\S+)$", text, re.M))
    assert set(links) == {"unreleased", *released}
    assert links["unreleased"].endswith(f"/compare/v{released[0]}...HEAD")
    assert "https://keepachangelog.com/en/1.1.0/" in text


# --- what the version promises, the licence, the Marketplace listing ------------------------------


def test_the_promised_exit_codes_and_url_parameters_are_the_codes():
    page = (ROOT / "docs" / "releases.md").read_text(encoding="utf-8")
    codes = {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    promised = page.split("the exit codes:", 1)[1].split(".\n", 1)[0]
    assert {int(code) for code in re.findall(r"\b(\d) [a-z]", promised)} == codes
    app = (ROOT / "dashboard" / "app.py").read_text(encoding="utf-8")
    read = set(re.findall(r'params\.get(?:_all)?\("(\w+)"', app))
    listed = page.split("**The dashboard's URL parameters**", 1)[1].split(":", 1)[0]
    assert set(re.findall(r"`(\w+)`", listed)) == read


def test_the_licence():
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"] == "Apache-2.0"
    assert "[Apache License 2.0](LICENSE)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_action_is_ready_for_the_marketplace():
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert list(action)[:4] == ["name", "description", "author", "branding"]
    assert action["name"] and action["author"] and action["description"]
    assert action["branding"]["icon"] in ICONS and action["branding"]["color"] in COLOURS


# --- a dry run of the release job ---------------------------------------------------------------

STAND_IN_PYTHON = """#!{python}
# python as the runner has it, but `-m pip install` and `-m build` stand in (no network here).
import os, sys, tomllib
from pathlib import Path
log = Path(os.environ["DRY_RUN_LOG"])
if sys.argv[1:4] == ["-m", "pip", "install"] or sys.argv[1:3] == ["-m", "build"]:
    with log.open("a") as f:
        f.write(" ".join(["python", *sys.argv[1:]]) + "\\n")
    if sys.argv[1:3] == ["-m", "build"]:
        version = tomllib.loads(Path("pyproject.toml").read_text())["project"]["version"]
        Path("dist").mkdir()
        for name in (f"mergelens-{{version}}.tar.gz", f"mergelens-{{version}}-py3-none-any.whl"):
            Path("dist", name).write_text(name)
    sys.exit(0)
os.execv("{python}", ["{python}", *sys.argv[1:]])
"""
STAND_IN_GH = """#!{python}
# gh: records its command; `release create` keeps the notes file it was given.
import json, os, shutil, sys
from pathlib import Path
log = Path(os.environ["DRY_RUN_LOG"])
with log.open("a") as f:
    f.write("gh " + json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:3] == ["release", "create"]:
    assert os.environ["GH_TOKEN"] == "dry-run-token"
    shutil.copy(sys.argv[sys.argv.index("--notes-file") + 1], log.parent / "notes-given.md")
"""


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


class DryRun:
    """A repository with this checkout's release parts, its origin (a bare repository), and the
    release job's steps run as the runner runs them (bash -e -o pipefail, each step's env)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.origin = tmp_path / "origin.git"
        self.work = tmp_path / "work"
        self.log = tmp_path / "log" / "calls"
        self.log.parent.mkdir()
        git("init", "-q", "--bare", str(self.origin), cwd=tmp_path)
        git("init", "-q", str(self.work), cwd=tmp_path)
        for name in ("pyproject.toml", "CHANGELOG.md", "scripts/release.py"):
            (self.work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, self.work / name)
        git("remote", "add", "origin", str(self.origin), cwd=self.work)
        self.commit("release 1.0.0")
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        for name, text in (("python", STAND_IN_PYTHON), ("gh", STAND_IN_GH)):
            (self.bin / name).write_text(text.format(python=sys.executable))
            (self.bin / name).chmod(0o755)

    def commit(self, message: str) -> None:
        git("add", "-A", cwd=self.work)
        identity = ["-c", "user.name=release", "-c", "user.email=release@example.com"]
        git(*identity, "commit", "-q", "-m", message, cwd=self.work)
        git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=self.work)

    def tag(self, tag: str) -> None:
        identity = ["-c", "user.name=release", "-c", "user.email=release@example.com"]
        git(*identity, "tag", "-a", tag, "-m", tag, cwd=self.work)
        git("push", "-q", "origin", f"refs/tags/{tag}", cwd=self.work)

    def run(self, tag: str) -> list[tuple[str, int, str]]:
        """The release job's run: steps, in a fresh checkout of the tag, until one fails."""
        checkout = self.tmp / f"checkout-{tag}"
        git("clone", "-q", "--depth", "1", "--branch", tag, f"file://{self.origin}", str(checkout), cwd=self.tmp)
        runner_temp = self.tmp / f"runner-{tag}"
        runner_temp.mkdir()
        context = {"${{ github.ref_name }}": tag, "${{ github.token }}": "dry-run-token"}
        ran = []
        for step in load(RELEASE)["jobs"]["release"]["steps"]:
            if "run" not in step:
                continue  # checkout and setup-python: the clone above and this interpreter
            env = {name: context[value] for name, value in (step.get("env") or {}).items()}
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=checkout,
                env={
                    "PATH": f"{self.bin}:/usr/bin:/bin",
                    "HOME": str(self.tmp),
                    "RUNNER_TEMP": str(runner_temp),
                    "DRY_RUN_LOG": str(self.log),
                    "GIT_CONFIG_NOSYSTEM": "1",
                    **env,
                },
                capture_output=True,
                text=True,
            )
            ran.append((step["name"], done.returncode, done.stderr))
            if done.returncode:
                break
        return ran

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def origin_commit(self, ref: str) -> str:
        return git("rev-parse", f"{ref}^{{commit}}", cwd=self.origin)


def test_a_dry_run_releases_the_tag_and_moves_the_major_tag(tmp_path):
    dry = DryRun(tmp_path)
    dry.tag("v1.0.0")
    ran = dry.run("v1.0.0")
    assert [code for _, code, _ in ran] == [0] * 5, ran
    version = project_version()
    assert dry.calls()[:2] == [
        "python -m pip install --require-hashes --only-binary :all: -r requirements-build.txt",
        "python -m build --no-isolation",
    ]
    [create] = [json.loads(c[3:]) for c in dry.calls() if c.startswith('gh ["release"')]
    notes_file = create[create.index("--notes-file") + 1]
    # the built files, both attached (the shell expanded dist/*)
    assert create == [
        "release",
        "create",
        "v1.0.0",
        f"dist/mergelens-{version}-py3-none-any.whl",
        f"dist/mergelens-{version}.tar.gz",
        "--verify-tag",
        "--title",
        "v1.0.0",
        "--notes-file",
        notes_file,
    ]
    notes = (dry.log.parent / "notes-given.md").read_text()
    assert notes == changelog_section(CHANGELOG.read_text(encoding="utf-8"), version)
    # the major tag is on the origin, at the release's commit
    assert dry.origin_commit("v1") == dry.origin_commit("v1.0.0")

    # the next release moves it (a forced push: v1 existed)
    (dry.work / "pyproject.toml").write_text(
        (dry.work / "pyproject.toml").read_text().replace(f'version = "{version}"', 'version = "1.0.1"')
    )
    changelog = dry.work / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace("## [Unreleased]\n", "## [Unreleased]\n\n## [1.0.1] - 2026-12-09\n\n- A fix.\n")
    )
    shutil.rmtree(dry.work / "dist", ignore_errors=True)
    dry.commit("release 1.0.1")
    dry.tag("v1.0.1")
    assert [code for _, code, _ in dry.run("v1.0.1")] == [0] * 5
    assert (dry.log.parent / "notes-given.md").read_text() == "- A fix.\n"
    assert dry.origin_commit("v1") == dry.origin_commit("v1.0.1") != dry.origin_commit("v1.0.0")


def test_a_tag_that_is_not_the_version_releases_nothing(tmp_path):
    dry = DryRun(tmp_path)
    dry.tag("v1.2.3")
    ran = dry.run("v1.2.3")
    assert [(name, code) for name, code, _ in ran] == [("Check the tag is pyproject.toml's version", 2)]
    assert ran[0][2] == f"release: error: the tag v1.2.3 is not pyproject.toml's version {project_version()}\n"
    assert dry.calls() == []  # nothing built, no release, no tag moved
    assert "v1" not in git("tag", cwd=dry.origin).split()


def test_a_version_without_its_changelog_section_releases_nothing(tmp_path):
    dry = DryRun(tmp_path)
    (dry.work / "pyproject.toml").write_text(
        (dry.work / "pyproject.toml").read_text().replace(f'version = "{project_version()}"', 'version = "1.1.0"')
    )
    dry.commit("version 1.1.0, changelog forgotten")
    dry.tag("v1.1.0")
    ran = dry.run("v1.1.0")
    assert [code for _, code, _ in ran] == [0, 2]
    assert ran[1][2] == "release: error: CHANGELOG.md has no section ## [1.1.0]\n"
    assert dry.calls() == []
