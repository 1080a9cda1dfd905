"""A repository shipdeck works in: where it is, its config, board and journal.

Everything is loaded on first use, so ``shipdeck item list`` never parses
more than it needs and never imports a backend it does not use.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from lifecycle.config import DEFAULT_CONFIG_NAME, load_config
from lifecycle.journal import Journal
from lifecycle.paths import ShipdeckPaths
from lifecycle.store import BoardStore
from tui.errors import UsageError

if TYPE_CHECKING:
    from lifecycle.config import Config


def find_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding shipdeck.yaml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / DEFAULT_CONFIG_NAME).is_file():
            return folder
    return None


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths = ShipdeckPaths(root)

    @classmethod
    def discover(cls, start: Path) -> Project:
        root = find_root(start)
        if root is None:
            raise UsageError(
                f"no {DEFAULT_CONFIG_NAME} in {start} or any parent (run: shipdeck init)"
            )
        return cls(root)

    @property
    def config_path(self) -> Path:
        return self.root / DEFAULT_CONFIG_NAME

    @cached_property
    def config(self) -> Config:
        return load_config(self._display(self.config_path))

    @cached_property
    def store(self) -> BoardStore:
        return BoardStore(self.root)

    @cached_property
    def journal(self) -> Journal:
        return Journal(self.root)

    def _display(self, path: Path) -> str:
        """A path as the user would type it: relative to the cwd when inside it."""
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
