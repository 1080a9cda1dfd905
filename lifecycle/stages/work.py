"""What moving an item into each stage does (docs/architecture.md section 4).

Each function takes a :class:`RunContext`, streams what it does, changes the
item through ``ctx.update`` and returns a short message, or raises
:class:`StageFailed` with the reason the stage failed.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.config.templates import render, render_command, render_template
from shipdeck.lifecycle.items import Item, TestReport, format_time
from shipdeck.lifecycle.missing_module import MissingModules
from shipdeck.lifecycle.ports import (
    Line,
    MergeConflict,
    PushedImage,
    RefRaceLost,
    RefUpdate,
    StepResult,
    VcsError,
    tree_first,
)
from shipdeck.lifecycle.runs import RunContext, StageFailed, StageWork
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.stages.deploy import (
    deploy,
    link_node_modules,
    local_image,
    monitor,
    operate,
)
from shipdeck.lifecycle.text import escape_controls
from shipdeck.lifecycle.versioning import (
    changelog_entry,
    changelog_format,
    plan_release,
    prepend_changelog,
)

if TYPE_CHECKING:  # pydantic: only the type, so the engine's modules load without it
    from shipdeck.lifecycle.config.schema import Step


def _item_fields(ctx: RunContext) -> dict[str, object]:
    """The fields every template may name (``BRANCH_FIELDS``): the item's and the project's."""
    item = ctx.item
    project = ctx.engine.config.project
    return {"id": item.id, "slug": item.slug, "kind": item.kind.value, "project": project}


def fields(ctx: RunContext, **extra: object) -> dict[str, object]:
    """Template values for this run; never the title or body (docs/architecture.md section 3)."""
    item = ctx.item
    out = _item_fields(ctx)
    for key, value in (
        ("branch", item.branch),
        ("sha", item.sha),
        ("short_sha", item.short_sha),
        ("version", item.version),
        ("env", ctx.env_name),
        # the project's interpreter, found by the composition root (project/wiring.py)
        ("python", ctx.engine.environ.get("SHIPDECK_PYTHON")),
    ):
        if value:
            out[key] = value
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def command_env(ctx: RunContext) -> dict[str, str]:
    """Item fields reach commands only as environment variables."""
    item = ctx.item
    env = dict(ctx.engine.environ)
    env.update(
        SHIPDECK_ITEM_ID=item.id,
        SHIPDECK_ITEM_TITLE=item.title,
        SHIPDECK_ITEM_KIND=item.kind.value,
        SHIPDECK_SHA=item.sha or "",
        SHIPDECK_VERSION=item.version or "",
        SHIPDECK_ENV=ctx.env_name or "",
        SHIPDECK_RUN_ID=ctx.run_id,
    )
    return env


# --- Code ------------------------------------------------------------------------


def code(ctx: RunContext) -> str:
    """Create the item's branch from base; check it out only when nothing is in the way.

    The card moves to Code either way: a branch that could not be checked out is
    there to switch to, and the log says the command.
    """
    cfg = ctx.engine.config
    branch = ctx.item.branch or branch_name(ctx)
    vcs = ctx.engine.vcs
    existed = vcs.branch_exists(branch)
    sha = vcs.create_branch(branch, cfg.base_branch)

    def set_branch(it: Item) -> None:
        it.branch, it.sha = branch, sha

    # With the result: a Code run again (after a kill) finds the branch and keeps it.
    ctx.defer(set_branch)
    made = "exists" if existed else f"created from {cfg.base_branch}"
    ctx.say(f"branch {branch} {made} at {sha[:7]}")
    why_not = vcs.checkout_if_safe(branch)
    if why_not:
        ctx.say(f"not checked out: {why_not}")
    else:
        ctx.say(f"checked out {branch}")
    ahead = vcs.commits_ahead(branch, cfg.base_branch)
    ctx.say(f"{ahead} commit(s) ahead of {cfg.base_branch}")
    return f"on {branch}" if not why_not else f"{branch} ready (not checked out)"


def branch_name(ctx: RunContext) -> str:
    """The item's branch from the config's template. Its fields (``BRANCH_FIELDS``) never
    include ``{python}``, so the project's interpreter is not asked for here: through a
    pyenv shim that took ~70 ms of every ``advance --to code``, which runs no step."""
    return render(ctx.engine.config.branch, _item_fields(ctx))


# --- Build and Test -------------------------------------------------------------------


def workdir(ctx: RunContext, sha: str) -> Path:
    """A clean export of exactly ``sha``, shared by Build and Test of the same item."""
    base = ctx.engine.paths.dir / "work" / ctx.item.id
    dest = base / sha[:12]
    if not dest.exists():
        if base.exists():
            shutil.rmtree(base)  # an older sha's tree: its results are stale
        tmp = base / f".{sha[:12]}.tmp"
        ctx.engine.vcs.export(sha, str(tmp))
        link_node_modules(tmp, ctx.engine.paths.root)
        tmp.rename(dest)
    return dest


def _docker_build(ctx: RunContext, step: Step, cwd: Path) -> None:
    spec = step.docker_build
    assert spec is not None
    tag = render(spec.tag, fields(ctx))
    ctx.say(f"$ docker build {spec.context} -f {spec.dockerfile} -t {tag}")
    built = ctx.engine.images.build(
        str(cwd / spec.context),
        dockerfile=spec.dockerfile,
        tags=[tag],
        buildargs=dict(spec.buildargs),
        target=spec.target,
        labels={"shipdeck.project": ctx.engine.config.project, "shipdeck.item": ctx.item.id},
        sink=ctx.emit,
        cancel=ctx.cancel,
    )

    def record(it: Item) -> None:
        it.artifacts.update(image=tag, image_id=built.id)
        if built.size is not None:
            it.artifacts["image_size"] = str(built.size)

    ctx.update(record)
    size = f", {built.size / 1e6:.1f} MB" if built.size else ""
    ctx.say(f"built {tag} ({built.id[:19]}{size})")


def _docker_run(ctx: RunContext, step: Step) -> StepResult:
    spec = step.docker_run
    assert spec is not None
    image = render(spec.image, fields(ctx))
    env = {k: v for k, v in command_env(ctx).items() if k.startswith("SHIPDECK_")}
    env.update(spec.env)
    ctx.say(f"$ docker run --rm {image} {spec.command or ''}".rstrip())
    return ctx.engine.images.run_once(
        image,
        spec.command,
        env=env,
        sink=ctx.emit,
        cancel=ctx.cancel,
        timeout=ctx.engine.config.stages.timeout_for(step),
    )


# --- test counts from a runner's summary, when no JUnit report is configured ----------

_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in ")
_UNITTEST_END = re.compile(r"^(OK|FAILED)(?: \((.*)\))?\s*$")
_UNITTEST_FAIL = re.compile(r"^(?:FAIL|ERROR): (\S+) \((.+)\)")
_UNITTEST_IMPORT_FAILED = "unittest.loader._FailedTest."
_PYTEST_END = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+) in [0-9.]+s")
_PYTEST_FAIL = re.compile(r"^(?:FAILED|ERROR) (\S+)")
_PYTEST_KINDS = {"passed": "passed", "xpassed": "passed", "failed": "failed",
                 "error": "errors", "errors": "errors", "skipped": "skipped",
                 "xfailed": "skipped"}  # fmt: skip
# node --test (TAP when not on a terminal, "ℹ" lines when it is): "# pass 3", "# fail 1",
# ended by "# duration_ms"; its failing tests are "not ok N - name"
_TAP_COUNT = re.compile(r"^(?:#|ℹ) (tests|pass|fail|skipped|todo|cancelled) (\d+)$")
_TAP_END = re.compile(r"^(?:#|ℹ) duration_ms ")
_TAP_FAIL = re.compile(r"^not ok \d+ - (.+?)(?: # .*)?$")
_TAP_KINDS = {"pass": "passed", "fail": "failed", "skipped": "skipped", "todo": "skipped",
              "cancelled": "errors"}  # fmt: skip
# Jest's "Tests:  1 failed, 2 passed, 3 total", Vitest's "Tests  1 failed | 2 passed (3)"
_JEST_END = re.compile(r"^Tests:?\s+((?:\d+ [a-z]+(?:, | \| )?)+)(?:, \d+ total| \(\d+\))$")
_JEST_KINDS = {"passed": "passed", "failed": "failed", "skipped": "skipped", "todo": "skipped"}


class TestSummary:
    """Reads a step's output for unittest's ``Ran N tests`` / ``OK`` / ``FAILED (...)``,
    pytest's ``N passed, M failed in Xs``, ``node --test``'s ``# pass N`` and Jest's or
    Vitest's ``Tests: ...`` lines: the Test stage's counts when the step names no JUnit
    report. The last summary in the output wins."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self.report: TestReport | None = None
        self._ran: int | None = None
        self._failing: list[str] = []
        self._tap: list[str] | None = None  # node's counts ("2 pass"), until its duration_ms

    def feed(self, lines: Sequence[Line]) -> None:
        for line in lines:
            self._line(line.text.strip())

    def _line(self, text: str) -> None:
        if m := _UNITTEST_FAIL.match(text):
            name, where = m.groups()
            # a module that could not be imported: "tests.test_api
            # (unittest.loader._FailedTest.tests.test_api)", named as the module
            where = where.removeprefix(_UNITTEST_IMPORT_FAILED)
            self._failing.append(where if where.endswith(name) else f"{where}::{name}")
        elif m := _UNITTEST_RAN.match(text):
            self._ran = int(m.group(1))
        elif self._ran is not None and (m := _UNITTEST_END.match(text)):
            counts = dict(
                (key.strip(), int(value))
                for key, _, value in (part.partition("=") for part in (m.group(2) or "").split(","))
                if value.strip().isdigit()
            )
            report = TestReport(
                failed=counts.get("failures", 0) + counts.get("unexpected successes", 0),
                errors=counts.get("errors", 0),
                skipped=counts.get("skipped", 0) + counts.get("expected failures", 0),
            )
            report.passed = max(0, self._ran - report.total)
            self._finish(report)
        elif m := _PYTEST_FAIL.match(text):
            self._failing.append(m.group(1))
        elif m := _PYTEST_END.match(text):
            self._finish(_counted(m.group(1).split(", "), _PYTEST_KINDS))
        elif m := _TAP_FAIL.match(text):
            self._failing.append(m.group(1))
        elif m := _TAP_COUNT.match(text):
            self._tap = [*(self._tap or []), f"{m.group(2)} {m.group(1)}"]
        elif self._tap is not None and _TAP_END.match(text):
            parts, self._tap = self._tap, None
            self._finish(_counted(parts, _TAP_KINDS))
        elif m := _JEST_END.match(text):
            self._finish(_counted(re.split(r", | \| ", m.group(1)), _JEST_KINDS))

    def _finish(self, report: TestReport) -> None:
        report.failures = self._failing[: report.failed + report.errors]
        self.report, self._ran, self._failing = report, None, []


def _counted(parts: Sequence[str], kinds: Mapping[str, str]) -> TestReport:
    """A report from ``["2 passed", "1 failed"]``, each kind named by ``kinds``."""
    report = TestReport()
    for part in parts:
        number, _, kind = part.partition(" ")
        if kind in kinds and number.isdigit():
            field = kinds[kind]
            setattr(report, field, getattr(report, field) + int(number))
    return report


def _run_step(ctx: RunContext, step: Step, cwd: Path, env: Mapping[str, str]) -> None:
    cfg = ctx.engine.config
    if step.docker_build is not None:
        _docker_build(ctx, step, cwd)
        return
    if step.docker_run is not None:
        _check(ctx, step, _docker_run(ctx, step))
        return
    assert step.run is not None
    command = render_command(step.run, fields(ctx))
    ctx.say(f"$ {command}")
    summary = TestSummary() if ctx.stage is Stage.TEST and not step.junit else None
    missing = MissingModules()

    def sink(lines: Sequence[Line]) -> None:
        if summary is not None:
            summary.feed(lines)
        missing.feed(lines)
        ctx.emit(lines)

    try:
        result = ctx.engine.runner.run(
            command,
            cwd=str(cwd),
            env=env,
            sink=sink,
            cancel=ctx.cancel,
            timeout=cfg.stages.timeout_for(step),
        )
    finally:
        if summary is not None and summary.report is not None:
            _show_tests(ctx, summary.report)
    if missing.module is not None and result.exit_code not in (0, None):
        python = env.get("SHIPDECK_PYTHON", "python3")
        for said in missing.hint(python, env.get("VIRTUAL_ENV"), cwd, ctx.engine.paths.root):
            ctx.say(said)
    _check(ctx, step, result)


def _check(ctx: RunContext, step: Step, result: StepResult) -> None:
    """A step's result as the stage sees it: cancelled, failed (and why), or ok."""
    cfg = ctx.engine.config
    if result.cancelled:
        ctx.cancel.raise_if_cancelled()
    if result.error:
        raise StageFailed(f"{step.label}: {result.error}")
    if result.timed_out:
        raise StageFailed(f"{step.label}: timed out after {cfg.stages.timeout_for(step):g}s")
    if result.exit_code != 0:
        raise StageFailed(f"{step.label}: exit code {result.exit_code}")
    ctx.say(f"ok ({result.duration:.1f}s)")


def sha_to_run(item: Item, stage: Stage, head: str) -> str:
    """The commit a Build or Test runs on: the branch's head, but Test tests what Build
    built. The engine asks too, so the card shows it from the run's start."""
    built = item.state_of(Stage.BUILD).sha
    return built if stage is Stage.TEST and built else head


def steps(ctx: RunContext) -> str:
    cfg = ctx.engine.config
    if not ctx.item.branch:
        raise StageFailed("the item has no branch (run Code first)")
    sha = sha_to_run(ctx.item, ctx.stage, ctx.engine.vcs.head_sha(ctx.item.branch))
    ctx.defer(lambda it: setattr(it, "sha", sha))  # the board has it since the run's start
    if ctx.item.tests is not None:
        # Counts are of one commit's tests: a run on a new one starts without them, and
        # only this run's report can fail it (an earlier Test's failures failed every
        # Build after the fix that followed them)
        ctx.defer(lambda it: setattr(it, "tests", None))
    cwd = workdir(ctx, sha)
    env = tree_first(command_env(ctx), str(cwd))  # the export's code, not an editable install's
    ctx.say(f"{ctx.stage.label} of {ctx.item.branch} at {sha[:7]} in {cwd}")
    plan = cfg.stages.steps(ctx.stage)
    if not plan:
        ctx.say(f"no {ctx.stage.value} steps configured")
    for number, step in enumerate(plan, 1):
        ctx.progress(number, len(plan), step.label)
        try:
            _run_step(ctx, step, cwd, env)
        finally:
            if step.junit:
                _record_tests(ctx, cwd / step.junit)
    if ctx.item.tests and (ctx.item.tests.failed or ctx.item.tests.errors):
        raise StageFailed(f"{ctx.item.tests.failed + ctx.item.tests.errors} test(s) failed")
    return f"{len(plan)} step(s) passed on {sha[:7]}"


def _record_tests(ctx: RunContext, report: Path) -> None:
    # xml.etree (~3 ms) for the steps that name a JUnit report, not for every advance
    from shipdeck.lifecycle.stages.junit import JunitError, parse_junit

    try:
        tests = parse_junit(report)
    except JunitError as exc:
        ctx.say(f"no test report: {exc}")
        return
    _show_tests(ctx, tests)


def _show_tests(ctx: RunContext, tests: TestReport) -> None:
    ctx.defer(lambda it: setattr(it, "tests", tests))  # with the next step, or the result
    ctx.say(f"tests: {tests.summary()}")
    for name in tests.failures:
        ctx.say(f"FAILED {name}")


# --- Release ------------------------------------------------------------------------


_PUBLISH_ATTEMPTS = 5


def release(ctx: RunContext) -> str:
    """Merge the tested sha into base, add the changelog entry, tag it: all in git's
    object store, published with the item's release in one ref transaction.

    The work tree and the index are never touched (unless base is the checked-out
    branch, which then moves forward like a ``git pull`` would). A kill leaves no
    release or the whole release, and a retry adopts a release already made.
    """
    cfg = ctx.engine.config
    vcs = ctx.engine.vcs
    item = ctx.item
    if not item.branch:
        raise StageFailed("the item has no branch")
    rel = cfg.stages.release
    sha = item.state_of(Stage.TEST).sha or item.sha or vcs.head_sha(item.branch)
    found = vcs.find_release(item.id, sha)
    if found is not None:
        return _adopt(ctx, found.tag, found.commit)
    base = cfg.base_branch
    moved = _untested_merge(ctx, sha, base)
    if moved:
        raise StageFailed(moved)
    template = render_template(ctx.engine.tag_template(), {"project": cfg.project}, ["version"])
    plan = plan_release(vcs.tags(), template, [item.kind], item.breaking)
    version, tag = plan.version, plan.tag
    ctx.say(f"version {version} (previous: {plan.previous_tag or 'none'}); tag {tag}")
    # Images before git: a refused push leaves no tag.
    pushed = _push(ctx, version) if rel.push else None
    built = item.artifacts.get("image")
    local = None
    if pushed is None and built:
        local = local_image(cfg.project, version)
        ctx.engine.images.tag(built, local)
        ctx.say(f"tagged {built} as {local} (no push: configured)")
    first = vcs.first_commit_time(sha, base)  # before the merge: after it, nothing is ahead
    fmt = changelog_format(rel.changelog)
    entry = changelog_entry(version, datetime.now(UTC).date(), [item], fmt=fmt)
    title = escape_controls(item.title)
    message = f"{cfg.project} {version}\n\n{item.id} {title}\n\n{TRAILER}: {item.id}\n"

    def cut(it: Item) -> None:
        it.version = version
        it.artifacts["tag"] = tag
        if first is not None:
            it.artifacts["first_commit"] = format_time(first) or ""
        if local is not None:
            it.artifacts["release_image"] = local
        if pushed is not None:
            it.artifacts.update(pushed=pushed.reference, digest=pushed.digest)

    store = ctx.engine.store
    for _ in range(_PUBLISH_ATTEMPTS):
        try:
            prepared = vcs.prepare_release(
                sha=sha,
                base=base,
                merge_message=f"Merge {item.branch} ({item.id})",
                changelog_path=rel.changelog,
                changelog_text=lambda old: prepend_changelog(old, entry, fmt=fmt),
                commit_message=f"Release {version}: {item.id}",
                tag=tag,
                tag_message=message,
            )
        except MergeConflict as exc:
            raise StageFailed(
                f"merge of {item.branch} into {base} stopped: {exc}; merge {base} into"
                f" {item.branch}, settle it and commit: the next advance builds, tests and"
                " releases that"
            ) from None
        if not prepared.fast_forward:  # base moved since the check above
            raise StageFailed(_untested_merge(ctx, sha, base) or f"{base} moved; try again")
        blocked = vcs.release_would_touch_checkout(base, prepared.base_old, prepared.commit)
        if blocked:
            # Never block a release on local edits, never touch them: the work tree
            # stays where it is, on a detached HEAD, and the user is told how to follow.
            vcs.detach_head(prepared.base_old, f"release {tag} moves {base} past local edits")
            ctx.say(
                f"{base} is checked out with edits the release also changes ({blocked}); "
                f"they stay as they are on a detached HEAD at {prepared.base_old[:7]}: "
                f"run `git checkout -m {base}` to bring them onto the release"
            )
        with store.locked():

            def released(it: Item, commit: str = prepared.commit) -> None:
                cut(it)
                it.sha = commit

            board_new, board_old, fresh = store.prepare(item.id, released)
            # Journaled first and taken out if the publish fails: the release and its
            # event land together (a journal that cannot be written stops it here).
            data: dict[str, Any] = {"version": version, "tag": tag, "sha": prepared.commit}
            if pushed is not None:
                data.update(image=pushed.reference, digest=pushed.digest)
            undo = ctx.engine.journal.append_undoable(ev.Event(ev.RELEASE_CUT, item.id, data))[1]
            try:
                vcs.publish(
                    [*prepared.ref_updates(), RefUpdate(store.refs.ref, board_new, board_old)]
                )
            except RefRaceLost as exc:
                undo()
                ctx.say(f"{exc.ref} moved meanwhile; preparing the release again")
                continue
            except BaseException:
                with suppress(OSError):
                    undo()
                raise
        break
    else:
        raise StageFailed(f"{base} kept moving; the release was not published (try again)")
    ctx.item = fresh
    how = "fast-forward" if prepared.fast_forward else "merge commit"
    ctx.say(f"merged {sha[:7]} into {base} ({how}); {rel.changelog} in {prepared.commit[:7]}")
    ctx.say(f"tagged {tag} at {prepared.commit[:7]}")
    checkout = vcs.after_publish_checkout(base, prepared.base_old, prepared.commit)
    if checkout:
        ctx.say(checkout)
    hint = _still_on_branch(ctx, base)
    if hint:
        ctx.say(hint)
    _push_git(ctx, tag)
    return f"released {tag}" + (f" and pushed {pushed.reference}" if pushed else "")


TRAILER = "Shipdeck-Item"


def _untested_merge(ctx: RunContext, sha: str, base: str) -> str | None:
    """Why ``sha`` cannot be released as it is: ``base`` has commits it lacks, so the
    release would be a merge no Build or Test ever ran on (and an image built from
    ``sha`` would be pushed under a tag whose code it does not hold). None when base
    is ``sha`` or behind it (a fast-forward). A ``sha`` merged into base by hand with
    more on top is refused too: base's head was never tested either."""
    vcs = ctx.engine.vcs
    if vcs.is_ancestor(base, sha):
        return None
    branch = ctx.item.branch or sha[:7]
    newest = vcs.log(sha, base, limit=1)
    count = vcs.commits_ahead(base, sha)
    what = f"{count} commit(s) this release would merge untested"
    if newest:
        what += f", newest {newest[0]['short']} {escape_controls(newest[0]['subject'])}"
    return (
        f"{base} moved since {sha[:7]} was tested: {what}; merge {base} into {branch}"
        f" (`git switch {branch} && git merge {base}`): the next advance builds, tests"
        " and releases that merge"
    )


def _still_on_branch(ctx: RunContext, base: str) -> str | None:
    """A hint when the work tree is still on the item's branch (Code checked it out):
    the release never touches the work tree (README, Decisions), so the next commit
    would land on a branch that is merged now, unless the person switches."""
    branch = ctx.item.branch
    if not branch or ctx.engine.vcs.current_branch() != branch:
        return None
    return f"this work tree is still on {branch}, merged now: `git switch {base}` before new work"


def _adopt(ctx: RunContext, tag: str, commit: str) -> str:
    """A release of this item exists (a run killed after publishing): take it as ours."""
    version = plan_release(
        [tag],
        render_template(
            ctx.engine.tag_template(), {"project": ctx.engine.config.project}, ["version"]
        ),
        [],
        False,
    ).previous
    if version is None:
        raise StageFailed(f"tag {tag} names this item but carries no version")

    def adopt(it: Item) -> None:
        it.version, it.sha = version, commit
        it.artifacts["tag"] = tag

    ctx.update(adopt)
    ctx.say(f"{ctx.item.id} was released already as {tag} ({commit[:7]}); adopting it")
    cut = ctx.engine.journal.read(types=[ev.RELEASE_CUT])
    if not any(e.get("tag") == tag for e in cut):  # the killed run did not get to journal it
        data = {"version": version, "tag": tag, "sha": commit, "adopted": True}
        ctx.engine.record(ev.Event(ev.RELEASE_CUT, ctx.item.id, data))
    _push_git(ctx, tag)
    return f"adopted {tag}"


def _push_git(ctx: RunContext, tag: str) -> None:
    """``release.remote``: the base branch and the tag reach the remote together."""
    remote = ctx.engine.config.stages.release.remote
    if not remote:
        return
    base = ctx.engine.config.base_branch
    try:
        ctx.engine.vcs.push_atomic(remote, [f"refs/heads/{base}", f"refs/tags/{tag}"])
    except VcsError as exc:
        raise StageFailed(f"released {tag} here, but the push to {remote} failed: {exc}") from None
    ctx.say(f"pushed {base} and {tag} to {remote}")


def _push(ctx: RunContext, version: str) -> PushedImage:
    push = ctx.engine.config.stages.release.push
    assert push is not None
    image = ctx.item.artifacts.get("image")
    if not image:
        raise StageFailed("release.push is set but no image was built (add a docker_build step)")
    reference = f"{render(push, fields(ctx, version=version))}:{version}"
    ctx.say(f"pushing {image} as {reference}")
    pushed = ctx.engine.images.push(image, reference, sink=ctx.emit, cancel=ctx.cancel)
    ctx.say(f"pushed {pushed.reference} ({pushed.digest})")
    return pushed


WORK: Mapping[Stage, StageWork] = {
    # the engine's stage table, handed to it by the composition root (project/wiring.py)
    Stage.CODE: code,
    Stage.BUILD: steps,
    Stage.TEST: steps,
    Stage.RELEASE: release,
    Stage.DEPLOY: deploy,
    Stage.OPERATE: operate,
    Stage.MONITOR: monitor,
}
