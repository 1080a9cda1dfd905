"""The project's interpreter: what ``{python}`` is, and the environment it runs in.

shipdeck runs a project's tests and service with the project's own Python, so they
see the project's dependencies, never shipdeck's. The order (README, Decisions):

1. ``python:`` in shipdeck.yaml (an environment's own, else the top-level one);
2. the project's ``.venv`` or ``venv`` at the repository root;
3. Poetry's environment (``poetry env info -p``), when poetry is installed and
   pyproject.toml has ``[tool.poetry]``;
4. uv's environment: ``UV_PROJECT_ENVIRONMENT`` when set, for a uv project
   (its default, ``.venv``, is step 2);
5. the ``python3`` on PATH now, passing over shipdeck's own venv (shipdeck
   pip-installed in a venv that is activated: its packages are shipdeck's, and a
   project's installed there could break shipdeck).

:func:`choose` is the order alone, pure: it is given what it needs to look up
(``which``, Poetry's answer) as functions. :func:`find` is the one that asks
the machine (a subprocess for Poetry and for the real path behind a PATH shim).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from shipdeck.lifecycle.ports import Interpreter as Interpreter
from shipdeck.lifecycle.ports import path_without_venv as path_without_venv
from shipdeck.lifecycle.ports import venv_python as venv_python

_POETRY_TIMEOUT = 20.0


def venv_of(python: Path) -> str | None:
    """The virtual environment ``python`` (``<venv>/bin/python``) belongs to, if any."""
    home = python.parent.parent
    return str(home) if (home / "pyvenv.cfg").is_file() else None


def own_venv() -> str | None:
    """The venv this shipdeck runs from, if it runs from one (pipx's, or a venv it was
    pip-installed in); never the project's interpreter."""
    return sys.prefix if sys.prefix != sys.base_prefix else None


def _search_path(environ: Mapping[str, str]) -> str:
    """Where the project's ``python3`` is looked for: PATH past shipdeck's own venv."""
    return path_without_venv(environ.get("PATH", os.defpath), own_venv())


def _pyproject(root: Path) -> str:
    try:
        return (root / "pyproject.toml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def is_poetry_project(root: Path) -> bool:
    return "[tool.poetry]" in _pyproject(root)


def is_uv_project(root: Path) -> bool:
    return (root / "uv.lock").is_file() or "[tool.uv]" in _pyproject(root)


def _configured(root: Path, value: str, which: Callable[[str], str | None]) -> Interpreter:
    """``python:`` from the config: a path (relative to the config's folder) or a name
    looked up on PATH. Kept as given when it cannot be found: the step then says so."""
    if "/" in value:
        path = Path(value).expanduser()
        path = path if path.is_absolute() else root / path
    else:
        found = which(value)
        path = Path(found) if found else Path(value)
    return Interpreter(str(path), venv_of(path), "config")


def choose(
    root: Path,
    configured: str | None,
    *,
    environ: Mapping[str, str],
    which: Callable[[str], str | None],
    poetry_env: Callable[[], str | None],
) -> Interpreter:
    """The interpreter by the order above; pure but for looking at files.

    ``which(name)`` finds a command on PATH; ``poetry_env()`` is Poetry's environment
    folder (None when there is none or poetry is not installed). Raises nothing: with
    no python3 on PATH, shipdeck's own interpreter is the last resort."""
    if configured:
        return _configured(root, configured, which)
    for name in (".venv", "venv"):
        python = venv_python(root / name)
        if python is not None:
            return Interpreter(str(python), str(root / name), name)
    if is_poetry_project(root):
        folder = poetry_env()
        python = venv_python(Path(folder)) if folder else None
        if folder and python is not None:
            return Interpreter(str(python), folder, "poetry")
    uv_env = environ.get("UV_PROJECT_ENVIRONMENT")
    if uv_env and is_uv_project(root):
        uv_folder = Path(uv_env) if Path(uv_env).is_absolute() else root / uv_env
        python = venv_python(uv_folder)
        if python is not None:
            return Interpreter(str(python), str(uv_folder), "uv")
    found = which("python3")
    if found:
        path = Path(found)
        return Interpreter(str(path), venv_of(path), "PATH")
    return Interpreter(sys.executable, venv_of(Path(sys.executable)), "shipdeck")


# --- asking the machine ---------------------------------------------------------------


class _Frozen(dict[str, str]):
    """An environment as a cache key (compared by content)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))


# The questions still being asked (their process groups): a command may end before a
# shim answers (a usage error, a quick `stop`), and its question must not outlive it.
_asking: set[subprocess.Popen[str]] = set()
_asking_lock = threading.Lock()


def _stop_asking() -> None:
    """At exit: kill what is still being asked, with the processes it started."""
    with _asking_lock:
        procs = list(_asking)
    for proc in procs:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.5)  # reaped here: no zombie left to init


def _run(argv: list[str], cwd: Path, environ: Mapping[str, str]) -> str | None:
    """stdout's last line of a short command, or None if it failed or took too long.

    In a session of its own, so that what it starts (a pyenv shim is a bash script
    that runs several more) is killed with it: when it takes too long, and when
    shipdeck exits before it answered (:func:`_stop_asking`, registered with atexit)."""
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    with _asking_lock:
        _asking.add(proc)
    try:
        out, _ = proc.communicate(timeout=_POETRY_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    finally:
        with _asking_lock:
            _asking.discard(proc)
    lines = out.strip().splitlines()
    return lines[-1].strip() if proc.returncode == 0 and lines else None


atexit.register(_stop_asking)


def poetry_env_path(root: Path, environ: Mapping[str, str]) -> str | None:
    """``poetry env info -p`` in ``root``: Poetry's environment for the project, if any."""
    poetry = shutil.which("poetry", path=environ.get("PATH"))
    if poetry is None:
        return None
    clean = {k: v for k, v in environ.items() if k != "VIRTUAL_ENV"}  # poetry honours it
    return _run([poetry, "env", "info", "-p"], root, clean)


def _is_script(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"#!"
    except OSError:
        return False


class _Answer:
    """One shim's answer, once its first asker has it (or None if that asker failed)."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.python: str | None = None


# A shim's answer per (shim, environment): asked once per process, by whichever
# caller comes first (prefetch's thread or find); the others wait for that answer.
_asked: dict[tuple[str, _Frozen, str], _Answer] = {}
_asked_lock = threading.Lock()


def real_python(python: str, environ: Mapping[str, str], root: Path) -> str:
    """The interpreter a PATH entry runs: a pyenv or asdf shim (a script) picks one by
    the shell's state and the project's ``.python-version`` or ``.tool-versions``, so it
    is asked in the project's folder ``root``, once per process, and the answer
    recorded; a real interpreter (a binary or a link to one) is taken as it is."""
    if not _is_script(python):
        return python
    key = (python, _Frozen(environ), str(root))
    with _asked_lock:
        answer = _asked.get(key)
        mine = answer is None
        if answer is None:
            answer = _asked[key] = _Answer()
    if not mine:
        answer.ready.wait()
        if answer.python is not None:
            return answer.python
    try:
        asked = _run([python, "-c", "import sys; print(sys.executable)"], root, environ)
        got = asked if asked and Path(asked).is_absolute() else python
        if mine:
            answer.python = got
        return got
    finally:
        answer.ready.set()


def prefetch(root: Path, environ: Mapping[str, str] | None = None) -> None:
    """Start asking the PATH's python3 in a thread when :func:`find` may have to: a
    pyenv shim takes ~0.1 s to answer, which the command's imports and its first git
    work then overlap. Nothing is asked when the project has its own venv, Poetry or
    uv decide, python3 is a real interpreter, or it is being asked already; if the
    config names a ``python:``, the answer is not used."""
    env = os.environ if environ is None else environ
    if any(venv_python(root / name) for name in (".venv", "venv")):
        return
    if is_poetry_project(root) or (env.get("UV_PROJECT_ENVIRONMENT") and is_uv_project(root)):
        return
    found = shutil.which("python3", path=_search_path(env))
    if found is None or venv_of(Path(found)) is not None or not _is_script(found):
        return
    frozen = _Frozen(env)
    with _asked_lock:
        if (found, frozen, str(root)) in _asked:
            return
    threading.Thread(
        target=real_python, args=(found, frozen, root), name="shipdeck-python", daemon=True
    ).start()


def find(
    root: Path, configured: str | None, environ: Mapping[str, str] | None = None
) -> Interpreter:
    """The project's interpreter, asking Poetry and the PATH's python3 as need be."""
    env = os.environ if environ is None else environ
    path = _search_path(env)
    got = choose(
        root,
        configured,
        environ=env,
        which=lambda name: shutil.which(name, path=path),
        poetry_env=lambda: poetry_env_path(root, env),
    )
    if got.source == "PATH" and got.venv is None:
        real = real_python(got.python, _Frozen(env), root)
        if real != got.python:
            got = Interpreter(real, venv_of(Path(real)), "PATH")
    editable = editable_folders(root, got.venv)
    return replace(got, editable=editable) if editable else got


def editable_folders(root: Path, venv: str | None) -> tuple[str, ...]:
    """The repository's folders that ``venv``'s ``.pth`` files put on sys.path, relative
    to ``root``: the project installed editable (setuptools, hatchling, Poetry, uv and
    PDM each write such a line, ``/path/to/repo/src``). Lines that run code (``import
    ...``) and paths outside the repository are not the project's."""
    if not venv:
        return ()
    try:
        top = root.resolve()
        files = sorted(Path(venv).glob("lib/python*/site-packages/*.pth"))
    except OSError:
        return ()
    found: list[str] = []

    def add(path: Path) -> None:
        try:
            rel = path.resolve().relative_to(top).as_posix() if path.is_absolute() else None
        except (OSError, ValueError):
            return
        if rel is not None and rel not in found and path.is_dir():
            found.append(rel)

    for pth in files:
        try:
            lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in (raw.strip() for raw in lines):
            if line and not line.startswith("#") and line.split(None, 1)[0] != "import":
                add(Path(line))
    # setuptools' flat layout: a finder module whose MAPPING names each package's folder
    # ({'pkg': '/repo/pkg'}), found after sys.path: the folder holding it goes first
    for finder in sorted(files[0].parent.glob("__editable___*_finder.py")) if files else ():
        try:
            text = finder.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("MAPPING"):
                for where in _MAPPING_PATH_RE.findall(line):
                    add(Path(where).parent)
    return tuple(found)


# One package's folder in a setuptools editable finder's MAPPING line.
_MAPPING_PATH_RE = re.compile(r"""['"][\w.]+['"]\s*:\s*['"](/[^'"]+)['"]""")
