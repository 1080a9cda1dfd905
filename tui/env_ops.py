"""What the board does to environments: deploy, roll back, restart, stop, scale,
follow their logs. Called by the board's keys, the environments pane and the palette.

Confirmations name what will happen, with versions; what they say is read in a
thread (a target's status can take seconds). An action the target cannot do, or
that has nothing to act on, is refused with a notice and no dialog.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.items import Item
from shipdeck.lifecycle.stages import Stage
from shipdeck.tui.crash import describe
from shipdeck.tui.item_ops import pick_env, refusable
from shipdeck.tui.log_follower import FOLLOW_TAIL

if TYPE_CHECKING:
    from shipdeck.lifecycle.config.schema import Config
    from shipdeck.lifecycle.ports import EnvStatus
    from shipdeck.tui.host import Board, Host

# Targets that run more than one replica: local runs one process and docker one
# container per environment, and their ``scale`` refuses any other count.
SCALABLE_TARGETS = ("swarm",)


def can_scale(config: Config, env: str) -> bool:
    """Whether ``env``'s target runs replicas; decided from the config, no engine call."""
    environment = config.environments.get(env)
    return environment is not None and environment.target in SCALABLE_TARGETS


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


class EnvOperations:
    """Environment operations, each asking first in words that name the versions."""

    def __init__(self, app: Host, board: Board) -> None:
        self.app = app
        self.board = board

    def can_scale(self, env: str) -> bool:
        return can_scale(self.app.project.config, env)

    async def _in_thread(self, title: str, work: Any, *args: Any) -> Any:
        """``work(*args)`` off the UI thread; a failure is said as one line and gives None."""
        try:
            return await asyncio.to_thread(work, *args)
        except Exception as exc:  # noqa: BLE001 - an engine away is a notice, not a crash
            self.app.notify(describe(exc), title=title, severity="error", markup=False)
            return None

    def _status(self, env: str) -> EnvStatus:
        return self.app.engine.target_for(env).status()

    def _rollback_facts(self, env: str) -> tuple[str | None, str | None]:
        """(what runs on ``env`` now, what a rollback would run): both slow, in a thread."""
        now = self._status(env).version
        history = self.app.project.journal.read(types={ev.DEPLOYED, ev.ROLLED_BACK})
        return now, previous_release(history, env, now)

    def _deploy_facts(self, env: str, newest: bool) -> tuple[str | None, str | None]:
        """(what runs on ``env`` now, the newest release if ``newest``): in a thread."""
        now = self._status(env).version
        return now, (self.app.engine.newest_release() if newest else None)

    async def _confirm(self, question: str, yes: str) -> bool:
        from shipdeck.tui.dialogs import ConfirmScreen

        answer: bool = await self.app.push_screen_wait(ConfirmScreen(question, yes=yes))
        return answer

    def deploy(self) -> None:
        self.app.run_flow(self._deploy_flow(self.app.selected_item()))

    def deploy_env(self, env: str) -> None:
        """The selected card's release (if released), else the newest, to ``env``."""
        flow = self._deploy_flow(self.app.selected_item(), env)
        self.app.run_flow(flow)

    async def _deploy_flow(self, item: Item | None, env: str | None = None) -> None:
        """Deploy the selected card's release, else the newest one, after saying which, where,
        and what it replaces (one dialog: it asks for the approval too when the env needs it)."""
        env = env or await pick_env(self.app, "Deploy to")
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
            self.app.notify(
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
        approval = self.app.project.config.environments[env].approval
        if approval:
            question = f"{env} needs approval. {question}"
        if not await self._confirm(question, "Approve and deploy" if approval else "Deploy"):
            return
        if released and item is not None:
            self.app.run_engine(
                f"deploy {item.id}",
                lambda: refusable(
                    self.app,
                    lambda: self.app.engine.run_stage(
                        item.id, stage=Stage.DEPLOY, env=env, approve=True
                    ),
                ),
            )
            return
        from shipdeck.lifecycle import operations

        self.app.run_engine(
            f"deploy {env}", lambda: operations.deploy_version(self.app.engine, env, version)
        )

    def rollback(self) -> None:
        self.app.run_flow(self._rollback_flow())

    def rollback_env(self, env: str) -> None:
        self.app.run_flow(self._rollback_flow(env))

    async def _rollback_flow(self, env: str | None = None) -> None:
        env = env or await pick_env(self.app, "Roll back")
        if env is None:
            return
        facts = await self._in_thread(f"rollback {env}", self._rollback_facts, env)
        if facts is None:
            return
        now, previous = facts
        if previous is None:
            self.app.notify(
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
        from shipdeck.lifecycle import operations

        self.app.run_engine(f"rollback {env}", lambda: operations.rollback(self.app.engine, env))

    def restart_env(self, env: str) -> None:
        self.app.run_flow(self._restart_flow(env))

    async def _restart_flow(self, env: str) -> None:
        status = await self._in_thread(f"restart {env}", self._status, env)
        if status is None:
            return
        if status.version is None:
            self.app.notify(
                f"Nothing is deployed to {env}: nothing to restart.", severity="warning"
            )
            return
        question = f"Restart {env}? {status.version} stops and starts again."
        if not await self._confirm(question, "Restart"):
            return
        from shipdeck.lifecycle import operations

        self.app.run_engine(f"restart {env}", lambda: operations.restart(self.app.engine, env))

    def stop_env(self, env: str) -> None:
        self.app.run_flow(self._stop_flow(env))

    async def _stop_flow(self, env: str) -> None:
        status = await self._in_thread(f"stop {env}", self._status, env)
        if status is None:
            return
        if status.version is None or status.state in ("absent", "stopped"):
            self.app.notify(f"Nothing runs on {env}: nothing to stop.", severity="warning")
            return
        question = f"Stop {env}? {status.version} stays stopped until a restart or a deploy."
        if not await self._confirm(question, "Stop"):
            return
        from shipdeck.lifecycle import operations

        self.app.run_engine(f"stop {env}", lambda: operations.stop(self.app.engine, env))

    def scale_env(self, env: str, delta: int) -> None:
        if not self.can_scale(env):
            target = self.app.project.config.environments[env].target
            self.app.notify(
                f"{env} runs on the {target} target, which runs one replica: "
                "scaling needs target: swarm.",
                title="Not scalable",
                severity="warning",
            )
            return
        self.app.run_flow(self._scale_flow(env, delta))

    async def _scale_flow(self, env: str, delta: int) -> None:
        status = await self._in_thread(f"scale {env}", self._status, env)
        if status is None:
            return
        if status.version is None:
            self.app.notify(f"Nothing is deployed to {env}: nothing to scale.", severity="warning")
            return
        current = status.replicas or 1
        wanted = max(0, current + delta)
        if wanted == current:
            self.app.notify(f"{env} runs {current} replicas already.", severity="warning")
            return
        question = f"Scale {env} ({status.version}) from {current} to {wanted} replicas?"
        if not await self._confirm(question, "Scale"):
            return
        from shipdeck.lifecycle import operations

        self.app.run_engine(f"scale {env}", lambda: operations.scale(self.app.engine, env, wanted))

    def toggle_autoscale(self, env: str) -> None:
        """One key pauses (or resumes) ``env``'s autoscaling, for every monitor running."""
        if self.app.project.config.environments[env].autoscale is None:
            self.app.notify(f"{env} has no autoscale: in shipdeck.yaml.", severity="warning")
            return
        # Not run_flow: it asks nothing, so no key typed behind it is held back.
        self.app.run_worker(self._autoscale_flow(env), group="flows", exit_on_error=False)

    async def _autoscale_flow(self, env: str) -> None:
        from shipdeck.lifecycle.sampling import autoscale_paused, pause_autoscale

        engine = self.app.engine
        paused = not autoscale_paused(engine, env)
        await self._in_thread(f"autoscale {env}", pause_autoscale, engine, env, paused)
        word = "paused: replicas stay as they are" if paused else "resumed"
        self.app.notify(f"Autoscaling of {env} {word}.", title="Autoscale")

    def follow_env_logs(self, env: str) -> None:
        # Not run_flow: it asks nothing, so no key typed behind it is held back.
        self.app.run_worker(self._follow_flow(env), group="flows", exit_on_error=False)

    async def _follow_flow(self, env: str) -> None:
        """The environment's live output in the log pane, until another card is chosen."""
        await self.board.show_pane("logs")
        self.app.follow_env_logs(env, FOLLOW_TAIL)
