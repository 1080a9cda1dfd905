"""Operate an environment outside an item's run: deploy a version, roll back,
restart, scale, stop. Each is a run like a stage's (``Engine.open_run``), journaled
and logged under the subject ``env:<name>``, so the board and ``shipdeck logs`` see
them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.engine import Engine
from shipdeck.lifecycle.items import RunState
from shipdeck.lifecycle.ports import CancelToken, NothingDeployed
from shipdeck.lifecycle.runlog import RunLog
from shipdeck.lifecycle.runs import Reporter, StageFailed
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.stages.deploy import deploy_release, release_of


@dataclass(frozen=True)
class OpResult:
    ok: bool
    message: str
    run_id: str


def _operate(
    engine: Engine,
    env: str,
    action: str,
    work: Callable[[Reporter], str],
    cancel: CancelToken | None = None,
) -> OpResult:
    """Run ``work`` as the run ``action`` of environment ``env``; its message is logged."""
    engine.config.environment(env)  # UnknownEnvironment naming the known ones
    subject = f"env:{env}"
    token = cancel or CancelToken()

    def begin(run_id: str, log: RunLog) -> Reporter:
        return Reporter(engine, run_id, subject, log, token)

    run = engine.open_run(subject, Stage.OPERATE, action, begin)
    state, message = run.perform(work)
    run.context.say(message)
    run.close()
    run.finish(state, message)
    return OpResult(state is RunState.PASSED, message, run.run_id)


def deploy_version(
    engine: Engine, env: str, version: str | None, cancel: CancelToken | None = None
) -> OpResult:
    """``shipdeck deploy ENV [--version V]``: the newest release by default."""

    def work(rep: Reporter) -> str:
        want = version
        if want is None:
            want = engine.newest_release()
            if want is None:
                raise StageFailed("there is no release yet (no version tag)")
        return deploy_release(engine, env, release_of(engine, want), rep, None)

    return _operate(engine, env, "deploy", work, cancel)


def rollback(engine: Engine, env: str, cancel: CancelToken | None = None) -> OpResult:
    def work(rep: Reporter) -> str:
        target = engine.target_for(env)
        before = target.status().version
        try:
            result = target.rollback(rep.emit, rep.cancel)
        except NothingDeployed as exc:
            raise _nothing_there(engine, env, exc) from None
        if not result.ok:
            raise StageFailed(result.message)
        engine.record(
            ev.Event(
                ev.ROLLED_BACK,
                None,
                {
                    "env": env,
                    "from_version": before,
                    "to_version": result.version,
                    "reason": "requested",
                },
            )
        )
        return f"{env} rolled back from {before or '?'} to {result.version}"

    return _operate(engine, env, "rollback", work, cancel)


def _nothing_there(engine: Engine, env: str, exc: NothingDeployed) -> StageFailed:
    """The target found nothing where the journal says a release ran: removed outside
    shipdeck (``docker rm``, its state folder deleted). Says which and how to start it."""
    ran = ev.env_versions(engine.journal.latest_for_envs([env], ev.ENV_EVENTS)).get(env)
    if not ran or not ran[0]:
        return StageFailed(str(exc))
    version = ran[0]
    return StageFailed(
        f"{exc}, though the journal says {version} runs there: it was removed"
        f" outside shipdeck; `shipdeck deploy {env} --version {version}` starts it again"
    )


def restart(engine: Engine, env: str) -> OpResult:
    def work(rep: Reporter) -> str:
        try:
            result = engine.target_for(env).restart(rep.emit)
        except NothingDeployed as exc:
            raise _nothing_there(engine, env, exc) from None
        if not result.ok:
            raise StageFailed(result.message)
        engine.record(ev.Event(ev.RESTARTED, None, {"env": env, "version": result.version}))
        return f"{env} restarted ({result.version})"

    return _operate(engine, env, "restart", work)


def scale(engine: Engine, env: str, replicas: int) -> OpResult:
    def work(rep: Reporter) -> str:
        engine.target_for(env).scale(replicas, rep.emit)
        engine.record(ev.Event(ev.SCALED, None, {"env": env, "replicas": replicas}))
        return f"{env} scaled to {replicas}"

    return _operate(engine, env, "scale", work)


def stop(engine: Engine, env: str) -> OpResult:
    def work(rep: Reporter) -> str:
        engine.target_for(env).stop(rep.emit)
        engine.record(ev.Event(ev.STOPPED, None, {"env": env}))
        return f"{env} stopped"

    return _operate(engine, env, "stop", work)
