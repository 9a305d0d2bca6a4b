"""The organisation path of docs/organisation.md ("Organisation setup"), walked as written, into a DuckLake.

The settings are the ones step 4 names, each where step 4 puts it: an organisation secret or
variable, or a secret of the central repository's `mergelens` environment. Every job's environment
is derived from the files, never copied here: a merge in a repository runs
examples/mergelens-caller.yml (its `your-org/mergelens` replaced by the central repository, as its
comment says), whose `with:` and `secrets:` become the `inputs` and `secrets` that
.github/workflows/mergelens-org.yml declares under `workflow_call` (GitHub refuses a call passing
an undeclared one), read by its merge job in the caller's context (the organisation's variables,
no environment of the central repository); the central jobs read the organisation's settings and,
under `environment: mergelens`, the environment's. A name that drifts between the docs, the
caller and the central workflow leaves a job without a setting it needs, and the walk fails.

Steps run with tests/test_actions_run.py's Runner on the DuckLake interpreter, against the fake
GitHub, a PostgreSQL catalog that asks for its password and moto's S3. ``uses:`` steps: the
checkout App's token is minted by a stand-in of actions/create-github-app-token through the fake
App's own endpoints (JWT, the repository's installation, a token); the checkout is refused unless
its token can read the central repository (a GITHUB_TOKEN reads its own repository and public
ones). The lake is then read as its step 8 reads it: the dashboard's lake reader, with
the lake's settings.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
import yaml

from tests.conftest import TOKEN, unavailable
from tests.support.factories import commit, pull
from tests.support.fake_github import FakeApp, FakeGitHub, Repository
from tests.support.services import ROOT, create_database, postgres_bin, postgres_cluster
from tests.test_actions_run import Runner, RunOutcome, evaluate, merge, merged_event
from tests.test_docs import section
from tests.test_organisation import APP_ID, rsa_key
from tests.test_readme_workflow import event_values, job_condition
from tests.test_storage import moto_endpoint, s3_settings  # noqa: F401 - moto_endpoint: a fixture

ORG = ROOT / ".github" / "workflows" / "mergelens-org.yml"
CALLER = ROOT / "examples" / "mergelens-caller.yml"
PLACEHOLDER = "your-org/mergelens"  # the caller's comment: replace it with the central repository
CENTRAL = "acme/mergelens"
CHECKOUT_APP_ID = 4712
CHECKOUT_INSTALLATION = 202
PASSWORD = "catalog-pw-never-printed"
DAILY, COMPACTION = "43 4 * * *", "17 6 * * *"  # the central workflow's two schedules

pytestmark = pytest.mark.slow  # whole jobs on the lake's interpreter: `make test-fast` skips them

# Step 4's words, in order: where a setting lives, what it is, and the settings themselves.
STEP_WORDS = re.compile(
    r"(?P<environment>environment `mergelens`|`mergelens` environment)|(?P<organisation>(?i:organisation-level))"
    r"|(?P<optional>\bOptional\b)|\b(?P<kind>secret|variable)s?\b"
    r"|`(?P<name>(?:MERGELENS|SENTRY)_[A-Z0-9_]+)`(?! is not passed)"
)


def organisation_setup() -> str:
    """The docs' "Organisation setup" section (docs/organisation.md), wherever it lives."""
    return section("Organisation setup")[1]


@dataclass(frozen=True)
class Setting:
    where: str  # "organisation", or "environment": the central repository's `mergelens` environment
    kind: str  # "secret" or "variable"
    optional: bool


def readme_settings() -> dict[str, Setting]:
    """The settings setup step 4 names, each with where it says it lives and what it is."""
    text = organisation_setup()
    step = " ".join(text.split("4. **The central repository**", 1)[1].split("\n5. ", 1)[0].split())
    where = kind = ""
    optional = False
    named: dict[str, Setting] = {}
    for word in STEP_WORDS.finditer(step):
        if word["environment"] or word["organisation"]:
            where = "environment" if word["environment"] else "organisation"
        elif word["optional"]:
            optional = True
        elif word["kind"]:
            kind = word["kind"]
        else:
            assert where and kind, f"setup step 4 names {word['name']} before saying where it lives and what it is"
            named[word["name"]] = Setting(where, kind, optional)
    return named


def workflow(path: Path, central: str = CENTRAL) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8").replace(PLACEHOLDER, central))


@dataclass
class Organisation:
    """The organisation's settings as step 4 places them: name -> value."""

    settings: dict[str, Setting]
    values: dict[str, str]

    def context(self, environment: str | None = None) -> dict[str, str]:
        """``secrets.*`` and ``vars.*`` of a job: the organisation's, and the `mergelens`
        environment's for a central job that names it."""
        return {
            f"{'secrets' if setting.kind == 'secret' else 'vars'}.{name}": self.values[name]
            for name, setting in self.settings.items()
            if name in self.values and (setting.where == "organisation" or environment == "mergelens")
        }


class CentralRepository:
    """The central repository's mergelens code (this checkout) and who may read it: the stand-ins
    of actions/create-github-app-token (the checkout App, through the fake App's endpoints) and
    actions/checkout."""

    def __init__(self, repo: Repository, checkout_app: FakeApp) -> None:
        self.repo, self.checkout_app = repo, checkout_app
        self.checked_out: list[str] = []  # the refs checked out

    def stand_ins(self) -> dict[str, Any]:
        return {"actions/create-github-app-token": self.mint, "actions/checkout": self.check_out}

    def mint(self, given: dict[str, str]) -> dict[str, str] | None:
        """What the action does: a JWT of app-id signed with private-key, the installation of
        owner/repositories, a token for those repositories with the permission-* inputs."""
        if not given.get("private-key"):
            return None  # the action fails: "Input required and not supplied: private-key"
        now = int(time.time())
        claims = {"iat": now - 60, "exp": now + 540, "iss": given["app-id"]}
        bearer = "Bearer " + jwt.encode(claims, given["private-key"], algorithm="RS256")
        repos = [self.repo]
        found = self.checkout_app.answer(
            "GET", f"/repos/{given['owner']}/{given['repositories']}/installation", bearer, repos
        )
        if found is None or found.status != 200:
            return None
        permissions = {
            k.removeprefix("permission-").replace("-", "_"): v for k, v in given.items() if "permission-" in k
        }
        body = json.dumps({"repositories": given["repositories"].split(","), "permissions": permissions}).encode()
        minted = self.checkout_app.answer(
            "POST", f"/app/installations/{found.body['id']}/access_tokens", bearer, repos, body
        )
        return {"token": minted.body["token"]} if minted is not None and minted.status == 201 else None

    def check_out(self, given: dict[str, str]) -> dict[str, str] | None:
        if given.get("repository") != self.repo.full_name:
            return {}  # a central job's checkout of its own repository, with its own token
        assert given["persist-credentials"].lower() == "false"  # the token stays out of the workspace
        token = given.get("token") or TOKEN  # actions/checkout's default: the job's GITHUB_TOKEN
        grant = self.checkout_app.grant_for(f"token {token}")
        readable = (
            grant is not None
            and not grant.expired()
            and self.checkout_app.covers(grant.installation_id, self.repo.full_name)
            and grant.permissions.get("contents") in ("read", "write")
        )
        # GitHub: a job's GITHUB_TOKEN reads its own repository; another one only when it is public
        if token == TOKEN:
            readable = not self.repo.private
        if not readable:
            return None  # "Repository not found" (GitHub hides what a token may not read)
        self.checked_out.append(given["ref"])
        return {}


class Walk:
    """The organisation's repositories on the fake GitHub, the lake's settings, and the jobs."""

    def __init__(self, server: FakeGitHub, central: CentralRepository, org: Organisation, python: Path, tmp: Path):
        self.server, self.central, self.org, self.python, self.tmp = server, central, org, python, tmp
        self.runs = 0

    def runner(self, repo: Repository, job: dict[str, Any], context: dict[str, str], paced: bool) -> Runner:
        self.runs += 1
        home = self.tmp / f"job-{self.runs}"
        home.mkdir()
        steps = {"steps": job["steps"], "env": job.get("env") or {}}
        return Runner(
            self.server, repo, home, paced, job=steps, context=context, python=self.python,
            stand_ins=self.central.stand_ins(),
        )  # fmt: skip

    def merge(self, repo: Repository, number: int) -> RunOutcome:
        """A PR of ``repo`` merges: the caller's job calls the central workflow's merge job."""
        event = merged_event(number)
        ours = {"full_name": repo.full_name, "id": repo.id}
        for side in (event["repository"], event["pull_request"]["base"]["repo"], event["pull_request"]["head"]["repo"]):
            side.update(ours)
        values = event_values("pull_request_target", event)
        caller, central = workflow(CALLER), workflow(ORG)
        [call] = caller["jobs"].values()
        assert job_condition(call["if"], values)
        interface = central[True]["workflow_call"]
        caller_context = self.org.context()  # a measured repository: no environment of the central one
        inputs = {name: evaluate(str(value), caller_context) for name, value in call["with"].items()}
        secrets = {name: evaluate(str(value), caller_context) for name, value in call["secrets"].items()}
        # GitHub refuses a call that passes what the called workflow does not declare, or lacks what it requires
        assert set(inputs) <= set(interface["inputs"]), set(inputs) - set(interface["inputs"])
        assert set(secrets) <= set(interface["secrets"]), set(secrets) - set(interface["secrets"])
        for declared, given in ((interface["inputs"], inputs), (interface["secrets"], secrets)):
            missing = {name for name, spec in declared.items() if spec.get("required") and not given.get(name)}
            assert not missing, f"the caller leaves required {missing} empty"
        # the workflow and the code it checks out: one repository, one commit
        assert (
            call["uses"]
            == f"{inputs['mergelens-repository']}/.github/workflows/mergelens-org.yml@" + inputs["mergelens-ref"]
        )
        job = central["jobs"]["merge"]
        assert job_condition(job["if"], values)
        assert "environment" not in job  # it would name an environment of the caller
        assert job["permissions"].items() <= call["permissions"].items()  # a called job may only ask for less
        context = {
            "github.repository_owner": repo.owner,
            **{f"inputs.{name}": value for name, value in inputs.items()},
            **{f"secrets.{name}": value for name, value in secrets.items()},
            **{name: value for name, value in caller_context.items() if name.startswith("vars.")},
        }
        return self.runner(repo, job, context, paced=False).run("pull_request_target", event)

    def central_run(self, event_name: str, payload: dict[str, Any]) -> dict[str, RunOutcome]:
        """The central workflow on ``event_name`` (schedule: its ``schedule`` in the payload;
        workflow_dispatch: its ``inputs``): the jobs whose ``if:`` holds, in order."""
        central = workflow(ORG)
        values = {"github.event_name": event_name, "github.event.schedule": payload.get("schedule", "")}
        done = {}
        for name, job in central["jobs"].items():
            if job_condition(job["if"], values):
                context = {
                    "github.repository_owner": self.central.repo.owner,
                    **self.org.context(job.get("environment")),
                }
                # paced: the org step's `python -m fetcher … || rc=$?` lines take no appended flag
                done[name] = self.runner(self.central.repo, job, context, paced=True).run(event_name, payload)
        return done


def lake_reader_env(org: Organisation, home: Path) -> dict[str, str]:
    """setup step 8: the dashboard with the lake's AWS_*, MERGELENS_LAKE_DATA_PATH and PGPASSWORD."""
    values = org.values
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "MERGELENS_DB": values["MERGELENS_LAKE_DB"],
        "PGPASSWORD": values["MERGELENS_PGPASSWORD"],
        "MERGELENS_LAKE_DATA_PATH": values["MERGELENS_LAKE_DATA_PATH"],
        "AWS_ACCESS_KEY_ID": values["MERGELENS_AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": values["MERGELENS_AWS_SECRET_ACCESS_KEY"],
        "AWS_ENDPOINT_URL": values["MERGELENS_AWS_ENDPOINT_URL"],
        "AWS_DEFAULT_REGION": values["MERGELENS_AWS_DEFAULT_REGION"],
    }


# Run on the lake's interpreter: the dashboard's lake reader at the lake's current snapshot.
READ_LAKE = """
import json, os, sys
from dashboard.lake import open_lake_database
from tests.support.lake_writer import dump_rows
lake = open_lake_database(os.environ["MERGELENS_DB"])
cursor = lake.cursor(lake.key())
found = {name: cursor.execute(sql).fetchall() for name, sql in json.loads(sys.argv[1]).items()}
print(json.dumps({**found, "rows": dump_rows(cursor)}, default=str))
"""
QUERIES = {
    "prs": "SELECT repo, number, sync_status FROM pull_requests ORDER BY repo, number",
    "metrics": "SELECT repo, number, cycle_time_hours, review_rounds, total_comments FROM pr_metrics ORDER BY ALL",
    "open": "SELECT DISTINCT repo, number FROM open_pr_snapshots ORDER BY ALL",
    "runs": "SELECT repo, pr_number, status FROM sync_runs WHERE pr_number IS NOT NULL ORDER BY ALL",
}


def read_lake(python: Path, org: Organisation, home: Path, queries: dict[str, str] = QUERIES) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), "-c", READ_LAKE, json.dumps(queries)],
        cwd=ROOT,
        env=lake_reader_env(org, home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


# --- the services ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog_cluster() -> Iterator[str]:
    """A PostgreSQL cluster whose TCP connections must give PASSWORD: the DSN alone is refused."""
    if postgres_bin() is None:
        unavailable("PostgreSQL is not installed (`make postgresql`: Debian's postgresql)")
    with postgres_cluster(password=PASSWORD) as dsn:
        yield dsn


@pytest.fixture
def lake_settings(catalog_cluster, moto_endpoint) -> dict[str, str]:  # noqa: F811 - the fixture imported above
    """The values of the lake's settings: a fresh catalog database and a fresh bucket."""
    s3 = s3_settings(moto_endpoint) | {"AWS_ACCESS_KEY_ID": "AKIAORGWALKEXAMPLE"}  # moto takes any key
    bucket = f"org-lake-{uuid.uuid4().hex[:10]}"
    boto3.client(
        "s3",
        endpoint_url=s3["AWS_ENDPOINT_URL"],
        aws_access_key_id=s3["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=s3["AWS_SECRET_ACCESS_KEY"],
        region_name=s3["AWS_DEFAULT_REGION"],
    ).create_bucket(Bucket=bucket)
    return {
        "MERGELENS_LAKE_DB": "ducklake:postgres:" + create_database(catalog_cluster, PASSWORD),
        "MERGELENS_PGPASSWORD": PASSWORD,
        "MERGELENS_LAKE_DATA_PATH": f"s3://{bucket}/mergelens/",
        **{f"MERGELENS_{name}": value for name, value in s3.items()},
    }


def open_pull(number: int, seed: str):
    pr = pull(number, created="2026-11-20 09:00", merged=None)
    pr.commits = [commit("2026-11-20 08:00", seed=(seed, number))]
    return pr


@pytest.fixture
def organisation(lake_settings, lake_python, tmp_path) -> Iterator[tuple[Walk, dict[str, Repository]]]:
    """acme/widgets (PRs 1-3) and acme/gears (PRs 1-2), all open, and gears' PR 3 merged in March;
    the private central repository
    acme/mergelens; the organisation App installed on all of acme, the checkout App on the central
    repository alone; every setting step 4 names that the walk has a value for."""
    repos = {"widgets": Repository("acme", "widgets", 4242), "gears": Repository("acme", "gears", 4343)}
    for name, count in (("widgets", 3), ("gears", 2)):
        for number in range(1, count + 1):
            repos[name].add_pull(open_pull(number, name))
    history = repos["gears"].add_pull(pull(3, created="2026-03-02 09:00", merged="2026-03-03 16:00"))
    history.commits = [commit("2026-03-02 08:00", seed=("gears", 3))]
    central = Repository("acme", "mergelens", 4444, private=True)
    app_key, checkout_key = rsa_key(), rsa_key()
    app = FakeApp(APP_ID, app_key[1], {"acme": 101})
    checkout_app = FakeApp(
        CHECKOUT_APP_ID, checkout_key[1], {"acme": CHECKOUT_INSTALLATION}, {CHECKOUT_INSTALLATION: [CENTRAL]},
        permissions={"metadata": "read", "contents": "read"},
    )  # fmt: skip
    # the caller's GITHUB_TOKEN (TOKEN) and the organisation App's installation tokens
    server = FakeGitHub([*repos.values(), central], token=TOKEN, app=app).start()
    values = {
        "MERGELENS_APP_ID": str(APP_ID),
        "MERGELENS_APP_PRIVATE_KEY": app_key[0],
        "MERGELENS_CHECKOUT_APP_ID": str(CHECKOUT_APP_ID),
        "MERGELENS_CHECKOUT_APP_PRIVATE_KEY": checkout_key[0],
        **lake_settings,
    }
    settings = readme_settings()
    required = {name for name, setting in settings.items() if not setting.optional}
    assert required == set(values), (
        f"setup step 4 names {sorted(required - set(values))}; the walk has {sorted(values)}"
    )
    walk = Walk(server, CentralRepository(central, checkout_app), Organisation(settings, values), lake_python, tmp_path)
    try:
        yield walk, repos
    finally:
        server.stop()
    assert not server.invalid_graphql


# --- the walk -------------------------------------------------------------------------------------


def secrets_of(org: Organisation) -> list[str]:
    """What must never be printed: every secret's value (a key by each line of its body), but the
    catalog's DSN: the run report names the lake it wrote, its password (if any) as ***; the
    password itself is MERGELENS_PGPASSWORD."""
    texts = []
    for name, setting in org.settings.items():
        value = org.values.get(name, "")
        if setting.kind == "secret" and value and name != "MERGELENS_LAKE_DB":
            texts += [line for line in value.splitlines() if line and not line.startswith("-----")]
    return [*texts, TOKEN]


def test_step_4_says_where_each_setting_lives():
    """What the walk relies on, read from the README: the App key in the `mergelens` environment,
    the lake's settings organisation-wide (the merge jobs run in the measured repositories)."""
    settings = readme_settings()
    assert settings["MERGELENS_APP_PRIVATE_KEY"] == Setting("environment", "secret", False)
    assert settings["MERGELENS_LAKE_DB"] == Setting("organisation", "secret", False)
    assert settings["MERGELENS_LAKE_DATA_PATH"] == Setting("organisation", "variable", False)
    assert settings["MERGELENS_CHECKOUT_APP_PRIVATE_KEY"] == Setting("organisation", "secret", False)
    assert settings["SENTRY_DSN"].optional and "MERGELENS_DIGEST_ISSUE" not in settings


def first_backfill_since() -> str:
    """The date setup step 6 gives the first backfill (Run workflow, `since`)."""
    step = organisation_setup().split("6. **The first backfill across the organisation**", 1)[1]
    found = re.search(r"`since` = `(\d{4}-\d{2}-\d{2})`", step.split("\n7. ", 1)[0])
    assert found, "setup step 6 gives no `since`"
    return found[1]


def test_merges_in_two_repositories_and_the_central_runs_fill_the_lake(organisation, lake_python):
    """The first backfill across the organisation (step 6: the central workflow run by hand with
    `since`, as the App) stores gears' March PR. Then a PR merges in acme/widgets and one in
    acme/gears: each repository's caller runs the central merge job with its own read-only token,
    after checking the private central repository out with the checkout App's token, and writes its
    PR into the lake. A third merge runs nothing (its merge run was lost). The daily central run, as
    the App, backfills the organisation (the lost PR) and snapshots its open PRs; the compaction run
    compacts the lake. The dashboard's reader then finds both repositories' PRs complete, with their
    metrics, and the open PRs, the same before and after the compaction; no secret reached any
    output."""
    walk, repos = organisation
    widgets, gears = repos["widgets"], repos["gears"]
    first = walk.central_run("workflow_dispatch", {"inputs": {"since": first_backfill_since(), "repos": ""}})
    assert set(first) == {"organisation"}
    assert first["organisation"].exit_codes.get("mergelens") == 0, first["organisation"].logs
    app_tokens = len(walk.server.app.grants)
    assert app_tokens, "the central run reads the organisation as the App"
    outputs = [first["organisation"]]
    for repo, number in ((widgets, 1), (gears, 1)):
        merge(repo.pulls[number])
        done = walk.merge(repo, number)
        assert done.exit_codes.get("mergelens") == 0, done.logs
        assert done.outputs["mergelens"]["status"] == "complete", done.logs
        outputs.append(done)
    # the central code, read with a token of the checkout App only, at the commit the caller pins
    assert walk.central.checked_out == [workflow(CALLER)["jobs"]["mergelens"]["with"]["mergelens-ref"]] * 2
    assert [grant.permissions for grant in walk.central.checkout_app.grants] == [{"contents": "read"}] * 2
    assert len(walk.server.app.grants) == app_tokens  # the merge runs never hold the organisation App's token

    merge(widgets.pulls[2])  # its merge run never ran
    daily = walk.central_run("schedule", {"schedule": DAILY})
    assert set(daily) == {"organisation"}
    assert daily["organisation"].exit_codes.get("mergelens") == 0, daily["organisation"].logs
    assert len(walk.server.app.grants) > app_tokens, "the central run reads the organisation as the App"
    assert walk.central.checked_out == [workflow(CALLER)["jobs"]["mergelens"]["with"]["mergelens-ref"]] * 2

    before = read_lake(lake_python, walk.org, walk.tmp)
    compaction = walk.central_run("schedule", {"schedule": COMPACTION})
    assert set(compaction) == {"compact"}
    compacted = compaction["compact"]
    assert len(compacted.exit_codes) == 2 and set(compacted.exit_codes.values()) == {0}, compacted.logs
    compactions = {"compactions": "SELECT count(*) FROM mergelens_compactions WHERE finished_at IS NOT NULL"}
    after = read_lake(lake_python, walk.org, walk.tmp, QUERIES | compactions)

    assert after.pop("compactions") == [[1]]  # the compaction, recorded in the lake
    assert after == before  # compaction changes files (it writes the catalog's inlined rows out), not rows
    assert after["prs"] == [
        ["acme/gears", 1, "complete"],
        ["acme/gears", 3, "complete"],
        ["acme/widgets", 1, "complete"],
        ["acme/widgets", 2, "complete"],
    ]
    metrics = {(repo, number): rest for repo, number, *rest in after["metrics"]}
    assert set(metrics) == {("acme/gears", 1), ("acme/gears", 3), ("acme/widgets", 1), ("acme/widgets", 2)}
    for (repo, number), (cycle_time, review_rounds, comments) in metrics.items():
        pr = repos[repo.split("/")[1]].pulls[number]
        expected = (pr.merged_at - pr.created_at).total_seconds() / 3600
        assert cycle_time == pytest.approx(expected, abs=0.01), (repo, number)
        assert (review_rounds, comments) == (0, 0)
    assert after["open"] == [["acme/gears", 2], ["acme/widgets", 3]]
    # the merge runs' records, each its repository's own PR
    assert ["acme/gears", 1, "complete"] in after["runs"] and ["acme/widgets", 1, "complete"] in after["runs"]

    printed = [run.logs + run.summary for run in [*outputs, *daily.values(), *compaction.values()]]
    minted = [grant.token for grant in [*walk.server.app.grants, *walk.central.checkout_app.grants]]
    for secret in [*secrets_of(walk.org), *minted]:
        assert not any(secret in text for text in printed), secret


def test_a_private_central_repository_without_the_checkout_app_stops_at_the_checkout(organisation):
    """Without step 4's checkout App the merge job checks out with the caller's token, which reads
    no other private repository: the run stops there, before it installs or writes anything. Made
    public, the same repository is read with the caller's token and the merge is written."""
    walk, repos = organisation
    for name in ("MERGELENS_CHECKOUT_APP_ID", "MERGELENS_CHECKOUT_APP_PRIVATE_KEY"):
        del walk.org.values[name]
    merge(repos["widgets"].pulls[1])
    stopped = walk.merge(repos["widgets"], 1)
    assert "mergelens" not in stopped.exit_codes and 1 in stopped.exit_codes.values()
    assert walk.central.checkout_app.grants == [] and walk.central.checked_out == []

    walk.central.repo.private = False
    done = walk.merge(repos["widgets"], 1)
    assert done.exit_codes.get("mergelens") == 0, done.logs
    assert len(walk.central.checked_out) == 1 and walk.central.checkout_app.grants == []
