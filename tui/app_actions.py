"""What the board's keys do. A mixin of :class:`tui.app.ShipdeckApp`.

Flows that ask the user something (an environment, a confirmation) run as
async workers so they can await the modal; engine work runs in thread workers,
and so does what a confirmation says (a target's status can take seconds).
Confirmations name what will happen, with versions; an action the target cannot
do, or that has nothing to act on, is refused with a notice and no dialog.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lifecycle import events as ev
from lifecycle.items import Item
from lifecycle.stages import Stage
from tui.crash import STORAGE_ERRORS

if TYPE_CHECKING:
    from textual.app import SystemCommand
    from textual.screen import Screen

    from lifecycle.ports import EnvStatus
    from tui.app import ShipdeckApp
    from tui.item_form import ItemDraft

    _Base = ShipdeckApp
else:
    _Base = object

# Targets that run more than one replica: local runs one process and docker one
# container per environment, and their ``scale`` refuses any other count.
SCALABLE_TARGETS = ("swarm",)
FOLLOW_TAIL = 200  # lines of an environment's past output shown when following it


def previous_release(events: Iterable[ev.Event], env: str, now: str | None) -> str | None:
    """The release a rollback of ``env`` goes back to: the most recent one deployed (or
    rolled back to) there other than ``now``, as the targets' own histories choose it."""
    for event in reversed(list(events)):
        if event.get("env") != env:
            continue
        version = event.get("to_version") if event.type == ev.ROLLED_BACK else event.get("version")
        if version and version != now:
            return str(version)
    return None


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
        nxt = item.stage.next()
        if nxt is None:
            await self._archive_flow(item, f"{item.id} is done: archive it?")
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

    def action_archive(self) -> None:
        item = self._need_item()
        if item is not None:
            question = f"Archive {item.id} ({item.stage.label})?"
            self.run_worker(self._archive_flow(item, question), group="flows", exit_on_error=False)

    async def _archive_flow(self, item: Item, question: str) -> None:
        from tui.dialogs import ConfirmScreen

        if item.running:
            self.notify(f"{item.id} is running: cancel its run first (x).", severity="warning")
            return
        question += " It leaves the board; its id is never reused."
        if not await self.push_screen_wait(ConfirmScreen(question, yes="Archive")):
            return
        try:
            self.project.store.update(item.id, lambda it: setattr(it, "archived", True))
        except STORAGE_ERRORS as exc:
            self.storage_error(f"{item.id} not archived", exc)
            self.reload_board()
            return
        self.journal(ev.Event(ev.ITEM_ARCHIVED, item.id))
        self.reload_board()
        self.notify(f"{item.id} archived")

    # --- environments ----------------------------------------------------------------------

    def can_scale(self, env: str) -> bool:
        """Whether ``env``'s target runs replicas; decided from the config, no engine call."""
        environment = self.project.config.environments.get(env)
        return environment is not None and environment.target in SCALABLE_TARGETS

    async def _in_thread(self, title: str, work: Any, *args: Any) -> Any:
        """``work(*args)`` off the UI thread; a failure is said as one line and gives None."""
        try:
            return await asyncio.to_thread(work, *args)
        except Exception as exc:  # noqa: BLE001 - an engine away is a notice, not a crash
            from tui.crash import describe

            self.notify(describe(exc), title=title, severity="error", markup=False)
            return None

    def _status(self, env: str) -> EnvStatus:
        return self.engine.target_for(env).status()

    def _rollback_facts(self, env: str) -> tuple[str | None, str | None]:
        """(what runs on ``env`` now, what a rollback would run): both slow, in a thread."""
        now = self._status(env).version
        history = self.project.journal.read(types={ev.DEPLOYED, ev.ROLLED_BACK})
        return now, previous_release(history, env, now)

    def _deploy_facts(self, env: str, newest: bool) -> tuple[str | None, str | None]:
        """(what runs on ``env`` now, the newest release if ``newest``): in a thread."""
        now = self._status(env).version
        return now, (self.engine.newest_release() if newest else None)

    async def _confirm(self, question: str, yes: str) -> bool:
        from tui.dialogs import ConfirmScreen

        answer: bool = await self.push_screen_wait(ConfirmScreen(question, yes=yes))
        return answer

    def action_deploy(self) -> None:
        self.run_worker(self._deploy_flow(self.selected_item()), group="flows", exit_on_error=False)

    def deploy_env(self, env: str) -> None:
        """The selected card's release (if released), else the newest, to ``env``."""
        flow = self._deploy_flow(self.selected_item(), env)
        self.run_worker(flow, group="flows", exit_on_error=False)

    async def _deploy_flow(self, item: Item | None, env: str | None = None) -> None:
        """Deploy the selected card's release, else the newest one, after saying which, where,
        and what it replaces (one dialog: it asks for the approval too when the env needs it)."""
        env = env or await self.pick_env("Deploy to")
        if env is None:
            return
        released = (
            item is not None
            and item.version is not None
            and item.stage.position >= Stage.RELEASE.position
        )
        facts = await self._in_thread(f"deploy {env}", self._deploy_facts, env, not released)
        if facts is None:
            return
        now, newest = facts
        version = item.version if released and item is not None else newest
        if version is None:
            self.notify(
                "There is no release to deploy yet: advance an item through Release first.",
                title="Deploy",
                severity="warning",
            )
            return
        what = f"{item.id}'s {version}" if released and item is not None else version
        if now == version:
            question = f"Deploy {what} to {env} again? It runs there now."
        elif now:
            question = f"Deploy {what} to {env}, replacing {now}?"
        else:
            question = f"Deploy {what} to {env}?"
        approval = self.project.config.environments[env].approval
        if approval:
            question = f"{env} needs approval. {question}"
        if not await self._confirm(question, "Approve and deploy" if approval else "Deploy"):
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

        self.run_engine(
            f"deploy {env}", lambda: operations.deploy_version(self.engine, env, version)
        )

    def action_rollback(self) -> None:
        self.run_worker(self._rollback_flow(), group="flows", exit_on_error=False)

    def rollback_env(self, env: str) -> None:
        self.run_worker(self._rollback_flow(env), group="flows", exit_on_error=False)

    async def _rollback_flow(self, env: str | None = None) -> None:
        env = env or await self.pick_env("Roll back")
        if env is None:
            return
        facts = await self._in_thread(f"rollback {env}", self._rollback_facts, env)
        if facts is None:
            return
        now, previous = facts
        if previous is None:
            self.notify(
                f"{env} has nothing to roll back to: no other release was deployed there.",
                title="Roll back",
                severity="warning",
            )
            return
        question = (
            f"Roll {env} back from {now} to {previous}?"
            if now
            else f"Roll {env} back to {previous}? Nothing runs there now."
        )
        if not await self._confirm(question, "Roll back"):
            return
        from lifecycle import operations

        self.run_engine(f"rollback {env}", lambda: operations.rollback(self.engine, env))

    def restart_env(self, env: str) -> None:
        self.run_worker(self._restart_flow(env), group="flows", exit_on_error=False)

    async def _restart_flow(self, env: str) -> None:
        status = await self._in_thread(f"restart {env}", self._status, env)
        if status is None:
            return
        if status.version is None:
            self.notify(f"Nothing is deployed to {env}: nothing to restart.", severity="warning")
            return
        question = f"Restart {env}? {status.version} stops and starts again."
        if not await self._confirm(question, "Restart"):
            return
        from lifecycle import operations

        self.run_engine(f"restart {env}", lambda: operations.restart(self.engine, env))

    def stop_env(self, env: str) -> None:
        self.run_worker(self._stop_flow(env), group="flows", exit_on_error=False)

    async def _stop_flow(self, env: str) -> None:
        status = await self._in_thread(f"stop {env}", self._status, env)
        if status is None:
            return
        if status.version is None or status.state in ("absent", "stopped"):
            self.notify(f"Nothing runs on {env}: nothing to stop.", severity="warning")
            return
        question = f"Stop {env}? {status.version} stays stopped until a restart or a deploy."
        if not await self._confirm(question, "Stop"):
            return
        from lifecycle import operations

        self.run_engine(f"stop {env}", lambda: operations.stop(self.engine, env))

    def scale_env(self, env: str, delta: int) -> None:
        if not self.can_scale(env):
            target = self.project.config.environments[env].target
            self.notify(
                f"{env} runs on the {target} target, which runs one replica: "
                "scaling needs target: swarm.",
                title="Not scalable",
                severity="warning",
            )
            return
        self.run_worker(self._scale_flow(env, delta), group="flows", exit_on_error=False)

    async def _scale_flow(self, env: str, delta: int) -> None:
        status = await self._in_thread(f"scale {env}", self._status, env)
        if status is None:
            return
        if status.version is None:
            self.notify(f"Nothing is deployed to {env}: nothing to scale.", severity="warning")
            return
        current = status.replicas or 1
        wanted = max(0, current + delta)
        if wanted == current:
            self.notify(f"{env} runs {current} replicas already.", severity="warning")
            return
        question = f"Scale {env} ({status.version}) from {current} to {wanted} replicas?"
        if not await self._confirm(question, "Scale"):
            return
        from lifecycle import operations

        self.run_engine(f"scale {env}", lambda: operations.scale(self.engine, env, wanted))

    def follow_env_logs(self, env: str) -> None:
        self.run_worker(self._follow_flow(env), group="flows", exit_on_error=False)

    async def _follow_flow(self, env: str) -> None:
        """The environment's live output in the log pane, until another card is chosen."""
        await self.board.show_pane("logs")
        pane = self.follow.pane
        if pane is None:
            return
        self.follow.run_id = self.follow.item_id = None  # the next card reloads its own log
        pane.clear()
        pane.border_title = f"{env} (live)"
        self.follow.follow_env(env, f"{env}: its last {FOLLOW_TAIL} lines, then live", FOLLOW_TAIL)

    # --- app ------------------------------------------------------------------------------------

    def action_help(self) -> None:
        """Every key, read from the BINDINGS of each widget that has some: never stale."""
        from tui.board_screen import BoardScreen
        from tui.details import ItemDetailsScreen
        from tui.dialogs import ConfirmScreen, HelpScreen
        from widgets.board.columns import BoardColumns
        from widgets.log.pane import LogPane
        from widgets.log.view import LogView
        from widgets.ops.envs import EnvironmentsPane
        from widgets.ops.events import EventsPane

        self.push_screen(
            HelpScreen(
                [
                    ("Move on the board", BoardColumns.BINDINGS),
                    ("Items and panes", BoardScreen.BINDINGS),
                    ("Logs pane", [*LogView.BINDINGS, *LogPane.BINDINGS]),
                    ("Events pane", EventsPane.BINDINGS),
                    ("Environments pane", EnvironmentsPane.BINDINGS),
                    ("Item details", ItemDetailsScreen.BINDINGS),
                    ("Questions", ConfirmScreen.BINDINGS),
                    ("Anywhere", type(self).BINDINGS),
                ]
            )
        )

    def action_command_mode(self) -> None:
        """``:`` as in k9s: the palette with the board's commands alone (no themes)."""
        from textual.command import CommandPalette

        from tui.palette import BoardCommands

        if not CommandPalette.is_open(self):
            hint = "Command: deploy, restart staging, roll back, SD-3…"
            palette = CommandPalette([BoardCommands], placeholder=hint, id="--command-palette")
            self.push_screen(palette)

    def action_screenshot(self) -> None:
        """An SVG of the screen under ``.shipdeck/screenshots``, once the palette has closed."""
        self.set_timer(0.1, self._save_screenshot)

    def _save_screenshot(self) -> None:
        folder = self.project.paths.ensure() / "screenshots"
        try:
            folder.mkdir(exist_ok=True)
            path = self.save_screenshot(path=str(folder))
        except OSError as exc:
            self.storage_error("Screenshot not saved", exc)
            return
        where = self.project.paths.display(Path(path))
        self.notify(f"Saved to {where}", title="Screenshot", markup=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's, but the screenshot is the board's own: saved where it says."""
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":
                yield command

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that can do nothing now are not offered: cancel only while a run runs."""
        if action == "cancel_run":
            return self._any_run
        return True

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
