"""The item verbs: add, edit, archive, move, back, a bug from an alert, and what
advancing an item would do. The command line (``cli/items.py``, ``cli/ops.py``) and the
board (``tui/item_ops.py``, ``tui/panes.py``) call these and only gather input and
show results, so each change is written once and journals one payload shape.

Every change is journaled write-ahead (``BoardStore.update(write_ahead=)``): the event
and the change land together or not at all. A rule that depends on the item as it is
(a gate, a running card) is checked under the board's lock, on the item as stored.
Errors are :class:`lifecycle.errors.ShipdeckError` s; a refusal is an
:class:`lifecycle.errors.EngineError`, as the engine's own refusals are.

Running stages is the engine's (:meth:`lifecycle.engine.Engine.advance`); what an
advance would do, and whether it would be refused, is :func:`plan_advance`, which the
engine's own choice of where an advance ends (:func:`default_target`) shares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.errors import EngineError, ShipdeckError
from shipdeck.lifecycle.items import Item, Kind, RunState, normalise_id
from shipdeck.lifecycle.journal import Journal
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.stages.gates import Facts, Refusal, check_move, must_build_again
from shipdeck.lifecycle.store import BoardStore
from shipdeck.lifecycle.text import escape_controls, first_control

DEFAULT_TAG = "v{version}"  # how a release link is spelled when the config names no tag


class InvalidItem(ShipdeckError, ValueError):
    """What was given cannot make an item (an empty title)."""


class Refused(EngineError):
    """A verb refused (a gate, a running card): the reason in the user's words, and the
    gate's :class:`Refusal` when a gate refused."""

    def __init__(self, reason: str, refusal: Refusal | None = None) -> None:
        super().__init__(reason)
        self.refusal = refusal


class AlertNotFound(ShipdeckError, LookupError):
    """No ``alert.raised`` with that id in the journal."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such alert"


def _nothing() -> None:
    pass


def _title(title: str) -> str:
    """A title is one line of text: a control character in it (ESC, a newline) would be
    obeyed by any terminal that shows it raw, or break the one line a card gives it."""
    if not isinstance(title, str) or not title.strip():
        raise InvalidItem("an item needs a title")
    control = first_control(title)
    if control is not None:
        raise InvalidItem(f"a title is one line of text: it holds {control} (a control character)")
    return title


# --- the events, one shape each -------------------------------------------------------


def created_event(item: Item) -> ev.Event:
    return ev.Event(
        ev.ITEM_CREATED,
        item.id,
        {"title": item.title, "kind": item.kind.value, "links": list(item.links)},
    )


def moved_event(item_id: str, source: Stage, target: Stage, forced: str | None = None) -> ev.Event:
    """``item.moved``; ``forced`` is the reason a forced move went past a gate."""
    data: dict[str, object] = {
        "from": source.value,
        "to": target.value,
        "forced": forced is not None,
    }
    if forced is not None:
        data["reason"] = forced
    return ev.Event(ev.ITEM_MOVED, item_id, data)


# --- add, edit, archive ---------------------------------------------------------------


def add(
    store: BoardStore,
    journal: Journal,
    title: str,
    *,
    kind: Kind = Kind.FEATURE,
    body: str = "",
    breaking: bool = False,
    links: Iterable[str] = (),
) -> Item:
    """A new item in Plan, journaled ``item.created``; returns it with its id."""

    def write(it: Item) -> Callable[[], None]:  # the id is known only under the lock
        return journal.append_undoable(created_event(it))[1]

    return store.add(
        _title(title),
        kind=Kind(kind),
        body=body,
        breaking=breaking,
        links=list(links),
        write_ahead=write,
    )


EDITABLE = ("title", "kind", "body", "breaking")


def edit(
    store: BoardStore,
    journal: Journal,
    item_id: str,
    *,
    title: str,
    kind: Kind,
    body: str,
    breaking: bool,
) -> Item:
    """Change what the item says; journals ``item.edited`` with the fields that changed
    (nothing when nothing did)."""
    _title(title)
    changed: list[str] = []

    def change(it: Item) -> None:
        new = {"title": title, "kind": Kind(kind), "body": body, "breaking": breaking}
        changed[:] = [name for name in EDITABLE if getattr(it, name) != new[name]]
        for name in changed:
            setattr(it, name, new[name])

    def write(it: Item) -> Callable[[], None]:
        if not changed:
            return _nothing
        event = ev.Event(ev.ITEM_EDITED, it.id, {"fields": list(changed)})
        return journal.append_undoable(event)[1]

    return store.update(normalise_id(item_id), change, write_ahead=write)


def archive_refusal(item: Item) -> str | None:
    """Why ``item`` may not be archived now, or None."""
    if item.running:
        return f"{item.id} is running: cancel its run first"
    return None


def archive(store: BoardStore, journal: Journal, item_id: str) -> Item:
    """Take the item off the board (its id is never reused); journals ``item.archived``.
    Refused while it runs; an archived item stays as it is."""
    changed: list[bool] = []

    def change(it: Item) -> None:
        refusal = archive_refusal(it)
        if refusal:
            raise Refused(refusal)
        changed[:] = [not it.archived]
        it.archived = True

    def write(it: Item) -> Callable[[], None]:
        if not any(changed):
            return _nothing
        return journal.append_undoable(ev.Event(ev.ITEM_ARCHIVED, it.id))[1]

    return store.update(normalise_id(item_id), change, write_ahead=write)


# --- moves ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Moved:
    """A move that was made: from where, to where, and the gate it was forced past."""

    item: Item
    source: Stage
    target: Stage
    forced: str | None = None  # the reason journaled for a forced move; None if not forced


def move(
    store: BoardStore,
    journal: Journal,
    item_id: str,
    target: Stage,
    *,
    facts: Callable[[Item], Facts] | None = None,
    force: bool = False,
    reason: str | None = None,
) -> Moved:
    """Move the item to ``target`` without running anything. The gate is checked under
    the board's lock, on the item as stored, with what ``facts`` says of the world (read
    before the lock: git is slow); ``force`` goes past it, journaling ``reason`` (or the
    gate's)."""
    wanted = normalise_id(item_id)
    known = facts(store.get(wanted)) if facts is not None else Facts()
    done: list[Moved] = []

    def change(it: Item) -> None:
        done.clear()
        refusal = check_move(it, target, known)
        if refusal and not force:
            raise Refused(str(refusal), refusal)
        forced = (reason or refusal.reason) if refusal else None
        done.append(Moved(it, it.stage, target, forced))
        it.stage = target

    def write(it: Item) -> Callable[[], None]:  # what moved is known only under the lock
        m = done[0]
        return journal.append_undoable(moved_event(it.id, m.source, m.target, m.forced))[1]

    item = store.update(wanted, change, write_ahead=write)
    return replace(done[0], item=item)


def back(store: BoardStore, journal: Journal, item_id: str) -> Moved:
    """One stage back; nothing is undone (branch, tags and deploys stay)."""
    item = store.get(normalise_id(item_id))
    target = item.stage.previous()
    if target is None:
        raise Refused(f"{item.id} is in Plan already")
    return move(store, journal, item.id, target)


# --- a bug from an alert --------------------------------------------------------------


def find_alert(journal: Journal, alert_id: str) -> ev.Event:
    """The ``alert.raised`` event of ``alert_id`` (any case)."""
    wanted = alert_id.strip().upper()
    for event in journal.read(types={ev.ALERT_RAISED}):
        if str(event.get("alert_id", "")).upper() == wanted:
            return event
    raise AlertNotFound(f"no alert {alert_id} in the journal")


def add_bug_from_alert(
    store: BoardStore,
    journal: Journal,
    alert: ev.Event,
    *,
    release_tag: str | None = None,
    title: str | None = None,
) -> Item:
    """A bug in Plan that says what the alert saw, linked to the alert and the release
    it was raised on (``release_tag``: the config's tag template)."""
    from shipdeck.lifecycle.alerts import bug_from_alert  # ports' types: not for every verb

    bug = bug_from_alert(alert, release_tag or DEFAULT_TAG)
    return add(
        store,
        journal,
        title or escape_controls(bug["title"]),  # an alert's words: a probe's, a log's
        kind=Kind.BUG,
        body=bug["body"],
        links=bug["links"],
    )


# --- what advancing would do -----------------------------------------------------------

_DOES = {
    Stage.CODE: "creates the item's branch",
    Stage.BUILD: "builds",
    Stage.TEST: "tests",
    Stage.RELEASE: "cuts a release",
    Stage.DEPLOY: "deploys",
    Stage.OPERATE: "operates the deploy through its bake time",
    Stage.MONITOR: "watches it in Monitor",
}


def default_target(item: Item, auto_env: str | None, env: str | None = None) -> Stage | None:
    """Where an advance with no stage named ends: the next stage; after Code, through
    Release by itself, and on to Deploy when an environment is named or ``auto``.
    None in Monitor, the last stage."""
    nxt = item.stage.next()
    if nxt is None:
        return None
    if Stage.BUILD.position <= nxt.position <= Stage.RELEASE.position:
        return Stage.DEPLOY if env or auto_env else Stage.RELEASE
    return nxt


@dataclass(frozen=True)
class AdvancePlan:
    """What advancing the item from where it is now would do, in plain words."""

    item: Item
    to: Stage | None  # where the advance ends; None in Monitor (advancing archives)
    env: str | None = None  # where it deploys, when it reaches Deploy and one is known
    rerun: Stage | None = None  # a stage that has not passed (or Build, the branch moved)
    refusal: str | None = None  # why it is refused now, in the gate's words

    @property
    def archives(self) -> bool:
        """In Monitor, the last stage: advancing means archiving."""
        return self.to is None and self.refusal is None

    @property
    def deploys(self) -> bool:
        """It moves the item into Deploy."""
        return self.to is not None and self.item.stage.position < Stage.DEPLOY.position <= (
            self.to.position
        )

    @property
    def needs_env(self) -> bool:
        """It moves the item into Deploy, and no environment is named or ``auto``."""
        return self.deploys and self.env is None

    def with_env(self, env: str | None) -> AdvancePlan:
        return replace(self, env=env)

    def stages(self) -> list[Stage]:
        """The stages it would run, in order (a stage run again first)."""
        first = self.rerun or self.item.stage.next()
        if self.to is None or first is None:
            return []
        return [s for s in Stage if first.position <= s.position <= self.to.position]

    def describe(self) -> str:
        """One line: what advancing would do, or why it is refused."""
        item = self.item
        if self.refusal:
            return self.refusal
        if self.to is None:
            return f"{item.id} is in Monitor, the last stage: advancing archives it"
        stages = self.stages()
        if not stages:
            return f"{item.id} is in {item.stage.label} already: nothing to run"
        words = []
        for stage in stages:
            if stage is self.rerun:
                words.append(f"runs {stage.label} again")
            elif stage is Stage.DEPLOY:
                where = self.env or "an environment not yet named"
                words.append(f"{_DOES[stage]} to {where}")
            else:
                words.append(_DOES[stage])
        return f"{item.id} advances from {item.stage.label} to {self.to.label}: {', '.join(words)}"


def past_already(item: Item, to: Stage) -> str:
    """An advance to a stage behind the item, refused with the ways back (a board
    user and a CLI user each read it)."""
    return (
        f"{item.id} is past {to.label} already: move it back with b on the board or"
        f" `shipdeck item move {item.id} {to.value}`"
    )


def plan_advance(
    item: Item,
    facts: Facts,
    auto_env: str | None,
    *,
    to: Stage | None = None,
    env: str | None = None,
) -> AdvancePlan:
    """What :meth:`lifecycle.engine.Engine.advance` would do with the item as it is and
    what ``facts`` says of the world, and the refusal it would meet first when that can
    be known before a run (a stage run again may pass or fail)."""
    if item.archived:
        return AdvancePlan(item, None, refusal=f"{item.id} is archived")
    if to is None:
        to = default_target(item, auto_env, env)
        if to is None:
            return AdvancePlan(item, None)  # archiving: refused while it runs (archive)
    elif to.position < item.stage.position:
        return AdvancePlan(item, to, refusal=past_already(item, to))
    if to.position >= Stage.DEPLOY.position:
        env = env or auto_env
    if item.running:
        refusal = f"{item.id} cannot advance: {item.stage.label} is still running"
        return AdvancePlan(item, to, env, refusal=refusal)
    rerun = None
    if must_build_again(item, facts):
        rerun = Stage.BUILD  # one sha through the pipeline: the engine builds again
    elif item.stage is not Stage.PLAN and item.current.state is not RunState.PASSED:
        rerun = item.stage
    nxt = item.stage.next()
    if rerun is None and nxt is not None and to is not item.stage:
        gate = check_move(item, nxt, facts)
        if gate:
            return AdvancePlan(item, to, env, refusal=str(gate))
    return AdvancePlan(item, to, env, rerun)
