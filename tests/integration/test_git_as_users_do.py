"""shipdeck in a repository used the way people use git: `git add -A` after every step,
edits left uncommitted on other branches, a remote, tags that are not shipdeck's,
and shipdeck killed in the middle of a release."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT, git, shipdeck

pytestmark = pytest.mark.slow


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ok(repo: Path, *args: str) -> str:
    done = shipdeck(*args, cwd=repo)
    assert done.returncode == 0, f"shipdeck {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def _add_all_and_commit(repo: Path, message: str) -> None:
    """What most people run after every step; nothing of shipdeck's may be in it."""
    git(repo, "add", "-A")
    staged = git(repo, "diff", "--cached", "--name-only")
    assert ".shipdeck" not in staged
    if staged:
        git(repo, "commit", "-qm", message)
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "ls-files", ".shipdeck") == ""


def _item(repo: Path, item_id: str) -> dict[str, object]:
    return json.loads(_ok(repo, "item", "show", item_id, "--json"))


def _edit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / path
    file.write_text(file.read_text().replace(old, new))


@pytest.fixture()
def demo(tmp_path: Path) -> Iterator[Path]:
    """The demo service, pushed to a real bare remote it tracks."""
    made = shipdeck("demo", "demo", "--no-open", "--no-docker", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    repo = tmp_path / "demo"
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    yield repo
    shipdeck("stop", "staging", cwd=repo)


def test_plan_to_monitor_with_git_add_all_after_every_step(demo: Path) -> None:
    _add_all_and_commit(demo, "after demo")
    item_id = _ok(demo, "item", "add", "Say hola").strip()
    _add_all_and_commit(demo, "after add")
    _ok(demo, "advance", item_id, "--to", "code")
    branch = str(_item(demo, item_id)["branch"])
    assert git(demo, "symbolic-ref", "--short", "HEAD") == branch
    _add_all_and_commit(demo, "after code")
    _edit(demo, "app/__init__.py", "hello from", "hola, hello from")
    _add_all_and_commit(demo, f"{item_id}: say hola")
    for stage in ("build", "test", "release", "deploy"):
        _ok(demo, "advance", item_id, "--to", stage, "--env", "staging")
        assert _item(demo, item_id)["stage"] == stage
        _add_all_and_commit(demo, f"after {stage}")
    time.sleep(5.5)  # the demo's bake time
    _ok(demo, "advance", item_id, "--to", "operate")
    _add_all_and_commit(demo, "after operate")
    _ok(demo, "advance", item_id, "--to", "monitor")
    _add_all_and_commit(demo, "after monitor")
    item = _item(demo, item_id)
    assert item["stage"] == "monitor" and item["version"] == "0.1.0"
    # Nothing of shipdeck's in any commit the user made, the board in its ref.
    assert git(demo, "log", "--all", "--format=", "--name-only", "--", ".shipdeck") == ""
    subjects = git(demo, "log", "--format=%s", "refs/shipdeck/board").splitlines()
    assert f"{item_id}: plan -> code" in subjects
    assert f"{item_id}: release -> deploy" in subjects
    # Sync shares it; the release itself went nowhere until asked.
    _ok(demo, "sync")
    assert git(demo, "ls-remote", "origin", "refs/shipdeck/board")


def test_release_with_uncommitted_edits_on_another_items_branch(demo: Path) -> None:
    # SD-1 (in Code, with a commit ahead) is released while the user works on SD-2.
    other = _ok(demo, "item", "add", "Another change").strip()
    _ok(demo, "advance", other, "--to", "code")
    assert git(demo, "symbolic-ref", "--short", "HEAD") == _item(demo, other)["branch"]
    _edit(demo, "app/__init__.py", "hello from", "work in progress, hello from")
    (demo / "notes.txt").write_text("untracked notes\n")
    (demo / ".coverage").write_bytes(b"\x00rewritten by a test run\x01")
    watched = [demo / "app/__init__.py", demo / "notes.txt", demo / ".coverage"]
    before = {p: _sha256(p) for p in watched}
    status = git(demo, "status", "--porcelain")
    base_before = git(demo, "rev-parse", "main")

    _ok(demo, "advance", "SD-1", "--to", "release")

    assert {p: _sha256(p) for p in watched} == before
    assert git(demo, "status", "--porcelain") == status
    assert git(demo, "symbolic-ref", "--short", "HEAD") == _item(demo, other)["branch"]
    assert git(demo, "rev-parse", "main") != base_before
    assert "v0.1.0" in git(demo, "tag").split()
    assert git(demo, "merge-base", "--is-ancestor", "v0.1.0", "main") == ""
    assert "SD-1" in git(demo, "show", "v0.1.0:CHANGELOG.md")


def test_release_on_checked_out_clean_base_moves_the_work_tree(demo: Path) -> None:
    git(demo, "checkout", "-q", "main")
    _ok(demo, "advance", "SD-1", "--to", "release")
    assert git(demo, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(demo, "status", "--porcelain") == ""
    assert "SD-1" in (demo / "CHANGELOG.md").read_text()


def test_release_pushes_base_and_tag_to_the_remote_when_asked(demo: Path) -> None:
    config = demo / "shipdeck.yaml"
    text = config.read_text()
    text = re.sub(r"(\n  release:\n)", r"\1    remote: origin\n", text, count=1)
    assert "remote: origin" in text, "the demo config has a release section"
    config.write_text(text)
    git(demo, "commit", "-qam", "push releases")
    git(demo, "push", "-q", "origin", "main")
    git(demo, "checkout", "-q", str(_item(demo, "SD-1")["branch"]))
    _ok(demo, "advance", "SD-1", "--to", "release")
    remote = git(demo, "ls-remote", "origin")
    assert "refs/tags/v0.1.0" in remote
    assert git(demo, "rev-parse", "main") in remote


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([f"v0.{n}" for n in range(1, 24)], "v0.24"),
        (["3.1.2", "3.1.3"], "3.2.0"),
    ],
)
def test_the_next_release_follows_the_projects_own_tags(
    demo: Path, tags: list[str], expected: str
) -> None:
    config = demo / "shipdeck.yaml"  # no tag: template, as init writes for a new project
    config.write_text(re.sub(r"\n +tag: .*\n", "\n", config.read_text(), count=1))
    assert "tag:" not in config.read_text()
    git(demo, "commit", "-qam", "learn the tag template")
    first = git(demo, "rev-list", "--max-parents=0", "main")
    for tag in tags:
        git(demo, "tag", tag, first)
    _ok(demo, "advance", "SD-1", "--to", "release")
    assert _item(demo, "SD-1")["version"] == expected.lstrip("v")
    assert expected in git(demo, "tag").split()


RELEASE_CONFIG = """\
version: 1
project: killme
base_branch: main
stages:
  release:
    changelog: CHANGELOG.md
"""


def _release_tags(repo: Path, item_id: str) -> list[str]:
    tags = []
    for name in git(repo, "tag").split():
        if f"Shipdeck-Item: {item_id}" in git(repo, "tag", "-l", "--format=%(contents)", name):
            tags.append(name)
    return tags


def _check_release(repo: Path, item_id: str) -> bool:
    """Either no release of ``item_id`` or one whole one; True if it is there."""
    tags = _release_tags(repo, item_id)
    assert len(tags) <= 1, f"{item_id} released twice: {tags}"
    if not tags:
        return False
    tag = tags[0]
    commit = git(repo, "rev-parse", f"{tag}^{{commit}}")
    assert git(repo, "rev-parse", "main") == commit  # base moved with the tag
    assert git(repo, "show", f"{tag}:CHANGELOG.md").count(f"{item_id} ") == 1
    item = json.loads(_ok(repo, "item", "show", item_id, "--json"))
    assert item["version"] == tag.lstrip("v")  # the board moved with them
    return True


def test_sigkill_during_release_leaves_none_or_one_whole_release(tmp_path: Path) -> None:
    repo = tmp_path / "svc"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "shipdeck.yaml").write_text(RELEASE_CONFIG)
    (repo / "app.txt").write_text("v0\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start")
    rng = random.Random(30)
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def ready_to_release(n: int) -> str:
        item_id = _ok(repo, "item", "add", f"change {n}").strip()
        _ok(repo, "advance", item_id, "--to", "code")
        (repo / "app.txt").write_text(f"v{n + 1}\n")
        git(repo, "commit", "-qam", f"{item_id}: change")
        _ok(repo, "advance", item_id, "--to", "test")
        return item_id

    # How long a whole release takes here, so that the kills land before, during and
    # after its publish whatever the machine's speed (a fixed window went stale once
    # releases got faster: every kill came after the publish).
    first = ready_to_release(0)
    started = time.monotonic()
    _ok(repo, "advance", first, "--to", "release")
    whole = time.monotonic() - started
    git(repo, "checkout", "-q", "main")
    released_by_retry = released_before_kill = 0
    for n in range(1, 31):
        item_id = ready_to_release(n)
        proc = subprocess.Popen(
            [sys.executable, "-m", "shipdeck", "advance", item_id, "--to", "release"],
            cwd=repo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.3, 1.3) * whole)
        with_children = proc.poll() is None
        if with_children:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if _check_release(repo, item_id):
            released_before_kill += 1
        _ok(repo, "advance", item_id, "--to", "release")  # the retry
        assert _check_release(repo, item_id)
        released_by_retry += 1
        git(repo, "checkout", "-q", "main")
    tags = git(repo, "tag").split()
    assert len(tags) == 31 == len(set(tags))
    assert released_by_retry == 30
    assert 0 < released_before_kill < 30  # the kills landed on both sides of the publish


def test_release_with_overlapping_edits_on_the_checked_out_base_never_blocks(
    demo: Path,
) -> None:
    git(demo, "checkout", "-q", "main")
    changelog = demo / "CHANGELOG.md"
    changelog.write_text("# my own notes, not committed\n")  # the release writes this file
    before = _sha256(changelog)
    old_main = git(demo, "rev-parse", "main")

    out = _ok(demo, "advance", "SD-1", "--to", "release")

    assert _sha256(changelog) == before
    assert git(demo, "rev-parse", "main") != old_main  # released all the same
    assert git(demo, "rev-parse", "HEAD") == old_main  # the work tree did not move
    assert "git checkout -m main" in out
    assert git(demo, "status", "--porcelain") == "?? CHANGELOG.md"


def test_a_commit_after_test_builds_again_and_releases_that_sha(demo: Path) -> None:
    _ok(demo, "advance", "SD-1", "--to", "test")
    tested = _item(demo, "SD-1")["sha"]
    (demo / "LATE.md").write_text("a late change\n")
    git(demo, "add", "LATE.md")
    git(demo, "commit", "-qm", "SD-1: a late change")
    out = _ok(demo, "advance", "SD-1", "--to", "release")
    assert "SD-1: Build" in out  # the pipeline went back to Build for the new head
    head = git(demo, "rev-parse", str(_item(demo, "SD-1")["branch"]))
    assert head != tested
    shown = _item(demo, "SD-1")
    assert shown["states"]["test"]["sha"] == head  # what Test passed is what was released
    assert git(demo, "show", "v0.1.0:LATE.md") == "a late change"


KAC_CHANGELOG = """\
# Changelog

All notable changes to this project will be documented in this file.

## [Unreleased]

### Fixed

- Typo in the greeting.

## [0.0.9] - 2024-01-01

### Added

- First cut.

[Unreleased]: https://example.com/o/demo/compare/v0.0.9...HEAD
[0.0.9]: https://example.com/o/demo/compare/v0.0.8...v0.0.9
"""


def test_a_release_takes_the_notes_under_unreleased(demo: Path) -> None:
    """Keep a Changelog as its users keep it: notes gathered under ``[Unreleased]``,
    compare links at the bottom. The release's tag holds a changelog where those notes
    are the release's, the item among them, Unreleased empty on top and the links moved
    on; the next release, with nothing under Unreleased, goes below it."""
    config = demo / "shipdeck.yaml"
    config.write_text(
        config.read_text().replace(
            'tag: "v{version}"', 'tag: "v{version}"\n    changelog: CHANGELOG.md'
        )
    )
    (demo / "CHANGELOG.md").write_text(KAC_CHANGELOG)
    git(demo, "tag", "v0.0.9")
    _add_all_and_commit(demo, "a changelog, kept as Keep a Changelog says")
    _ok(demo, "advance", "SD-1", "--to", "release")
    tag = f"v{_item(demo, 'SD-1')['version']}"
    version = tag[1:]
    text = git(demo, "show", f"{tag}:CHANGELOG.md") + "\n"
    line = next(ln for ln in text.splitlines() if ln.startswith("- SD-1 "))
    assert text == KAC_CHANGELOG.replace(
        "## [Unreleased]\n", f"## [Unreleased]\n\n## [{version}] - {_today()}\n"
    ).replace("### Fixed\n", f"### Added\n\n{line}\n\n### Fixed\n").replace(
        "compare/v0.0.9...HEAD\n",
        f"compare/{tag}...HEAD\n[{version}]: https://example.com/o/demo/compare/v0.0.9...{tag}\n",
    )
    _add_all_and_commit(demo, "after the release")
    _ok(demo, "advance", "SD-3", "--to", "code")
    _edit(demo, "app/__init__.py", "\n", "\n# uptime\n")
    _add_all_and_commit(demo, "SD-3: uptime")
    _ok(demo, "advance", "SD-3", "--to", "release")
    nxt = f"v{_item(demo, 'SD-3')['version']}"
    after = git(demo, "show", f"{nxt}:CHANGELOG.md")
    assert (
        after.index("## [Unreleased]")
        < after.index(f"## [{nxt[1:]}]")
        < after.index(f"## [{version}]")
    )
    assert f"[Unreleased]: https://example.com/o/demo/compare/{nxt}...HEAD" in after
    assert after.count("Typo in the greeting.") == 1


def _today() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).date().isoformat()


def test_a_clone_without_its_base_branch_makes_it_from_origin(demo: Path, tmp_path: Path) -> None:
    """Found on pallets/itsdangerous cloned as people do: a clone made with ``--branch``
    (or one whose default branch was renamed upstream) has ``origin/main`` and no
    ``main``; Code failed with "base branch 'main' does not exist (a new repository
    needs a first commit on it)". git's own ``git switch main`` makes it from origin's,
    tracking it: so does shipdeck, and the release lands on it."""
    git(demo, "push", "-q", "origin", "main:dev")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "dev", str(tmp_path / "remote.git"), str(clone))
    assert git(clone, "branch", "--list", "main") == ""
    item_id = _ok(clone, "item", "add", "Say hola").strip()
    _ok(clone, "advance", item_id, "--to", "code")
    assert git(clone, "rev-parse", "--abbrev-ref", "main@{upstream}") == "origin/main"
    _edit(clone, "app/__init__.py", "hello from", "hola, hello from")
    git(clone, "commit", "-qam", f"{item_id}: say hola")
    _ok(clone, "advance", item_id, "--to", "release")
    tag = f"v{_item(clone, item_id)['version']}"
    assert git(clone, "merge-base", "--is-ancestor", tag, "main") == ""
    assert git(clone, "rev-parse", "main") == git(clone, "rev-parse", f"{tag}^{{commit}}")


def test_a_base_branch_nowhere_names_the_branches_there(demo: Path) -> None:
    config = demo / "shipdeck.yaml"
    config.write_text(config.read_text().replace("base_branch: main", "base_branch: trunk"))
    assert "base_branch: trunk" in config.read_text()
    git(demo, "commit", "-qam", "trunk")
    item_id = _ok(demo, "item", "add", "Say hola").strip()
    done = shipdeck("advance", item_id, "--to", "code", cwd=demo)
    assert done.returncode == 1
    assert "base branch 'trunk' does not exist" in done.stderr
    assert "its branches: " in done.stderr and "main" in done.stderr.split("its branches: ")[1]
    assert "first commit" not in done.stderr


def test_a_linked_work_tree_ships_to_the_environment_every_tree_sees(demo: Path) -> None:
    """``git worktree add`` for a second piece of work (as lazygit offers): what it
    deploys is what the main tree's ``status`` shows running and its ``stop`` stops;
    one journal; and the linked tree's ``git add -A`` finds nothing of shipdeck's."""
    linked = demo.parent / "linked"
    git(demo, "worktree", "add", "-q", str(linked), "-b", "scratch")
    item = _ok(linked, "item", "add", "From the other tree").strip()
    _ok(linked, "advance", item, "--to", "code")
    _edit(linked, "app/__init__.py", "hello from", "hi, hello from")
    _add_all_and_commit(linked, f"{item}: hi")
    _ok(linked, "advance", item, "--to", "deploy")
    assert not (linked / ".shipdeck").exists()

    status = json.loads(_ok(demo, "status", "--json"))
    staging = status["environments"]["staging"]
    deployed = _item(demo, item)
    assert staging["state"] == "running" and staging["version"] == deployed["version"]
    journal = [json.loads(line) for line in (demo / ".shipdeck" / "journal.jsonl").open()]
    assert any(e.get("item") == item and e.get("type") == "deployed" for e in journal)
    _ok(demo, "stop", "staging")
    linked_status = json.loads(_ok(linked, "status", "--json"))
    assert linked_status["environments"]["staging"]["state"] == "stopped"


def test_two_items_tested_side_by_side_release_only_what_was_tested(demo: Path) -> None:
    """Two items branched from the same main and tested side by side, as a board of
    parallel work has them. The first release moves main; the second would merge its
    tested commit into that new main, a merge no Build or Test ever ran on (and an
    image built from the branch would go out under a tag whose code it lacks). It is
    refused, nothing published, until main is merged into the branch; then the next
    advance builds, tests and releases that merge, which holds both changes."""
    one = _ok(demo, "item", "add", "Say hola").strip()
    two = _ok(demo, "item", "add", "Say ciao", "--kind", "bug").strip()
    _ok(demo, "advance", one, "--to", "code")
    _edit(demo, "app/__init__.py", "hello from", "hola, hello from")
    _add_all_and_commit(demo, f"{one}: hola")
    _ok(demo, "advance", one, "--to", "test")
    git(demo, "switch", "-q", "main")
    _ok(demo, "advance", two, "--to", "code")
    (demo / "CIAO.md").write_text("ciao\n")
    _add_all_and_commit(demo, f"{two}: ciao")
    _ok(demo, "advance", two, "--to", "test")
    tested = _item(demo, two)["states"]["test"]["sha"]  # type: ignore[index]

    _ok(demo, "advance", one, "--to", "release")
    main_before, tags_before = git(demo, "rev-parse", "main"), git(demo, "tag", "--list")
    refused = shipdeck("advance", two, "--to", "release", cwd=demo)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith(f"shipdeck: {two} stopped in Release (failed): main moved since")
    assert f"merge main into {_item(demo, two)['branch']}" in last
    assert "Release 0.1.0" in last  # the newest commit it would have merged untested
    assert git(demo, "rev-parse", "main") == main_before  # nothing published
    assert git(demo, "tag", "--list") == tags_before == "v0.1.0"
    shown = _item(demo, two)
    assert shown["states"]["release"]["state"] == "failed"  # type: ignore[index]
    assert shown.get("version") is None

    git(demo, "switch", "-q", str(shown["branch"]))
    git(demo, "merge", "-q", "--no-edit", "main")
    out = _ok(demo, "advance", two, "--to", "release")
    assert f"{two}: Build" in out and f"{two}: Test" in out  # the merge built and tested
    released = _item(demo, two)
    merged = released["states"]["test"]["sha"]  # type: ignore[index]
    assert merged != tested and merged == git(demo, "rev-parse", str(shown["branch"]))
    assert "fast-forward" in out
    tag = f"v{released['version']}"
    assert git(demo, "rev-parse", f"{tag}^{{commit}}~1") == merged  # the changelog on it
    assert "hola, hello from" in git(demo, "show", f"{tag}:app/__init__.py")
    assert git(demo, "show", f"{tag}:CIAO.md") == "ciao"


def test_a_branch_merged_by_hand_with_more_on_main_is_not_released_untested(
    demo: Path,
) -> None:
    """The item's tested commit merged into main by hand, and main moved on after it:
    releasing "where main is" would tag commits no Test ran on. Refused the same way;
    merging main into the branch (a fast-forward here) builds and tests main's head."""
    item = _ok(demo, "item", "add", "Say hola").strip()
    _ok(demo, "advance", item, "--to", "code")
    branch = str(_item(demo, item)["branch"])
    _edit(demo, "app/__init__.py", "hello from", "hola, hello from")
    _add_all_and_commit(demo, f"{item}: hola")
    _ok(demo, "advance", item, "--to", "test")
    git(demo, "switch", "-q", "main")
    git(demo, "merge", "-q", "--ff-only", branch)
    (demo / "LATER.md").write_text("later\n")
    _add_all_and_commit(demo, "later, untested")
    refused = shipdeck("advance", item, "--to", "release", cwd=demo)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "main moved since" in refused.stderr and "later, untested" in refused.stderr
    assert git(demo, "tag", "--list") == ""

    git(demo, "switch", "-q", branch)
    git(demo, "merge", "-q", "--ff-only", "main")
    out = _ok(demo, "advance", item, "--to", "release")
    assert f"{item}: Test" in out
    assert _item(demo, item)["states"]["test"]["sha"] == git(demo, "rev-parse", "main~1")  # type: ignore[index]
