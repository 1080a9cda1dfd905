"""The board app as its screens, panes and operations see it.

Screens never import the app (``tui/app.py`` imports them): they use what they
need through :class:`Host`, the app's interface, so the import graph has no cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from textual.app import App
from textual.message import Message
from textual.screen import ModalScreen

if TYPE_CHECKING:
    from shipdeck.lifecycle.engine import Engine
    from shipdeck.lifecycle.items import Item
    from shipdeck.project.repo import Project


class DialogShown(Message):
    """A dialog was mounted: the keys read after this message are its own, those read
    before it were typed before it showed (:meth:`Host.run_flow`)."""


class HoldEnded(Message):
    """A key that held the keys typed behind it (:meth:`Host.hold_keys`) knows whether
    it asks: they go on. Posted, not called, from its thread: a call would wait for the
    UI thread's frames before the run it decided on could start."""


Answer = TypeVar("Answer")


class Question(ModalScreen[Answer]):
    """A dialog that asks (confirm, approve, pick an environment). A key typed before
    it was asked never answers it: the app drops a key read before :attr:`asked`'s
    time (a key's time is when the terminal's input was read). Typed behind ``a`` on
    a card whose deploy needs approval, Enter had approved it before it showed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asked = DialogShown()  # made now: its time is on Textual's clock, as a key's

    def on_mount(self) -> None:
        self.app.post_message(self.asked)  # the keys read from now on are the dialog's


class ItemActions(Protocol):
    """The item keys' work (:class:`tui.item_ops.ItemOperations`)."""

    def new_item(self) -> None: ...
    def edit_item(self) -> None: ...
    def details(self) -> None: ...
    def advance(self) -> None: ...
    def back(self) -> None: ...
    def rerun(self) -> None: ...
    def cancel_run(self) -> None: ...
    def archive(self) -> None: ...


class EnvActions(Protocol):
    """Environment operations (:class:`tui.env_ops.EnvOperations`)."""

    def can_scale(self, env: str) -> bool: ...
    def deploy(self) -> None: ...
    def rollback(self) -> None: ...
    def deploy_env(self, env: str) -> None: ...
    def rollback_env(self, env: str) -> None: ...
    def restart_env(self, env: str) -> None: ...
    def stop_env(self, env: str) -> None: ...
    def scale_env(self, env: str, delta: int) -> None: ...
    def toggle_autoscale(self, env: str) -> None: ...
    def follow_env_logs(self, env: str) -> None: ...


class Board(Protocol):
    """The board screen (:class:`tui.board_screen.BoardScreen`), as operations use it."""

    @property
    def item_ops(self) -> ItemActions: ...
    @property
    def env_ops(self) -> EnvActions: ...

    def select(self, item_id: str) -> bool: ...
    def selected_id(self) -> str | None: ...
    async def show_pane(self, pane: str) -> None: ...
    async def action_show_pane(self, pane: str) -> None: ...
    def action_zoom(self) -> None: ...


class Host(App[int]):
    """What the board's screens, panes and operations use of the app: the app's
    interface, which :class:`shipdeck.tui.app.ShipdeckApp` implements. A base class rather than
    a Protocol so Textual's own members (notify, push_screen_wait, run_worker...) keep
    their exact types."""

    project: Project
    items: Mapping[str, Item]
    selected: str | None
    card_facts: dict[str, Any]
    board: Any  # the BoardScreen: a Board, and a Textual Screen to query

    @property
    def engine(self) -> Engine:
        raise NotImplementedError

    @property
    def engine_if_built(self) -> Engine | None:
        """The engine if something built it already (None: nothing runs)."""
        raise NotImplementedError

    @property
    def any_run(self) -> bool:
        """Whether a card runs, as the board last showed it."""
        raise NotImplementedError

    def reload_board(self) -> bool:
        raise NotImplementedError

    def selected_item(self) -> Item | None:
        raise NotImplementedError

    def item_selected(self, item_id: str) -> None:
        raise NotImplementedError

    def storage_error(self, title: str, exc: BaseException) -> None:
        raise NotImplementedError

    def run_engine(self, name: str, work: Callable[[], object], group: str = "runs") -> None:
        raise NotImplementedError

    def run_flow(self, flow: Coroutine[Any, Any, object]) -> None:
        """A key's flow: it reads, then asks in a dialog (or says why it cannot). The keys
        typed behind its key are dropped until the dialog shows or the flow ends."""
        raise NotImplementedError

    def hold_keys(self) -> None:
        """Keys typed from now wait for a :class:`HoldEnded`: a key whose work may ask
        (``a``) decides that in a thread, and what is typed behind it must not reach
        the board before the question, nor be lost when none comes."""
        raise NotImplementedError

    def follow_env_logs(self, env: str, tail: int) -> None:
        raise NotImplementedError

    def retitle(self, old: str, new: str) -> None:
        raise NotImplementedError

    def action_help(self) -> None:
        raise NotImplementedError


def host(app: App[Any]) -> Host:
    """``app`` as the board sees it (the running :class:`shipdeck.tui.app.ShipdeckApp`)."""
    return cast(Host, app)
