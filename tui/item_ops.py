"""What the board's item keys do: new, edit, details, advance, back, re-run, cancel,
archive. :class:`tui.board_screen.BoardScreen` binds the keys and calls these.

Flows that ask the user something (an environment, a confirmation) run as async
workers so they can await the modal; engine work runs in thread workers. An engine
refusal (a gate) is a warning in the gate's own words, not an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lifecycle import events as ev
from lifecycle.items import Item
from lifecycle.stages import Stage
from tui.crash import STORAGE_ERRORS

if TYPE_CHECKING:
    from tui.host import Board, Host
    from tui.item_form import ItemDraft


class ItemOperations:
    """The item keys' work, for the board's selected card."""

    def __init__(self, app: Host, board: Board) -> None:
        self.app = app
        self.board = board

    def _need_item(self) -> Item | None:
        item = self.app.selected_item()
        if item is None:
            self.app.notify("Select a card first (arrows or h j k l).", severity="warning")
        return item

    def new_item(self) -> None:
        from tui.item_form import ItemFormScreen

        def save(draft: ItemDraft) -> Item:  # in the form's thread worker
            item = self.app.project.store.add(
                draft.title, kind=draft.kind, body=draft.body, breaking=draft.breaking
            )
            self.app.journal(
                ev.Event(ev.ITEM_CREATED, item.id, {"title": item.title, "kind": item.kind.value})
            )
            return item

        def created(item: Item | None) -> None:
            if item is None:
                return
            self.app.reload_board()
            self.board.select(item.id)
            self.app.notify(f"{item.id} added to Plan")

        self.app.push_screen(ItemFormScreen(save=save), created)

    def edit_item(self) -> None:
        from tui.item_form import ItemFormScreen

        item = self._need_item()
        if item is None:
            return

        def save(draft: ItemDraft) -> Item:  # in the form's thread worker
            def change(it: Item) -> None:
                it.title, it.kind, it.body, it.breaking = (
                    draft.title,
                    draft.kind,
                    draft.body,
                    draft.breaking,
                )

            saved = self.app.project.store.update(item.id, change)
            self.app.journal(
                ev.Event(ev.ITEM_EDITED, item.id, {"fields": ["title", "kind", "body"]})
            )
            return saved

        def edited(saved: Item | None) -> None:
            if saved is not None:
                self.app.reload_board()

        self.app.push_screen(ItemFormScreen(item, save=save), edited)

    def details(self) -> None:
        from tui.details import ItemDetailsScreen

        item = self._need_item()
        if item is not None:
            self.app.push_screen(ItemDetailsScreen(self.app, item.id))

    # --- running stages -------------------------------------------------------------

    def advance(self) -> None:
        item = self._need_item()
        if item is not None:
            self.app.run_worker(self._advance_flow(item), group="flows", exit_on_error=False)

    async def _advance_flow(self, item: Item) -> None:
        nxt = item.stage.next()
        if nxt is None:
            await self._archive_flow(item, f"{item.id} is done: archive it?")
            return
        env = None
        deploying = nxt is Stage.DEPLOY or (
            Stage.BUILD.position <= nxt.position <= Stage.RELEASE.position
            and self.app.engine.auto_env() is not None
        )
        if deploying:
            env = self.app.engine.auto_env() or await pick_env(self.app, f"Deploy {item.id} to")
            if env is None and nxt is Stage.DEPLOY:
                return
        approve = True
        if env is not None:
            approve = await approved(self.app, env, f"Deploy {item.id} to {env}")
            if not approve and nxt is Stage.DEPLOY:
                return
        self.app.run_engine(
            f"advance {item.id}",
            lambda: refusable(
                self.app, lambda: self.app.engine.advance(item.id, env=env, approve=approve)
            ),
        )

    def back(self) -> None:
        item = self._need_item()
        if item is None:
            return
        from lifecycle.runs import EngineError

        try:
            moved = self.app.engine.back(item.id)
        except EngineError as exc:
            self.app.notify(str(exc), title="Refused", severity="warning")
            return
        except STORAGE_ERRORS as exc:  # or moved, and the journal failed: the board says
            self.app.storage_error(f"{item.id} not moved back", exc)
            self.app.reload_board()
            return
        self.app.reload_board()
        self.board.select(moved.id)

    def rerun(self) -> None:
        item = self._need_item()
        if item is None:
            return
        if item.stage is Stage.PLAN:
            self.app.notify("Plan has nothing to run; press a to advance.", severity="warning")
            return
        self.app.run_engine(
            f"re-run {item.id}",
            lambda: refusable(
                self.app, lambda: self.app.engine.run_stage(item.id, env=item.env, approve=True)
            ),
        )

    def cancel_run(self) -> None:
        item = self._need_item()
        if item is None:
            return
        if self.app.engine.cancel(item.id):
            self.app.notify(f"Cancelling {item.id}…")
        else:
            self.app.notify(f"{item.id} has no run in progress.", severity="warning")

    def archive(self) -> None:
        item = self._need_item()
        if item is not None:
            question = f"Archive {item.id} ({item.stage.label})?"
            self.app.run_worker(
                self._archive_flow(item, question), group="flows", exit_on_error=False
            )

    async def _archive_flow(self, item: Item, question: str) -> None:
        from tui.dialogs import ConfirmScreen

        if item.running:
            self.app.notify(f"{item.id} is running: cancel its run first (x).", severity="warning")
            return
        question += " It leaves the board; its id is never reused."
        if not await self.app.push_screen_wait(ConfirmScreen(question, yes="Archive")):
            return
        try:
            self.app.project.store.update(item.id, lambda it: setattr(it, "archived", True))
        except STORAGE_ERRORS as exc:
            self.app.storage_error(f"{item.id} not archived", exc)
            self.app.reload_board()
            return
        self.app.journal(ev.Event(ev.ITEM_ARCHIVED, item.id))
        self.app.reload_board()
        self.app.notify(f"{item.id} archived")


async def pick_env(app: Host, title: str) -> str | None:
    """The environment to act on: the only one, or the one picked in a dialog."""
    from tui.dialogs import EnvPickerScreen

    envs = app.project.config.environments
    if not envs:
        app.notify("No environments in shipdeck.yaml.", severity="warning")
        return None
    if len(envs) == 1:
        return next(iter(envs))
    rows = [
        (name, f"{e.target}{' · needs approval' if e.approval else ''}") for name, e in envs.items()
    ]
    result: str | None = await app.push_screen_wait(EnvPickerScreen(title, rows))
    return result


async def approved(app: Host, env: str, what: str) -> bool:
    """Yes when ``env`` needs no approval, else what the person answered."""
    from tui.dialogs import ConfirmScreen

    if not app.project.config.environments[env].approval:
        return True
    answer: bool = await app.push_screen_wait(
        ConfirmScreen(f"{env} needs approval. {what}?", yes="Approve")
    )
    return answer


def refusable(app: Host, work: Any) -> Any:
    """Engine refusals (a gate, a card or environment gone meanwhile) become a warning
    in the engine's own words, not an error; a bug is still reported as one."""
    from lifecycle.board import ItemNotFound
    from lifecycle.config.errors import UnknownEnvironment
    from lifecycle.runs import EngineError  # loaded with the engine

    try:
        return work()
    except (EngineError, ItemNotFound, UnknownEnvironment) as exc:
        app.call_from_thread(app.notify, str(exc), title="Refused", severity="warning")
        return None
