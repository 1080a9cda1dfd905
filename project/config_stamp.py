"""A note that these exact shipdeck.yaml bytes validated, so the board can open
without importing pydantic first.

Validation (pydantic, and the models' own checks) is a pure function of the file's
bytes and of the code that validates them, and importing it costs about as much as
drawing the board. The note, in ``.shipdeck/state/config-ok.json``, holds a hash
of both and the project's name; when they still match, the board paints first and
the config is validated right after, before anything can use it. Any other byte,
or another shipdeck, and the file is validated before the screen opens, as always.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from functools import cache
from pathlib import Path

from shipdeck.lifecycle import atomic

NAME = "config-ok.json"

# The code that decides whether a config is valid: the config package and the stages.
_LIFECYCLE = Path(__file__).resolve().parent.parent / "lifecycle"


@cache
def _validators_hash() -> str:
    """Once per process: the code cannot change under a running shipdeck."""
    digest = hashlib.sha256()
    for path in [
        *sorted((_LIFECYCLE / "config").glob("*.py")),
        _LIFECYCLE / "stages" / "__init__.py",
    ]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest() + ":" + _validators_hash()


def remember(state_dir: Path, data: bytes, project: str) -> None:
    """Record that ``data`` validated; never fatal (it is only a shortcut).

    Written to a temp file and renamed, so a reader never sees half a note; the temp
    file goes on any failure (a full disk would otherwise leave one per process)."""
    target = state_dir / NAME
    # The temporary name is per thread: the board validates a reload in a worker
    # while another may start up.
    with contextlib.suppress(OSError):
        state_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"key": _key(data), "project": project}) + "\n"
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


def validated_name(state_dir: Path, config_path: Path) -> str | None:
    """The project's name if ``config_path`` holds exactly the bytes that validated."""
    try:
        note = json.loads((state_dir / NAME).read_text())
        data = config_path.read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or not isinstance(note.get("project"), str):
        return None
    try:
        return note["project"] if note.get("key") == _key(data) else None
    except OSError:
        return None
