"""Data a widget is given before it is mounted, held until it is.

A widget cannot always show data the moment it gets it: a ``DataTable`` measures
cells with the app's console and has its columns added in ``on_mount``, children
exist only once composed, and ``is_mounted`` turns True only after the ``on_mount``
handlers ran. The panes are fed by samplers that may deliver first, so each holds
the latest data and shows it from ``on_mount``. This is that, written once.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class UntilMounted(Generic[T]):
    """The latest ``T`` given before mount, handed back once by ``mount``.

    Usage: a setter starts with ``if self._held.hold(value): return``; ``on_mount``
    calls ``mount()`` and shows what it returns (None: nothing was held).
    """

    __slots__ = ("_held", "mounted")

    def __init__(self) -> None:
        self.mounted = False
        self._held: T | None = None

    def hold(self, value: T) -> bool:
        """Before mount, keep ``value`` (instead of what was kept) and return True: the
        caller stops there. Once mounted, False: the caller shows ``value`` now."""
        if self.mounted:
            return False
        self._held = value
        return True

    @property
    def held(self) -> T | None:
        """What is held (for a caller that adds to it), None if nothing."""
        return self._held

    def mount(self) -> T | None:
        """The widget is mounted: from now on nothing is held; returns what was."""
        self.mounted = True
        held, self._held = self._held, None
        return held
