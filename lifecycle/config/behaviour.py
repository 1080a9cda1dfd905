"""What a config's parts do, apart from the values they hold: the bodies of the
config models' methods, as functions of any object with the models' fields.

``lifecycle.config.schema``'s pydantic models (which validate a shipdeck.yaml) call
them from their methods; ``lifecycle.config.snapshot`` gives the same functions to
the plain frozen objects it rebuilds from a config that validated before, without
importing pydantic. One body for each method, so both kinds of config answer alike.
"""

from __future__ import annotations

from typing import Any

from shipdeck.lifecycle.errors import ShipdeckError
from shipdeck.lifecycle.masking import url_password
from shipdeck.lifecycle.stages import Stage

ACTIONS = ("run", "docker_build", "docker_run")


class UnknownEnvironment(ShipdeckError, LookupError):
    """An environment name the config does not define; ``str()`` lists the ones it does."""


def step_kind(step: Any) -> str:
    """Which action this step is: ``run``, ``docker_build`` or ``docker_run``."""
    return next(a for a in ACTIONS if getattr(step, a) is not None)


def step_label(step: Any) -> str:
    """A short title for logs and cards."""
    if step.name:
        return str(step.name)
    if step.run is not None:
        return str(step.run)
    if step.docker_build is not None:
        return f"docker build {step.docker_build.tag}"
    assert step.docker_run is not None
    return f"docker run {step.docker_run.image}"


def stage_steps(stages: Any, stage: Stage) -> list[Any]:
    """The steps of a step stage (Build or Test)."""
    if stage is Stage.BUILD:
        return list(stages.build)
    if stage is Stage.TEST:
        return list(stages.test)
    raise ValueError(f"{stage.label} has no steps")


def timeout_for(stages: Any, step: Any) -> float:
    """The step's own timeout, else the stages' default."""
    return float(step.timeout if step.timeout is not None else stages.timeout)


def builds_image(stages: Any) -> bool:
    """A docker_build step makes the image a release is made of."""
    return any(step.docker_build is not None for step in (*stages.build, *stages.test))


def secret_names(config: Any) -> set[str]:
    """Every secret named by any environment (their values are masked in logs)."""
    return {name for env in config.environments.values() for name in env.secrets}


def url_passwords(config: Any) -> dict[str, str]:
    """The passwords written into URLs in the config's ``env:`` maps (an environment's,
    a container step's), by where they are (``staging.DATABASE_URL``): secrets though
    nobody named them, masked as the named ones are."""
    found: dict[str, str] = {}
    maps = [(name, env.env) for name, env in config.environments.items()]
    steps = (*config.stages.build, *config.stages.test)
    maps += [(f"step {i}", s.docker_run.env) for i, s in enumerate(steps, 1) if s.docker_run]
    for where, env in maps:
        for var, value in env.items():
            password = url_password(str(value))
            if password:
                found[f"{where}.{var}"] = password
    return found


def environment(config: Any, name: str) -> Any:
    """The named environment; UnknownEnvironment (a LookupError) listing the names if absent."""
    try:
        return config.environments[name]
    except KeyError:
        names = ", ".join(config.environments) or "none are defined"
        raise UnknownEnvironment(
            f"no environment {name!r} in shipdeck.yaml (environments: {names})"
        ) from None


# The methods of each model, as the snapshot's plain classes get them.
METHODS: dict[str, dict[str, Any]] = {
    "Step": {"kind": property(step_kind), "label": property(step_label)},
    "Stages": {
        "steps": stage_steps,
        "timeout_for": timeout_for,
        "builds_image": property(builds_image),
    },
    "Config": {
        "secret_names": secret_names,
        "url_passwords": url_passwords,
        "environment": environment,
    },
}
