"""Transitions and gates: which moves are allowed and how refusals read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shipdeck.lifecycle.items import Item, RunState, StageState
from shipdeck.lifecycle.stages import ORDER, SPANS, Stage
from shipdeck.lifecycle.stages.gates import Facts, check_move


def _item(stage: Stage, **states: RunState) -> Item:
    item = Item(id="SD-1", title="Add login", stage=stage, branch="feature/SD-1-add-login")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for name, state in states.items():
        item.states[Stage(name)] = StageState(
            state=state, started_at=t0, finished_at=t0 + timedelta(seconds=3), sha="3f2c1a9abc"
        )
    return item


def test_stage_order_and_neighbours() -> None:
    assert [s.value for s in ORDER] == [
        "plan", "code", "build", "test", "release", "deploy", "operate", "monitor",
    ]  # fmt: skip
    assert Stage.PLAN.previous() is None
    assert Stage.MONITOR.next() is None
    assert Stage.TEST.next() is Stage.RELEASE
    assert Stage.parse(" Deploy ") is Stage.DEPLOY
    with pytest.raises(ValueError, match="expected one of"):
        Stage.parse("shipit")


def test_spans_cover_the_documented_columns() -> None:
    by_name = {span.name: span.stages for span in SPANS}
    assert by_name["Continuous Delivery"] == (Stage.PLAN, Stage.CODE, Stage.BUILD, Stage.TEST)
    assert by_name["Continuous Integration"][-1] is Stage.RELEASE
    assert by_name["Continuous Deployment"] == (Stage.DEPLOY, Stage.OPERATE, Stage.MONITOR)


def test_plan_to_code_is_always_allowed() -> None:
    assert check_move(_item(Stage.PLAN), Stage.CODE) is None


def test_skipping_a_stage_is_refused_with_the_next_stage_named() -> None:
    refusal = check_move(_item(Stage.PLAN), Stage.BUILD)
    assert refusal is not None
    assert "one stage at a time" in refusal.reason
    assert "next is Code" in refusal.reason


def test_code_needs_commits_ahead() -> None:
    item = _item(Stage.CODE)
    refusal = check_move(item, Stage.BUILD, Facts(commits_ahead=0))
    assert refusal is not None
    assert "no commits ahead" in refusal.reason
    assert "feature/SD-1-add-login" in refusal.reason
    assert check_move(item, Stage.BUILD, Facts(commits_ahead=2)) is None


def test_build_must_pass() -> None:
    assert check_move(_item(Stage.BUILD, build=RunState.FAILED), Stage.TEST) is not None
    assert check_move(_item(Stage.BUILD, build=RunState.PASSED), Stage.TEST) is None


def test_tests_must_pass_on_the_head_sha() -> None:
    item = _item(Stage.TEST, test=RunState.FAILED)
    refusal = check_move(item, Stage.RELEASE, Facts(head_sha="3f2c1a9abc"))
    assert refusal is not None
    assert str(refusal) == "SD-1 cannot move to Release: tests have not passed on 3f2c1a9"
    passed = _item(Stage.TEST, test=RunState.PASSED)
    assert check_move(passed, Stage.RELEASE, Facts(head_sha="3f2c1a9abc")) is None
    moved_on = check_move(passed, Stage.RELEASE, Facts(head_sha="9999999000"))
    assert moved_on is not None
    assert "tests have not passed on 9999999" in moved_on.reason


def test_release_needs_a_version() -> None:
    item = _item(Stage.RELEASE, release=RunState.PASSED)
    assert check_move(item, Stage.DEPLOY) is not None
    item.version = "0.1.0"
    assert check_move(item, Stage.DEPLOY) is None
    refusal = check_move(item, Stage.DEPLOY, Facts(tag_exists=False))
    assert refusal is not None
    assert "does not exist" in refusal.reason


def test_deploy_and_operate_gates() -> None:
    item = _item(Stage.DEPLOY, deploy=RunState.PASSED)
    item.env = "staging"
    assert check_move(item, Stage.OPERATE) is None
    unhealthy = check_move(item, Stage.OPERATE, Facts(healthy=False))
    assert unhealthy is not None
    assert "staging is not healthy" in unhealthy.reason
    operate = _item(Stage.OPERATE)
    assert check_move(operate, Stage.MONITOR, Facts(baked=False)) is not None
    assert check_move(operate, Stage.MONITOR, Facts(baked=True, healthy=True)) is None


def test_backward_moves_are_allowed_but_not_while_running() -> None:
    assert check_move(_item(Stage.TEST, test=RunState.FAILED), Stage.CODE) is None
    running = _item(Stage.BUILD, build=RunState.RUNNING)
    refusal = check_move(running, Stage.CODE)
    assert refusal is not None
    assert "still running" in refusal.reason


def test_archived_and_same_stage_are_refused() -> None:
    item = _item(Stage.CODE)
    same = check_move(item, Stage.CODE)
    assert same is not None
    assert "already in Code" in same.reason
    item.archived = True
    archived = check_move(item, Stage.BUILD)
    assert archived is not None
    assert "archived" in archived.reason


def test_monitor_is_the_end() -> None:
    refusal = check_move(_item(Stage.MONITOR), Stage.MONITOR)
    assert refusal is not None


def test_a_branch_that_moved_after_build_sends_test_back_to_build() -> None:
    from shipdeck.lifecycle.items import Item, RunState, StageState
    from shipdeck.lifecycle.stages import Stage
    from shipdeck.lifecycle.stages.gates import Facts, check_move, rerun_gate

    item = Item(id="SD-5", title="t", stage=Stage.TEST, branch="feature/SD-5-t")
    item.states[Stage.BUILD] = StageState(RunState.PASSED, sha="a" * 40)
    item.states[Stage.TEST] = StageState(RunState.PASSED, sha="a" * 40)
    moved = Facts(head_sha="b" * 40)
    assert rerun_gate(item, moved) == (
        "the branch moved to bbbbbbb after Build built aaaaaaa; run Build again"
    )
    assert rerun_gate(item, Facts(head_sha="a" * 40)) is None
    refusal = check_move(item, Stage.RELEASE, moved)
    assert refusal is not None and "tests have not passed on bbbbbbb" in str(refusal)


@pytest.mark.parametrize(
    ("stage", "state", "again"),
    [
        (Stage.BUILD, RunState.PASSED, True),
        (Stage.TEST, RunState.FAILED, True),
        (Stage.RELEASE, RunState.FAILED, True),  # a merge conflict settled on the branch
        (Stage.RELEASE, RunState.IDLE, True),
        (Stage.RELEASE, RunState.PASSED, False),  # cut: that commit for good
        (Stage.DEPLOY, RunState.FAILED, False),
        (Stage.CODE, RunState.PASSED, False),
    ],
)
def test_which_stages_start_over_at_build_when_the_branch_moved(
    stage: Stage, state: RunState, again: bool
) -> None:
    """A release that stopped on a merge conflict, settled by merging main into the
    branch, released the old sha again (and met the same conflict) at every advance."""
    from shipdeck.lifecycle.stages.gates import must_build_again, rerun_gate

    item = Item(id="SD-6", title="t", stage=stage, branch="feature/SD-6-t")
    item.states[Stage.BUILD] = StageState(RunState.PASSED, sha="a" * 40)
    item.states[stage] = StageState(state, sha="a" * 40)
    assert must_build_again(item, Facts(head_sha="b" * 40)) is again
    assert must_build_again(item, Facts(head_sha="a" * 40)) is False
    refused = rerun_gate(item, Facts(head_sha="b" * 40))
    assert (refused is not None) is (again and stage in (Stage.TEST, Stage.RELEASE))


def test_a_deleted_branch_says_how_to_make_it_again() -> None:
    """A branch deleted after Code was refused as having "no commits ahead"."""
    item = Item(id="SD-7", title="c", stage=Stage.CODE, branch="feature/SD-7-c")
    item.states[Stage.CODE] = StageState(RunState.PASSED)
    refusal = check_move(item, Stage.BUILD, Facts(commits_ahead=0, branch_gone=True))
    assert refusal is not None
    assert str(refusal).startswith("SD-7 cannot move to Build: branch feature/SD-7-c is gone")
    assert "`shipdeck item move SD-7 plan`, `shipdeck advance SD-7 --to code`" in str(refusal)
    kept = check_move(item, Stage.BUILD, Facts(commits_ahead=0))
    assert kept is not None and "no commits ahead" in str(kept)
