"""What the cards show beyond the board: branch heads, what runs on each environment.

Read in a worker (the branches' ref files and the journal's tail, both cheap) and
handed to the board as :class:`widgets.board.cards.CardFacts` per item, so a card
in Code shows its branch's head and a deployed card says when its release no longer
runs (a newer deploy, a rollback, a stop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from shipdeck.lifecycle.events import ENV_EVENTS, env_versions
from shipdeck.lifecycle.items import Item
from shipdeck.lifecycle.journal import Journal
from shipdeck.lifecycle.ports import Vcs, VcsError
from shipdeck.lifecycle.stages import Stage
from shipdeck.widgets.board.cards import CardFacts


def card_facts(
    items: Iterable[Item],
    heads: Mapping[str, str],
    envs: Mapping[str, tuple[str, str]],
    bakes: Mapping[str, float],
) -> dict[str, CardFacts]:
    """The facts of the cards that have any (most cards have none: no entry)."""
    out: dict[str, CardFacts] = {}
    for item in items:
        head = heads.get(item.branch) if item.stage is Stage.CODE and item.branch else None
        running = envs.get(item.env) if item.env else None
        bake = bakes.get(item.env) if item.env and item.stage is Stage.OPERATE else None
        if head or running or bake is not None:
            out[item.id] = CardFacts(
                head=head,
                env_version=running[0] if running else None,
                env_how=running[1] if running else None,
                bake=bake,
            )
    return out


def read_facts(
    vcs: Callable[[], Vcs], journal: Journal, items: list[Item], bakes: Mapping[str, float]
) -> dict[str, CardFacts]:
    """Everything :func:`card_facts` needs, read now (blocking: call from a worker).

    The heads are those of the Code cards' branches only, each a ``branch_tip`` (read
    from git's ref files where they are plain): every 5 s on an idle board."""
    wanted = {item.env for item in items if item.env}
    envs = env_versions(journal.latest_for_envs(wanted, ENV_EVENTS))
    heads: dict[str, str] = {}
    for branch in {item.branch for item in items if item.stage is Stage.CODE and item.branch}:
        try:
            tip = vcs().branch_tip(branch)
        except VcsError:
            continue  # a card without its head is shown as before; the next refresh asks again
        if tip is not None:
            heads[branch] = tip
    return card_facts(items, heads, envs, bakes)
