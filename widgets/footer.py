"""The board's footer: the keys that fit, whole, with help and quit pinned right.

Textual's Footer lays its keys out left to right and the terminal cuts the row
wherever it ends, so below ~200 columns it cut off ``? Help`` and ``q Quit`` (the
app's keys come last) and left half a key (``R R``) before its right-docked palette
key. Here the pinned keys (the app's help, quit, commands) are docked right and the
others are shown in their binding order only while they fit whole; the rest are a
``?`` away. It also recomposes only when the keys it shows change: Textual's Footer
rebuilds itself on every focus change, and on the board moving between columns
changes focus but not the keys; that rebuild dominated the cost of a column move.
A key that only turns on or off (``x`` as a run starts and ends) is dimmed or lit in
place: a rebuild mounts every key again and lays the screen out twice, ~40 ms of the
UI thread while the run it reports on competes for the same interpreter.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable
from typing import Any

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalGroup
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

Shown = tuple[Binding, bool, str]  # binding, enabled, tooltip


class QuietFooter(Footer):
    DEFAULT_CSS = """
    QuietFooter > .footer--pinned {
        dock: right;
        width: auto;
        height: 1;
        border-left: vkey $foreground 20%;
    }
    """

    _shown: tuple[Hashable, ...] | None = None
    _fitted: int | None = None  # how many unpinned keys the last compose showed

    def __init__(self, *, pinned: Collection[str] = ("help", "quit"), **kwargs: Any) -> None:
        """``pinned``: the app's actions always shown, on the right (help, quit...)."""
        super().__init__(show_command_palette=False, **kwargs)
        self.pinned = tuple(pinned)

    def _signature(self, screen: Screen[object]) -> tuple[Hashable, ...]:
        """The keys as laid out: which, in what order, with what words (not whether on)."""
        return tuple(
            (binding.key, binding.action, binding.description, tooltip)
            for (_, binding, _enabled, tooltip) in screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        signature = self._signature(screen)
        if signature == self._shown and self._bindings_ready:
            self._light(screen)
            return
        self._shown = signature
        super().bindings_changed(screen)

    def _light(self, screen: Screen[object]) -> None:
        """Dim the keys that are off now and light the ones that are on, in place."""
        enabled = {
            binding.action: on
            for (_, binding, on, _tooltip) in screen.active_bindings.values()
            if binding.show
        }
        for key in self.query(FooterKey):
            on = enabled.get(key.action)
            if on is not None and key._disabled == on:  # FooterKey keeps it there
                key._disabled = not on
                key.set_class(not on, "-disabled")

    def _split(self) -> tuple[list[Shown], list[Shown]]:
        """(pinned, others), one key per action, in binding order (pinned in ``pinned``'s)."""
        pinned: dict[str, Shown] = {}
        others: dict[str, Shown] = {}
        for node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if not binding.show:
                continue
            if node is self.app and binding.action in self.pinned:
                pinned.setdefault(binding.action, (binding, enabled, tooltip))
            else:
                others.setdefault(binding.action, (binding, enabled, tooltip))
        order = {action: n for n, action in enumerate(self.pinned)}
        return sorted(pinned.values(), key=lambda s: order[s[0].action]), list(others.values())

    def _width(self, shown: Iterable[Shown]) -> int:
        """Cells the keys take: `` k `` then ``Description `` (Footer's padding)."""
        return sum(
            cell_len(self.app.get_key_display(b)) + 2 + (cell_len(b.description) + 1)
            for b, _, _ in shown
        )

    def _fit(self, others: list[Shown], room: int) -> int:
        count = 0
        for shown in others:
            room -= self._width([shown])
            if room < 0:
                break
            count += 1
        return count

    def _room(self, pinned: list[Shown]) -> int:
        width = self.size.width or self.app.size.width
        return width - (self._width(pinned) + 1 if pinned else 0)

    def _key(self, shown: Shown) -> FooterKey:
        binding, enabled, tooltip = shown
        return FooterKey(
            binding.key,
            self.app.get_key_display(binding),
            binding.description,
            binding.action,
            disabled=not enabled,
            tooltip=tooltip,
        ).data_bind(compact=Footer.compact)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        pinned, others = self._split()
        self._fitted = self._fit(others, self._room(pinned))
        for shown in others[: self._fitted]:
            yield self._key(shown)
        if pinned:
            yield HorizontalGroup(*(self._key(s) for s in pinned), classes="footer--pinned")

    def on_resize(self, _event: events.Resize) -> None:
        """Wider or narrower: recompose only if another number of keys fits now."""
        if self._fitted is None or not self._bindings_ready:
            return
        pinned, others = self._split()
        if self._fit(others, self._room(pinned)) != self._fitted:
            self.call_after_refresh(self.recompose)
