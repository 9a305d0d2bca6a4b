"""The docs stay true: every shell command in README.md and docs/*.md is checked against the real
parts (the CLI's argparse parser, the Makefile, the files it names), every YAML snippet against the
real workflow files, and every setting the docs name against the code that reads it.

Every shell block a newcomer copies is run (tests/test_docs_run.py); one that cannot run here (it
installs, serves until stopped, needs docker) says so with ``<!-- illustrative: why -->`` on the line
before its fence (docs/testing.md). A section is found by its heading in whichever page holds it.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fetcher.commands.arguments import build_parser, parse
from fetcher.config import VARIABLES, Environment
from tests.test_workflows import PINNED_USES, run_tool, zizmor

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
WORKFLOWS = {path.name: path for path in sorted((ROOT / ".github" / "workflows").glob("*.yml"))}
ILLUSTRATIVE = "<!-- illustrative -->"
MARKER = re.compile(r"^<!-- illustrative(?:: [^>]+)? -->$")  # with the reason when it is not obvious
README_LINES = 300  # the front door fits on a screen or three; the rest lives in docs/
SHELL = {"sh", "bash", "console"}
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
# A placeholder of a synopsis or an example, and a value the parser accepts in its place.
PLACEHOLDERS = {
    "YYYY-MM-DD": "2024-01-01",
    "DATE": "2024-01-01",
    "DAYS": "7",
    "POINTS": "100",
    "N": "3",
    "M": "10",
    "S": "1",
}
# Settings the docs tell users to set that no mergelens code reads: other programs read them.
READ_ELSEWHERE = {"PGPASSWORD"}  # libpq (the lake's PostgreSQL catalog)


def blocks() -> list[tuple[str, int, str, str, bool]]:
    """Every fenced block: (file, line, language, text, marked illustrative)."""
    found = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            fence = FENCE.match(lines[i])
            if fence:
                end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
                text = "\n".join(line.removeprefix(fence.group(1)) for line in lines[i + 1 : end])
                marked = i > 0 and bool(MARKER.match(lines[i - 1].strip()))
                found.append((path.name, i + 1, fence.group(2), text, marked))
                i = end
            i += 1
    return found


def shell_blocks(marked: bool = False) -> list[tuple[str, int, str]]:
    """The shell blocks not marked illustrative (``marked=True``: those that are)."""
    return [(name, line, text) for name, line, lang, text, mark in blocks() if lang in SHELL and mark == marked]


HEADING = re.compile(r"^(#+) (.*)$")


def headings_of(lines: list[str]) -> list[tuple[int, re.Match[str]]]:
    """A page's headings (line index, match), not a ``#`` comment inside a fenced block."""
    found, fenced = [], False
    for i, line in enumerate(lines):
        fenced ^= line.lstrip().startswith("```")
        if not fenced and (m := HEADING.match(line)):
            found.append((i, m))
    return found


def section(heading: str) -> tuple[Path, str]:
    """The page holding the section ``heading`` and the section's text, up to the next heading of
    its level or higher (a page's title: the whole page). Exactly one page may hold it."""
    found = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        headings = [(i, len(m.group(1)), m.group(2)) for i, m in headings_of(lines)]
        for n, (start, level, text) in enumerate(headings):
            if text == heading:
                end = next((i for i, deeper, _ in headings[n + 1 :] if deeper <= level), len(lines))
                found.append((path, "\n".join(lines[start:end])))
    assert len(found) == 1, f"section {heading!r} in {[str(path) for path, _ in found]}"
    return found[0]


def commands(text: str) -> list[str]:
    """The commands of a block: continuation lines joined, comments dropped, `&&` chains split."""
    joined = re.sub(r"\\\n\s*", " ", text)
    joined = re.sub(r"\n\s+\[", " [", joined)  # a synopsis' next line of options
    out = []
    for line in joined.splitlines():
        line = re.sub(r"(?:^|\s+)#.*", "", line)  # a comment (none of the docs' quoted values holds " #")
        if line.strip():
            out += [part.strip() for part in re.split(r"\s&&\s", line)]
    return out


def substituted(text: str) -> str:
    text = re.sub(r"(--[\w-]+) …(?!\S)", r"\1 x", text)  # an option's value
    text = re.sub(r"(?<!\S)…(?!\S)", "", text)  # `…` alone: more arguments
    text = text.replace("…", "x")
    for name, value in PLACEHOLDERS.items():
        text = re.sub(rf"\b{name}\b", value, text)
    return text


def synopsis_variants(argv: str) -> list[list[str]]:
    """A synopsis (``cmd --a X [--b Y | --c Z] [--d]``) as the command lines it allows: the
    required part alone, then with each alternative of each optional group."""
    groups = re.findall(r"\[([^\]]*)\]", argv)
    base = re.sub(r"\s*\[[^\]]*\]", "", argv)
    variants = [shlex.split(substituted(base))]
    for group in groups:
        for alternative in group.split(" | "):
            words = shlex.split(substituted(alternative))
            if words and words[0].startswith("-"):  # `--db PATH | s3://…`: a bare value is the option's
                variants.append(shlex.split(substituted(base)) + words)
    return variants


def parse_fetcher(args: list[str]) -> str | None:
    """None when the real parser accepts these arguments (``--version`` and ``--help`` exit 0), else
    its error line."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parse(build_parser(), args)
    except SystemExit as exc:
        return None if exc.code == 0 else f"exit {exc.code}: {err.getvalue().strip()}"
    return None


def make_targets() -> set[str]:
    """The Makefile's targets, its variables expanded the way make prints its database."""
    done = subprocess.run(["make", "-pRrq", "-C", str(ROOT), "-f", "Makefile", ":"], capture_output=True, text=True)
    return {line.split(":")[0] for line in done.stdout.splitlines() if re.match(r"^[\w./-]+:(?!=)", line)}


def settings_table() -> set[str]:
    """The names in the first column of the settings table (docs/settings.md)."""
    _, text = section("Settings")
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", text, re.M))


def code_settings() -> set[str]:
    """Every environment variable mergelens reads: fetcher/config.py's declared list, the only
    names ``Environment.from_environ`` reads (``test_the_settings_module_reads_each_declared_variable``)
    and the only module that reads the environment (``test_only_the_settings_module_reads_the_environment``)."""
    return set(VARIABLES)


def _code_names() -> tuple[set[str], set[str]]:
    """The settings (``code_settings``), and the Python names fetcher/ and dashboard/ spell like a
    setting (``MERGELENS_TABLES``), which are none."""
    identifiers: set[str] = set()
    for path in [*ROOT.glob("fetcher/**/*.py"), *ROOT.glob("dashboard/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                identifiers.add(node.id)
    return code_settings() - identifiers, identifiers


def environment_reads(path: Path) -> list[str]:
    """Where a module reads the environment or Streamlit's secrets: ``os.environ``, ``os.getenv``,
    ``environ`` imported from os, ``st.secrets``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv", "secrets"):
            found.append(f"{ast.unparse(node)} (line {node.lineno})")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"from os import {a.name} (line {node.lineno})" for a in node.names if "env" in a.name]
    return found


def workflow_names() -> set[str]:
    """The secrets and variables the workflow files read (``secrets.X``, ``vars.X``)."""
    names: set[str] = set()
    for path in [*WORKFLOWS.values(), ROOT / "action.yml", *ROOT.glob("examples/*.yml")]:
        names |= set(re.findall(r"\b(?:secrets|vars)\.([A-Z][A-Z0-9_]+)", path.read_text(encoding="utf-8")))
    return names


def check_command(command: str, built: set[str]) -> list[str]:
    """What is wrong with one command of a shell block (empty: nothing)."""
    try:
        words = shlex.split(command.replace("…", "x"))
    except ValueError as exc:
        return [f"{command}: {exc}"]
    problems = []
    if words[:1] == ["export"]:
        words = words[1:]
        if all("=" in word for word in words):
            return [f"{command}: sets {word.split('=')[0]}, not a setting" for word in words if not _setting(word)]
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        if not _setting(words[0]):
            problems.append(f"{command}: sets {words[0].split('=')[0]}, not a setting (a DSN with spaces needs quotes)")
        words = words[1:]
    if not words:
        return problems
    head = words[0]
    if head == "make":
        targets = [word for word in words[1:] if "=" not in word and not word.startswith("-")]
        problems += [f"{command}: make has no target {target}" for target in targets if target not in MAKE_TARGETS]
    elif (fetcher := re.fullmatch(r"(?:\.venv[\w-]*/bin/)?python", head) and words[1:3] == ["-m", "fetcher"]) or (
        head == "mergelens"  # the installed command (docs/commands.md): the same parser
    ):
        entry = "-m fetcher" if fetcher else "mergelens"
        line = command[command.index(entry) + len(entry) :]
        for args in synopsis_variants(line):
            if (error := parse_fetcher(args)) is not None:
                problems.append(f"{command}: {shlex.join(args)}: {error}")
    elif head == "python" and words[1:2] == ["-c"]:
        pass  # run by test_python_snippets_run
    elif head == "streamlit" and words[1:2] == ["run"]:
        if not (ROOT / words[2]).is_file():
            problems.append(f"{command}: no file {words[2]}")
    elif head == "docker" and words[1:2] == ["build"]:
        built.add(words[words.index("-t") + 1])
        if not (ROOT / words[-1] / "Dockerfile").is_file():
            problems.append(f"{command}: no Dockerfile in {words[-1]}")
    elif (plain := words[1:] if head == "sudo" else words)[0] in ("chmod", "chown") and len(plain) > 2:
        # the secrets file made readable by the image's user alone: its uid is the Dockerfile's USER
        tool, setting, *paths = plain
        if paths != ["secrets.toml"]:
            problems.append(f"{command}: changes {paths}, not the secrets.toml the block mounts")
        elif tool == "chown" and f"USER {setting}:" not in (ROOT / "Dockerfile").read_text():
            problems.append(f"{command}: {setting} is not the image's user")
    elif head == "docker" and words[1:2] == ["run"]:
        if words[-1] not in built:
            problems.append(f"{command}: runs {words[-1]}, an image no `docker build -t` of its block makes")
    else:
        problems.append(f"{command}: {NOT_CHECKED} {ILLUSTRATIVE}")
    return problems


def _setting(assignment: str) -> bool:
    return assignment.split("=", 1)[0] in DOCUMENTED


MAKE_TARGETS = make_targets()
DOCUMENTED = settings_table()


NOT_CHECKED = "not checked: run it in a test or mark the block"


@pytest.mark.parametrize(
    ("name", "line", "text", "marked"),
    [
        pytest.param(*block, marked, id=f"{block[0]}:{block[1]}")
        for marked in (False, True)
        for block in shell_blocks(marked)
        if not block[2].startswith("python -c")  # run by test_python_snippets_run
    ],
)
def test_every_shell_block_is_checked(name, line, text, marked):
    """Unmarked blocks are also run (tests/test_docs_run.py); an illustrative one is checked as far
    as the test knows its commands (make targets, files, the image's user), another tool's passes."""
    built: set[str] = set()
    problems = [problem for command in commands(text) for problem in check_command(command, built)]
    if marked:
        problems = [problem for problem in problems if NOT_CHECKED not in problem]
    assert problems == [], f"{name}:{line}"


def test_every_illustrative_marker_sits_on_a_block():
    """A marker whose block moved away would silently mark the next one."""
    stray = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            on_block = MARKER.match(line.strip()) and FENCE.match(lines[i + 1])
            if line.strip().startswith("<!-- illustrative") and not on_block:
                stray.append(f"{path.name}:{i + 1}")
    assert stray == []


def test_the_checks_catch_what_breaks_a_copy_paste():
    # Controls: each kind of drift the docs had is caught.
    assert check_command("python -m fetcher copy --db ducklake:postgres:dbname=lake host=db --json", set())
    assert check_command("MERGELENS_DB=ducklake:postgres:dbname=lake host=db make dashboard", set())
    assert check_command("make no-such-target", set())
    assert check_command("python -m fetcher sync --no-such-option", set())
    assert check_command("mergelens sync --no-such-option", set())
    assert not check_command("mergelens dashboard --server.port 8600", set())
    assert not check_command("mergelens --version", set())
    assert check_command("docker run -p 8501:8501 elsewhere", set())
    assert check_command("curl https://example.com", set())
    assert not check_command("MERGELENS_DB='ducklake:postgres:dbname=lake host=db' make dashboard", set())
    assert not check_command("make lake .venv/.installed", set())
    assert check_command("sudo chown 1000 secrets.toml", set())  # not the image's user
    assert check_command("chmod 600 other.toml", set())
    assert not check_command("sudo chown 10001 secrets.toml", set())


def test_python_snippets_run(tmp_path):
    """A ``python -c`` block runs as written (its /tmp/ paths moved into a temp directory)."""
    ran = 0
    for name, line, text in shell_blocks():
        if text.startswith("python -c"):
            code = shlex.split(text.replace("/tmp/", f"{tmp_path}/"))[2]
            done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, f"{name}:{line}: {done.stderr}"
            assert done.stdout.strip(), f"{name}:{line} printed nothing"
            ran += 1
    assert ran >= 1


COMMAND = re.compile(r"^(?:[A-Za-z_]+=\S+ )*(?:(?:\.venv[\w-]*/bin/)?python -m fetcher |mergelens |make )")


def test_inline_commands_parse():
    """`python -m fetcher …`, `mergelens …` and `make …` in running text are checked like the blocks'."""
    problems = []
    for path in DOCS:
        for span in re.findall(r"`([^`\n]+)`", path.read_text(encoding="utf-8")):
            if COMMAND.match(span):
                problems += [f"{path.name}: {bad}" for cmd in commands(span) for bad in check_command(cmd, set())]
    assert problems == []


def test_no_unquoted_dsn_in_a_command():
    # `--db ducklake:postgres:dbname=lake host=…` splits at the space: `host=…` is another argument.
    unquoted = re.compile(r"(?:--db[ =]|--to |--from |MERGELENS_DB=)ducklake:postgres:[^'\"`\s]*\s+\w+=")
    hits = [f"{path.name}: {m.group(0)}" for path in DOCS for m in unquoted.finditer(path.read_text(encoding="utf-8"))]
    assert hits == []


def yaml_snippets() -> list[tuple[str, int, str]]:
    return [(name, line, text) for name, line, lang, text, _ in blocks() if lang in ("yaml", "yml")]


def test_no_unpinned_action_in_the_docs():
    uses = [
        (path.name, line.strip())
        for path in DOCS
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"^\s*#?\s*(?:-\s+)?uses:", line)
    ]
    assert uses, "the docs show no uses: at all"
    unpinned = [(name, line) for name, line in uses if not PINNED_USES.match(_pinned_placeholder(line.lstrip("# ")))]
    assert unpinned == []


def _pinned_placeholder(text: str) -> str:
    """The README's action pin placeholder as a pin: ``OWNER/mergelens@<full commit sha>``."""
    return text.replace("<full commit sha>", "0" * 40).replace("# vX.Y.Z", "# v1.0.0")


def _subset(snippet: object, real: object, where: str) -> list[str]:
    """Where ``snippet`` is not a part of ``real`` (mappings: its keys with the same values; lists:
    each item in the real list)."""
    if isinstance(snippet, dict) and isinstance(real, dict):
        return [
            problem
            for key, value in snippet.items()
            for problem in (
                _subset(value, real[key], f"{where}.{key}") if key in real else [f"{where}.{key}: not in the real file"]
            )
        ]
    if isinstance(snippet, list) and isinstance(real, list):
        return [f"{where}: {item!r} not in the real file" for item in snippet if item not in real]
    return [] if snippet == real else [f"{where}: {snippet!r} != {real!r}"]


def test_the_compaction_snippet_is_the_org_workflows_job():
    (snippet,) = [text for name, _, text in yaml_snippets() if name == "ducklake.md"]
    real = yaml.safe_load(WORKFLOWS["mergelens-org.yml"].read_text(encoding="utf-8"))
    shown = yaml.safe_load(snippet)
    assert "compact" in shown["jobs"]
    assert _subset(shown, real, "mergelens-org.yml") == []


def readme_workflow() -> tuple[str, dict]:
    (snippet,) = [text for name, _, text in yaml_snippets() if name == "README.md"]
    return snippet, yaml.safe_load(snippet)


def test_the_readme_workflow_has_the_real_workflows_triggers_permissions_and_concurrency():
    _, shown = readme_workflow()
    real = yaml.safe_load(WORKFLOWS["mergelens.yml"].read_text(encoding="utf-8"))
    assert _subset(shown[True], real[True], "on") == []  # on: (YAML 1.1 reads the key as True)
    assert shown["permissions"] == real["permissions"]
    assert set(shown["jobs"]) == set(real["jobs"])
    for job, spec in shown["jobs"].items():
        for key in ("if", "runs-on", "timeout-minutes", "permissions", "concurrency", "needs"):
            # the action's output is artifact-name, the workflow's own step's artifact_name
            pair = (spec.get(key), real["jobs"][job].get(key))
            values = (str(value).replace("artifact-name", "artifact_name") for value in pair)
            assert len(set(values)) == 1, f"{job}.{key}"


def test_the_readme_workflow_gives_the_action_only_its_inputs_and_the_readme_lists_them_all():
    _, shown = readme_workflow()
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    inputs = set(action["inputs"])
    given = {key for job in shown["jobs"].values() for step in job["steps"] for key in step.get("with", {})}
    assert given <= inputs
    # The settings the workflow reads from repository variables reach the action as inputs.
    assert {"db", "bots", "work-calendar"} <= given
    _, text = section("Run it on every merge (GitHub Actions)")
    listed = text.split("The action's inputs:", 1)[1].split("Its outputs:", 1)[0]
    assert {name for name in inputs if f"`{name}`" not in listed} == set()


def test_the_readme_workflow_passes_actionlint_and_zizmor(tmp_path):
    snippet, _ = readme_workflow()
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "mergelens.yml").write_text(_pinned_placeholder(snippet), encoding="utf-8")
    result = run_tool(["actionlint", "-no-color", "-oneline", str(workflows / "mergelens.yml")])
    assert (result.returncode, result.stdout.strip()) == (0, "")
    assert zizmor(str(workflows / "mergelens.yml"))[1] == []  # the default persona


def test_every_setting_the_code_reads_is_in_the_settings_table():
    assert code_settings() - DOCUMENTED == set()


def test_only_the_settings_module_reads_the_environment(tmp_path):
    """Every setting is read in fetcher/config.py; ``st.secrets`` (the dashboard's secrets.toml)
    only in dashboard/auth.py."""
    allowed = {"fetcher/config.py": ["os.environ (line"], "dashboard/auth.py": ["st.secrets (line"]}
    reads = {
        str(path.relative_to(ROOT)): environment_reads(path)
        for path in [*ROOT.glob("fetcher/**/*.py"), *ROOT.glob("dashboard/**/*.py")]
    }
    unexpected = {
        name: [read for read in found if not read.startswith(tuple(allowed.get(name, [])))]
        for name, found in reads.items()
    }
    assert {name: found for name, found in unexpected.items() if found} == {}
    assert reads["fetcher/config.py"] and reads["dashboard/auth.py"]
    # the check itself: reads like those that were spread over the dashboard are caught
    probe = tmp_path / "probe.py"
    probe.write_text("from os import getenv\nDB = os.environ.get('MERGELENS_DB')\nS = st.secrets['auth']\n")
    assert len(environment_reads(probe)) == 3


def test_the_settings_module_reads_each_declared_variable():
    """A name in VARIABLES that no field reads (or a field reading a name not declared, which
    ``from_environ`` never sees) fails: set alone, each changes the Environment."""
    unset = Environment.from_environ({})
    unread = [
        name
        for name in VARIABLES
        if all(Environment.from_environ({name: value}) == unset for value in ("1", "true", "https://x.example"))
    ]
    assert unread == []


def test_every_setting_the_docs_name_exists():
    setting = re.compile(r"\bMERGELENS_[A-Z0-9_]*[A-Z0-9]\b")
    named = {name for path in DOCS for name in setting.findall(path.read_text(encoding="utf-8"))}
    settings, identifiers = _code_names()
    assert named - settings - identifiers - workflow_names() == set()
    assert DOCUMENTED - code_settings() - READ_ELSEWHERE == set()


def test_the_organisation_setup_names_what_the_organisation_workflow_reads():
    _, text = section("Organisation setup")
    step = text.split("4. **The central repository**", 1)[1].split("\n5. ", 1)[0]
    org = WORKFLOWS["mergelens-org.yml"].read_text(encoding="utf-8")
    read = set(re.findall(r"\b(?:secrets|vars)\.([A-Z][A-Z0-9_]+)", org))
    named = set(re.findall(r"`((?:MERGELENS|SENTRY)_[A-Z0-9_]+)`", step))
    assert named - read == {"MERGELENS_DIGEST_ISSUE"}  # named as not passed
    assert read - named == set()


ENV_KEY = re.compile(r"^\s+((?:MERGELENS|AWS|SENTRY|GITHUB)_[A-Z0-9_]+):", re.M)


def test_every_setting_a_workflow_passes_is_in_the_settings_table():
    passed = set()
    for path in [*WORKFLOWS.values(), ROOT / "action.yml"]:
        passed |= set(ENV_KEY.findall(path.read_text(encoding="utf-8")))
    # the organisation workflow's secrets (workflow_call), passed on under the settings' names
    org = yaml.safe_load(WORKFLOWS["mergelens-org.yml"].read_text(encoding="utf-8"))
    passed -= set(org[True]["workflow_call"]["secrets"]) - {"SENTRY_DSN"}
    assert passed - DOCUMENTED == set()


def test_commands_sit_in_fenced_blocks():
    """An indented code block escapes the checks above: a command goes in a ```sh fence."""
    hits = []
    for path in DOCS:
        lines, fenced = path.read_text(encoding="utf-8").splitlines(), False
        for i, line in enumerate(lines):
            fenced ^= line.strip().startswith("```")
            if not fenced and line.startswith("    ") and not lines[i - 1].strip() and COMMAND.match(line.strip()):
                hits.append(f"{path.name}:{i + 1}")
    assert hits == []


def heading_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as
    hyphens, a repeated one numbered (``-1``, ``-2``)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for _, m in headings_of(path.read_text(encoding="utf-8").splitlines()):
        anchor = re.sub(r"[^\w\- ]", "", m.group(2).strip().lower()).replace(" ", "-")
        anchors.add(f"{anchor}-{seen[anchor]}" if anchor in seen else anchor)
        seen[anchor] = seen.get(anchor, 0) + 1
    return anchors


def test_every_link_in_the_docs_resolves():
    """A relative link names a file that exists and, with ``#anchor``, a heading of it: the README
    moved most of its text into docs/, and every link into it followed."""
    broken = []
    for path in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            if not linked.exists():
                broken.append(f"{path.name}: {target}: no such file")
            elif anchor and anchor not in heading_anchors(linked):
                broken.append(f"{path.name}: {target}: no such heading")
    assert broken == []


def test_the_readme_is_the_front_door():
    """What a newcomer needs first, on a screen or three: the quick start's two commands, the
    workflow to copy, the dashboard, and where the rest is (each docs/ page linked)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_LINES
    [quick_start] = [body for name, _, lang, body, _ in blocks() if name == "README.md" and "make demo" in body]
    assert [command.split()[:2] for command in commands(quick_start)] == [["make", "demo"], ["make", "test"]]
    _, rest = section("Where the rest is")
    pages = {path.name for path in (ROOT / "docs").glob("*.md")}
    assert {page for page in pages if f"(docs/{page})" not in rest} == set()
