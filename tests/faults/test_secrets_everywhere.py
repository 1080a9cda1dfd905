"""A secret printed by a failing service and carried in a failing test's name reaches
no file under .shipdeck, no git object, no webhook payload and no CLI output."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import WebhookReceiver as Hook
from tests.helpers import free_port, git, shipdeck

pytestmark = pytest.mark.slow

SECRET = "Zq8-sEcReT-value-7731"
ENV = {"API_TOKEN": SECRET}

FAILING_TESTS = """\
cat > junit.xml <<XML
<testsuite><testcase classname="t" name="test_$API_TOKEN">
<failure message="token $API_TOKEN"/></testcase></testsuite>
XML
echo "FAILED test_$API_TOKEN"
exit 1
"""


def _config(port: int, hook: str, failing_test: bool) -> str:
    test_step = (
        '    - run: "sh failing_tests.sh"\n      junit: junit.xml\n'
        if failing_test
        else '    - run: "true"\n'
    )
    return f"""\
version: 1
project: leaky
stages:
  test:
{test_step}environments:
  staging:
    run: "echo the service saw $API_TOKEN and quits >&2; echo $API_TOKEN; exit 3"
    port: {port}
    health: {{url: "http://127.0.0.1:{port}/health", timeout: 3, interval: 0.2}}
    secrets: [API_TOKEN]
notify:
  webhook: {hook}
"""


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook(path="/hook")
    yield h
    h.close()


def _repo(root: Path, config: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "shipdeck.yaml").write_text(config)
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    (root / "app.txt").write_text("one\n")
    (root / "failing_tests.sh").write_text(FAILING_TESTS)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    assert shipdeck("item", "add", "Work", cwd=root, env=ENV).returncode == 0
    assert shipdeck("advance", "SD-1", "--to", "code", cwd=root, env=ENV).returncode == 0
    (root / "app.txt").write_text("two\n")
    git(root, "commit", "-qam", "work")
    return root


def _everything_git_holds(root: Path) -> str:
    """Every object in the repository, reachable or not, as text."""
    out = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    return out.decode("utf-8", "replace")


def _files_under(folder: Path) -> dict[str, str]:
    """What shipdeck wrote: not ``work/``, the export where the project's own build and
    test processes write what they like (a JUnit report naming the test, here)."""
    return {
        str(p): p.read_bytes().decode("utf-8", "replace")
        for p in folder.rglob("*")
        if p.is_file() and "work" not in p.relative_to(folder).parts[:1]
    }


def test_the_secret_goes_nowhere(tmp_path: Path, hook: Hook) -> None:
    outputs: list[str] = []

    # A failing test whose name and message carry the secret.
    tests = _repo(tmp_path / "tests", _config(free_port(), hook.url, failing_test=True))
    failed = shipdeck("advance", "SD-1", "--to", "test", cwd=tests, env=ENV)
    assert failed.returncode == 1
    outputs += [failed.stdout, failed.stderr]
    shown = shipdeck("item", "show", "SD-1", cwd=tests, env=ENV)
    assert "test_***" in shown.stdout  # the failing test is named, masked
    outputs += [shown.stdout, shown.stderr]

    # A service that prints the secret on stderr and never gets healthy.
    deploys = _repo(tmp_path / "deploys", _config(free_port(), hook.url, failing_test=False))
    deployed = shipdeck(
        "advance", "SD-1", "--to", "deploy", "--env", "staging", cwd=deploys, env=ENV
    )
    assert deployed.returncode == 1
    outputs += [deployed.stdout, deployed.stderr]
    for args in (
        ("item", "show", "SD-1"),
        ("item", "show", "SD-1", "--json"),
        ("item", "list", "--json"),
        ("status", "--json"),
        ("logs", "SD-1"),
        ("logs", "--env", "staging"),
        ("dora", "--json"),
        ("item", "history", "SD-1"),
    ):
        done = shipdeck(*args, cwd=deploys, env=ENV)
        outputs += [done.stdout, done.stderr]
    shipdeck("stop", "staging", cwd=deploys, env=ENV)

    journal = (deploys / ".shipdeck" / "journal.jsonl").read_text()
    assert "deploy" in journal  # the failure was journaled...
    assert hook.bodies  # ...and sent to the webhook
    for text in outputs:
        assert SECRET not in text
    for body in hook.bodies:
        assert SECRET not in body
        json.loads(body)
    for repo in (tests, deploys):
        for name, text in _files_under(repo / ".shipdeck").items():
            assert SECRET not in text, f"the secret is in {name}"
        assert SECRET not in _everything_git_holds(repo)


PASSWORD = "pG-Hunter2-in-a-url"
# A project whose one step passes: what is left to leak is the environments'.
QUIET_HEAD = """\
version: 1
project: leaky
stages:
  test:
    - run: "true"
environments:
"""
URL_CONFIG = (
    QUIET_HEAD
    + """\
  staging:
    run: "echo connecting to $DATABASE_URL >&2; echo db $DATABASE_URL; exit 3"
    port: {port}
    health: {{url: "http://127.0.0.1:{port}/health", timeout: 3, interval: 0.2}}
    env: {{DATABASE_URL: "postgres://app:{password}@db.internal:5432/app"}}
notify:
  webhook: {hook}
"""
)


def test_a_password_in_a_url_in_the_config_is_masked_though_nobody_named_it(
    tmp_path: Path, hook: Hook
) -> None:
    """``env: {DATABASE_URL: postgres://app:PW@...}``, no ``secrets:``: a service that
    prints its URL and fails shows it with the password masked, everywhere."""
    config = URL_CONFIG.format(port=free_port(), hook=hook.url, password=PASSWORD)
    repo = _repo(tmp_path / "url", config)
    checked = shipdeck("check", cwd=repo)
    assert checked.returncode == 0
    assert "staging.DATABASE_URL: a password in a URL" in checked.stderr
    deployed = shipdeck("advance", "SD-1", "--to", "deploy", "--env", "staging", cwd=repo)
    assert deployed.returncode == 1
    outputs = [deployed.stdout, deployed.stderr]
    for args in (("item", "show", "SD-1", "--json"), ("logs", "--env", "staging")):
        done = shipdeck(*args, cwd=repo)
        outputs += [done.stdout, done.stderr]
    shipdeck("stop", "staging", cwd=repo)

    assert hook.bodies
    assert "connecting to postgres://app:***@db.internal:5432/app" in "".join(outputs)
    for text in [*outputs, *hook.bodies]:
        assert PASSWORD not in text
    # shipdeck.yaml holds it (the user's file, in git, and its copies: the release's
    # export, the validated config's cache); nothing shipdeck writes of its own does
    copies = ("shipdeck.yaml", "config-ok.json")
    files = _files_under(repo / ".shipdeck")
    assert any(".err" in name and "app:***@db" in text for name, text in files.items())
    for name, text in files.items():
        if not name.endswith(copies):
            assert PASSWORD not in text, f"the password is in {name}"


# --- the forms a stranger's hunt got past the masks (2026-12-07) ---------------------

ODD = 'Zq9/pa ss+wörd"&x'  # named by another environment; URL-special characters
LEAK = r"""
import base64, os, sys, urllib.parse
t, odd = os.environ["API_TOKEN"], os.environ["ODD_TOKEN"]
print("split", t[:7] + "\x1b[1m" + t[7:], flush=True)
print("Authorization: Basic", base64.b64encode(("user:" + t).encode()).decode())
print("GET /login?" + urllib.parse.urlencode({"token": odd}), urllib.parse.quote(odd))
print("the other environment's", odd)
sys.stdout.write("A" * 65535 + t + "B\n")
sys.stderr.write("fatal: token " + t[:7] + "\x1b[1m" + t[7:] + "\x1b[0m rejected\n")
sys.exit(3)
"""
HUNT_CONFIG = (
    QUIET_HEAD
    + """\
  staging:
    run: "{{python}} leak.py"
    port: {port}
    health: {{url: "http://127.0.0.1:{port}/health", timeout: 3, interval: 0.2}}
    secrets: [API_TOKEN]
  other:
    run: "true"
    secrets: [ODD_TOKEN]
notify:
  webhook: {hook}
"""
)
HIDDEN = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def _readable_forms() -> list[str]:
    """The secrets as a reader could recover them from any text shipdeck writes."""
    basic = base64.b64encode(("user:" + SECRET).encode()).decode()
    return [
        SECRET,
        SECRET.lower(),  # a branch's slug
        basic[8:-4],  # the part of the basic-auth value only the secret decides
        ODD,
        urllib.parse.quote(ODD),
        urllib.parse.urlencode({"t": ODD})[2:],
    ]


def test_the_forms_a_stranger_tried_go_nowhere(tmp_path: Path, hook: Hook) -> None:
    """A title typed with the secret in it (``item add``: no engine built, and nothing
    was masked: the board, the journal, the board's commit message, the branch), and a
    service printing the secret cut by a colour code, in a basic-auth header, URL-encoded,
    at column 65,535 of a long line, and another environment's secret."""
    env = {"API_TOKEN": SECRET, "ODD_TOKEN": ODD}
    config = HUNT_CONFIG.format(port=free_port(), hook=hook.url)
    repo = _repo(tmp_path / "hunt", config, {"leak.py": LEAK})
    outputs: list[str] = []
    added = shipdeck(
        "item", "add", f"Rotate token {SECRET} now", "--body", f"old {SECRET}", "--json",
        cwd=repo, env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    new_id = json.loads(added.stdout)["id"]
    assert json.loads(added.stdout)["title"] == "Rotate token *** now"
    coded = shipdeck("advance", new_id, "--to", "code", cwd=repo, env=env)
    assert coded.returncode == 0, coded.stderr
    outputs += [added.stdout, added.stderr, coded.stdout, coded.stderr]

    deployed = shipdeck("advance", "SD-1", "--to", "deploy", "--env", "staging", cwd=repo, env=env)
    assert deployed.returncode == 1
    outputs += [deployed.stdout, deployed.stderr]
    for args in (
        ("item", "show", new_id, "--json"),
        ("item", "list", "--json"),
        ("item", "history", new_id),
        ("logs", "SD-1"),
        ("logs", "--env", "staging"),
    ):
        done = shipdeck(*args, cwd=repo, env=env)
        outputs += [done.stdout, done.stderr]
    shipdeck("stop", "staging", cwd=repo, env=env)

    assert any("split ***" in text for text in outputs), "the service's log was read"
    assert hook.bodies
    refs = git(repo, "for-each-ref", "--format=%(refname)")
    files = _files_under(repo / ".shipdeck")
    assert any(name.endswith(".out") and "A" * 100 + "***B" in t for name, t in files.items())
    texts = {
        **{f"output {i}": t for i, t in enumerate(outputs)},
        **{f"webhook {i}": t for i, t in enumerate(hook.bodies)},
        **files,
        "git objects": _everything_git_holds(repo),
        "refs": refs,
    }
    for where, text in texts.items():
        shown = HIDDEN.sub("", text)  # as a screen shows it: the colour codes draw nothing
        for form in _readable_forms():
            assert form not in shown, f"{form!r} is in {where}"
