"""Command palette provider: jump to an item, or run an action on one."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import ShipdeckApp


class BoardCommands(Provider):
    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        from tui.app import ShipdeckApp

        app = self.app
        assert isinstance(app, ShipdeckApp)
        out: list[tuple[str, Callable[[], object], str]] = [
            ("New item", app.action_new_item, "Add a plan item"),
            ("Deploy…", app.action_deploy, "Deploy a release to an environment"),
            ("Roll back…", app.action_rollback, "Roll an environment back"),
        ]
        for item in app.items.values():
            label = f"{item.id} {item.title}"
            out.append((f"Go to {label}", partial(_goto, app, item.id), f"in {item.stage.label}"))
            out.append((f"Advance {item.id}", partial(_then, app, item.id, app.action_advance), ""))
            out.append(
                (f"Details of {item.id}", partial(_then, app, item.id, app.action_details), "")
            )
        for env in app.project.config.environments:
            out.append((f"Roll back {env}", partial(_rollback, app, env), "asks to confirm"))
        return out

    async def discover(self) -> Hits:
        for name, run, help_text in self._commands()[:3]:
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, run, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text or None)


def _goto(app: ShipdeckApp, item_id: str) -> None:
    app.board.select(item_id)


def _then(app: ShipdeckApp, item_id: str, action: Callable[[], object]) -> None:
    app.board.select(item_id)
    app.selected = item_id
    action()


def _rollback(app: ShipdeckApp, env: str) -> None:
    app.run_worker(app._rollback_flow(env), group="flows", exit_on_error=False)
