#!/usr/bin/env python3
"""Set up a virtual environment for shipdeck and run it or its test suite.

    python3 dev.py demo [PATH]   make a demo service repository (default ~/shipdeck-demo,
                                 outside this checkout) and open its board
    python3 dev.py test          lint, type-check and run the whole test suite
    python3 dev.py test --fast   lint, type-check and run the fast lane only: the tests
                                 not marked slow (pytest -m "not slow"), in seconds
    python3 dev.py shipdeck ARGS...   run shipdeck itself from the venv

Only the standard library is used here, so it works on a machine that has
nothing but Python 3.11+ and git. The venv lives in .venv beside this file and
is reinstalled when pyproject.toml changes. The demo installs shipdeck alone; the
test tools come with the first ``test``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".shipdeck-installed"


def _say(text: str) -> None:
    print(f"dev.py: {text}", file=sys.stderr, flush=True)


def ensure_venv(extras: str) -> None:
    """Create .venv and install shipdeck (with ``extras``, "" or "test"), once per
    pyproject: an install with the test tools serves the demo too."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit("dev.py: shipdeck needs Python 3.11 or newer")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    done = STAMP.read_text().split() if STAMP.exists() else []
    if done[:1] == [digest] and (BIN / "shipdeck").exists() and (not extras or extras in done):
        return
    started = time.monotonic()
    if not (BIN / "python").exists():
        _say("creating .venv (a few seconds)")
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    what = "shipdeck and its test tools" if extras else "shipdeck"
    _say(f"installing {what} into .venv: once, about a minute on a fresh machine")
    target = f"{ROOT}[{extras}]" if extras else str(ROOT)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    # pip's own lines are the progress: what it collects, downloads and installs.
    subprocess.run([*pip, "--progress-bar", "off", "-e", target], check=True)
    STAMP.write_text(" ".join([digest, *([extras] if extras else [])]) + "\n")
    _say(f"installed in {time.monotonic() - started:.0f} s")


def demo(rest: list[str]) -> int:
    """``shipdeck demo`` outside the checkout (this repository's pytest and ruff
    settings must not reach the demo's tests), then how to run shipdeck next."""
    if not [arg for arg in rest if not arg.startswith("-")]:
        rest = [str(Path.home() / "shipdeck-demo"), *rest]
    child = subprocess.Popen([str(BIN / "shipdeck"), "demo", *rest])
    while True:
        try:
            code = child.wait()
            break
        except KeyboardInterrupt:  # the child has it too, and says what it did
            continue
    _say(
        "shipdeck is installed in .venv: run it as .venv/bin/shipdeck, put it on PATH with "
        f'export PATH="{BIN}:$PATH", or install it for good with: pipx install {ROOT}'
    )
    return code


def run(args: list[str]) -> int:
    return subprocess.call(args, cwd=ROOT)


def test(extra: list[str]) -> int:
    """Everything CI runs: ruff, mypy, pytest; with ``--fast``, pytest -m "not slow".

    Other arguments go to pytest (``python3 dev.py test --fast tests/unit -x``)."""
    fast = "--fast" in extra
    extra = [arg for arg in extra if arg != "--fast"]
    if fast:
        extra = ["-m", "not slow", *extra]
    steps = [
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "ruff"), "format", "--check", "."],
        [str(BIN / "mypy")],
    ]
    for step in steps:
        _say(" ".join(Path(step[0]).name if i == 0 else a for i, a in enumerate(step)))
        code = run(step)
        if code:
            return code
    return run([str(BIN / "python"), "-m", "pytest", *extra])


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        ensure_venv("" if command == "demo" else "test")
    except subprocess.CalledProcessError as exc:
        _say(f"setting up .venv failed ({exc})")
        return 2
    if command == "test":
        return test(rest)
    if command == "demo":
        return demo(rest)
    if command == "shipdeck":
        os.execv(str(BIN / "shipdeck"), [str(BIN / "shipdeck"), *rest])
    _say(f"unknown command {command!r} (expected demo, test or shipdeck)")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
