"""A release's changelog commit and tag, written by hand (``GitRepo._by_hand``) where
git would write nothing but loose objects: they must be the very objects git writes.

The check is the strongest there is: with the dates fixed, the commit and the tag made
by hand have the same ids as the ones git's own path (hash-object, read-tree,
update-index, write-tree, commit-tree, mktag) makes, so they are the same bytes.
"""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipdeck.backends import git_files
from shipdeck.backends.git import GitRepo
from shipdeck.lifecycle.ports import PreparedRelease, VcsError
from tests.integration.test_git import T0, commit, git, isolated_git, make_repo

pytestmark = pytest.mark.slow  # real repositories, many of them

__all__ = ["isolated_git"]  # the autouse fixture: no user or system git config leaks in

# Files whose names sort around a folder's: git sorts a tree entry as "docs/".
FILES = ["README.md", "docs/CHANGES.md", "docs.txt", "docs-a", "a.b", "a-b", "ab", "b/c/d.md"]


@pytest.fixture
def fixed_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Author and committer dates fixed: the same objects get the same ids either way."""
    monkeypatch.setenv("GIT_AUTHOR_DATE", f"{T0 + 500} +0200")
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"{T0 + 600} -0130")


def history(root: Path) -> str:
    make_repo(root)
    for name in FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"{name}\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "files", when=T0)
    git(root, "checkout", "-q", "-b", "feature/SD-1-x")
    return commit(root, "x.txt", "x\n", "work", when=T0 + 100)


def release(vcs: GitRepo, sha: str, path: str, text: str, message: str) -> PreparedRelease:
    return vcs.prepare_release(
        sha=sha,
        base="main",
        merge_message="Merge SD-1",
        changelog_path=path,
        changelog_text=lambda old: old + text,
        commit_message=message,
        tag="v1.0.0",
        tag_message=message or "Release",
    )


def both_ways(
    root: Path, sha: str, path: str, text: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> list[PreparedRelease | str]:
    """(by hand, by git): each a PreparedRelease or the VcsError's text."""
    answers: list[PreparedRelease | str] = []
    write = git_files.write_loose

    def spied(objects: Path, fmt: str, kind: str, data: bytes) -> str:
        WRITTEN.append(kind)
        return write(objects, fmt, kind, data)

    for by_git in (False, True):
        vcs = GitRepo(root)
        if by_git:
            monkeypatch.setattr(vcs, "_by_hand", lambda commit: None)
        monkeypatch.setattr(git_files, "write_loose", write if by_git else spied)
        try:
            answers.append(release(vcs, sha, path, text, message))
        except VcsError as exc:
            answers.append(str(exc))
    monkeypatch.setattr(git_files, "write_loose", write)
    return answers


WRITTEN: list[str] = []  # the kinds of object written by hand, by both_ways


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    folder=st.sampled_from(["", "docs/", "b/c/", "new/", "b/new/"]),
    name=st.text(alphabet="ab.-_", min_size=1, max_size=6).filter(lambda n: n not in (".", "..")),
    text=st.text(max_size=40),
    message=st.one_of(
        st.text(max_size=30).filter(lambda m: "\0" not in m),
        st.sampled_from(["", "\n", "a\n\n", "  spaced  \n\n", "x\udcff", "tab\there", "é"]),
    ),
    packed=st.booleans(),
)
@pytest.mark.usefixtures("fixed_dates")
def test_a_release_written_by_hand_is_the_one_git_writes(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    folder: str,
    name: str,
    text: str,
    message: str,
    packed: bool,
) -> None:
    root = tmp_path_factory.mktemp("r")
    sha = history(root)
    if packed:  # objects in a pack: read by git, written by hand all the same
        git(root, "gc", "-q")
    path = folder + name
    WRITTEN.clear()
    by_hand, by_git = both_ways(root, sha, path, text, message, monkeypatch)
    if isinstance(by_git, str):
        assert by_hand == by_git  # the same refusal (a folder where the file would be)
        return
    assert isinstance(by_hand, PreparedRelease)
    # By hand indeed: the tag always; the commit where its trees were loose to read.
    assert "tag" in WRITTEN
    loose = not packed and folder in ("", "docs/", "b/c/")
    utf8 = "\udcff" not in message  # else git mends the message: git writes the commit
    assert ("commit" in WRITTEN) is (loose and utf8 and text != "")  # no text, no commit
    assert (by_hand.commit, by_hand.tag_object) == (by_git.commit, by_git.tag_object)
    git(root, "fsck", "--strict", "--no-dangling")
    shown = subprocess.run(
        ["git", "cat-file", "blob", f"{by_hand.commit}:{path}"], cwd=root, capture_output=True
    ).stdout
    old = f"{path}\n" if path in FILES else ""
    assert shown == (old + text).encode("utf-8", "surrogateescape")


def test_git_writes_them_where_it_would_write_more(tmp_path: Path) -> None:
    root = tmp_path / "r"
    sha = history(root)
    vcs = GitRepo(root)
    assert vcs._by_hand(sha) is not None
    for key, value in [
        ("commit.gpgSign", "false"),  # said at all: git decides
        ("i18n.commitEncoding", "ISO-8859-1"),
        ("core.fsync", "loose-object"),
        ("core.sharedRepository", "group"),
    ]:
        git(root, "config", key, value)
        assert GitRepo(root)._by_hand(sha) is None, key
        git(root, "config", "--unset", key)
    git(root, "config", "i18n.commitEncoding", "ISO-8859-1")
    prepared = release(GitRepo(root), sha, "CHANGELOG.md", "## v1.0.0\n", "Release")
    assert "\nencoding ISO-8859-1\n" in git(root, "cat-file", "commit", prepared.commit)


@pytest.mark.usefixtures("fixed_dates")
def test_a_message_git_would_change_goes_by_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "r"
    sha = history(root)
    lone = "Release \udcff"  # not UTF-8: git's commit-tree mends it (as Latin-1)
    by_hand, by_git = both_ways(root, sha, "CHANGELOG.md", "## v1.0.0\n", lone, monkeypatch)
    assert isinstance(by_hand, PreparedRelease) and isinstance(by_git, PreparedRelease)
    assert by_hand.commit == by_git.commit
    assert "Release \u00ff" in git(root, "cat-file", "commit", by_hand.commit)


def test_a_full_disk_while_writing_by_hand_is_a_vcs_error_and_moves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "r"
    sha = history(root)
    before = git(root, "show-ref", "--head")

    def full(*args: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(git_files, "write_loose", full)
    with pytest.raises(VcsError, match="No space left on device"):
        release(GitRepo(root), sha, "CHANGELOG.md", "## v1.0.0\n", "Release")
    assert git(root, "show-ref", "--head") == before


@pytest.mark.usefixtures("fixed_dates")
def test_a_replaced_object_is_read_as_git_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a replace ref git reads one blob as another: the changelog is read (and the
    release written) as git would, not from the object file."""
    root = tmp_path / "r"
    sha = history(root)
    other = tmp_path / "other.txt"
    other.write_text("replaced\n")
    git(
        root,
        "replace",
        git(root, "rev-parse", "HEAD:a.b"),
        git(root, "hash-object", "-w", str(other)),
    )
    by_hand, by_git = both_ways(root, sha, "a.b", "more\n", "Release", monkeypatch)
    assert isinstance(by_hand, PreparedRelease) and isinstance(by_git, PreparedRelease)
    assert by_hand.commit == by_git.commit
    assert git(root, "cat-file", "blob", f"{by_hand.commit}:a.b") == "replaced\nmore"


@pytest.mark.parametrize(
    ("config", "environ", "ident"),
    [
        ({"user.name": "Ann", "user.email": "ann@x"}, {}, "Ann <ann@x>"),
        ({}, {}, "shipdeck <shipdeck@localhost>"),
        ({"user.name": "Ann"}, {"EMAIL": "ann@mail"}, "Ann <ann@mail>"),
        ({"user.email": "ann@x"}, {}, "shipdeck <ann@x>"),
        (
            {},
            {
                f"GIT_{r}_{f}": v
                for r in ("AUTHOR", "COMMITTER")
                for f, v in [("NAME", "E"), ("EMAIL", "e@x")]
            },
            "E <e@x>",
        ),
    ],
    ids=["configured", "nobody", "name-and-EMAIL", "email-only", "variables"],
)
@pytest.mark.usefixtures("fixed_dates")
def test_the_release_is_written_by_whom_git_would_name_and_a_configured_user_asks_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, str],
    environ: dict[str, str],
    ident: str,
) -> None:
    """Who writes a release by hand: ``git var -l``, with shipdeck's fallback where
    nobody is named. Where the config names the user, that one listing is the whole
    question (no ``git config`` process); elsewhere it is asked again with the fallback."""
    root = tmp_path / "r"
    sha = history(root)
    for key in ("user.name", "user.email"):
        git(root, "config", "--unset", key)
    for key, value in config.items():
        git(root, "config", key, value)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    asked: list[str] = []
    execute = GitRepo._execute

    def spied(self: GitRepo, cmd: list[str], *args: object) -> tuple[int, object, str]:
        asked.append(cmd[3])  # git -c core.quotepath=off COMMAND
        return execute(self, cmd, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(GitRepo, "_execute", spied)
    assert GitRepo(root)._by_hand(sha) is not None
    if config.keys() == {"user.name", "user.email"}:
        assert asked == ["var"]
    monkeypatch.setattr(GitRepo, "_execute", execute)
    by_hand, by_git = both_ways(root, sha, "CHANGELOG.md", "## v1.0.0\n", "Release", monkeypatch)
    assert isinstance(by_hand, PreparedRelease) and isinstance(by_git, PreparedRelease)
    assert (by_hand.commit, by_hand.tag_object) == (by_git.commit, by_git.tag_object)
    shown = git(root, "cat-file", "commit", by_hand.commit)
    assert f"\nauthor {ident} " in shown and f"\ncommitter {ident} " in shown
    assert f"\ntagger {ident} " in git(root, "cat-file", "tag", by_hand.tag_object)
