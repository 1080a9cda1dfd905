"""A docker switch in progress, recorded next to the environment's lock.

The engine knows which containers exist, not what a killed shipdeck was in the
middle of: stopping the old container, starting a new one, putting the old one
back. So before anything is stopped the switch is written down (from which
container, to which version, image and name, at which step), updated at each
step and removed at the end. A file left behind is a switch that did not end;
the next operation reads it and finishes or reverses it (``DockerTarget._recover``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from shipdeck.backends.local import supervise


class IntentFile:
    """``<lock>.intent.json`` (``staging.lock`` -> ``staging.intent.json``); no lock, no file."""

    def __init__(self, lock_path: Path | None) -> None:
        self.path = (
            None if lock_path is None else lock_path.with_name(f"{lock_path.stem}.intent.json")
        )

    def read(self) -> dict[str, Any] | None:
        if self.path is None:
            return None
        data = supervise.read_json(self.path)
        return data if data and isinstance(data.get("to"), dict) else None

    def write(self, intent: dict[str, Any], step: str) -> None:
        """Record ``intent`` at ``step`` (atomically: a reader sees the old or the new one)."""
        intent["step"] = step
        if self.path is not None:
            supervise.write_json_atomic(self.path, intent)

    def clear(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
