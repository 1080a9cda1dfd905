"""A repository shipdeck works in: where it is, its config, board and journal.

Everything is loaded on first use, so ``shipdeck item list`` never parses
more than it needs and never imports a backend it does not use.
"""

from __future__ import annotations

from contextlib import suppress
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from shipdeck.lifecycle.journal import Journal
from shipdeck.lifecycle.paths import CONFIG_NAME as DEFAULT_CONFIG_NAME
from shipdeck.lifecycle.paths import ShipdeckPaths
from shipdeck.project import config_stamp
from shipdeck.project.errors import UsageError

if TYPE_CHECKING:
    from shipdeck.lifecycle.config.schema import Config
    from shipdeck.lifecycle.store import BoardStore


def find_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding shipdeck.yaml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / DEFAULT_CONFIG_NAME).is_file():
            return folder
    return None


class Project:
    def __init__(self, root: Path) -> None:
        # Absolute: a deploy's service runs in the release's directory, not here, and is
        # handed paths under the root (its masked output, its state).
        self.root = root.absolute()
        self.paths = ShipdeckPaths(self.root)

    @classmethod
    def discover(cls, start: Path) -> Project:
        root = find_root(start)
        if root is None:
            step = "shipdeck init"
            here = start.resolve()
            if not any((folder / ".git").exists() for folder in (here, *here.parents)):
                step = "git init, then shipdeck init: shipdeck keeps its board in git"
            raise UsageError(f"no {DEFAULT_CONFIG_NAME} in {start} or any parent (run: {step})")
        return cls(root)

    @property
    def config_path(self) -> Path:
        return self.root / DEFAULT_CONFIG_NAME

    # The file as it was when the config was last read (tui.config_watch compares it
    # with the file now); None if it could not be stat'ed.
    config_seen: config_stamp.FileStamp | None = None
    config_read = False  # whether it was ever read, valid or not

    @cached_property
    def config(self) -> Config:
        return self.read_config()

    def read_config(self) -> Config:
        """Parse shipdeck.yaml as it is now, without caching (any thread); ConfigError
        names file:line:col. The stat comes first: an edit racing the read shows as a
        changed file at the next look, never as one already seen."""
        self.config_seen = config_stamp.file_stamp(self.config_path)
        self.config_read = True
        known = config_stamp.validated(self.paths.state, self.config_path)
        if known is not None:
            return known  # these bytes validated before: their snapshot, no pydantic
        from shipdeck.lifecycle.config.schema import (
            load_config,  # pydantic: only when the config is needed
        )

        return load_config(self._display(self.config_path), on_valid=self._remember)

    def use_config(self, config: Config) -> None:
        """Make ``config`` the project's from now on: a reload that validated."""
        self.__dict__["config"] = config

    def _remember(self, data: bytes, config: Config) -> None:
        with suppress(OSError):  # a read-only .shipdeck: the note is only a shortcut
            self.paths.ensure()
        config_stamp.remember(self.paths.state, data, config.project, config)

    @property
    def config_loaded(self) -> bool:
        return "config" in self.__dict__

    def validated_name(self) -> str | None:
        """The project's name without validating, if these exact bytes validated before."""
        if self.config_loaded:
            return self.config.project
        return config_stamp.validated_name(self.paths.state, self.config_path)

    def check_config(self) -> None:
        """Refuse a broken config now, unless these exact bytes validated before."""
        if self.validated_name() is None:
            self.config  # noqa: B018 - validates, raising ConfigError

    @cached_property
    def store(self) -> BoardStore:
        from shipdeck.backends.git_board import open_board
        from shipdeck.lifecycle.board import BoardError

        try:
            return open_board(self.root)
        except BoardError as exc:
            raise UsageError(str(exc)) from None

    @cached_property
    def journal(self) -> Journal:
        return Journal(self.root)

    def mask_writes(self) -> None:
        """What the board and the journal keep is masked from now on, as the engine
        masks it when built: for a command that writes them without one. ``item add``
        kept a secret typed into a title in the board, the journal, the board's commit
        message and the branch named from it."""
        import os

        from shipdeck.lifecycle.masking import SecretMasker

        masker = SecretMasker.for_config(self.config, lambda: os.environ)
        if masker:
            self.store.scrub = masker.scrub
            self.journal.scrub = masker.scrub

    def _display(self, path: Path) -> str:
        """A path as the user would type it: relative to the cwd when inside it."""
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
