"""``shipdeck init``: look at a repository and write a shipdeck.yaml that works.

Detection is deliberately shallow (file names and a few well-known keys): the
result is a starting point the user edits, with comments saying how.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from lifecycle.items import slugify


@dataclass
class Detected:
    project: str
    base_branch: str = "main"
    build: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)
    junit: bool = False
    dockerfile: bool = False
    found: list[str] = field(default_factory=list)


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
    lines += [
        "  release:",
        "    version: semver",
        '    tag: "v{version}"',
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
