"""Command palette provider: every board action, on the board, an item or an environment.

``:`` opens the palette with these commands alone (k9s' command mode); ``ctrl+p``
adds Textual's own (theme, keys). With nothing typed it lists the selected item's
commands, then each environment's, then the board's; typing searches them all. A
command the item or the target cannot do is not listed (cancel only while a run
runs, scale only on a target that scales).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from shipdeck.lifecycle.text import escape_controls as printable
from shipdeck.tui.host import Host, host

if TYPE_CHECKING:
    from shipdeck.lifecycle.items import Item

Command = tuple[str, Callable[[], object], str]  # name, what it does, help


class BoardCommands(Provider):
    @property
    def shipdeck(self) -> Host:
        return host(self.app)

    def _board(self) -> list[Command]:
        app = self.shipdeck
        show = app.board.action_show_pane
        items, envs = app.board.item_ops, app.board.env_ops
        return [
            ("New item", items.new_item, "add an item to Plan (n)"),
            ("Deploy…", envs.deploy, "deploy a release to an environment (d)"),
            ("Roll back…", envs.rollback, "roll an environment back (R)"),
            ("Zoom panes", app.board.action_zoom, "the panes full height, or the board back (z)"),
            ("Show logs", partial(show, "logs"), "the selected item's run log (L)"),
            ("Show metrics", partial(show, "metrics"), "host and environments (m)"),
            ("Show events", partial(show, "events"), "the journal (v)"),
            ("Show environments", partial(show, "envs"), "versions, health, operate keys (o)"),
            ("Keys", app.action_help, "every key (?)"),
            ("Screenshot", app.action_screenshot, "an SVG of the screen in .shipdeck/screenshots"),
        ]

    def _item(self, item: Item) -> list[Command]:
        app = self.shipdeck
        ops = app.board.item_ops
        on = partial(_then, app, item.id)
        out: list[Command] = [
            (
                f"Go to {item.id} {printable(item.title)}",
                partial(_goto, app, item.id),
                item.stage.label,
            ),
            (f"Advance {item.id}", on(ops.advance), f"from {item.stage.label} (a)"),
            (f"Back {item.id}", on(ops.back), "one stage back (b)"),
            (f"Re-run {item.id}", on(ops.rerun), f"{item.stage.label} again (r)"),
            (f"Edit {item.id}", on(ops.edit_item), "title, kind, body (e)"),
            (f"Details of {item.id}", on(ops.details), "history, runs, tests (enter)"),
            (f"Archive {item.id}", on(ops.archive), "off the board, asks first"),
        ]
        if item.running:
            out.insert(1, (f"Cancel {item.id} run", on(ops.cancel_run), "(x)"))
        return out

    def _env(self, env: str) -> list[Command]:
        app = self.shipdeck
        ops = app.board.env_ops
        target = app.project.config.environments[env].target
        out: list[Command] = [
            (f"Deploy to {env}", partial(ops.deploy_env, env), f"asks first ({target} target)"),
            (f"Restart {env}", partial(ops.restart_env, env), "asks first, naming the version"),
            (f"Stop {env}", partial(ops.stop_env, env), "asks first"),
            (f"Roll back {env}", partial(ops.rollback_env, env), "asks first, naming versions"),
            (f"Follow {env} logs", partial(ops.follow_env_logs, env), "live, in the log pane"),
        ]
        if ops.can_scale(env):
            out.append((f"Scale {env} up", partial(ops.scale_env, env, 1), "one more replica"))
            out.append((f"Scale {env} down", partial(ops.scale_env, env, -1), "one fewer"))
        if app.project.config.environments[env].autoscale is not None:
            toggle = partial(ops.toggle_autoscale, env)
            out.append((f"Pause/resume {env} autoscaling", toggle, "(A in Envs)"))
        return out

    def _fixed(self, selected: Item | None) -> list[Command]:
        """The board's commands, the selected item's and each environment's."""
        app = self.shipdeck
        out = self._board()
        if selected is not None:
            out += self._item(selected)
        for env in app.project.config.environments:
            out += self._env(env)
        return out

    async def discover(self) -> Hits:
        app = self.shipdeck
        selected = app.selected_item()
        shown = self._item(selected) if selected else []
        for env in app.project.config.environments:
            shown += self._env(env)
        shown += self._board()
        for name, run, help_text in shown:
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        """Every command the query matches. The cards' own are looked at only for cards
        whose words could match (on 20,000 cards, 140,000 commands built and matched
        took ~0.7 s a key), and the event loop gets a turn every ``YIELD_EVERY`` cards,
        so the next key is typed at once and this search cancelled by it."""
        app = self.shipdeck
        matcher = self.matcher(query)
        possible = _could_match(query)
        selected = app.selected_item()
        candidates = self._fixed(selected)
        for n, item in enumerate(app.items.values()):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if selected is not None and item.id == selected.id:
                continue  # listed first, with the fixed ones
            if possible(f"{ITEM_VERBS} {item.id} {item.title} run".lower()):
                candidates += self._item(item)
            if candidates:
                for hit in _hits(matcher, candidates):
                    yield hit
                candidates = []
        for hit in _hits(matcher, candidates):  # no cards: the fixed commands alone
            yield hit


# Every verb of a card's commands (:meth:`BoardCommands._item`) before its id and
# title: each command's name is, letter by letter in order, within "VERBS id title run".
ITEM_VERBS = "go to cancel advance back re-run edit details of archive"
YIELD_EVERY = 256  # cards searched between two turns of the event loop


def _hits(matcher: Matcher, commands: list[Command]) -> Iterator[Hit]:
    for name, run, help_text in commands:
        score = matcher.match(name)
        if score > 0:
            yield Hit(score, _shown(matcher, name), run, help=help_text or None)


def _shown(matcher: Matcher, name: str) -> Content | str:
    """The name with the matched letters lit, or plain where lowering changes its length
    ("İ" is two letters lowered): the matcher's offsets, found in the lowered name, would
    light the wrong letters or run past the end (an IndexError that ended the search,
    which then said "No matches found")."""
    if len(name.lower()) != len(name):
        return name
    return matcher.highlight(name)


def _could_match(query: str) -> Callable[[str], bool]:
    """Whether a lowered text holds the query's letters in order: the fuzzy matcher's
    condition for any match, tested by one regular expression, not by the matcher."""
    pattern = re.compile(".*?".join(map(re.escape, query.lower())), re.DOTALL)
    return lambda text: pattern.search(text) is not None


def _goto(app: Host, item_id: str) -> None:
    app.board.select(item_id)


def _then(app: Host, item_id: str, action: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        app.board.select(item_id)
        app.selected = item_id
        action()

    return run
