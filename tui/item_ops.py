"""What the board's item keys do: new, edit, details, advance, back, re-run, cancel,
archive. :class:`tui.board_screen.BoardScreen` binds the keys and calls these.

Flows that ask the user something (an environment, a confirmation) run as async
workers so they can await the modal; engine work runs in thread workers. An engine
refusal (a gate) is a warning in the gate's own words, not an error.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from shipdeck.lifecycle import verbs
from shipdeck.lifecycle.items import Item
from shipdeck.lifecycle.stages import Stage
from shipdeck.tui.crash import STORAGE_ERRORS
from shipdeck.tui.host import HoldEnded

if TYPE_CHECKING:
    from shipdeck.lifecycle.verbs import AdvancePlan
    from shipdeck.tui.host import Board, Host
    from shipdeck.tui.item_form import ItemDraft, ItemFormScreen

FORM_SCREEN = "item-form"  # the name the board's item form is installed under


class ItemOperations:
    """The item keys' work, for the board's selected card."""

    def __init__(self, app: Host, board: Board) -> None:
        self.app = app
        self.board = board
        self._form: ItemFormScreen | None = None

    def _show_form(
        self,
        item: Item | None,
        save: Callable[[ItemDraft], Item],
        done: Callable[[Item | None], None],
    ) -> None:
        """The board's one item form, filled for ``item``. Installed, so closing it only
        hides it: a removed screen costs the board a layout and two full repaints."""
        from shipdeck.tui.item_form import ItemFormScreen

        form = self._form
        if form is None:
            form = self._form = ItemFormScreen(item, save=save)
            self.app.install_screen(form, name=FORM_SCREEN)
        elif form in self.app.screen_stack:
            return  # already open (a key that reached the board as it opened)
        else:
            form.fill(item, save=save)
        self.app.push_screen(form, done)

    def _need_item(self) -> Item | None:
        item = self.app.selected_item()
        if item is None:
            self.app.notify("Select a card first (arrows or h j k l).", severity="warning")
        return item

    def new_item(self) -> None:
        def save(draft: ItemDraft) -> Item:  # in the form's thread worker
            engine = self.app.engine  # built first: it masks what the board and journal keep
            return verbs.add(
                engine.store,
                engine.journal,
                draft.title,
                kind=draft.kind,
                body=draft.body,
                breaking=draft.breaking,
            )

        def created(item: Item | None) -> None:
            if item is None:
                return
            self.app.reload_board()
            self.board.select(item.id)
            self.app.notify(f"{item.id} added to Plan")

        self._show_form(None, save, created)

    def edit_item(self) -> None:
        item = self._need_item()
        if item is None:
            return

        def save(draft: ItemDraft) -> Item:  # in the form's thread worker
            engine = self.app.engine
            return verbs.edit(
                engine.store,
                engine.journal,
                item.id,
                title=draft.title,
                kind=draft.kind,
                body=draft.body,
                breaking=draft.breaking,
            )

        def edited(saved: Item | None) -> None:
            if saved is not None:
                self.app.reload_board()

        self._show_form(item, save, edited)

    def details(self) -> None:
        from shipdeck.tui.details import ItemDetailsScreen

        item = self._need_item()
        if item is not None:
            self.app.push_screen(ItemDetailsScreen(self.app, item.id))

    # --- running stages -------------------------------------------------------------

    def advance(self) -> None:
        item = self._need_item()
        if item is not None:
            self.app.hold_keys()  # until the plan says whether it asks (Host.hold_keys)
            self.app.run_engine(f"advance {item.id}", partial(self._advance_work, item.id))

    def _advance_work(self, item_id: str) -> None:
        """In a thread: the plan (git and the environment are read), then the advance
        itself, at once, when there is nothing to ask. The plan had gone back to the UI
        thread, waiting behind its frames and messages, and out to a second thread
        before the run began (the key to Build's start: +11.5 ms against the engine's
        API in one process, +8.3 ms now). A question (archive it? which environment?
        approve?) goes back to the UI thread as :meth:`_advance_flow`, which then owns
        the keys typed behind ``a``."""
        app = self.app
        try:
            now, env = self._plan_or_ask(item_id)
        finally:
            app.post_message(HoldEnded())
        if now:
            refusable(app, lambda: app.engine.advance(item_id, env=env, approve=True))

    def _plan_or_ask(self, item_id: str) -> tuple[bool, str | None]:
        """Whether to advance at once, and into which environment (None: no deploy);
        not at once when it was refused, or when a flow on the UI thread asks first."""
        app = self.app
        try:
            plan = app.engine.plan_advance(item_id)
        except refusals() as exc:
            app.notify(str(exc), title="Refused", severity="warning")
            return False, None
        except STORAGE_ERRORS as exc:
            app.storage_error(f"{item_id} not advanced", exc)
            return False, None
        if plan.refusal:
            app.notify(plan.refusal, title="Refused", severity="warning")
            return False, None
        env = plan.env if plan.deploys else None
        if plan.archives or plan.needs_env or (env is not None and needs_approval(app, env)):
            app.call_from_thread(app.run_flow, self._advance_flow(plan))
            return False, None
        return True, env

    async def _advance_flow(self, plan: AdvancePlan) -> None:
        """The questions of an advance (on the UI thread), then the advance."""
        item = plan.item  # as stored when planned
        if plan.archives:
            await self._archive_flow(item, f"{item.id} is done: archive it?")
            return
        env = plan.env if plan.deploys else None
        if plan.needs_env:  # from Release: no environment is `auto`
            env = await pick_env(self.app, f"Deploy {item.id} to")
            if env is None:
                return
            plan = plan.with_env(env)
        to: Stage | None = None
        approve = env is None or await approved(self.app, env, plan.describe())
        if not approve:
            if item.stage is Stage.RELEASE:
                return  # the next stage is the deploy itself
            # No to the deploy, not to the stages before it: they run, up to Release. (It
            # had run them all and then failed the deploy as not approved.)
            to, env = Stage.RELEASE, None
        engine = self.app.engine
        self.app.run_engine(
            f"advance {item.id}",
            lambda: refusable(
                self.app, lambda: engine.advance(item.id, to=to, env=env, approve=approve)
            ),
        )

    def back(self) -> None:
        item = self._need_item()
        if item is None:
            return
        project = self.app.project
        try:
            moved = verbs.back(project.store, project.journal, item.id)
        except refusals() as exc:
            self.app.notify(str(exc), title="Refused", severity="warning")
            return
        except STORAGE_ERRORS as exc:  # nothing moved: the event and the move land together
            self.app.storage_error(f"{item.id} not moved back", exc)
            self.app.reload_board()
            return
        self.app.reload_board()
        self.board.select(moved.item.id)

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
            self.app.run_flow(self._archive_flow(item, question))

    async def _archive_flow(self, item: Item, question: str) -> None:
        from shipdeck.tui.dialogs import ConfirmScreen

        refusal = verbs.archive_refusal(item)
        if refusal:
            self.app.notify(f"{refusal} (x).", severity="warning")
            return
        question += " It leaves the board; its id is never reused."
        if not await self.app.push_screen_wait(ConfirmScreen(question, yes="Archive")):
            return
        project = self.app.project
        try:
            verbs.archive(project.store, project.journal, item.id)
        except refusals() as exc:  # it started running meanwhile
            self.app.notify(str(exc), title="Refused", severity="warning")
            return
        except STORAGE_ERRORS as exc:
            self.app.storage_error(f"{item.id} not archived", exc)
            self.app.reload_board()
            return
        self.app.reload_board()
        self.app.notify(f"{item.id} archived")


async def pick_env(app: Host, title: str) -> str | None:
    """The environment to act on: the only one, or the one picked in a dialog."""
    from shipdeck.tui.dialogs import EnvPickerScreen

    envs = app.project.config.environments
    if not envs:
        app.notify(
            "No environments in shipdeck.yaml yet: add one under environments: to deploy.",
            severity="warning",
        )
        return None
    if len(envs) == 1:
        return next(iter(envs))
    rows = [
        (name, f"{e.target}{' · needs approval' if e.approval else ''}") for name, e in envs.items()
    ]
    result: str | None = await app.push_screen_wait(EnvPickerScreen(title, rows))
    return result


def needs_approval(app: Host, env: str) -> bool:
    """An environment the config no longer has needs none here: the engine refuses it."""
    config = app.project.config.environments.get(env)
    return bool(config and config.approval)


async def approved(app: Host, env: str, what: str) -> bool:
    """Yes when ``env`` needs no approval, else what the person answered."""
    if not needs_approval(app, env):
        return True  # before the dialogs' import: a deploy to an `auto` env needs none
    from shipdeck.tui.dialogs import ConfirmScreen

    answer: bool = await app.push_screen_wait(
        ConfirmScreen(f"{env} needs approval. {what}?", yes="Approve")
    )
    return answer


def refusals() -> tuple[type[Exception], ...]:
    """Refusals (a gate, a card or environment gone meanwhile): a warning, not an error.
    Imported here, not at the module's top: what the first paint need not load."""
    from shipdeck.lifecycle.board import ItemNotFound
    from shipdeck.lifecycle.config.behaviour import UnknownEnvironment
    from shipdeck.lifecycle.runs import EngineError

    return (EngineError, ItemNotFound, UnknownEnvironment)


def refusable(app: Host, work: Any) -> Any:
    """Engine refusals become a warning in the engine's own words, not an error; a bug
    is still reported as one."""
    try:
        return work()
    except refusals() as exc:
        app.call_from_thread(app.notify, str(exc), title="Refused", severity="warning")
        return None
