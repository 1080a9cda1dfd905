"""The engine end to end from the CLI, on real git, real processes and real HTTP (issue 3)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.helpers import (
    ROOT,
    config_port,
    git,
    processes_under,
    repo_with_item_in_code,
    shipdeck,
)
from tests.waiting import TimedOut, wait_until

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as response:
        return response.status, response.read().decode()


@pytest.fixture()
def demo(tmp_path: Path) -> Iterator[Path]:
    made = shipdeck("demo", "demo", "--no-open", "--no-docker", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    repo = tmp_path / "demo"
    yield repo
    shipdeck("stop", "staging", cwd=repo)
    left = processes_under(tmp_path)
    for proc in left:
        proc.kill()
    assert not left, f"processes left behind: {[p.cmdline() for p in left]}"


def _commit_on_branch(repo: Path, path: str, old: str, new: str, message: str) -> None:
    file = repo / path
    file.write_text(file.read_text().replace(old, new))
    git(repo, "commit", "-q", "-am", message)


def test_demo_board_is_real(demo: Path) -> None:
    items = json.loads(shipdeck("item", "list", "--json", cwd=demo).stdout)
    assert len(items) == 4
    in_code = [i for i in items if i["stage"] == "code"]
    assert len(in_code) == 1
    branch = in_code[0]["branch"]
    assert git(demo, "rev-list", "--count", f"main..{branch}") == "1"
    assert all(i["stage"] in ("plan", "code") for i in items)


def test_item_from_plan_to_deploy_from_the_cli(demo: Path) -> None:
    added = shipdeck("item", "add", "Say hola", "--kind", "feature", cwd=demo)
    item_id = added.stdout.strip()
    code = shipdeck("advance", item_id, "--to", "code", cwd=demo)
    assert code.returncode == 0, code.stderr
    branch = json.loads(shipdeck("item", "show", item_id, "--json", cwd=demo).stdout)["branch"]
    assert git(demo, "branch", "--list", branch).strip().endswith(branch)
    _commit_on_branch(
        demo, "app/__init__.py", "hello from", "hola, hello from", f"{item_id}: say hola"
    )
    deployed = shipdeck("advance", item_id, "--to", "deploy", "--env", "staging", cwd=demo)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "deploying 0.1.0 to staging (local)" in deployed.stdout  # the kind of target
    status, body = _get(f"http://127.0.0.1:{config_port(demo)}/")
    assert status == 200
    assert "hola, hello from" in body
    assert json.loads(body)["version"] == "0.1.0"
    assert "v0.1.0" in git(demo, "tag").split()
    assert item_id in git(demo, "show", "main:CHANGELOG.md")  # released without a checkout
    assert git(demo, "symbolic-ref", "--short", "HEAD") == branch
    assert git(demo, "status", "--porcelain") == ""
    # ...and says so: the next commit there would land on a merged branch
    assert f"still on {branch}, merged now: `git switch main` before new work" in deployed.stdout
    env = json.loads(shipdeck("status", "--json", cwd=demo).stdout)["environments"]["staging"]
    assert env["version"] == "0.1.0"
    assert env["healthy"] is True
    dora = json.loads(shipdeck("dora", "--json", cwd=demo).stdout)
    assert dora["deployments"] == 1
    assert dora["lead_time"]["samples"] == 1


def test_unhealthy_release_rolls_back_by_itself(demo: Path) -> None:
    first = shipdeck("advance", "SD-1", "--to", "deploy", "--env", "staging", cwd=demo)
    assert first.returncode == 0, first.stdout + first.stderr
    item_id = shipdeck("item", "add", "Break the service", cwd=demo).stdout.strip()
    assert shipdeck("advance", item_id, "--to", "code", cwd=demo).returncode == 0
    _commit_on_branch(
        demo,
        "app/__main__.py",
        "    args = parser.parse_args()\n",
        "    args = parser.parse_args()\n    sys.exit('refusing to start: broken release')\n",
        f"{item_id}: break startup",
    )
    broken = shipdeck("advance", item_id, "--to", "deploy", "--env", "staging", cwd=demo)
    assert broken.returncode == 1, broken.stdout
    assert "rolled back to 0.1.0" in broken.stderr
    status, body = _get(f"http://127.0.0.1:{config_port(demo)}/")
    assert status == 200
    assert json.loads(body)["version"] == "0.1.0"
    journal = [
        json.loads(line) for line in (demo / ".shipdeck/journal.jsonl").read_text().splitlines()
    ]
    failed = [e for e in journal if e["type"] == "deploy.failed"]
    rolled = [e for e in journal if e["type"] == "rolled_back"]
    assert failed and failed[-1]["version"] == "0.2.0"
    assert "refusing to start" in failed[-1]["reason"] or "exit" in failed[-1]["reason"]
    assert rolled and rolled[-1]["to_version"] == "0.1.0"
    shown = json.loads(shipdeck("item", "show", item_id, "--json", cwd=demo).stdout)
    assert shown["stage"] == "deploy"
    assert shown["states"]["deploy"]["state"] == "failed"


def test_a_fix_for_a_failed_deploy_ships_as_a_new_item_and_the_old_branch_says_so(
    demo: Path,
) -> None:
    """The release is the commit Test passed. A fix committed on the released item's
    branch (still checked out after the release) was deployed without a word: the retry
    redeployed the same broken release. The retry now says the branch moved and where a
    fix goes; the fix as a bug item from main ships as the next patch release."""
    item_id = shipdeck("item", "add", "Break the service", cwd=demo).stdout.strip()
    assert shipdeck("advance", item_id, "--to", "code", cwd=demo).returncode == 0
    crash = "    args = parser.parse_args()\n    sys.exit('refusing to start: broken')\n"
    fine = "    args = parser.parse_args()\n"
    _commit_on_branch(demo, "app/__main__.py", fine, crash, f"{item_id}: break startup")
    broken = shipdeck("advance", item_id, "--to", "deploy", "--env", "staging", cwd=demo)
    assert broken.returncode == 1, broken.stdout
    branch = git(demo, "symbolic-ref", "--short", "HEAD")
    _commit_on_branch(demo, "app/__main__.py", crash, fine, f"{item_id}: fix startup")
    tip = git(demo, "rev-parse", "--short=7", "HEAD")
    again = shipdeck("advance", item_id, "--to", "deploy", "--env", "staging", cwd=demo)
    assert again.returncode == 1, again.stdout
    assert f"{branch} moved to {tip} after 0.1.0 was cut from " in again.stdout
    assert "a fix goes in a new item from main (`git switch main`" in again.stdout

    git(demo, "switch", "-q", "main")
    fix = shipdeck("item", "add", "--kind", "bug", "Start again", cwd=demo).stdout.strip()
    assert shipdeck("advance", fix, "--to", "code", cwd=demo).returncode == 0
    git(demo, "cherry-pick", branch)
    shipped = shipdeck("advance", fix, "--to", "deploy", "--env", "staging", cwd=demo)
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    assert "moved to" not in shipped.stdout
    status, body = _get(f"http://127.0.0.1:{config_port(demo)}/")
    assert (status, json.loads(body)["version"]) == (200, "0.1.1")


def test_a_release_that_met_a_merge_conflict_releases_the_merge_that_settled_it(
    demo: Path,
) -> None:
    """Two items change one line; the second's release stops, main having moved since
    its Test (README, Decisions: what is released is what was tested). Merging main
    into its branch, as the log says, meets the conflict in git; settling it and
    committing, the next advance builds, tests and releases that merge (it once
    released the old sha again and met the same conflict at every advance)."""
    first = shipdeck("item", "add", "Say A", cwd=demo).stdout.strip()
    second = shipdeck("item", "add", "Say B", cwd=demo).stdout.strip()
    greeting = "from the shipdeck demo"
    git(demo, "switch", "-q", "main")
    assert shipdeck("advance", first, "--to", "code", cwd=demo).returncode == 0
    _commit_on_branch(demo, "app/__init__.py", greeting, "from A", f"{first}: A")
    git(demo, "switch", "-q", "main")
    assert shipdeck("advance", second, "--to", "code", cwd=demo).returncode == 0
    branch = git(demo, "symbolic-ref", "--short", "HEAD")
    _commit_on_branch(demo, "app/__init__.py", greeting, "from B", f"{second}: B")
    assert shipdeck("advance", first, "--to", "release", cwd=demo).returncode == 0
    stopped = shipdeck("advance", second, "--to", "release", cwd=demo)
    assert stopped.returncode == 1
    assert "main moved since" in stopped.stderr
    told = f"merge main into {branch} (`git switch {branch} && git merge main`)"
    assert told in stopped.stderr

    merged = subprocess.run(["git", "merge", "-q", "main"], cwd=demo, capture_output=True)
    assert merged.returncode != 0  # the conflict, in the work tree now
    init = demo / "app" / "__init__.py"
    lines = init.read_text().splitlines()
    keep = [ln for ln in lines if not ln.startswith(("<<<<<<<", "=======", ">>>>>>>"))]
    init.write_text("\n".join(ln for ln in keep if "from A" not in ln) + "\n")
    git(demo, "commit", "-qam", f"{second}: merge main")
    released = shipdeck("advance", second, "--to", "release", cwd=demo)
    assert released.returncode == 0, released.stdout + released.stderr
    assert "SD-" in released.stdout and "Build passed" in released.stdout
    assert '"hello from B"' in git(demo, "show", "main:app/__init__.py")
    assert {"v0.1.0", "v0.2.0"} <= set(git(demo, "tag").split())


def test_an_items_deleted_branch_is_named_and_made_again_from_plan(demo: Path) -> None:
    item_id = shipdeck("item", "add", "Gone", cwd=demo).stdout.strip()
    assert shipdeck("advance", item_id, "--to", "code", cwd=demo).returncode == 0
    branch = git(demo, "symbolic-ref", "--short", "HEAD")
    git(demo, "switch", "-q", "main")
    git(demo, "branch", "-q", "-D", branch)
    refused = shipdeck("advance", item_id, cwd=demo)
    assert refused.returncode == 1
    assert f"branch {branch} is gone: move the item back to Plan" in refused.stderr
    assert shipdeck("item", "move", item_id, "plan", cwd=demo).returncode == 0
    assert shipdeck("advance", item_id, "--to", "code", cwd=demo).returncode == 0
    assert git(demo, "branch", "--list", branch).strip("* ") == branch


def test_failing_test_leaves_item_failed_in_test_and_its_fix_passes(demo: Path) -> None:
    item_id = shipdeck("item", "add", "Return 201", cwd=demo).stdout.strip()
    assert shipdeck("advance", item_id, "--to", "code", cwd=demo).returncode == 0
    _commit_on_branch(
        demo,
        "app/__main__.py",
        'if path == "/":\n        return 200,',
        'if path == "/":\n        return 201,',
        f"{item_id}: 201",
    )
    result = shipdeck("advance", item_id, cwd=demo)
    assert result.returncode == 1
    shown = json.loads(shipdeck("item", "show", item_id, "--json", cwd=demo).stdout)
    assert shown["stage"] == "test"
    assert shown["states"]["test"]["state"] == "failed"
    assert shown["tests"]["failed"] == 1
    assert any("test_root_greets" in name for name in shown["tests"]["failures"])
    human = shipdeck("item", "show", item_id, cwd=demo).stdout
    assert "FAILED" in human and "test_root_greets" in human
    assert "v0.1.0" not in git(demo, "tag")

    # The fix, committed as a person would: Build and Test run again on it and pass.
    # (Test's failed counts stayed on the item, and every Build after the fix failed on
    # them: "1 test(s) failed".)
    _commit_on_branch(
        demo,
        "app/__main__.py",
        'if path == "/":\n        return 201,',
        'if path == "/":\n        return 200,',
        f"{item_id}: 200 again",
    )
    again = shipdeck("advance", item_id, "--to", "test", cwd=demo)
    assert again.returncode == 0, again.stdout + again.stderr
    shown = json.loads(shipdeck("item", "show", item_id, "--json", cwd=demo).stdout)
    assert shown["states"]["build"]["state"] == "passed"
    assert shown["states"]["test"]["state"] == "passed"
    assert (shown["tests"]["passed"], shown["tests"]["failed"], shown["tests"]["failures"]) == (
        3,
        0,
        [],
    )


CANCEL_CONFIG = """\
version: 1
project: cancelme
stages:
  build:
    - run: "sh -c 'sleep 300 & echo $! > \\"$PIDS\\"; sleep 301 & echo $! >> \\"$PIDS\\";
        echo started; wait'"
"""

SECRET_CONFIG = """\
version: 1
project: secretive
stages:
  build:
    - run: "echo the token is $API_TOKEN; echo \\"$API_TOKEN\\" >&2"
environments:
  staging:
    run: "true"
    secrets: [API_TOKEN]
"""


def test_sigint_during_build_leaves_no_process(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    repo_with_item_in_code(repo, CANCEL_CONFIG)
    pids_file = tmp_path / "pids"
    env = dict(os.environ, PIDS=str(pids_file), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipdeck", "advance", "SD-1"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    stdout = proc.stdout

    def started() -> bool:
        line = stdout.readline()
        return line.strip() == "started" or not line  # at the end: no use waiting

    wait_until(started, what="the step to start")
    pids = [int(p) for p in pids_file.read_text().split()]
    assert len(pids) == 2 and all(psutil.pid_exists(p) for p in pids)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130

    def alive() -> list[int]:
        live = []
        for p in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                if psutil.Process(p).status() != psutil.STATUS_ZOMBIE:
                    live.append(p)
        return live

    with contextlib.suppress(TimedOut):
        wait_until(lambda: not alive(), what="the step's processes to end")
    assert alive() == []
    shown = json.loads(shipdeck("item", "show", "SD-1", "--json", cwd=repo).stdout)
    assert shown["states"]["build"]["state"] == "cancelled"


NEVER_HEALTHY = """\
version: 1
project: cancelme
stages:
  test:
    - run: "true"
environments:
  staging:
    run: "exec sleep 300"
    port: {port}
    health: {{url: "http://127.0.0.1:{port}/health", timeout: 120, interval: 0.2}}
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["int", "term"])
def test_a_deploy_stopped_by_its_user_is_cancelled_not_a_failed_change(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """Found by a stranger's kill sweep: Ctrl-C during the health wait gave the Deploy
    stage "failed" and a ``deploy.failed`` ("deploy cancelled"), which DORA counted as a
    failed change (50%), where Build, Test and Release are "cancelled"."""
    from tests.helpers import free_port

    repo = tmp_path / "r"
    repo.mkdir()
    repo_with_item_in_code(repo, NEVER_HEALTHY.format(port=free_port()))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipdeck", "advance", "SD-1", "--to", "deploy", "--env", "staging"],
        cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    stdout = proc.stdout
    wait_until(lambda: "starting" in stdout.readline(), what="the service to start")
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 130
    shown = json.loads(shipdeck("item", "show", "SD-1", "--json", cwd=repo).stdout)
    assert shown["states"]["deploy"]["state"] == "cancelled"
    events = [json.loads(line) for line in (repo / ".shipdeck" / "journal.jsonl").open()]
    outcomes = [e["type"] for e in events if e["type"].startswith("deploy")]
    assert outcomes == ["deploy.started", "deploy.cancelled"], outcomes
    dora = json.loads(shipdeck("dora", "--json", cwd=repo).stdout)
    assert (dora["failed_deployments"], dora["failed_changes"]) == (0, 0), dora
    assert processes_under(repo) == []  # the service was stopped


def test_secret_never_reaches_logs_or_terminal(tmp_path: Path) -> None:
    secret = "s3cr3t-Value-4242"
    repo = tmp_path / "r"
    repo.mkdir()
    repo_with_item_in_code(repo, SECRET_CONFIG)
    result = shipdeck("advance", "SD-1", "--to", "build", cwd=repo, env={"API_TOKEN": secret})
    assert result.returncode == 0, result.stderr
    assert "the token is ***" in result.stdout
    assert secret not in result.stdout + result.stderr
    logs = list((repo / ".shipdeck" / "runs").glob("*.log"))
    assert logs
    for log in logs:
        assert secret not in log.read_text()
    shown = shipdeck("logs", "SD-1", cwd=repo, env={"API_TOKEN": secret})
    assert "***" in shown.stdout + shown.stderr
    assert secret not in shown.stdout + shown.stderr


def test_logs_follow_tails_the_service(demo: Path) -> None:
    assert shipdeck("advance", "SD-1", "--to", "deploy", cwd=demo).returncode == 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # `logs staging` is `logs --env staging`: a word that is no item id but names one
    follower = subprocess.Popen(
        [sys.executable, "-m", "shipdeck", "logs", "staging", "--follow", "--tail", "0"],
        cwd=demo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # With --tail 0 the follower shows only what comes after it started, and when it
    # has started is not visible from here: the requests go on until a line shows.
    done = threading.Event()

    def ask() -> None:
        while not done.wait(0.2):
            with contextlib.suppress(urllib.error.HTTPError, OSError):  # 404: the line counts
                _get(f"http://127.0.0.1:{config_port(demo)}/from-the-test")

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    try:
        assert follower.stdout is not None
        stdout = follower.stdout
        lines: list[str] = []

        def followed() -> bool:
            lines.append(stdout.readline())
            return "from-the-test" in lines[-1] or not lines[-1]

        wait_until(followed, what="the service's log line")
        seen = "".join(lines)
        assert "GET /from-the-test" in seen
    finally:
        done.set()
        asker.join()
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=10) == 130  # interrupted (README: exit codes)


def test_webhook_receives_deploys(demo: Path) -> None:
    import http.server
    import threading

    received: list[dict[str, object]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = demo / "shipdeck.yaml"
        config.write_text(
            config.read_text() + f"notify:\n  webhook: http://127.0.0.1:{server.server_port}/hook\n"
        )
        git(demo, "commit", "-q", "-am", "notify a webhook")
        result = shipdeck("advance", "SD-1", "--to", "deploy", cwd=demo)
        assert result.returncode == 0, result.stderr
    finally:
        server.shutdown()
    events = [r["event"] for r in received]
    assert [e["type"] for e in events] == ["deployed"]  # type: ignore[index]
    assert events[0]["version"] == "0.1.0"  # type: ignore[index]
    assert received[0]["project"] == "hello"


def test_code_killed_after_its_branch_was_made_is_run_again_on_that_branch(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code records the branch with its result (one board write fewer): a Code killed
    between making the branch and its result leaves the card running with no branch;
    run again, it finds the branch and records it."""
    from shipdeck.backends.git import GitRepo
    from shipdeck.lifecycle.items import Kind, RunState
    from shipdeck.lifecycle.stages import Stage
    from shipdeck.project.repo import Project
    from shipdeck.project.wiring import build_engine

    class Killed(BaseException):  # not an Exception: nothing in the engine catches it
        pass

    def killed(self: GitRepo, branch: str) -> str | None:
        raise Killed

    project = Project(demo)
    item = project.store.add("Say hola", Kind.FEATURE)
    with monkeypatch.context() as patched:
        patched.setattr(GitRepo, "checkout_if_safe", killed)
        with pytest.raises(Killed):
            build_engine(project).advance(item.id, to=Stage.CODE)
    left = Project(demo).store.get(item.id)
    assert left.running and left.branch is None  # as a kill leaves it
    made = git(demo, "branch", "--list", f"feature/{item.id}-*").strip(" *\n").split()
    assert len(made) == 1  # the branch was made
    branch = made[0]
    again = Project(demo)
    engine = build_engine(again)
    engine.recover()
    assert engine.advance(item.id, to=Stage.CODE).ok
    done = again.store.get(item.id)
    assert (done.branch, done.current.state) == (branch, RunState.PASSED)
    assert done.sha == git(demo, "rev-parse", branch)


def test_the_demos_next_step_pastes_into_a_shell_where_the_path_has_a_space(
    tmp_path: Path,
) -> None:
    """Found running the wheel's ``shipdeck demo "démo 1"``: "next: cd démo 1 && ..."
    took a pasting user to ``démo`` (or nowhere). The path is quoted for the shell."""
    made = shipdeck("demo", "démo 1", "--no-open", "--no-docker", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    step = next(ln for ln in made.stdout.splitlines() if ln.startswith("next: "))
    command = step.removeprefix("next: ").replace("shipdeck item list", "pwd")
    went = subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True)
    assert went.returncode == 0, went.stderr
    assert Path(went.stdout.strip()) == (tmp_path / "démo 1").resolve()
