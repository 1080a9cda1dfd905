#!/usr/bin/env python3
"""Set up a virtual environment for shipdeck and run it or its test suite.

    python3 dev.py demo          make a demo service repository and open its board
    python3 dev.py test          lint, type-check and run the whole test suite
    python3 dev.py test --fast   lint, type-check and run the fast lane only: the tests
                                 not marked slow (pytest -m "not slow"), in seconds
    python3 dev.py shipdeck ARGS...   run shipdeck itself from the venv

Only the standard library is used here, so it works on a machine that has
nothing but Python 3.11+ and git. The venv lives in .venv beside this file and
is reinstalled when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".shipdeck-installed"


def _say(text: str) -> None:
    print(f"dev.py: {text}", file=sys.stderr, flush=True)


def ensure_venv() -> None:
    """Create .venv and install shipdeck with its test extras, once per pyproject."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit("dev.py: shipdeck needs Python 3.11 or newer")
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == want and (BIN / "shipdeck").exists():
        return
    if not (BIN / "python").exists():
        _say("creating .venv")
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    _say("installing shipdeck and its test tools into .venv (first run only)")
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(want + "\n")


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
        ensure_venv()
    except subprocess.CalledProcessError as exc:
        _say(f"setting up .venv failed ({exc})")
        return 2
    if command == "test":
        return test(rest)
    if command == "demo":
        os.execv(str(BIN / "shipdeck"), [str(BIN / "shipdeck"), "demo", *rest])
    if command == "shipdeck":
        os.execv(str(BIN / "shipdeck"), [str(BIN / "shipdeck"), *rest])
    _say(f"unknown command {command!r} (expected demo, test or shipdeck)")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
