"""Which moves across the board are allowed, and why one is refused.

Pure functions over an :class:`Item` and the :class:`Facts` a caller gathered
from the world (git, the deploy target). The CLI and the board both call
:func:`check_move`, so a refusal reads the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipdeck.lifecycle.items import Item, RunState
from shipdeck.lifecycle.stages import Stage


@dataclass(frozen=True)
class Facts:
    """What the world says about an item right now; None means unknown."""

    commits_ahead: int | None = None
    head_sha: str | None = None
    tag_exists: bool | None = None
    healthy: bool | None = None
    baked: bool | None = None
    branch_gone: bool = False  # the item's branch is not in the repository (deleted)


@dataclass(frozen=True)
class Refusal:
    """A move that may not happen, with the reason in the user's words."""

    item_id: str
    target: Stage
    reason: str

    def __str__(self) -> str:
        return f"{self.item_id} cannot move to {self.target.label}: {self.reason}"


def _short(sha: str | None) -> str:
    return sha[:7] if sha else "?"


def exit_gate(item: Item, facts: Facts) -> str | None:
    """Why the item may not leave its current stage forward, or None if it may."""
    stage = item.stage
    state = item.state_of(stage)
    if state.state is RunState.RUNNING:
        return f"{stage.label} is still running"
    if stage is Stage.PLAN:
        return None
    if stage is Stage.CODE:
        if facts.branch_gone:
            return (
                f"branch {item.branch} is gone: move the item back to Plan and advance it,"
                " which makes the branch again (b then a on the board;"
                f" `shipdeck item move {item.id} plan`, `shipdeck advance {item.id} --to code`)"
            )
        if facts.commits_ahead is None:
            return None if item.branch else "the item has no branch yet"
        if facts.commits_ahead <= 0:
            return f"branch {item.branch or '?'} has no commits ahead of the base branch"
        return None
    if stage is Stage.BUILD:
        if state.state is not RunState.PASSED:
            return f"the build has not passed (it is {state.state.value})"
        return moved_since_build(item, facts)
    if stage is Stage.TEST:
        if state.state is not RunState.PASSED:
            return f"tests have not passed on {_short(facts.head_sha or item.sha)}"
        if facts.head_sha and state.sha and state.sha != facts.head_sha:
            return (
                f"tests have not passed on {_short(facts.head_sha)} "
                f"(they passed on {_short(state.sha)})"
            )
        return None
    if stage is Stage.RELEASE:
        if state.state is not RunState.PASSED or not item.version:
            return "the release has not been cut (no version tag)"
        if facts.tag_exists is False:
            return f"tag for {item.version} does not exist"
        return None
    if stage is Stage.DEPLOY:
        if state.state is not RunState.PASSED:
            return "the deploy has not passed its health check"
        if facts.healthy is False:
            return f"{item.env or 'the environment'} is not healthy"
        return None
    if stage is Stage.OPERATE:
        if facts.baked is False:
            return "the bake time has not passed healthy yet"
        if facts.healthy is False:
            return f"{item.env or 'the environment'} is not healthy"
        return None
    return "Monitor is the last stage; archive the item when it is done"


def moved_since_build(item: Item, facts: Facts) -> str | None:
    """Build, Test and Release act on one sha: a branch that moved after Build built
    it sends the item back to Build (what passed was another commit)."""
    build = item.state_of(Stage.BUILD)
    head = facts.head_sha
    if build.state is RunState.PASSED and build.sha and head and head != build.sha:
        return (
            f"the branch moved to {_short(head)} after Build built {_short(build.sha)}; "
            "run Build again"
        )
    return None


def must_build_again(item: Item, facts: Facts) -> bool:
    """Whether an advance starts over at Build: Test, and a release not cut yet, act on
    the sha Build built, and the branch moved after it (a fix; ``main`` merged in to
    settle a release's merge conflict, which the release of the old sha met again and
    again)."""
    if item.stage not in (Stage.BUILD, Stage.TEST, Stage.RELEASE):
        return False
    if item.stage is Stage.RELEASE and item.current.state is RunState.PASSED:
        return False  # cut: the release is that commit for good
    return moved_since_build(item, facts) is not None


def rerun_gate(item: Item, facts: Facts) -> str | None:
    """Why the item's current stage may not run again as it is, or None if it may."""
    if item.stage in (Stage.TEST, Stage.RELEASE) and must_build_again(item, facts):
        return moved_since_build(item, facts)
    return None


def check_move(item: Item, target: Stage, facts: Facts | None = None) -> Refusal | None:
    """None if ``item`` may move to ``target`` now; a :class:`Refusal` otherwise.

    Forward moves go one stage at a time and pass the current stage's exit gate.
    Backward moves are always allowed unless something is running (nothing is
    undone: the branch, tags and deploys stay).
    """
    facts = facts or Facts()
    if item.archived:
        return Refusal(item.id, target, "the item is archived")
    if target is item.stage:
        return Refusal(item.id, target, f"it is already in {target.label}")
    if item.running:
        return Refusal(item.id, target, f"{item.stage.label} is still running")
    if target.position < item.stage.position:
        return None
    if target.position > item.stage.position + 1:
        nxt = item.stage.next()
        step = nxt.label if nxt else "?"
        return Refusal(
            item.id,
            target,
            f"items move one stage at a time; it is in {item.stage.label}, next is {step}",
        )
    reason = exit_gate(item, facts)
    return Refusal(item.id, target, reason) if reason else None
