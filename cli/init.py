"""``shipdeck init``: look at a repository and write a shipdeck.yaml that works.

Detection is deliberately shallow (file names and a few well-known keys): the
result is a starting point the user edits, with comments saying how.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from shipdeck.lifecycle.items import slugify
from shipdeck.lifecycle.versioning import DEFAULT_TAG_TEMPLATE, known_changelog_format, plan_release

# Changelog files shipdeck writes into, in order of preference (matched case-insensitively).
CHANGELOG_NAMES = (
    "CHANGELOG.md",
    "CHANGES.rst",
    "HISTORY.md",
    "CHANGES.md",
    "HISTORY.rst",
    "CHANGELOG.rst",
)
_CHANGELOG_STEMS = ("changelog", "changes", "history")
# Changelog-looking files in formats shipdeck cannot write (mentioned, never used).
_OTHER_SUFFIXES = ("", ".txt", ".text", ".adoc", ".asciidoc", ".org", ".rdoc", ".textile")
GIT_TIMEOUT = 10.0


@dataclass
class Detected:
    project: str
    base_branch: str = "main"
    build: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)
    junit: bool = False
    dockerfile: bool = False
    found: list[str] = field(default_factory=list)
    changelog: str | None = None  # an existing changelog file to write releases into
    changelog_note: str | None = None  # why another file was not used (one line)
    tag_template: str | None = None  # learned from the repository's version tags
    newest_tag: str | None = None


def _changelog(root: Path) -> tuple[str | None, str | None]:
    """The changelog file at ``root`` shipdeck should write, and a note on the others."""
    try:
        names = sorted(p.name for p in root.iterdir() if p.is_file())
    except OSError:
        return None, None
    rank = {name.lower(): n for n, name in enumerate(CHANGELOG_NAMES)}
    usable, other = [], []
    for name in names:
        path = PurePath(name)
        if path.stem.lower() not in _CHANGELOG_STEMS:
            continue
        if known_changelog_format(name) is not None:
            usable.append(name)
        elif path.suffix.lower() in _OTHER_SUFFIXES:
            other.append(name)
    usable.sort(key=lambda name: (rank.get(name.lower(), len(rank)), name))
    if usable:
        ignored = usable[1:] + other
        note = f"also found, not written: {', '.join(ignored)}" if ignored else None
        return usable[0], note
    if other:
        return None, (
            f"{', '.join(other)}: not Markdown (.md) or reStructuredText (.rst), "
            "so releases go to CHANGELOG.md"
        )
    return None, None


def git_tags(root: Path) -> list[str]:
    """The tags of the repository at ``root``; [] when it is not one or git cannot say."""
    if not (root / ".git").exists():
        return []
    env = dict(os.environ)
    # Only this repository: never a parent's when .git is broken.
    env["GIT_CEILING_DIRECTORIES"] = str(root.resolve().parent)
    try:
        done = subprocess.run(
            ["git", "tag", "--list", "--no-column"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if done.returncode != 0:
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def _base_branch(root: Path) -> str:
    head = root / ".git" / "HEAD"
    try:
        text = head.read_text().strip()
    except OSError:
        return "main"
    m = re.match(r"ref: refs/heads/(.+)", text)
    return m.group(1) if m else "main"


def _uses_pytest(root: Path) -> bool:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        data = {}
    if "pytest" in data.get("tool", {}):
        return True
    text = json.dumps(data)
    return "pytest" in text or (root / "pytest.ini").exists() or (root / "tests").is_dir()


def _make_targets(root: Path) -> set[str]:
    try:
        text = (root / "Makefile").read_text(errors="replace")
    except OSError:
        return set()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.M))


def detect(root: Path) -> Detected:
    found = Detected(project=slugify(root.resolve().name, limit=30), base_branch=_base_branch(root))
    if (root / "Makefile").exists():
        found.found.append("Makefile")
        targets = _make_targets(root)
        if "build" in targets:
            found.build.append("make build")
        if "test" in targets:
            found.test.append("make test")
    if (root / "package.json").exists():
        found.found.append("package.json")
        try:
            scripts = json.loads((root / "package.json").read_text()).get("scripts", {})
        except (OSError, ValueError, AttributeError):
            scripts = {}
        if "build" in scripts and not found.build:
            found.build.append("npm run build")
        if "test" in scripts and not found.test:
            found.test.append("npm test")
    if (root / "pyproject.toml").exists() or (root / "setup.py").exists():
        found.found.append("pyproject.toml" if (root / "pyproject.toml").exists() else "setup.py")
        if not found.build:
            found.build.append("{python} -m compileall -q -x '(^|/)\\.' .")
        if not found.test and _uses_pytest(root):
            found.test.append("{python} -m pytest -q --junitxml=.shipdeck/reports/junit.xml")
            found.junit = True
    if (root / "Dockerfile").exists():
        found.found.append("Dockerfile")
        found.dockerfile = True
    found.changelog, found.changelog_note = _changelog(root)
    if found.changelog:
        found.found.append(found.changelog)
    plan = plan_release(git_tags(root), None, [], False)
    if plan.previous_tag is not None:
        found.tag_template, found.newest_tag = plan.template, plan.previous_tag
        found.found.append(f"version tags up to {plan.previous_tag}")
    return found


def _q(text: str) -> str:
    """A YAML double-quoted scalar."""
    return json.dumps(text)


def render_config(d: Detected) -> str:
    lines = [
        "# shipdeck pipeline: see the README's config reference.",
        f"# Detected: {', '.join(d.found) or 'nothing in particular'}.",
        "version: 1",
        f"project: {d.project}",
        f"base_branch: {_q(d.base_branch)}",
        'branch: "{kind}/{id}-{slug}"',
        "stages:",
        "  build:",
    ]
    lines += [f"    - run: {_q(c)}" for c in d.build] or ["    []"]
    if d.dockerfile:
        tag = "{project}:{short_sha}"
        lines.append(f'    # - docker_build: {{context: ., dockerfile: Dockerfile, tag: "{tag}"}}')
    lines.append("  test:")
    for c in d.test:
        lines.append(f"    - run: {_q(c)}")
        if d.junit and "junit" in c:
            lines.append("      junit: .shipdeck/reports/junit.xml")
    if not d.test:
        lines[-1] = "  test: []"
    if not d.build:
        i = lines.index("    []")
        lines[i - 1 : i + 1] = ["  build: []"]
    lines += ["  release:", "    version: semver"]
    if d.tag_template is not None:
        lines.append(
            f"    # tag: spelled like this repository's version tags (newest: {d.newest_tag})"
        )
    lines.append(f"    tag: {_q(d.tag_template or DEFAULT_TAG_TEMPLATE)}")
    if d.changelog_note:
        lines.append(f"    # changelog: {d.changelog_note}")
    if d.changelog:
        lines.append(f"    changelog: {_q(d.changelog)}")
    lines += [
        "environments: {}",
        "# environments:",
        "#   staging:",
        "#     target: local",
        '#     run: "{python} -m app --port {port}"',
        "#     port: 8081",
        '#     health: {url: "http://127.0.0.1:{port}/health", timeout: 20}',
        "#     auto: true",
        "",
    ]
    return "\n".join(lines)
