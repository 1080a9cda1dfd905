"""The user's settings (the theme), in ``$XDG_CONFIG_HOME/shipdeck/settings.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "shipdeck" / "settings.json"


def load() -> dict[str, Any]:
    try:
        data = json.loads(path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(changes: dict[str, Any]) -> None:
    """Merge ``changes`` in; written atomically, and never fatal."""
    target = path()
    data = load()
    if all(data.get(k) == v for k, v in changes.items()):
        return
    data.update(changes)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(target)
    except OSError:
        pass
