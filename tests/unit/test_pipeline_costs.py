"""The small constant costs of a Plan -> Deploy (issue 15, Build 4), kept without
changing behaviour: the health wait's schedule, the interpreter asked once."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from shipdeck.backends.probe import pause_schedule
from shipdeck.project import interpreter


def test_health_wait_looks_again_soon_then_every_interval() -> None:
    pauses = list(islice(pause_schedule(0.5), 12))
    assert pauses[0] == 0.02
    assert pauses == sorted(pauses)  # never sooner than the pause before
    assert max(pauses) == 0.5 and pauses[-1] == 0.5  # settles on the interval
    assert sum(pauses[:4]) < 0.5  # several looks within the old first pause


def test_health_wait_never_pauses_past_a_short_interval() -> None:
    assert list(islice(pause_schedule(0.01), 3)) == [0.01, 0.01, 0.01]


def _shim(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A python3 on PATH that is a script (as pyenv's is), logging each time it is asked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "asked.log"
    shim = bin_dir / "python3"
    shim.write_text(f"#!/bin/sh\necho asked >> {log}\necho {tmp_path}/real/bin/python3\n")
    shim.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin"}, log


def test_prefetch_asks_the_shim_once_and_find_gets_its_answer(tmp_path: Path) -> None:
    environ, log = _shim(tmp_path)
    root = tmp_path / "repo"
    root.mkdir()
    interpreter.prefetch(root, environ)
    found = interpreter.find(root, None, environ)
    assert found.python == f"{tmp_path}/real/bin/python3"
    assert found.source == "PATH"
    assert interpreter.find(root, None, environ).python == found.python
    assert log.read_text().splitlines() == ["asked"]  # prefetch and two finds: one question


def test_prefetch_asks_nothing_when_the_project_has_a_venv(tmp_path: Path) -> None:
    environ, log = _shim(tmp_path)
    root = tmp_path / "repo"
    (root / ".venv" / "bin").mkdir(parents=True)
    venv_python = root / ".venv" / "bin" / "python"
    venv_python.write_text("")
    venv_python.chmod(0o755)
    interpreter.prefetch(root, environ)
    assert interpreter.find(root, None, environ).source == ".venv"
    assert not log.exists()
