"""What ``shipdeck init`` reads in a project's files: its test runner, its service and
the service's health route.

Pure functions over a directory (no processes, no network): each answer carries the
file that gave it away, so init can say why it wrote what it wrote. Detection reads
well-known files and a bounded number of source files; it is a starting point the
user edits, never a guarantee.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

JUNIT = ".shipdeck/reports/junit.xml"
# Directories never read: environments, caches, dependencies, build output.
_SKIP_DIRS = frozenset(
    {"node_modules", "site-packages", "__pycache__", "build", "dist", "venv", "env", "htmlcov"}
)
_MAX_FILES = 4000  # source files looked at, at most
_MAX_BYTES = 512 * 1024  # a bigger file is generated or vendored: not read
_MAX_DEPTH = 6
HEALTH_PATHS = ("/health", "/healthz", "/ping", "/status")
_DEFAULT_PORTS = {
    "uvicorn": 8000,
    "gunicorn": 8000,
    "flask": 5000,
    "npm": 3000,
    "http.server": 8000,
    "django": 8000,
}
_NPM_PLACEHOLDER = "no test specified"  # what `npm init` writes as scripts.test


@dataclass(frozen=True)
class TestRunner:
    name: str  # pytest, unittest, tox, nox, npm, make
    command: str
    evidence: str  # the file (and key) that gave it away
    junit: str | None = None  # the report the command writes, if it writes one


@dataclass(frozen=True)
class Service:
    kind: str  # uvicorn, gunicorn, flask, django, http.server, npm, docker
    evidence: str
    run: str | None = None  # the local command; None for a docker environment
    port: int | None = None  # the port it listens on (the host's, for docker)
    container_port: int | None = None  # docker: the port the image EXPOSEs
    env: dict[str, str] = field(default_factory=dict)
    # Variables the code reads for where it keeps its data, set on the command line to
    # the environment's data directory (kept across deploys): {"DATA_DIR": "{data_dir}"}.
    data_env: dict[str, str] = field(default_factory=dict)
    data_evidence: str | None = None  # the file that reads them (or SHIPDECK_DATA_DIR)
    # What the launch line runs before the server (``flask db upgrade;``), as a template
    # (its shell text, braces doubled) ending in its separator: the run is ``SETUP exec RUN``.
    setup: str = ""
    # A Build step the service and its tests need (Django's collectstatic: the tests and
    # the server look for the files and manifest it writes), or "".
    build: str = ""
    # Where the service keeps data that a deploy would lose, and what to change (a
    # Django project's db.sqlite3 beside the code): said by init, and in the config.
    data_warning: str | None = None

    @property
    def target(self) -> str:
        return "local" if self.run else "docker"


@dataclass(frozen=True)
class HealthRoute:
    path: str
    evidence: str


@dataclass
class Sources:
    """The project's text files, read once and shared by every detector."""

    root: Path
    files: dict[str, str] = field(default_factory=dict)  # posix path relative to root -> text

    @classmethod
    def read(cls, root: Path, suffixes: tuple[str, ...] = (".py", ".js", ".mjs", ".ts")) -> Sources:
        out = cls(root)
        for rel in _walk(root, suffixes):
            try:
                if (root / rel).stat().st_size > _MAX_BYTES:
                    continue
                out.files[rel] = (root / rel).read_text(errors="replace")
            except OSError:
                continue
        return out

    def python(self) -> Iterator[tuple[str, str]]:
        return ((p, t) for p, t in self.files.items() if p.endswith(".py"))

    def code(self) -> Iterator[tuple[str, str]]:
        """The project's own Python files: tests (files and ``tests/`` folders) left out."""
        return ((p, t) for p, t in self.python() if not (_is_test_file(p) or "/tests/" in f"/{p}"))


def _walk(root: Path, suffixes: tuple[str, ...]) -> Iterator[str]:
    count = 0
    for folder, dirs, files in os.walk(root):
        rel_dir = Path(folder).relative_to(root)
        depth = len(rel_dir.parts)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d not in _SKIP_DIRS and depth < _MAX_DEPTH
            and not (Path(folder, d) / "pyvenv.cfg").exists()
        )  # fmt: skip
        for name in sorted(files):
            if name.endswith(suffixes):
                yield (rel_dir / name).as_posix()
                count += 1
                if count >= _MAX_FILES:
                    return


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def pyproject(root: Path) -> dict[str, Any]:
    text = read_text(root / "pyproject.toml")
    try:
        return tomllib.loads(text) if text else {}
    except tomllib.TOMLDecodeError:
        return {}


def _req_name(spec: object) -> str | None:
    if not isinstance(spec, str):
        return None
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return m.group(1).lower().replace("_", "-") if m else None


def dependencies(root: Path) -> dict[str, str]:
    """Every dependency name the project declares (runtime, dev, test), with where."""
    found: dict[str, str] = {}

    def add(names: object, where: str) -> None:
        items = names.keys() if isinstance(names, dict) else names
        if isinstance(items, str) or not hasattr(items, "__iter__"):
            return
        for spec in items:
            name = _req_name(spec)
            if name and name != "python":
                found.setdefault(name, where)

    data = pyproject(root)
    project = data.get("project", {})
    add(project.get("dependencies", []), "pyproject.toml")
    for group in (project.get("optional-dependencies") or {}).values():
        add(group, "pyproject.toml")
    for group in (data.get("dependency-groups") or {}).values():
        add(group, "pyproject.toml")
    poetry = data.get("tool", {}).get("poetry", {})
    add(poetry.get("dependencies", {}), "pyproject.toml")
    add(poetry.get("dev-dependencies", {}), "pyproject.toml")
    for group in (poetry.get("group") or {}).values():
        if isinstance(group, dict):
            add(group.get("dependencies", {}), "pyproject.toml")
    add(data.get("tool", {}).get("uv", {}).get("dev-dependencies", []), "pyproject.toml")
    reqs = sorted(root.glob("requirements*.txt")) + sorted(root.glob("requirements/*.txt"))
    for path in reqs:
        lines = (read_text(path) or "").splitlines()
        add([ln for ln in lines if not ln.lstrip().startswith(("#", "-"))], path.name)
    pipfile = read_text(root / "Pipfile")
    if pipfile:
        try:
            data = tomllib.loads(pipfile)
            add(data.get("packages", {}), "Pipfile")
            add(data.get("dev-packages", {}), "Pipfile")
        except tomllib.TOMLDecodeError:
            pass
    return found


# --- the test runner -----------------------------------------------------------------


def _is_test_file(rel: str) -> bool:
    name = PurePosixPath(rel).name
    return (
        (name.startswith("test_") and name.endswith(".py"))
        or name.endswith("_test.py")
        or name in ("tests.py", "test.py")  # a Flask or Django project's module of tests
    )


def _pytest_config(root: Path) -> str | None:
    if (root / "pytest.ini").is_file():
        return "pytest.ini"
    if "pytest" in pyproject(root).get("tool", {}):
        return "pyproject.toml [tool.pytest]"
    for name, section in (("setup.cfg", "[tool:pytest]"), ("tox.ini", "[pytest]")):
        if section in (read_text(root / name) or ""):
            return f"{name} {section}"
    return None


def _unittest_command(root: Path, tests: list[str]) -> str:
    """``python -m unittest discover`` where the test files are."""
    dirs = {str(PurePosixPath(t).parent) for t in tests}
    start = min(dirs, key=lambda d: (d.count("/"), d))
    parts = ["{python}", "-m", "unittest", "discover"]
    if start != ".":
        parts += ["-s", start]
        if (root / start / "__init__.py").is_file():
            parts += ["-t", "."]  # a package: imported as tests.test_x, relative imports work
    if all(PurePosixPath(t).name.endswith("_test.py") for t in tests):
        parts += ["-p", '"*_test.py"']
    return " ".join(parts)


def detect_tests(root: Path, sources: Sources | None = None) -> tuple[TestRunner | None, list[str]]:
    """The test runner, and the other runners also found (the first one wins)."""
    sources = sources or Sources.read(root, (".py",))
    tests = sorted(p for p in sources.files if _is_test_file(p))
    runners: list[TestRunner] = []

    why = _pytest_config(root)
    if why is None:
        conftest = sorted(p for p in sources.files if PurePosixPath(p).name == "conftest.py")
        why = conftest[0] if conftest else None
    if why is None:
        uses = [
            t for t in tests if re.search(r"^\s*(import|from)\s+pytest\b", sources.files[t], re.M)
        ]
        why = f"{uses[0]} imports pytest" if uses else None
    if why is None and "pytest" in (deps := dependencies(root)):
        why = f"pytest in {deps['pytest']}"
    django = find_django(root, sources)
    if why is not None:
        runners.append(
            TestRunner("pytest", f"{{python}} -m pytest -q --junitxml={JUNIT}", why, JUNIT)
        )
    elif django is not None:  # its runner: the test database, the settings, the apps
        runners.append(TestRunner("django", "{python} manage.py test", "Django's manage.py"))
    else:
        unit = [
            t for t in tests if re.search(r"^\s*(import|from)\s+unittest\b", sources.files[t], re.M)
        ]
        if unit:
            shown = ", ".join(unit[:2]) + (f" and {len(unit) - 2} more" if len(unit) > 2 else "")
            runners.append(TestRunner("unittest", _unittest_command(root, unit), shown))

    if (root / "tox.ini").is_file() or (root / "tox.toml").is_file():
        name = "tox.ini" if (root / "tox.ini").is_file() else "tox.toml"
        runners.append(TestRunner("tox", "{python} -m tox", name))
    elif "tox" in pyproject(root).get("tool", {}):
        runners.append(TestRunner("tox", "{python} -m tox", "pyproject.toml [tool.tox]"))
    if (root / "noxfile.py").is_file():
        runners.append(TestRunner("nox", "{python} -m nox", "noxfile.py"))

    scripts = package_scripts(root)
    test = scripts.get("test")
    if isinstance(test, str) and _NPM_PLACEHOLDER not in test:
        runners.append(TestRunner("npm", "npm test", "package.json scripts.test"))

    makefile = makefile_path(root)
    if makefile is not None and "test" in make_targets(makefile):
        runners.append(TestRunner("make", "make test", f"{makefile.name} target test"))
    return (runners[0] if runners else None), [f"{r.name} ({r.evidence})" for r in runners[1:]]


def _package_field(root: Path, name: str) -> dict[str, Any]:
    """A mapping field of ``root``'s package.json ({} when absent or not JSON)."""
    try:
        data = json.loads(read_text(root / "package.json") or "{}")
        value = data.get(name, {}) if isinstance(data, dict) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def package_scripts(root: Path) -> dict[str, Any]:
    return _package_field(root, "scripts")


def package_dependencies(root: Path) -> dict[str, Any]:
    """The packages package.json needs installed (dependencies and devDependencies)."""
    return {**_package_field(root, "dependencies"), **_package_field(root, "devDependencies")}


def makefile_path(root: Path) -> Path | None:
    for name in ("GNUmakefile", "makefile", "Makefile"):
        if (root / name).is_file():
            return root / name
    return None


def make_targets(path: Path) -> set[str]:
    text = read_text(path) or ""
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.M))


# --- the service ---------------------------------------------------------------------

_APP_RE = re.compile(
    r"^(?P<var>[A-Za-z_]\w*)\s*(?::\s*[\w.]+\s*)?=\s*(?:\w+\.)?(?P<cls>FastAPI|Starlette|Flask|Quart)\(",
    re.M,
)
_FACTORY_RE = re.compile(r"^def (create_app|make_app)\(", re.M)
_FACTORY_CLS_RE = re.compile(r"\b(FastAPI|Starlette|Flask|Quart)\(")
_ASGI = frozenset({"FastAPI", "Starlette", "Quart"})
_SERVERS = ("uvicorn", "gunicorn", "flask", "hypercorn")


@dataclass(frozen=True)
class _App:
    framework: str  # the class: FastAPI, Flask...
    module: str  # importable name, from the project's root (or src/)
    obj: str  # the variable, or "create_app" for a factory
    file: str
    factory: bool = False
    src: bool = False  # under src/: uvicorn needs --app-dir src

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.obj}"


def _module(rel: str) -> tuple[str, bool]:
    parts = list(PurePosixPath(rel).with_suffix("").parts)
    src = len(parts) > 1 and parts[0] == "src"
    if src:
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts), src


def find_apps(sources: Sources) -> list[_App]:
    """Web application objects defined at module level (``app = FastAPI()``), or a
    ``create_app`` factory in a module that builds one; test files are not read."""
    apps = []
    for rel, text in sources.code():
        if not re.match(r"[\w/]+\.py$", rel):
            continue
        module, src = _module(rel)
        if not module:
            continue
        m = _APP_RE.search(text)
        if m:
            apps.append(_App(m.group("cls"), module, m.group("var"), rel, src=src))
            continue
        f, cls = _FACTORY_RE.search(text), _FACTORY_CLS_RE.search(text)
        if f and cls:
            apps.append(_App(cls.group(1), module, f.group(1), rel, factory=True, src=src))
    # The shallowest, most conventional module first: app.py, main.py, app/__init__.py.
    return sorted(apps, key=lambda a: (a.module.count("."), a.file))


def _launch(command: list[str]) -> tuple[str | None, str | None, list[str], int | None]:
    """(server, app spec, extra args kept, port) of a command line such as
    ``gunicorn -k uvicorn.workers.UvicornWorker -b 0.0.0.0:8000 app:app``."""
    tokens = list(command)
    while tokens and (
        tokens[0] in ("exec", "poetry", "run", "uv", "pipenv", "--") or "=" in tokens[0]
    ):
        tokens = tokens[1:]  # exec, poetry run, uv run, VAR=value
    if (
        len(tokens) >= 3
        and re.fullmatch(r"python[0-9.]*", PurePosixPath(tokens[0]).name)
        and tokens[1] == "-m"
    ):
        tokens = tokens[2:]
    if not tokens or PurePosixPath(tokens[0]).name not in _SERVERS:
        return None, None, [], None
    server, args = PurePosixPath(tokens[0]).name, tokens[1:]
    spec, keep, port = None, [], None
    i = 0
    while i < len(args):
        arg = args[i]
        value = args[i + 1] if i + 1 < len(args) else ""
        if arg in ("--port", "-p") and value.isdigit():
            port, i = int(value), i + 2
            continue
        if arg in ("-b", "--bind") and value:
            m = re.search(r":(\d+)$", value)
            port, i = (int(m.group(1)) if m else port), i + 2
            continue
        if arg.startswith(("--port=", "--bind=")):
            m = re.search(r"[:=](\d+)$", arg)
            port = int(m.group(1)) if m else port
        elif arg in ("-k", "--worker-class", "-w", "--workers") and value:
            keep += [arg, value]
            i += 2
            continue
        elif arg in ("--host", "-h"):
            i += 2
            continue
        elif arg == "--app" and value:
            spec, i = value, i + 2
            continue
        elif spec is None and re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w()]*", arg):
            spec = arg
        i += 1
    return server, spec, keep, port


def split_commands(line: str) -> list[tuple[str, str]]:
    """A shell line's commands as written, each with the separator after it (``;``,
    ``&&``, ``||``; "" after the last); separators inside quotes or after a backslash
    do not split."""
    out: list[tuple[str, str]] = []
    start = i = 0
    quote: str | None = None
    while i < len(line):
        c = line[i]
        if c == "\\" and quote != "'":
            i += 2
            continue
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == ";" or line[i : i + 2] in ("&&", "||"):
            sep = ";" if c == ";" else line[i : i + 2]
            out.append((line[start:i].strip(), sep))
            i += len(sep)
            start = i
            continue
        i += 1
    out.append((line[start:].strip(), ""))
    return [(command, sep) for command, sep in out if command]


def _setup_then_server(line: str | list[str]) -> tuple[str, list[str]]:
    """A launch line's commands before its server, as written (``$VAR`` and quotes
    kept), ending in their separator, and the server's words: the Procfile line ``flask
    db upgrade; gunicorn app:app`` gives ``("flask db upgrade;", ["gunicorn",
    "app:app"])``. The last command that starts a known server is the server; with
    none, or given words (an exec-form CMD, a compose command: no shell), no setup."""
    if isinstance(line, list):
        return "", line
    commands = split_commands(line)
    try:
        words = [shlex.split(command) for command, _ in commands]
    except ValueError:  # an unclosed quote: not a line to start anything from
        return "", []
    servers = [i for i, command in enumerate(words) if _launch(command)[0]]
    if not servers:
        return "", [w for command in words for w in command]
    last = servers[-1]
    if last == 0:
        return "", words[0]
    setup = " ".join(
        command + ("" if sep == ";" else " ") + sep for command, sep in commands[:last]
    )
    return setup, words[last]


def as_template(text: str) -> str:
    """Shell text as a shipdeck template: its braces (``${RELEASE}``) doubled, so they
    are not read as template fields."""
    return text.replace("{", "{{").replace("}", "}}")


def dockerfile_facts(root: Path) -> tuple[list[str] | None, int | None, str | None]:
    """(CMD or ENTRYPOINT as words, the first EXPOSEd port, the HEALTHCHECK's URL path)."""
    text = read_text(root / "Dockerfile")
    if text is None:
        return None, None, None
    text = re.sub(r"\\\n", " ", text)  # continuation lines
    command: list[str] | None = None
    port = health = None
    for line in text.splitlines():
        m = re.match(r"\s*(CMD|ENTRYPOINT|EXPOSE|HEALTHCHECK)\s+(.*)", line, re.I)
        if not m:
            continue
        word, rest = m.group(1).upper(), m.group(2).strip()
        if word == "EXPOSE" and port is None:
            p = re.match(r"(\d+)", rest)
            port = int(p.group(1)) if p else None
        elif word == "HEALTHCHECK":
            h = re.search(r"https?://[^/\s\"']+(/[^\s\"']*)", rest)
            health = h.group(1) if h else health
        elif word in ("CMD", "ENTRYPOINT"):
            try:
                words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
            except ValueError:
                continue
            usable = isinstance(words, list) and all(isinstance(w, str) for w in words)
            if usable and (word == "ENTRYPOINT" or command is None or _launch(words)[0]):
                command = words
    return command, port, health


def compose_ports(root: Path) -> tuple[str | None, int | None, int | None, list[str] | None]:
    """The compose file's service that builds this project: (name, host port,
    container port, command), from compose.yaml or docker-compose.yml."""
    for name in ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"):
        text = read_text(root / name)
        if text is None:
            continue
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            return None, None, None, None
        services = data.get("services") if isinstance(data, dict) else None
        if not isinstance(services, dict):
            return None, None, None, None
        ranked = sorted(
            (s for s in services.items() if isinstance(s[1], dict)),
            key=lambda s: ("build" not in s[1], not s[1].get("ports")),
        )
        for svc, spec in ranked:
            host = container = None
            for entry in spec.get("ports") or []:
                if isinstance(entry, dict):
                    container, host = _int(entry.get("target")), _int(entry.get("published"))
                else:
                    bits = str(entry).split("/")[0].split(":")
                    container, host = _int(bits[-1]), _int(bits[-2]) if len(bits) > 1 else None
                if container:
                    break
            command = spec.get("command")
            if isinstance(command, str):
                command = shlex.split(command)
            if not (isinstance(command, list) and all(isinstance(w, str) for w in command)):
                command = None
            if container or command:
                return f"{name} service {svc}", host or container, container, command
        return None, None, None, None
    return None, None, None, None


def _int(value: object) -> int | None:
    try:
        n = int(str(value))
    except ValueError:
        return None
    return n if 0 < n < 65536 else None


def _code_port(text: str) -> int | None:
    """``app.run(port=5000)`` / ``uvicorn.run(app, port=8000)`` in the app's module."""
    m = re.search(r"\.run\([^)]*\bport\s*=\s*(\d{2,5})", text)
    return _int(m.group(1)) if m else None


def _python_command(server: str, spec: str, app: _App | None, keep: list[str]) -> str:
    extra = " ".join(shlex.quote(k) for k in keep)
    if server == "flask":
        target = spec.split(":")[0] if app and app.factory else spec
        return f"{{python}} -m flask --app {target} run --port {{port}}"
    if server == "gunicorn":
        return " ".join(
            filter(None, ["{python} -m gunicorn", extra, spec, "--bind 127.0.0.1:{port}"])
        )
    parts = [f"{{python}} -m {server}", spec]
    if app and app.src:
        parts.append("--app-dir src")
    if app and app.factory:
        parts.append("--factory")
    parts.append(
        "--host 127.0.0.1 --port {port}" if server == "uvicorn" else "--bind 127.0.0.1:{port}"
    )
    return " ".join(parts)


def detect_service(root: Path, sources: Sources | None = None) -> Service | None:
    """How to start the service, and on which port: a local command when one fits
    (uvicorn, gunicorn, flask, the standard library's http.server, npm start), else the
    Dockerfile as a container; with the variables its code reads for its data's place."""
    sources = sources or Sources.read(root)
    found = _detect_service(root, sources)
    if found is None or not found.run or found.kind == "npm":
        return found
    return _with_data_dir(found, sources)


def _detect_service(root: Path, sources: Sources) -> Service | None:
    cmd, exposed, _ = dockerfile_facts(root)
    where, host_port, container_port, compose_cmd = compose_ports(root)
    procfile = None  # the web line as written: its commands before the server are kept
    for line in (read_text(root / "Procfile") or "").splitlines():
        if line.startswith("web:"):
            procfile = line[4:].strip() or None
    apps = find_apps(sources)
    deps = dependencies(root)

    # An explicit launch line wins: Procfile, compose command, Dockerfile CMD.
    for words, origin in ((procfile, "Procfile"), (compose_cmd, where), (cmd, "Dockerfile CMD")):
        setup, words = _setup_then_server(words or [])
        server, spec, keep, port = _launch(words)
        if server and (spec or apps):
            app = next((a for a in apps if spec and a.spec == spec), apps[0] if apps else None)
            spec = spec or (app.spec if app else "")
            port = host_port or port or exposed or _DEFAULT_PORTS.get(server, 8000)
            evidence = f"{origin}: {server} {spec}"
            if setup:
                evidence += f", after {setup[:-1].strip()}"
            run = _python_command(server, spec, app, keep)
            return Service(server, evidence, run, port, setup=as_template(setup))

    django = find_django(root, sources)
    if django is not None:
        return _django_service(django, deps, host_port or exposed)

    if apps:
        app = apps[0]
        if app.framework in _ASGI:
            server = "hypercorn" if "hypercorn" in deps and "uvicorn" not in deps else "uvicorn"
        else:
            server = "gunicorn" if "gunicorn" in deps else "flask"
        code_port = _code_port(sources.files[app.file])
        port = host_port or exposed or code_port or _DEFAULT_PORTS.get(server, 8000)
        run = _python_command(server, app.spec, app, [])
        evidence = f"{app.framework} app {app.spec} in {app.file}"
        if code_port and port == code_port and not (host_port or exposed):
            evidence += f", port from its .run(port={code_port})"
        return Service(server, evidence, run, port)

    stdlib = find_stdlib_server(sources)
    if stdlib is not None:
        return stdlib

    start = package_scripts(root).get("start")
    if isinstance(start, str) and start.strip():
        port = host_port or exposed or _DEFAULT_PORTS["npm"]
        return Service(
            "npm", "package.json scripts.start", "npm start", port, env={"PORT": str(port)}
        )

    if (root / "Dockerfile").is_file():
        inner = container_port or exposed
        evidence = (
            "Dockerfile"
            + (f" EXPOSE {exposed}" if exposed else "")
            + (f", {where}" if where else "")
        )
        return Service("docker", evidence, None, host_port or inner, container_port=inner)
    return None


# --- a Django project ------------------------------------------------------------------

_SETTINGS_RE = re.compile(r"DJANGO_SETTINGS_MODULE[\"']\s*,\s*[\"']([\w.]+)[\"']")
_DJANGO_SQLITE_RE = re.compile(r"django\.db\.backends\.sqlite3")
# STATIC_ROOT under the project (BASE_DIR / "staticfiles", os.path.join(BASE_DIR, ...)):
# collectstatic then writes into the export it runs in, never a folder of the machine's.
_DJANGO_STATIC_ROOT_RE = re.compile(
    r"^STATIC_ROOT\s*=\s*(?:BASE_DIR\b|os\.path\.join\(\s*BASE_DIR\b)", re.M
)
_DJANGO_ADMIN_RE = re.compile(r"""\bpath\(\s*["']admin/["']\s*,\s*admin\.site\.urls""")


@dataclass(frozen=True)
class _Django:
    settings: str  # the settings module manage.py names: mysite.settings
    settings_file: str | None  # its file, where it is in the tree
    wsgi: str | None  # the module with the WSGI application: mysite.wsgi
    sources: Sources


def find_django(root: Path, sources: Sources) -> _Django | None:
    """A Django project: a ``manage.py`` at the root naming its settings module."""
    m = _SETTINGS_RE.search(sources.files.get("manage.py") or read_text(root / "manage.py") or "")
    if not m:
        return None
    settings = m.group(1)
    path = settings.replace(".", "/")
    settings_file = next(
        (f for f in (f"{path}.py", f"{path}/__init__.py") if f in sources.files), None
    )
    package = settings.split(".")[0]
    wsgi = next(
        (
            _module(rel)[0]
            for rel, text in sorted(sources.files.items())
            if rel.startswith(f"{package}/")
            and rel.endswith("/wsgi.py")
            and "get_wsgi_application" in text
        ),
        None,
    )
    return _Django(settings, settings_file, wsgi, sources)


def _django_service(django: _Django, deps: dict[str, str], port: int | None) -> Service:
    """gunicorn on the project's WSGI module where gunicorn is a dependency, else
    ``runserver``; the migrations run first, as a Django deploy does, and collectstatic
    where STATIC_ROOT is in the project (in Build too: the tests render templates)."""
    if django.wsgi and "gunicorn" in deps:
        server, run = "gunicorn", f"{{python}} -m gunicorn {django.wsgi} --bind 127.0.0.1:{{port}}"
    else:
        server, run = "django", "{python} manage.py runserver 127.0.0.1:{port} --noreload"
    warning = None
    text = django.sources.files.get(django.settings_file or "", "")
    if _DJANGO_SQLITE_RE.search(text):  # dropped where its path is read from the environment
        warning = (
            f"{django.settings_file} keeps its SQLite database beside the code, so each"
            " deploy starts an empty one: read its NAME from the environment"
            ' (os.environ.get("DATABASE", BASE_DIR / "db.sqlite3")) and run init again'
        )
    setup, build = "{python} manage.py migrate --noinput;", ""
    if _DJANGO_STATIC_ROOT_RE.search(text):  # as Heroku's buildpack does for Django
        build = "{python} manage.py collectstatic --noinput"
        setup += f" {build};"  # a release is a fresh export: the server's own copy
    return Service(
        server,
        f"Django: manage.py, {django.settings}",
        run,
        port or _DEFAULT_PORTS["django"],
        setup=setup,
        build=build,
        data_warning=warning,
    )


def django_admin_login(sources: Sources) -> str | None:
    """The file of a Django URLconf that serves the admin at ``admin/``: its login page
    answers 200 with no user, a health check for a project that has none of its own."""
    return next((rel for rel, text in sources.python() if _DJANGO_ADMIN_RE.search(text)), None)


# --- a service on the standard library (http.server, wsgiref) --------------------------

# Any spelling of the import: ``from http.server import X``, ``from http import server``,
# ``import http.server as hs`` and ``import argparse, http.server, json``.
_STDLIB_IMPORT_RE = re.compile(
    r"^\s*(?:from\s+(?:http\.server|wsgiref\.simple_server|socketserver)\s+import"
    r"|from\s+(?:http|wsgiref)\s+import\s+[^#\n]*\b(?:server|simple_server)\b"
    r"|import\s+(?:[\w.]+(?:\s+as\s+\w+)?\s*,\s*)*"
    r"(?:http\.server|wsgiref\.simple_server|socketserver)\b)",
    re.M,
)
_MAIN_RE = re.compile(r"^if\s+__name__\s*==\s*[\"']__main__[\"']\s*:", re.M)
_ARG_PORT_RE = re.compile(r"add_argument\(\s*(?:[\"']-\w[\"']\s*,\s*)?[\"']--port[\"']([^)]*)\)")
_ENV_PORT_RE = re.compile(
    r"(?:environ\.get|getenv)\(\s*[\"']PORT[\"']\s*(?:,\s*[\"']?(\d{2,5})[\"']?)?"
    r"|environ\[\s*[\"']PORT[\"']\s*\]"
)
_LITERAL_PORT_RE = re.compile(
    r"(?:HTTPServer|TCPServer|make_server)\(\s*\(?\s*[\"'][^\"']*[\"']\s*,\s*(\d{2,5})"
)


def _stdlib_port(text: str) -> tuple[str, int | None, str] | None:
    """How the port reaches a standard-library server: ("flag", default, why) for an
    argparse ``--port``, ("env", default, why) for ``$PORT``, ("fixed", port, why) for
    a literal in the code; None when it cannot be told."""
    m = _ARG_PORT_RE.search(text)
    if m:
        d = re.search(r"\bdefault\s*=\s*[\"']?(\d{2,5})\b", m.group(1))
        return "flag", _int(d.group(1)) if d else None, "argparse --port"
    m = _ENV_PORT_RE.search(text)
    if m:
        return "env", _int(m.group(1)) if m.group(1) else None, "$PORT"
    m = _LITERAL_PORT_RE.search(text)
    if m:
        return "fixed", _int(m.group(1)), "a port in the code"
    return None


def find_stdlib_server(sources: Sources) -> Service | None:
    """A program that serves HTTP with the standard library (``ThreadingHTTPServer``,
    ``wsgiref``) when run: a package's ``__main__.py``, or a module with an
    ``if __name__ == "__main__":`` block; started as ``{python} -m module``."""
    candidates = []
    for rel, text in sources.code():
        if not re.match(r"[\w/]+\.py$", rel):
            continue
        if not (_STDLIB_IMPORT_RE.search(text) and "serve_forever" in text):
            continue
        if not (rel.endswith("__main__.py") or _MAIN_RE.search(text)):
            continue
        module, src = _module(rel)
        module = module.removesuffix(".__main__")
        if module and module != "__main__":
            candidates.append((module.count("."), rel, module, src, text))
    if not candidates:
        return None
    _, rel, module, src, text = min(candidates)
    how = _stdlib_port(text)
    kind, port, why = how or ("fixed", None, "")
    run = ("PYTHONPATH=src " if src else "") + f"{{python}} -m {module}"
    env: dict[str, str] = {}
    port = port or _DEFAULT_PORTS["http.server"]
    if kind == "flag":
        run += " --port {port}"
    elif kind == "env":
        env["PORT"] = str(port)
    evidence = f"http.server in {rel}" + (f", port from {why}" if why else "")
    return Service("http.server", evidence, run, port, env=env)


# --- where the service keeps its data ------------------------------------------------

_ENV_READ_RE = re.compile(
    r"""(?:environ\.get|getenv|environ\.setdefault)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)
# A folder: DATA_DIR, APP_STATE_DIR... A SQLite file (only in code that uses sqlite3, so
# that POSTGRES_DB or DATABASE naming a server's database is left alone): DATABASE,
# DB_PATH, SQLITE_FILE... A database URL, only where its fallback is a SQLite file.
_DATA_DIR_VAR = re.compile(r"(?:[A-Z0-9]+_)?(?:DATA|STATE|STORAGE|INSTANCE|VAR)_?DIR")
_DB_FILE_VAR = re.compile(r"(?:[A-Z0-9]+_)?(?:DB|DATABASE|SQLITE)(?:_?(?:PATH|FILE))?")
# DATABASE_URL, SQLALCHEMY_DATABASE_URI...: set only where the code's own fallback is a
# SQLite file (``or 'sqlite:///' + os.path.join(basedir, 'app.db')``); a URL read with no
# such fallback names a database server, which is left alone.
_DB_URL_VAR = re.compile(r"(?:[A-Z0-9]+_)?(?:DATABASE|DB)_(?:URL|URI)")
_SQLITE_URL = "sqlite:///"
_DB_NAME_RE = re.compile(r"""["']([\w.-]+\.(?:db|sqlite3?))["']""")


_TEST_VAR = re.compile(r"(?:^|_)TESTS?(?:_|$)")  # TEST_DATABASE_URL, DB_TEST_URL
_FALLBACK_CHARS = 200


def _fallback(text: str, read: re.Match[str]) -> str:
    """The code after an environment read up to the next read (at most a few lines):
    where its fallback is (``or 'sqlite:///' + ...``), not the next variable's."""
    window = text[read.end() : read.end() + _FALLBACK_CHARS]
    following = _ENV_READ_RE.search(window)
    return window[: following.start()] if following else window


def _with_data_dir(service: Service, sources: Sources) -> Service:
    """``service`` with the variables its code reads for where its data goes set to the
    environment's data directory: ``DATA_DIR`` to ``{data_dir}``, ``DATABASE`` to
    ``{data_dir}/app.db`` (the file name the code uses). A release runs in its own
    export, so data beside the code would be lost at the next deploy."""
    data_env: dict[str, str] = {}
    files: list[str] = []  # the files that read them
    own: str | None = None  # a file that reads SHIPDECK_DATA_DIR itself
    for rel, text in sources.code():
        if "SHIPDECK_DATA_DIR" in text and own is None:
            own = rel
        for m in _ENV_READ_RE.finditer(text):
            name = m.group(1) or m.group(2)
            if name in data_env or name.startswith("SHIPDECK_") or _TEST_VAR.search(name):
                continue  # shipdeck's own; a test configuration's (not the service's)
            if _DATA_DIR_VAR.fullmatch(name):
                data_env[name] = "{data_dir}"
            elif _DB_FILE_VAR.fullmatch(name) and "sqlite" in text.lower():
                end = text.find("\n", m.end())
                db = _DB_NAME_RE.search(text, m.end(), end if end >= 0 else len(text))
                data_env[name] = "{data_dir}/" + (db.group(1) if db else "app.db")
            elif _DB_URL_VAR.fullmatch(name) and _SQLITE_URL in (fallback := _fallback(text, m)):
                # a URL whose fallback is a SQLite file beside the code (Flask's
                # tutorials): the same file, in the data directory
                db = _DB_NAME_RE.search(fallback)
                data_env[name] = _SQLITE_URL + "{data_dir}/" + (db.group(1) if db else "app.db")
            else:
                continue
            if rel not in files:
                files.append(rel)
    if data_env:
        where = f"{', '.join(data_env)} read in {', '.join(files)}"
    elif own is not None:
        where = f"SHIPDECK_DATA_DIR read in {own}"
    else:
        beside = _instance_database(sources)
        if beside is None:
            return service
        rel, name = beside
        return replace(
            service,
            data_warning=(
                f"{rel} keeps {name} under app.instance_path, beside the code, so each"
                " deploy starts an empty one: read its path from the environment"
                f' (os.environ.get("DATABASE", os.path.join(app.instance_path, "{name}")))'
                " and run init again"
            ),
        )
    return replace(service, data_env=data_env, data_evidence=where, data_warning=None)


_INSTANCE_DB_RE = re.compile(r"""instance_path\s*,\s*["']([\w.-]+\.(?:db|sqlite3?))["']""")


def _instance_database(sources: Sources) -> tuple[str, str] | None:
    """(file, database name) where a Flask app keeps its SQLite file in its instance
    folder (the tutorial's ``os.path.join(app.instance_path, "flaskr.sqlite")``): next to
    the package, so in each release's own export."""
    for rel, text in sources.code():
        m = _INSTANCE_DB_RE.search(text)
        if m:
            return rel, m.group(1)
    return None


# --- the health route ----------------------------------------------------------------

_ROUTE_RE = re.compile(
    r"""\b(?:route|get|head|api_route|add_url_rule|add_api_route|add_route|path|use)\(\s*"""
    r"""["'](/(?:health|healthz|ping|status))/?["']"""
    # a handler of its own (http.server): if self.path == "/health", case "/health":
    r"""|\bpath\s*==\s*["'](/(?:health|healthz|ping|status))["']"""
    r"""|^\s*case\s+["'](/(?:health|healthz|ping|status))["']"""
    r"""|\bpath\s+in\s*[(\[{]\s*["'](/(?:health|healthz|ping|status))["']"""
    # Django's URLconf: path("health/", ...) answers at /health/
    r"""|\b(?:re_)?path\(\s*r?["']\^?((?:health|healthz|ping|status)/)\$?["']""",
    re.M,
)


def detect_health(root: Path, sources: Sources | None = None) -> HealthRoute | None:
    """A health route the service's code defines (``@app.get("/health")``), or the
    Dockerfile HEALTHCHECK's; the most conventional name first."""
    sources = sources or Sources.read(root)
    found: dict[str, str] = {}
    for rel, text in sources.files.items():
        if (
            _is_test_file(rel)
            or "/tests/" in f"/{rel}"
            or rel.endswith((".test.js", ".spec.js", ".test.ts", ".spec.ts"))
        ):
            continue
        for m in _ROUTE_RE.finditer(text):
            route = next(g for g in m.groups() if g)
            found.setdefault(route if route.startswith("/") else f"/{route}", rel)
    for path in HEALTH_PATHS:
        for spelled in (path, f"{path}/"):
            if spelled in found:
                return HealthRoute(spelled, found[spelled])
    _, _, healthcheck = dockerfile_facts(root)
    if healthcheck:
        return HealthRoute(healthcheck, "Dockerfile HEALTHCHECK")
    admin = django_admin_login(sources) if find_django(root, sources) else None
    if admin is not None:
        return HealthRoute("/admin/login/", f"Django's admin login page, {admin}")
    return None
