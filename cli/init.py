"""``shipdeck init``: look at a repository and write a shipdeck.yaml that works.

Detection reads well-known files and the project's own code (cli/init_detect.py) and
asks git (cli/init_git.py); the result is a starting point the user edits, with
comments saying how, and init says on stdout what it found and what it did not.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from shipdeck.cli.init_detect import (
    HealthRoute,
    Service,
    Sources,
    TestRunner,
    detect_health,
    detect_service,
    detect_tests,
    make_targets,
    makefile_path,
    package_dependencies,
    package_scripts,
)
from shipdeck.cli.init_git import default_branch, git, repo_root
from shipdeck.lifecycle.items import slugify
from shipdeck.lifecycle.missing_module import broken_venv, make_venv, node_install_command
from shipdeck.lifecycle.text import escape_controls
from shipdeck.lifecycle.versioning import (
    DEFAULT_TAG_TEMPLATE,
    ReleasePlan,
    known_changelog_format,
    plan_release,
)
from shipdeck.project import interpreter
from shipdeck.project.errors import EXIT_OK, UsageError
from shipdeck.project.interpreter import venv_python

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


# Where `shipdeck schema` output is looked for: the yaml-language-server line points
# at it (relative to shipdeck.yaml) only when it exists, else a comment says how.
SCHEMA_PATHS = (".vscode/shipdeck.schema.json", "shipdeck.schema.json")


@dataclass
class Detected:
    project: str
    base_branch: str = "main"
    base_branch_how: str = "nothing better known"
    build: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)
    junit: bool = False
    dockerfile: bool = False
    found: list[str] = field(default_factory=list)
    changelog: str | None = None  # an existing changelog file to write releases into
    changelog_note: str | None = None  # why another file was not used (one line)
    tag_template: str | None = None  # learned from the repository's version tags
    newest_tag: str | None = None
    runner: TestRunner | None = None
    other_runners: list[str] = field(default_factory=list)
    service: Service | None = None
    health: HealthRoute | None = None
    schema: str | None = None  # a JSON Schema file, relative to the config
    # The project's own folder in the repository (``backend`` of a backend/ + frontend/
    # repository), where init ran: its steps run there, its service too; None: the root.
    sub: str | None = None
    python: str | None = None  # that folder's venv's python, from the repository's root
    # The interpreter {python} would be when it is no venv's, for a Python project (its
    # tests then run without the project's packages); None where there is a venv
    bare_python: str | None = None
    install: str = ""  # how the project's packages get into a venv (missing_module)
    unignored_venv: str | None = None  # the project's venv folder, which git would add
    broken_venv: str | None = None  # a venv folder whose python does not run
    # a Node project with dependencies and no node_modules yet: how to install them
    node_install: str | None = None

    def report(self) -> list[str]:
        """What was detected and what was not, one line each, for stdout."""
        lines = [f"base branch: {self.base_branch} ({self.base_branch_how})"]
        if self.sub:
            lines.append(
                f"project: {self.sub}/ (steps and the service run there"
                + (f"; python: {self.python})" if self.python else ")")
            )
        if self.bare_python:
            needs = "the tests and the service need" if self.service else "the tests need"
            why = "no .venv or venv here"
            if self.broken_venv:
                why = f"{self.broken_venv}/bin/python does not run: its interpreter is gone?"
            lines.append(
                f"python: {self.bare_python}, the python3 on PATH ({why}):"
                f" {needs} the project's packages - make a venv ({self.install});"
                " shipdeck uses it for {python}"
            )
        if self.node_install:
            lines.append(
                "node: no node_modules here yet: the steps and the service find the"
                " repository's, from their exports below it - install the project's"
                f" packages ({self.node_install})"
            )
        if self.unignored_venv:
            lines.append(
                f"python: {self.unignored_venv}/ is not ignored by git, so `git add -A` would"
                f" commit it: add it to .gitignore (echo '{self.unignored_venv}/' >> .gitignore)"
            )
        if self.runner:
            lines.append(f"test runner: {self.runner.name} ({self.runner.evidence})")
        else:
            lines.append("test runner: not found - add a step under stages.test")
        if self.other_runners:
            lines.append(f"  also found, not used: {', '.join(self.other_runners)}")
        svc = self.service
        if svc is None:
            lines.append("service: not found - add environments.staging.run")
        elif svc.run:
            lines.append(f"service: {svc.kind} on port {svc.port} ({svc.evidence})")
        elif svc.port:
            lines.append(
                f"service: a container from the Dockerfile on port {svc.port} ({svc.evidence})"
            )
        else:
            lines.append(
                f"service: a container from the Dockerfile ({svc.evidence}); no EXPOSE,"
                " so no port - add environments.staging.ports"
            )
        if svc is not None and svc.data_evidence:
            if svc.data_env:
                names = ", ".join(f"{k}={v}" for k, v in svc.data_env.items())
                lines.append(
                    f"data: {names} ({svc.data_evidence}): the environment's data"
                    " directory, kept across deploys"
                )
            else:
                lines.append(f"data: the environment's data directory ({svc.data_evidence})")
        if svc is not None and svc.data_warning:
            lines.append(f"data: {svc.data_warning}")
        if svc is not None and svc.port and port_in_use(svc.port):
            lines.append(
                f"  port {svc.port} is in use now: change environments.staging.port"
                " if that is not this service"
            )
        if svc is not None:
            if self.health:
                lines.append(f"health: {self.health.path} ({self.health.evidence})")
            else:
                lines.append(
                    "health: no /health, /healthz, /ping or /status route found"
                    " - add environments.staging.health"
                )
        release = []
        if self.newest_tag:
            release.append(f"tags like {self.newest_tag} ({self.tag_template})")
        if self.changelog:
            release.append(f"changelog {self.changelog}")
        if release:
            lines.append(f"release: {', '.join(release)}")
        return [escape_controls(line) for line in lines]


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
    # Only this repository: never a parent's when .git is broken.
    out = git(root, "tag", "--list", "--no-column", ceiling=root.resolve().parent)
    return [line.strip() for line in (out or "").splitlines() if line.strip()]


def repository(start: Path) -> Path:
    """The root of the work tree ``start`` is in; UsageError when there is none, when
    git is missing, or when a ``.git`` on the way up is broken (never a parent's)."""
    where = escape_controls(str(start.resolve()))
    if shutil.which("git") is None:
        raise UsageError("git is not on PATH: shipdeck keeps its board in git and needs it")
    top = repo_root(start)
    if top is None:
        raise UsageError(
            f"{where}: not in a git repository"
            " (shipdeck keeps its board in git: run 'git init' first)"
        )
    for folder in (start.resolve(), *start.resolve().parents):
        if folder == top.resolve():
            break
        if (folder / ".git").exists():
            raise UsageError(f"{escape_controls(str(folder / '.git'))}: not a git repository")
    return top


# What makes a folder a project of its own: init run there reads it, not the root.
PROJECT_MARKERS = (
    "pyproject.toml", "setup.py", "requirements.txt", "manage.py", "package.json",
    "Procfile", "Dockerfile", "Makefile",
)  # fmt: skip


def project_folder(root: Path, start: Path) -> str | None:
    """``start`` relative to the repository's ``root`` when it is a folder below it with
    a project of its own (``backend`` with its pyproject.toml); None for the root."""
    try:
        rel = start.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
    if rel == "." or not any((start / marker).exists() for marker in PROJECT_MARKERS):
        return None
    return rel


def detect(root: Path, sub: str | None = None) -> Detected:
    """Everything init writes, read from the repository whose work tree holds ``root``
    (the project in its folder ``sub``, when given); UsageError outside git (shipdeck
    keeps its board in the repository)."""
    branch, how = default_branch(repository(root))
    found = Detected(
        project=slugify(root.resolve().name, limit=30), base_branch=branch, base_branch_how=how
    )
    top = root  # the changelog, the tags and the schema are the repository's
    if sub:
        found.sub = sub
        python = next(filter(None, (venv_python(root / sub / v) for v in (".venv", "venv"))), None)
        found.python = python.relative_to(root).as_posix() if python else None
        root = root / sub  # what follows reads the project's folder
    makefile = makefile_path(root)
    if makefile is not None:
        found.found.append(makefile.name)
        if "build" in make_targets(makefile):
            found.build.append("make build")
    scripts = package_scripts(root)
    if (root / "package.json").exists():
        found.found.append("package.json")
        if "build" in scripts and not found.build:
            found.build.append("npm run build")
    sources = Sources.read(root)
    markers = [n for n in ("pyproject.toml", "setup.py", "requirements.txt") if (root / n).exists()]
    found.found += markers[:1]
    if (markers or any(rel.endswith(".py") for rel in sources.files)) and not found.build:
        found.build.append("{python} -m compileall -q -x '(^|/)\\.' .")
    found.runner, found.other_runners = detect_tests(root, sources)
    if markers and found.python is None:
        _bare_python(found, top, root)
    if package_dependencies(root) and not any((d / "node_modules").is_dir() for d in (root, top)):
        found.node_install = node_install_command(root)
    venv = found.python.rsplit("/bin/", 1)[0] if found.python else None
    venv = venv or next((v for v in (".venv", "venv") if venv_python(top / v)), None)
    if venv and not _ignored(top, venv):
        found.unignored_venv = venv
    if found.runner is not None:
        found.test.append(found.runner.command)
        found.junit = found.runner.junit is not None
    found.service = detect_service(root, sources)
    if found.service is not None:
        found.health = detect_health(root, sources)
        if found.service.build:
            found.build.append(found.service.build)
    if (root / "Dockerfile").exists():
        found.found.append("Dockerfile")
        found.dockerfile = True
    found.changelog, found.changelog_note = _changelog(top)
    if found.changelog:
        found.found.append(found.changelog)
    plan = _release_plan(git_tags(top), sub)
    if plan.previous_tag is not None:
        found.tag_template, found.newest_tag = plan.template, plan.previous_tag
        found.found.append(f"version tags up to {plan.previous_tag}")
    found.schema = next((p for p in SCHEMA_PATHS if (top / p).is_file()), None)
    return found


def _bare_python(found: Detected, top: Path, folder: Path) -> None:
    """Note the interpreter ``{python}`` will be where it is no venv's (the first run of a
    project without its ``.venv`` fails on a missing package otherwise, with nothing said
    before it)."""
    chosen = interpreter.find(top, None)
    if chosen.venv is not None:
        return
    shown = "" if folder == top else f"{folder.relative_to(top).as_posix()}/"
    found.bare_python = chosen.python
    # a venv whose python is a link to an interpreter since removed (a pyenv upgrade)
    found.broken_venv = broken_venv(top)
    found.install = make_venv(folder, shown, found.broken_venv, ignore=not _ignored(top, ".venv"))


def _ignored(top: Path, folder: str) -> bool:
    """Whether git ignores ``folder`` (a venv) in the repository at ``top``."""
    return git(top, "check-ignore", "-q", f"{folder}/") is not None


def _release_plan(tags: list[str], sub: str | None) -> ReleasePlan:
    """The release after the repository's tags; for a project in a folder, after its own
    series (``backend-v0.3.0``, ``backend/v0.3.0``, ``backend@0.3.0``) where it has one,
    which a monorepo's other projects' tags (``frontend-v2.5.0``) do not move."""
    if sub:
        name = PurePath(sub).name
        for prefix in (f"{name}-v", f"{name}/v", f"{name}@", f"{name}-", f"{name}/"):
            plan = plan_release(tags, prefix + "{version}", [], False)
            if plan.previous_tag is not None and plan.previous_tag.startswith(prefix):
                return plan
    return plan_release(tags, None, [], False)


def port_in_use(port: int) -> bool:
    """Whether something answers on 127.0.0.1:``port`` now (a hint, never a refusal)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _q(text: str) -> str:
    """A YAML double-quoted scalar."""
    return json.dumps(text)


def _environments(d: Detected) -> list[str]:
    svc = d.service
    if svc is None:
        return [
            "environments: {}",
            "# environments:",
            "#   staging:",
            "#     target: local",
            '#     run: "{python} -m app --port {port}"',
            "#     port: 8081",
            '#     health: {url: "http://127.0.0.1:{port}/health", timeout: 20}',
            "#     auto: true",
        ]
    lines = ["environments:", f"  # staging: {svc.evidence}", "  staging:"]
    if svc.run:
        if svc.data_evidence:
            lines.append(f"    # data: {svc.data_evidence}; {{data_dir}} is kept across deploys")
        if svc.data_warning:
            lines.append(f"    # data: {svc.data_warning}")
        data = " ".join(f"{k}={v}" for k, v in svc.data_env.items())
        if svc.setup:  # the setup (a migration) and the server both get the data's place
            run = f"{f'export {data}; ' if data else ''}{svc.setup} exec {svc.run}"
        else:
            run = f"{data} {svc.run}" if data else svc.run
        lines += [
            "    target: local",
            *([f"    workdir: {_q(d.sub)}   # the service runs in its folder"] if d.sub else []),
            f"    run: {_q(run)}",
            f"    port: {svc.port}  # the service's own port: change it if something else uses it",
        ]
        if svc.env:
            pairs = ", ".join(f"{k}: {_q(v)}" for k, v in svc.env.items())
            lines.append(f"    env: {{{pairs}}}")
        url = "http://127.0.0.1:{port}"
    else:
        lines.append("    target: docker")
        if svc.port and svc.container_port:
            lines.append(f"    ports: {{{_q(f'{svc.container_port}/tcp')}: {svc.port}}}")
        else:
            lines.append('    # ports: {"8080/tcp": 8080}   # the Dockerfile EXPOSEs no port')
        url = f"http://127.0.0.1:{svc.port}" if svc.port else ""
    if d.health and url:
        lines.append(f"    health: {{url: {_q(url + d.health.path)}, timeout: 30}}")
    elif url:
        lines.append(
            f'    # health: {{url: "{url}/health", timeout: 30}}   # no health route found'
        )
    lines.append("    auto: true             # deploy each release here without asking")
    return lines


def _in_sub(d: Detected, command: str) -> str:
    """A step's command, run in the project's folder when it has one."""
    return f"cd {shlex.quote(d.sub)} && {command}" if d.sub else command


def render_config(d: Detected) -> str:
    if d.schema:
        head = [f"# yaml-language-server: $schema={d.schema}"]
    else:
        head = [
            "# For completion in editors: shipdeck schema > .vscode/shipdeck.schema.json, then",
            f"# make this the first line: # yaml-language-server: $schema={SCHEMA_PATHS[0]}",
        ]
    lines = [
        *head,
        "# shipdeck pipeline: see the README's config reference.",
        f"# Detected: {', '.join(d.found) or 'nothing in particular'}.",
        "version: 1",
        f"project: {d.project}",
        f"base_branch: {_q(d.base_branch)}",
        'branch: "{kind}/{id}-{slug}"',
        *([f"python: {_q(d.python)}   # {d.sub}/'s own venv"] if d.python else []),
        "stages:",
    ]
    context = d.sub or "."
    docker_step = (  # the Dockerfile is named from the context, as docker build -f reads it
        f"docker_build: {{context: {context}, dockerfile: Dockerfile,"
        ' tag: "{project}:{short_sha}"}'
    )
    image_env = d.service is not None and d.service.target == "docker"
    build = [f"    - run: {_q(_in_sub(d, c))}" for c in d.build]
    if image_env:
        build.append(f"    - {docker_step}   # the image staging runs")
    lines += ["  build:", *build] if build else ["  build: []"]
    if d.dockerfile and not image_env:
        lines.append(f"    # - {docker_step}")
    if d.test:
        lines.append("  test:")
        if d.runner is not None:
            lines.append(f"    # {d.runner.name}: {escape_controls(d.runner.evidence)}")
        for c in d.test:
            lines.append(f"    - run: {_q(_in_sub(d, c))}")
            if d.runner is not None and d.runner.junit:
                junit = f"{d.sub}/{d.runner.junit}" if d.sub else d.runner.junit
                lines.append(f"      junit: {junit}")
    else:
        lines.append(
            "  test: []   # no test runner found: add a step, or Test passes with no tests"
        )
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
    lines += [*_environments(d), ""]
    return "\n".join(lines)


def command(args: argparse.Namespace) -> int:
    """``shipdeck init [PATH] [--force]``: the config goes to the repository's root,
    wherever in it init runs; outside a repository, nothing is written (exit 2)."""
    from shipdeck.lifecycle import atomic
    from shipdeck.lifecycle.config.errors import ConfigError
    from shipdeck.lifecycle.config.schema import DEFAULT_CONFIG_NAME, load_config
    from shipdeck.lifecycle.paths import ShipdeckPaths

    start = Path(args.path)
    if not start.is_dir():
        raise UsageError(f"{escape_controls(str(start))}: not a directory")
    root = repository(start)
    target = root / DEFAULT_CONFIG_NAME
    if target.exists() and not args.force:
        raise UsageError(
            f"{escape_controls(_shown(target))} already exists (use --force to overwrite it)"
        )
    found = detect(root, project_folder(root, start))
    schema_note = None
    if found.schema is None:  # editors complete and check shipdeck.yaml from this file
        from shipdeck.cli.schema import config_schema

        schema_file = root / SCHEMA_PATHS[1]
        atomic.write_text(schema_file, json.dumps(config_schema(), indent=2) + "\n", fsync=False)
        found.schema = SCHEMA_PATHS[1]
        schema_note = f"wrote {_shown(schema_file)} (the config's JSON Schema, for editors)"

    # Never write a config shipdeck itself would refuse: the temporary file is checked.
    def check(tmp: Path) -> None:
        try:
            load_config(str(tmp))
        except ConfigError as exc:  # init's own bug: said as such, about shipdeck.yaml
            shown = str(exc).replace(str(tmp), _shown(target), 1)
            raise UsageError(f"init made a config shipdeck refuses, not written: {shown}") from None

    atomic.write_text(target, render_config(found), fsync=False, check=check)
    paths = ShipdeckPaths(root)
    paths.ensure()
    for line in found.report():
        print(line)
    if schema_note:
        print(escape_controls(schema_note))
    where = "" if start.resolve() == root.resolve() else f" (the repository's root, {root})"
    print(escape_controls(f"wrote {_shown(target)}{where}"))
    print(escape_controls(f"wrote {_shown(paths.gitignore)}"))
    return EXIT_OK


def _shown(path: Path) -> str:
    """``path`` as the user sees it from here: relative when that is short."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("../../") else str(path)
