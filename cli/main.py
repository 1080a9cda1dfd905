"""The ``shipdeck`` command: argument parsing, dispatch and the error contract.

Exit codes (docs/architecture.md section 5): 0 done, 1 a stage or operation failed,
2 usage or config error, 130 interrupted. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from shipdeck.project.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    OperationFailed,
    UsageError,
)

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(EXIT_USAGE)


def _version() -> str:
    from importlib import metadata  # ~30 ms: only for --version, not before the board

    try:
        return metadata.version("shipdeck")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> NoReturn:
        print(f"shipdeck {_version()}")
        parser.exit()


def _kinds() -> list[str]:
    from shipdeck.lifecycle.items import Kind

    return [k.value for k in Kind]


def build_parser() -> argparse.ArgumentParser:
    from shipdeck.cli import items as cmd_items

    p = _Parser(
        prog="shipdeck",
        description="The DevOps lifecycle of a service as a board: shipdeck [PATH] opens it.",
    )
    p.add_argument("--version", action=_VersionAction)
    p.add_argument(
        "-C", dest="chdir", metavar="PATH", help="run as if started in PATH (like git -C)"
    )
    p.set_defaults(handler=None, path=None)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def cmd(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(handler=handler)
        return sp

    sp = cmd("init", cmd_items.init, "detect the project and write shipdeck.yaml and .shipdeck/")
    sp.add_argument("path", nargs="?", default=".", help="the repository (default: here)")
    sp.add_argument("--force", action="store_true", help="overwrite an existing shipdeck.yaml")

    cmd("check", cmd_items.check, "validate shipdeck.yaml")

    sp = cmd("demo", cmd_items.demo, "make a sample service repository with items, then open it")
    sp.add_argument(
        "path", nargs="?", default="shipdeck-demo", help="where (default: ./shipdeck-demo)"
    )
    sp.add_argument("--no-open", action="store_true", help="only create it")
    sp.add_argument(
        "--docker-base",
        default="python:3.12-slim",
        metavar="IMAGE",
        help="base image (with python3) of the demo's container environment",
    )
    sp.add_argument(
        "--no-docker", action="store_true", help="no container environment, even with an engine"
    )

    sp = cmd("sync", cmd_items.sync, "share the board: fetch, merge and push refs/shipdeck/board")
    sp.add_argument("remote", nargs="?", default="origin", help="the git remote (default: origin)")
    sp.add_argument("--json", action="store_true", help="machine-readable output")

    sp = cmd("status", cmd_items.status, "environments and items per stage")
    sp.add_argument("--json", action="store_true", help="machine-readable output")

    item = sub.add_parser("item", help="add, list, show and move items", description="items")
    isub = item.add_subparsers(dest="item_command", metavar="ACTION", parser_class=_Parser)
    item.set_defaults(handler=lambda _a: _missing(item))

    def icmd(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        sp = isub.add_parser(name, help=help, description=help)
        sp.set_defaults(handler=handler)
        return sp

    sp = icmd("add", cmd_items.item_add, "add a plan item; prints its id")
    sp.add_argument("title", nargs="?", help="required unless --from-alert")
    sp.add_argument("--kind", choices=_kinds(), default="feature")
    sp.add_argument("--body", default="")
    sp.add_argument("--breaking", action="store_true", help="a breaking change (major version)")
    sp.add_argument("--from-alert", metavar="ALERT_ID", help="a bug linked to an alert's release")

    sp = icmd("list", cmd_items.item_list, "list items with their stage and state")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--all", action="store_true", help="include archived items")
    sp.add_argument("--stage", help="only items in this stage")

    sp = icmd("show", cmd_items.item_show, "one item in full")
    sp.add_argument("id")
    sp.add_argument("--json", action="store_true")

    sp = icmd("move", cmd_items.item_move, "move an item to a stage (the gates apply)")
    sp.add_argument("id")
    sp.add_argument("stage")
    sp.add_argument("--force", action="store_true", help="override a gate (journaled)")
    sp.add_argument("--reason", default="", help="why the gate is overridden")

    sp = icmd("archive", cmd_items.item_archive, "archive an item (its id is never reused)")
    sp.add_argument("id")

    sp = icmd("history", cmd_items.item_history, "an item's changes, from the board's commits")
    sp.add_argument("id")
    sp.add_argument("--json", action="store_true")

    _ops_commands(cmd)
    return p


def _ops_commands(cmd: Callable[[str, Handler, str], argparse.ArgumentParser]) -> None:
    from shipdeck.cli import ops as cmd_ops

    sp = cmd("advance", cmd_ops.advance, "run the stages of an item up to STAGE, streaming output")
    sp.add_argument("id")
    sp.add_argument("--to", metavar="STAGE", help="stop after this stage (default: the next)")
    sp.add_argument("--env", help="the environment to deploy to")
    sp.add_argument("--yes", action="store_true", help="approve deploys that need approval")
    sp.add_argument(
        "--dry-run", action="store_true", help="say what advancing would do, and run nothing"
    )

    sp = cmd("deploy", cmd_ops.deploy, "deploy a release to an environment")
    sp.add_argument("env")
    sp.add_argument("--version", dest="version", help="the release (default: the newest)")
    sp.add_argument("--yes", action="store_true", help="approve when the environment asks")

    for name, handler, text in (
        ("rollback", cmd_ops.rollback, "go back to the previous healthy release"),
        ("restart", cmd_ops.restart, "restart the running release"),
        ("stop", cmd_ops.stop, "stop the environment's service"),
    ):
        cmd(name, handler, text).add_argument("env")

    sp = cmd("scale", cmd_ops.scale, "set the number of replicas")
    sp.add_argument("env")
    sp.add_argument("replicas", type=int)

    sp = cmd("logs", cmd_ops.logs, "an item's last run log, or an environment's live output")
    sp.add_argument("id", nargs="?")
    sp.add_argument("--env", help="the environment's service output instead of a run")
    sp.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    sp.add_argument("--tail", type=_tail, default=None, metavar="N", help="last N lines (or all)")

    sp = cmd("dora", cmd_ops.dora, "deployment frequency, lead time, failure rate, restore time")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--days", type=int, default=30, help="the window (default: 30 days)")
    sp.add_argument("--env", help="only this environment")

    sp = cmd("monitor", cmd_ops.monitor, "probe and sample the host; journal alerts")
    sp.add_argument("--once", action="store_true", help="one sample, then exit")
    sp.add_argument("--duration", type=float, default=None, help="stop after this many seconds")


def _tail(text: str) -> int | None:
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of lines: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("--tail must be 0 or more")
    return value


def _missing(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _report(message: str) -> None:
    sys.stderr.write(f"shipdeck: {message}\n")


def _board_path(argv: list[str], commands: Sequence[str]) -> list[str]:
    """``shipdeck PATH`` (docs/architecture.md section 5) is ``shipdeck -C PATH``."""
    if argv and argv[0] not in commands and not argv[0].startswith("-"):
        return ["-C", argv[0], *argv[1:]]
    return argv


def run(argv: Sequence[str]) -> int:
    parser = build_parser()
    commands = [
        name
        for action in parser._subparsers._group_actions  # type: ignore[union-attr]
        for name in getattr(action, "choices", {}) or {}
    ]
    args = parser.parse_args(_board_path(list(argv), commands))
    if args.chdir:
        try:
            os.chdir(args.chdir)
        except OSError as exc:
            _report(f"cannot open {args.chdir}: {exc.strerror}")
            return EXIT_USAGE
    if args.handler is None:
        from shipdeck.cli import items as cmd_items

        args.handler = cmd_items.open_board
    return _guarded(args)


_NO_BOARD = frozenset({"init", "check", "demo"})  # commands that never read the board


def _import_old_board(args: argparse.Namespace) -> None:
    """Import an old ``.shipdeck/board.yaml`` into the board's ref before the command
    reads the board, and say so on stderr: once, since the next command finds the ref."""
    if args.command in _NO_BOARD:
        return
    from pathlib import Path

    from shipdeck.project.repo import Project, find_root

    root = find_root(Path.cwd())
    if root is None or not Project(root).paths.board.is_file():
        return
    store = Project(root).store
    store.stamp()  # the import, if the ref does not exist yet
    for notice in store.notices:
        _report(notice)


# A file that cannot be written for want of a writable, non-full disk: the
# environment's failure, not the user's request (exit 1, like a failed operation).
_STORAGE_ERRNOS = frozenset(
    {errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG}
)


def _storage_line(exc: OSError) -> str:
    """``cannot write .shipdeck/x: no space left on device``: the path as the user sees it."""
    where = exc.filename
    if where is not None:
        try:
            where = os.path.relpath(os.fspath(where))
        except ValueError:
            where = os.fspath(where)
    reason = exc.strerror or str(exc)
    reason = reason[:1].lower() + reason[1:]
    return f"cannot write {where}: {reason}" if where else f"cannot write a file: {reason}"


def _raised(exc: BaseException, *where: str) -> bool:
    """Whether ``exc`` is one of the ``module:Class`` exception types named.

    Looked up in ``sys.modules`` only: a class whose module was never imported
    cannot have been raised, and importing lifecycle.config.schema just to catch nothing
    would load pydantic before the board's first paint (~100 ms).
    """
    for spec in where:
        module, name = spec.split(":")
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(exc, cls):
            return True
    return False


def _guarded(args: argparse.Namespace) -> int:
    """Run the command; every error becomes one line and an exit code, never a traceback.

    A read-only or full disk is an environment failure: one line naming the path and
    the cause, exit 1 (EXIT_FAILED); the writers leave no half-made change behind.
    """
    try:
        _import_old_board(args)
        return int(args.handler(args))
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:  # noqa: BLE001 - every error is reported in one line
        return _error_line(exc)


def _error_line(exc: Exception) -> int:
    """Report ``exc`` in one line; the exit code says whose fault it was."""
    if _raised(exc, "shipdeck.lifecycle.errors:StorageError"):
        _report(str(exc))
        return EXIT_FAILED
    if _raised(
        exc, "shipdeck.lifecycle.config.errors:ConfigError", "shipdeck.lifecycle.board:BoardError"
    ):
        sys.stderr.write(f"{exc}\n")  # already "file:line:col: message"
        return EXIT_USAGE
    if isinstance(exc, UsageError) or _raised(
        exc,
        "shipdeck.lifecycle.board:ItemNotFound",
        "shipdeck.lifecycle.config.errors:UnknownEnvironment",
        "shipdeck.lifecycle.config.templates:TemplateError",
        "shipdeck.lifecycle.verbs:InvalidItem",
        "shipdeck.lifecycle.verbs:AlertNotFound",
    ):
        _report(str(exc).strip("'\""))
        return EXIT_USAGE
    if isinstance(exc, OperationFailed) or _raised(
        exc,
        "shipdeck.lifecycle.runs:EngineError",
        "shipdeck.lifecycle.ports:TargetError",
        "shipdeck.lifecycle.ports:VcsError",
    ):
        _report(str(exc))
        return EXIT_FAILED
    if os.environ.get("SHIPDECK_DEBUG"):
        raise exc
    if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
        _report(_storage_line(exc))
        return EXIT_FAILED
    _report(f"unexpected error: {type(exc).__name__}: {exc} (SHIPDECK_DEBUG=1 shows where)")
    return EXIT_FAILED


def _signals_stop_network_waits() -> None:
    """SIGINT/SIGTERM end health waits and probes within a tick (``backends.probe.interrupt``;
    queued webhooks then get 0.5 s at exit), whichever Python handler is installed then:
    the wakeup fd gets the signal's number even while cmd_ops handles SIGTERM."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    r, w = os.pipe()
    os.set_blocking(w, False)
    previous = signal.set_wakeup_fd(w)
    if previous != -1:  # someone else's: put it back and do without
        signal.set_wakeup_fd(previous)
        os.close(r)
        os.close(w)
        return

    def watch() -> None:
        while data := os.read(r, 64):
            probe = sys.modules.get("shipdeck.backends.probe")  # not imported: nothing to stop
            if probe is not None and {signal.SIGINT, signal.SIGTERM} & set(data):
                probe.interrupt()

    threading.Thread(target=watch, name="shipdeck-signals", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    _signals_stop_network_waits()
    try:
        code = run(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        _report("interrupted")
        code = EXIT_INTERRUPTED
    except BrokenPipeError:  # `shipdeck item list | head`
        code = 0
    return code


if __name__ == "__main__":
    sys.exit(main())
