"""The item verbs (lifecycle/verbs.py) on a real board ref in a real git repository:
each change lands with its one journal event or not at all, the gate is checked on
the item as stored, and "what would advance do" reads as the engine would act."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle import verbs
from shipdeck.lifecycle.board import ItemNotFound
from shipdeck.lifecycle.errors import ShipdeckError, StorageError
from shipdeck.lifecycle.items import Item, Kind, RunState, StageState
from shipdeck.lifecycle.journal import Journal
from shipdeck.lifecycle.runs import EngineError
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.stages.gates import Facts
from shipdeck.lifecycle.store import BoardStore
from tests.helpers import board_store


@pytest.fixture
def store(tmp_path: Path) -> BoardStore:
    return board_store(tmp_path)  # type: ignore[no-any-return]


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path)


def _set(store: BoardStore, item_id: str, **fields: object) -> Item:
    def change(it: Item) -> None:
        for name, value in fields.items():
            setattr(it, name, value)

    return store.update(item_id, change)


def _passed(stage: Stage, sha: str | None = None) -> dict[Stage, StageState]:
    return {stage: StageState(RunState.PASSED, sha=sha)}


# --- add ----------------------------------------------------------------------------------


def test_add_saves_the_item_and_journals_one_created_event(
    store: BoardStore, journal: Journal
) -> None:
    item = verbs.add(store, journal, "Dark mode", kind=Kind.CHORE, body="why", breaking=True)
    assert item.id == "SD-1"
    saved = store.get("SD-1")
    assert (saved.title, saved.kind, saved.body, saved.breaking, saved.stage) == (
        "Dark mode",
        Kind.CHORE,
        "why",
        True,
        Stage.PLAN,
    )
    (created,) = journal.read()
    assert (created.type, created.item) == (ev.ITEM_CREATED, "SD-1")
    assert created.data == {"title": "Dark mode", "kind": "chore", "links": []}


def test_an_empty_title_is_refused_before_anything_is_written(
    store: BoardStore, journal: Journal
) -> None:
    with pytest.raises(verbs.InvalidItem, match="needs a title") as raised:
        verbs.add(store, journal, "   ")
    assert isinstance(raised.value, ShipdeckError) and not isinstance(raised.value, KeyError)
    assert store.load().items == []
    assert journal.read() == []


PLAIN = st.text(st.characters(exclude_categories=["Cc", "Cf"]), max_size=10)
CONTROLS = st.characters(categories=["Cc"], exclude_characters="\t")
CONTROLS |= st.sampled_from(["\u202e", "\u2066", "\u200b", "\ufeff"])  # bidi, invisible


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(PLAIN, CONTROLS, PLAIN)
def test_a_title_with_a_control_character_is_refused_and_nothing_is_written(
    store: BoardStore, journal: Journal, before: str, control: str, after: str
) -> None:
    """A title is one line a terminal shows: ESC, a newline or a bidi override in it
    was kept, and then sent raw by the palette and the edit form (a stranger's hunt)."""
    with pytest.raises(verbs.InvalidItem, match="control character"):
        verbs.add(store, journal, f"x{before}{control}{after}")
    assert store.load().items == [] and journal.read() == []


def test_a_title_keeps_its_tabs_and_the_joiners_scripts_need(
    store: BoardStore, journal: Journal
) -> None:
    title = "Fix\tthe \u0915\u094d\u200d\u0937 join and \U0001f468\u200d\U0001f4bb"
    assert verbs.add(store, journal, title).title == title


def test_a_journal_that_cannot_be_written_leaves_the_board_unchanged(
    store: BoardStore, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_events: ev.Event) -> object:
        raise StorageError(".shipdeck/journal.jsonl", OSError(28, "No space left on device"))

    monkeypatch.setattr(journal, "append_undoable", full)
    with pytest.raises(StorageError, match="no space left"):
        verbs.add(store, journal, "Never saved")
    assert store.load().items == []


# --- edit ---------------------------------------------------------------------------------


def test_edit_journals_the_fields_that_changed(store: BoardStore, journal: Journal) -> None:
    verbs.add(store, journal, "Old", body="same")
    saved = verbs.edit(
        store, journal, "sd-1", title="New", kind=Kind.BUG, body="same", breaking=False
    )
    assert (saved.title, saved.kind, saved.body) == ("New", Kind.BUG, "same")
    assert store.get("SD-1").title == "New"
    edited = journal.read(types={ev.ITEM_EDITED})
    assert [(e.item, e.data) for e in edited] == [("SD-1", {"fields": ["title", "kind"]})]


def test_an_edit_that_changes_nothing_journals_nothing(store: BoardStore, journal: Journal) -> None:
    verbs.add(store, journal, "Same")
    verbs.edit(store, journal, "SD-1", title="Same", kind=Kind.FEATURE, body="", breaking=False)
    assert journal.read(types={ev.ITEM_EDITED}) == []


def test_edit_of_a_missing_item_is_item_not_found(store: BoardStore, journal: Journal) -> None:
    verbs.add(store, journal, "one")
    with pytest.raises(ItemNotFound, match="no item SD-9"):
        verbs.edit(store, journal, "SD-9", title="x", kind=Kind.BUG, body="", breaking=False)


# --- archive --------------------------------------------------------------------------------


def test_archive_takes_the_item_off_and_journals_once(store: BoardStore, journal: Journal) -> None:
    verbs.add(store, journal, "Done")
    verbs.archive(store, journal, "SD-1")
    assert store.get("SD-1").archived
    assert store.load().active() == []
    verbs.archive(store, journal, "SD-1")  # again: nothing changes, nothing more journaled
    assert [e.item for e in journal.read(types={ev.ITEM_ARCHIVED})] == ["SD-1"]


def test_a_running_item_is_not_archived(store: BoardStore, journal: Journal) -> None:
    verbs.add(store, journal, "Busy")
    _set(store, "SD-1", stage=Stage.BUILD, states={Stage.BUILD: StageState(RunState.RUNNING)})
    with pytest.raises(verbs.Refused, match="SD-1 is running") as raised:
        verbs.archive(store, journal, "SD-1")
    assert isinstance(raised.value, EngineError)
    assert not store.get("SD-1").archived
    assert journal.read(types={ev.ITEM_ARCHIVED}) == []


# --- move and back ------------------------------------------------------------------------


def test_move_checks_the_gate_on_the_item_as_stored(store: BoardStore, journal: Journal) -> None:
    verbs.add(store, journal, "Login")
    with pytest.raises(verbs.Refused, match="one stage at a time") as raised:
        verbs.move(store, journal, "SD-1", Stage.BUILD)
    assert raised.value.refusal is not None and raised.value.refusal.target is Stage.BUILD
    assert store.get("SD-1").stage is Stage.PLAN
    assert [e.type for e in journal.read()] == [ev.ITEM_CREATED]  # the refusal wrote nothing

    moved = verbs.move(store, journal, "SD-1", Stage.CODE)
    assert (moved.source, moved.target, moved.forced) == (Stage.PLAN, Stage.CODE, None)
    assert moved.item.stage is Stage.CODE and store.get("SD-1").stage is Stage.CODE
    (event,) = journal.read(types={ev.ITEM_MOVED})
    assert event.data == {"from": "plan", "to": "code", "forced": False}


def test_move_uses_the_facts_it_is_given(store: BoardStore, journal: Journal) -> None:
    verbs.add(store, journal, "Login")
    _set(store, "SD-1", stage=Stage.CODE, branch="feature/SD-1-login")
    seen: list[str] = []

    def facts(item: Item) -> Facts:
        seen.append(item.id)
        return Facts(commits_ahead=0)

    with pytest.raises(verbs.Refused, match="no commits ahead"):
        verbs.move(store, journal, "SD-1", Stage.BUILD, facts=facts)
    assert seen == ["SD-1"]
    moved = verbs.move(
        store, journal, "SD-1", Stage.BUILD, facts=lambda _it: Facts(commits_ahead=2)
    )
    assert moved.item.stage is Stage.BUILD


def test_a_forced_move_journals_the_reason(store: BoardStore, journal: Journal) -> None:
    verbs.add(store, journal, "Hotfix")
    moved = verbs.move(store, journal, "SD-1", Stage.TEST, force=True, reason="hotfix")
    assert moved.forced == "hotfix"
    assert store.get("SD-1").stage is Stage.TEST
    (event,) = journal.read(types={ev.ITEM_MOVED})
    assert event.data == {"from": "plan", "to": "test", "forced": True, "reason": "hotfix"}

    again = verbs.move(store, journal, "SD-1", Stage.MONITOR, force=True)
    assert again.forced is not None and "one stage at a time" in again.forced  # the gate's


def test_back_moves_one_stage_and_says_so_in_the_same_shape(
    store: BoardStore, journal: Journal
) -> None:
    verbs.add(store, journal, "Undo")
    _set(store, "SD-1", stage=Stage.BUILD)
    moved = verbs.back(store, journal, "SD-1")
    assert (moved.source, moved.target) == (Stage.BUILD, Stage.CODE)
    assert store.get("SD-1").stage is Stage.CODE
    (event,) = journal.read(types={ev.ITEM_MOVED})
    assert event.data == {"from": "build", "to": "code", "forced": False}


def test_back_from_plan_and_back_while_running_are_refused(
    store: BoardStore, journal: Journal
) -> None:
    verbs.add(store, journal, "Stay")
    with pytest.raises(verbs.Refused, match="in Plan already"):
        verbs.back(store, journal, "SD-1")
    _set(store, "SD-1", stage=Stage.TEST, states={Stage.TEST: StageState(RunState.RUNNING)})
    with pytest.raises(verbs.Refused, match="still running"):
        verbs.back(store, journal, "SD-1")
    assert store.get("SD-1").stage is Stage.TEST
    assert journal.read(types={ev.ITEM_MOVED}) == []


# --- a bug from an alert ------------------------------------------------------------------


def _alert(journal: Journal, alert_id: str = "AL-7", version: str | None = "0.4.0") -> None:
    data: dict[str, object] = {
        "alert_id": alert_id,
        "env": "staging",
        "metric": "probe:staging",
        "value": 3.0,
        "threshold": 3.0,
        "message": "probe staging failed 3 times in a row: connection refused",
    }
    if version:
        data["version"] = version
    journal.append(ev.Event(ev.ALERT_RAISED, None, data))


def test_a_bug_from_an_alert_links_the_release_and_the_alert(
    store: BoardStore, journal: Journal
) -> None:
    _alert(journal)
    alert = verbs.find_alert(journal, "al-7")
    item = verbs.add_bug_from_alert(store, journal, alert, release_tag="release-{version}")
    saved = store.get(item.id)
    assert saved.kind is Kind.BUG
    assert saved.links == ["release:release-0.4.0", "alert:AL-7"]
    assert "probe staging" in saved.title and "AL-7" in saved.body
    (created,) = journal.read(types={ev.ITEM_CREATED})
    assert created.data == {"title": saved.title, "kind": "bug", "links": saved.links}


def test_a_bug_from_an_alert_keeps_a_given_title_and_the_default_tag(
    store: BoardStore, journal: Journal
) -> None:
    _alert(journal)
    alert = verbs.find_alert(journal, "AL-7")
    item = verbs.add_bug_from_alert(store, journal, alert, title="Staging is down")
    assert item.title == "Staging is down"
    assert "release:v0.4.0" in item.links


def test_an_unknown_alert_is_a_lookup_error_not_a_key_error(journal: Journal) -> None:
    _alert(journal, "AL-1")
    with pytest.raises(verbs.AlertNotFound, match="no alert AL-99") as raised:
        verbs.find_alert(journal, "AL-99")
    assert isinstance(raised.value, ShipdeckError) and isinstance(raised.value, LookupError)
    assert not isinstance(raised.value, KeyError)


def test_a_bug_from_an_event_that_is_no_alert_is_refused(
    store: BoardStore, journal: Journal
) -> None:
    with pytest.raises(ShipdeckError, match="not an alert"):
        verbs.add_bug_from_alert(store, journal, ev.Event(ev.DEPLOYED, None, {"env": "x"}))
    assert store.load().items == []


# --- what advancing would do --------------------------------------------------------------


def _item(stage: Stage, **fields: object) -> Item:
    item = Item(id="SD-3", title="Search", stage=stage)
    for name, value in fields.items():
        setattr(item, name, value)
    return item


def test_advancing_from_plan_creates_the_branch() -> None:
    plan = verbs.plan_advance(_item(Stage.PLAN), Facts(), None)
    assert plan.to is Stage.CODE and plan.refusal is None and not plan.deploys
    assert plan.describe() == "SD-3 advances from Plan to Code: creates the item's branch"


def test_after_code_the_pipeline_runs_through_release_or_deploys_where_auto() -> None:
    code = _item(Stage.CODE, branch="feature/SD-3", states=_passed(Stage.CODE))
    plan = verbs.plan_advance(code, Facts(commits_ahead=1), None)
    assert plan.to is Stage.RELEASE and plan.stages() == [Stage.BUILD, Stage.TEST, Stage.RELEASE]
    assert plan.describe().endswith("builds, tests, cuts a release")
    auto = verbs.plan_advance(code, Facts(commits_ahead=1), "staging")
    assert (auto.to, auto.env, auto.deploys, auto.needs_env) == (
        Stage.DEPLOY,
        "staging",
        True,
        False,
    )
    assert auto.describe().endswith("cuts a release, deploys to staging")


def test_the_gate_that_would_refuse_is_said_in_its_words() -> None:
    code = _item(Stage.CODE, branch="feature/SD-3", states=_passed(Stage.CODE))
    plan = verbs.plan_advance(code, Facts(commits_ahead=0), "staging")
    assert plan.refusal is not None
    assert plan.refusal.startswith("SD-3 cannot move to Build: branch feature/SD-3 has no")
    assert plan.describe() == plan.refusal and not plan.archives


def test_a_stage_that_did_not_pass_runs_again_first_and_is_not_refused() -> None:
    failed = {Stage.BUILD: StageState(RunState.FAILED)}
    plan = verbs.plan_advance(_item(Stage.BUILD, states=failed), Facts(), None)
    assert plan.refusal is None and plan.rerun is Stage.BUILD
    assert plan.stages() == [Stage.BUILD, Stage.TEST, Stage.RELEASE]
    assert "runs Build again, tests" in plan.describe()


def test_a_branch_that_moved_after_build_builds_again() -> None:
    states = {
        Stage.BUILD: StageState(RunState.PASSED, sha="aaaaaaa1"),
        Stage.TEST: StageState(RunState.PASSED, sha="aaaaaaa1"),
    }
    plan = verbs.plan_advance(_item(Stage.TEST, states=states), Facts(head_sha="bbbbbbb2"), None)
    assert plan.refusal is None and plan.rerun is Stage.BUILD


def test_from_release_without_auto_an_environment_must_be_named() -> None:
    release = _item(Stage.RELEASE, version="0.4.0", states=_passed(Stage.RELEASE))
    plan = verbs.plan_advance(release, Facts(), None)
    assert plan.to is Stage.DEPLOY and plan.needs_env
    assert "an environment not yet named" in plan.describe()
    named = plan.with_env("prod")
    assert not named.needs_env and named.describe().endswith("deploys to prod")


def test_monitor_archives_and_running_or_archived_items_are_refused() -> None:
    done = verbs.plan_advance(_item(Stage.MONITOR), Facts(), None)
    assert done.archives and done.to is None and "archives it" in done.describe()
    busy = _item(Stage.TEST, states={Stage.TEST: StageState(RunState.RUNNING)})
    assert "still running" in (verbs.plan_advance(busy, Facts(), None).refusal or "")
    gone = verbs.plan_advance(_item(Stage.PLAN, archived=True), Facts(), None)
    assert gone.refusal == "SD-3 is archived" and not gone.archives


def test_a_stage_named_behind_the_item_is_refused() -> None:
    plan = verbs.plan_advance(_item(Stage.TEST), Facts(), None, to=Stage.CODE)
    assert plan.refusal == (
        "SD-3 is past Code already: move it back with b on the board or"
        " `shipdeck item move SD-3 code`"
    )


def test_default_target_is_what_the_engine_runs_to() -> None:
    assert verbs.default_target(_item(Stage.PLAN), "staging") is Stage.CODE
    assert verbs.default_target(_item(Stage.CODE), None) is Stage.RELEASE
    assert verbs.default_target(_item(Stage.CODE), None, env="prod") is Stage.DEPLOY
    assert verbs.default_target(_item(Stage.DEPLOY), "staging") is Stage.OPERATE
    assert verbs.default_target(_item(Stage.MONITOR), "staging") is None
