"""``shipdeck init`` picks up a repository's changelog file and tag scheme (real git, real CLI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from shipdeck.lifecycle.config.schema import load_config
from tests.helpers import git, shipdeck

pytestmark = pytest.mark.slow  # shipdeck init and real git in subprocesses


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git config leaks in (signing, hooks, default branch)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CEILING_DIRECTORIES"):
        monkeypatch.delenv(var, raising=False)


def make_repo(
    root: Path, tags: list[str] | None = None, files: dict[str, str] | None = None
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "master")
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    (root / "README.md").write_text("hi\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    for tag in tags or []:
        git(root, "tag", tag)
    return root


def init(root: Path, env: dict[str, str] | None = None) -> tuple[str, str]:
    result = shipdeck("init", cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout, (root / "shipdeck.yaml").read_text()


def release_lines(config: str) -> list[str]:
    lines = config.splitlines()
    start = lines.index("  release:")
    end = next(n for n in range(start + 1, len(lines)) if not lines[n].startswith("    "))
    return lines[start + 1 : end]


def test_rst_changelog_and_tags_without_v(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "proj",
        tags=["3.1.2", "3.1.3", "latest", "v3.2.0-rc1"],
        files={"CHANGES.rst": "Changes\n=======\n", "HISTORY.md": "# History\n"},
    )
    out, text = init(repo)
    cfg = load_config(str(repo / "shipdeck.yaml")).stages.release
    assert cfg.tag == "{version}"
    assert cfg.changelog == "CHANGES.rst"
    assert release_lines(text) == [
        "    version: semver",
        "    # tag: spelled like this repository's version tags (newest: 3.1.3)",
        '    tag: "{version}"',
        "    # changelog: also found, not written: HISTORY.md",
        '    changelog: "CHANGES.rst"',
    ]
    assert "CHANGES.rst" in out and "3.1.3" in out
    assert shipdeck("check", cwd=repo).returncode == 0


def test_v_tags_with_two_components(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "proj", tags=[f"v0.{n}" for n in range(1, 24)] + ["nightly-2020"])
    _, text = init(repo)
    cfg = load_config(str(repo / "shipdeck.yaml")).stages.release
    assert cfg.tag == "v{version}"
    assert cfg.changelog == "CHANGELOG.md"  # nothing found: the default
    assert "(newest: v0.23)" in text  # numbers, not strings: v0.9 sorts below v0.23
    assert "changelog" not in "\n".join(release_lines(text))


def test_preference_order_and_case_insensitive_names(tmp_path: Path) -> None:
    names = ["changelog.rst", "History.RST", "CHANGES.md", "history.md", "Changes.rst"]
    repo = make_repo(tmp_path / "proj", files={n: "x\n" for n in names})
    _, text = init(repo)
    assert load_config(str(repo / "shipdeck.yaml")).stages.release.changelog == "Changes.rst"
    assert (
        "    # changelog: also found, not written: history.md, CHANGES.md, History.RST, "
        "changelog.rst" in text
    )
    (repo / "Changelog.MD").write_text("# Changelog\n")
    _, text = init_force(repo)
    assert '    changelog: "Changelog.MD"' in text


def init_force(root: Path) -> tuple[str, str]:
    result = shipdeck("init", "--force", cwd=root)
    assert result.returncode == 0, result.stderr
    return result.stdout, (root / "shipdeck.yaml").read_text()


def test_unrecognised_changelog_is_explained_in_one_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "proj", files={"CHANGELOG.txt": "1.0: first\n", "changes.py": ""})
    _, text = init(repo)
    assert load_config(str(repo / "shipdeck.yaml")).stages.release.changelog == "CHANGELOG.md"
    notes = [ln for ln in text.splitlines() if "CHANGELOG.txt" in ln]
    assert notes == [
        "    # changelog: CHANGELOG.txt: not Markdown (.md) or reStructuredText (.rst), "
        "so releases go to CHANGELOG.md"
    ]
    assert "changes.py" not in text
    assert '    tag: "v{version}"' in text and "# tag:" not in text  # no tags: the default


def test_not_a_repository_and_no_git_binary(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "CHANGELOG.md").write_text("# Changelog\n")
    refused = shipdeck("init", cwd=plain, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert refused.returncode == 2 and "not in a git repository" in refused.stderr
    assert not (plain / "shipdeck.yaml").exists()

    repo = make_repo(tmp_path / "proj", tags=["1.0.0"])
    no_git = tmp_path / "bin"
    no_git.mkdir()
    assert shutil.which("git", path=str(no_git)) is None
    refused = shipdeck("init", cwd=repo, env={"PATH": str(no_git)})
    assert refused.returncode == 2 and "git is not on PATH" in refused.stderr
    # With git back, the repository's scheme is learned.
    _, text = init(repo)
    assert '    tag: "{version}"' in text


def test_a_broken_git_dir_never_reads_a_parents_tags(tmp_path: Path) -> None:
    parent = make_repo(tmp_path / "outer", tags=["9.9.9"])
    inner = parent / "inner"
    (inner / ".git").mkdir(parents=True)
    refused = shipdeck("init", cwd=inner)
    assert refused.returncode == 2, refused.stdout
    assert "inner/.git: not a git repository" in refused.stderr
    assert not (inner / "shipdeck.yaml").exists() and not (parent / "shipdeck.yaml").exists()
