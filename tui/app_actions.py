"""What the board's keys do. A mixin of :class:`tui.app.ShipdeckApp`.

Flows that ask the user something (an environment, a confirmation) run as
async workers so they can await the modal; engine work runs in thread workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lifecycle import events as ev
from lifecycle.items import Item
from lifecycle.stages import Stage
from tui.crash import STORAGE_ERRORS

if TYPE_CHECKING:
    from tui.app import ShipdeckApp
    from tui.item_form import ItemDraft

    _Base = ShipdeckApp
else:
    _Base = object


class BoardActions(_Base):
    # --- items --------------------------------------------------------------------------

    def _need_item(self) -> Item | None:
        item = self.selected_item()
        if item is None:
            self.notify("Select a card first (arrows or h j k l).", severity="warning")
        return item

    def action_new_item(self) -> None:
        from tui.item_form import ItemFormScreen

        def save(draft: ItemDraft) -> Item:  # in the form's thread worker
            item = self.project.store.add(
                draft.title, kind=draft.kind, body=draft.body, breaking=draft.breaking
            )
            self.journal(
                ev.Event(ev.ITEM_CREATED, item.id, {"title": item.title, "kind": item.kind.value})
            )
            return item

        def created(item: Item | None) -> None:
            if item is None:
                return
            self.reload_board()
            self.board.select(item.id)
            self.notify(f"{item.id} added to Plan")

        self.push_screen(ItemFormScreen(save=save), created)

    def action_edit_item(self) -> None:
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

            saved = self.project.store.update(item.id, change)
            self.journal(ev.Event(ev.ITEM_EDITED, item.id, {"fields": ["title", "kind", "body"]}))
            return saved

        def edited(saved: Item | None) -> None:
            if saved is not None:
                self.reload_board()

        self.push_screen(ItemFormScreen(item, save=save), edited)

    def action_details(self) -> None:
        from tui.details import ItemDetailsScreen

        item = self._need_item()
        if item is not None:
            self.push_screen(ItemDetailsScreen(self, item.id))

    # --- running stages -------------------------------------------------------------

    async def pick_env(self, title: str, *, only_deployed: bool = False) -> str | None:
        from tui.dialogs import EnvPickerScreen

        envs = self.project.config.environments
        if not envs:
            self.notify("No environments in shipdeck.yaml.", severity="warning")
            return None
        if len(envs) == 1:
            return next(iter(envs))
        rows = [
            (name, f"{e.target}{' · needs approval' if e.approval else ''}")
            for name, e in envs.items()
        ]
        result: str | None = await self.push_screen_wait(EnvPickerScreen(title, rows))
        return result

    async def _approved(self, env: str, what: str) -> bool:
        from tui.dialogs import ConfirmScreen

        if not self.project.config.environments[env].approval:
            return True
        answer: bool = await self.push_screen_wait(
            ConfirmScreen(f"{env} needs approval. {what}?", yes="Approve")
        )
        return answer

    def action_advance(self) -> None:
        item = self._need_item()
        if item is not None:
            self.run_worker(self._advance_flow(item), group="flows", exit_on_error=False)

    async def _advance_flow(self, item: Item) -> None:
        from tui.dialogs import ConfirmScreen

        nxt = item.stage.next()
        if nxt is None:
            question = (
                f"{item.id} is done: archive it? (It leaves the board; its id is never reused.)"
            )
            if await self.push_screen_wait(ConfirmScreen(question, yes="Archive")):
                try:
                    self.project.store.update(item.id, lambda it: setattr(it, "archived", True))
                except STORAGE_ERRORS as exc:
                    self.storage_error(f"{item.id} not archived", exc)
                    self.reload_board()
                    return
                self.journal(ev.Event(ev.ITEM_ARCHIVED, item.id))
                self.reload_board()
                self.notify(f"{item.id} archived")
            return
        env = None
        deploying = nxt is Stage.DEPLOY or (
            Stage.BUILD.position <= nxt.position <= Stage.RELEASE.position
            and self.engine.auto_env() is not None
        )
        if deploying:
            env = self.engine.auto_env() or await self.pick_env(f"Deploy {item.id} to")
            if env is None and nxt is Stage.DEPLOY:
                return
        approve = True
        if env is not None:
            approve = await self._approved(env, f"Deploy {item.id} to {env}")
            if not approve and nxt is Stage.DEPLOY:
                return
        self.run_engine(
            f"advance {item.id}",
            lambda: self._refusable(lambda: self.engine.advance(item.id, env=env, approve=approve)),
        )

    def _refusable(self, work: Any) -> Any:
        """Engine refusals become a warning in the gate's own words, not an error."""
        from lifecycle.runs import EngineError  # loaded with the engine

        try:
            return work()
        except (EngineError, KeyError) as exc:
            text = str(exc).strip("'\"")
            self.call_from_thread(self.notify, text, title="Refused", severity="warning")
            return None

    def action_back(self) -> None:
        item = self._need_item()
        if item is None:
            return
        from lifecycle.runs import EngineError

        try:
            moved = self.engine.back(item.id)
        except EngineError as exc:
            self.notify(str(exc), title="Refused", severity="warning")
            return
        except STORAGE_ERRORS as exc:  # or moved, and the journal failed: the board says
            self.storage_error(f"{item.id} not moved back", exc)
            self.reload_board()
            return
        self.reload_board()
        self.board.select(moved.id)

    def action_rerun(self) -> None:
        item = self._need_item()
        if item is None:
            return
        if item.stage is Stage.PLAN:
            self.notify("Plan has nothing to run; press a to advance.", severity="warning")
            return
        self.run_engine(
            f"re-run {item.id}",
            lambda: self._refusable(
                lambda: self.engine.run_stage(item.id, env=item.env, approve=True)
            ),
        )

    def action_cancel_run(self) -> None:
        item = self._need_item()
        if item is None:
            return
        if self.engine.cancel(item.id):
            self.notify(f"Cancelling {item.id}…")
        else:
            self.notify(f"{item.id} has no run in progress.", severity="warning")

    # --- environments ----------------------------------------------------------------------

    def action_deploy(self) -> None:
        self.run_worker(self._deploy_flow(self.selected_item()), group="flows", exit_on_error=False)

    async def _deploy_flow(self, item: Item | None) -> None:
        env = await self.pick_env("Deploy to")
        if env is None:
            return
        released = (
            item is not None and item.version and item.stage.position >= Stage.RELEASE.position
        )
        what = f"{item.id} ({item.version})" if released and item else "the newest release"
        if not await self._approved(env, f"Deploy {what} to {env}"):
            return
        if released and item is not None:
            self.run_engine(
                f"deploy {item.id}",
                lambda: self._refusable(
                    lambda: self.engine.run_stage(
                        item.id, stage=Stage.DEPLOY, env=env, approve=True
                    )
                ),
            )
            return
        from lifecycle import operations

        self.run_engine(f"deploy {env}", lambda: operations.deploy_version(self.engine, env, None))

    def action_rollback(self) -> None:
        self.run_worker(self._rollback_flow(), group="flows", exit_on_error=False)

    async def _rollback_flow(self, env: str | None = None) -> None:
        from tui.dialogs import ConfirmScreen

        env = env or await self.pick_env("Roll back")
        if env is None:
            return
        if not await self.push_screen_wait(
            ConfirmScreen(f"Roll {env} back to its previous healthy release?", yes="Roll back")
        ):
            return
        from lifecycle import operations

        self.run_engine(f"rollback {env}", lambda: operations.rollback(self.engine, env))

    # --- app ------------------------------------------------------------------------------------

    def action_help(self) -> None:
        from tui.board_screen import BoardScreen
        from tui.dialogs import HelpScreen
        from widgets.env_pane import EnvironmentsPane
        from widgets.events_pane import EventsPane
        from widgets.log_pane import LogPane
        from widgets.log_view import LogView

        self.push_screen(
            HelpScreen(
                [
                    ("Board", BoardScreen.BINDINGS),
                    ("Logs", [*LogView.BINDINGS, *LogPane.BINDINGS]),
                    ("Events", EventsPane.BINDINGS),
                    ("Environments", EnvironmentsPane.BINDINGS),
                    ("App", type(self).BINDINGS),
                ]
            )
        )

    async def action_quit(self) -> None:
        # No engine yet, no runs: quitting does not build one (and cannot fail building it).
        running = self._engine.running() if self._engine is not None else []
        if not running:
            self.exit(0)
            return
        self.run_worker(self._quit_flow(running), group="flows", exit_on_error=False)

    async def _quit_flow(self, running: list[str]) -> None:
        from tui.dialogs import ConfirmScreen

        ids = ", ".join(running)
        if not await self.push_screen_wait(
            ConfirmScreen(f"{ids} still running. Cancel and quit?", yes="Cancel runs and quit")
        ):
            return
        self.notify("Cancelling runs…")
        self.engine.cancel_all()
        self.run_engine("quit", self._wait_then_exit, group="quit")

    def _wait_then_exit(self) -> None:
        """Quit only after every run has cleaned up its processes: no orphans."""
        import time

        deadline = time.monotonic() + 30
        while self.engine.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.call_from_thread(self.exit, 0)
