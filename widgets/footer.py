"""A Footer that recomposes only when the keys it shows change.

Textual's Footer rebuilds itself on every focus change; on the board, moving
between columns changes focus but not the keys, and the rebuild dominated the
cost of a column move.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.screen import Screen
from textual.widgets import Footer


class QuietFooter(Footer):
    _shown: tuple[Hashable, ...] | None = None

    def _signature(self, screen: Screen[object]) -> tuple[Hashable, ...]:
        return tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        signature = self._signature(screen)
        if signature == self._shown and self._bindings_ready:
            return
        self._shown = signature
        super().bindings_changed(screen)
