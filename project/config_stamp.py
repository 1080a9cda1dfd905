"""A note that these exact shipdeck.yaml bytes validated, and what they validated
to, so neither the board nor a command imports pydantic to read them again.

Validation (pydantic, and the models' own checks) is a pure function of the file's
bytes and of the code that validates them, and importing it costs about as much as
drawing the board (0.17 s). The note, in ``.shipdeck/state/config-ok.json``, holds
a hash of both, the project's name and the validated config as a snapshot
(``lifecycle.config.snapshot``); when the hash still matches, :func:`validated`
rebuilds that config without pydantic. Any other byte, or another shipdeck, and the
file is validated, as always, with its errors at file:line:col.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipdeck.lifecycle import atomic
from shipdeck.lifecycle.config import snapshot

if TYPE_CHECKING:
    from shipdeck.lifecycle.config.schema import Config

NAME = "config-ok.json"

# The code that decides whether a config is valid: the config package and the stages.
_LIFECYCLE = Path(__file__).resolve().parent.parent / "lifecycle"


@cache
def _validators_hash() -> str:
    """Once per process: the code cannot change under a running shipdeck. The config
    package, what it checks names with, and pydantic's version (found, not imported:
    a pydantic upgrade may validate the same bytes otherwise)."""
    digest = hashlib.sha256()
    for path in [
        *sorted((_LIFECYCLE / "config").glob("*.py")),
        _LIFECYCLE / "stages" / "__init__.py",
        _LIFECYCLE / "text.py",
    ]:
        digest.update(path.read_bytes())
    spec = importlib.util.find_spec("pydantic")
    if spec is not None and spec.origin:
        with contextlib.suppress(OSError):
            digest.update((Path(spec.origin).parent / "version.py").read_bytes())
    return digest.hexdigest()


def _key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest() + ":" + _validators_hash()


def remember(state_dir: Path, data: bytes, project: str, config: Any = None) -> None:
    """Record that ``data`` validated (to ``config``, kept when given); never fatal
    (it is only a shortcut).

    Written to a temp file and renamed, so a reader never sees half a note; the temp
    file goes on any failure (a full disk would otherwise leave one per process)."""
    target = state_dir / NAME
    # The temporary name is per thread: the board validates a reload in a worker
    # while another may start up.
    with contextlib.suppress(OSError):
        state_dir.mkdir(parents=True, exist_ok=True)
        note: dict[str, Any] = {"key": _key(data), "project": project}
        if config is not None:
            with contextlib.suppress(snapshot.SnapshotError):
                note["snapshot"] = snapshot.dump(config)
        text = json.dumps(note) + "\n"
        atomic.write_text(target, text, fsync=False)  # only a shortcut: no fsync


FileStamp = tuple[int, int, int]


def file_stamp(path: Path) -> FileStamp | None:
    """What a stat says about ``path`` (mtime, size, inode); None when it cannot be read.

    Cheap enough to ask every second: a different stamp means the file may have
    changed (an editor's save, or its rename over the old file), the same one that it
    did not, so the board re-parses only when this moves."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _note(state_dir: Path, config_path: Path) -> dict[str, Any] | None:
    """The note, if ``config_path`` holds exactly the bytes it says validated."""
    try:
        note = json.loads((state_dir / NAME).read_text())
        data = config_path.read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or not isinstance(note.get("project"), str):
        return None
    try:
        return note if note.get("key") == _key(data) else None
    except OSError:
        return None


def validated_name(state_dir: Path, config_path: Path) -> str | None:
    """The project's name if ``config_path`` holds exactly the bytes that validated."""
    note = _note(state_dir, config_path)
    return None if note is None else str(note["project"])


def validated(state_dir: Path, config_path: Path) -> Config | None:
    """The config ``config_path``'s bytes validated to, rebuilt without pydantic; None
    when they did not validate before (or the note keeps no snapshot of them)."""
    note = _note(state_dir, config_path)
    if note is None or "snapshot" not in note:
        return None
    try:
        config: Config = snapshot.load(note["snapshot"])  # the models' fields and methods
    except (snapshot.SnapshotError, RecursionError):
        return None
    return config
