"""The ``shipdeck`` command: argument parsing, dispatch and the error contract.

Exit codes (docs/architecture.md section 5): 0 done, 1 a stage or operation failed,
2 usage or config error, 130 interrupted. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from shipdeck.project.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    OperationFailed,
    UsageError,
)

# A command's function, or "module:function" in shipdeck.cli, imported only when run:
# building the parser imports no command module (completion and --help stay fast).
Handler = Callable[[argparse.Namespace], int] | str

_INVALID_CHOICE = re.compile(r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)")


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean status?)`` for a near miss among ``choices``, else the choices."""
    shown = [c for c in choices if not c.startswith("_")]
    close = difflib.get_close_matches(word, shown, n=3, cutoff=0.6)
    if close:
        return f" (did you mean {' or '.join(close)}?)"
    return f" (one of: {', '.join(shown)})"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        invalid = _INVALID_CHOICE.fullmatch(message)
        if invalid and invalid.group(1) in ("COMMAND", "ACTION"):
            word = invalid.group(2)
            choices = re.findall(r"'([^']*)'", invalid.group(3))
            what = "command" if invalid.group(1) == "COMMAND" else "action"
            message = f"unknown {what} '{word}'{did_you_mean(word, choices)}"
        elif invalid:
            choices = re.findall(r"'([^']*)'", invalid.group(3))
            message = (
                f"argument {invalid.group(1)}: invalid choice '{invalid.group(2)}'"
                f"{did_you_mean(invalid.group(2), choices)}"
            )
        from shipdeck.lifecycle.text import escape_controls

        message = escape_controls(message)  # the word typed, as typed: never obeyed
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


STAGES = ["plan", "code", "build", "test", "release", "deploy", "operate", "monitor"]

DESCRIPTION = """\
shipdeck: one service's DevOps loop as a board you can drive.

  Plan > Code > Build > Test > Release > Deploy > Operate > Monitor

Every move on the board does the real work: a git branch, the build, the tests, a
tag, a deploy, a restart or rollback, health probes. With no command, shipdeck opens
the board for the repository here (or PATH); the commands below do the same work
headless, for scripts and CI."""

EXIT_CODES = """\
exit codes:
  0    done
  1    a stage or operation failed, or a move was refused
  2    usage or config error (config errors name file:line:col)
  130  interrupted (Ctrl-C)"""

TOP_EXAMPLES = f"""\
examples:
  shipdeck                          open the board for the repository here
  shipdeck ~/src/api                open the board for another repository
  shipdeck init                     detect the project, write shipdeck.yaml
  shipdeck item add "Say hola"      add a plan item (prints its id)
  shipdeck advance SD-5 --to deploy --env staging
  shipdeck status --json | jq .environments
  shipdeck COMMAND --help           a command's options and examples
  source <(shipdeck completion bash)

{EXIT_CODES}"""


class _Help(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written; a little more room for option names."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


# name: (one-line help, description, examples). One table, so --help, the README and
# completion all list the same commands.
COMMANDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "init": (
        "detect the project and write shipdeck.yaml and .shipdeck/",
        "Detect the project (Dockerfile, pyproject/pytest, package.json, Makefile) and\n"
        "write shipdeck.yaml and .shipdeck/ (with its .gitignore). Refuses to overwrite\n"
        "an existing shipdeck.yaml unless --force.",
        ("shipdeck init", "shipdeck init ~/src/api", "shipdeck init --force"),
    ),
    "check": (
        "validate shipdeck.yaml",
        "Validate shipdeck.yaml: exit 0 when it is valid, 2 with file:line:col when not.\n"
        "Warns about secrets too short to mask safely.",
        ("shipdeck check", "shipdeck check --json"),
    ),
    "demo": (
        "make a sample service repository with items, then open it",
        "Make a sample service repository (a tiny web service with tests and items, one\n"
        "in Code ready to build), then open its board. With a Docker engine that has (or\n"
        "can pull) the base image, it also gets a 'container' environment.",
        ("shipdeck demo", "shipdeck demo /tmp/demo --no-open", "shipdeck demo --no-docker"),
    ),
    "sync": (
        "share the board: fetch, merge and push refs/shipdeck/board",
        "Share the board with a remote: fetch its board ref, merge it with ours (ids\n"
        "taken on both sides are renumbered) and push the result.",
        ("shipdeck sync", "shipdeck sync upstream --json"),
    ),
    "status": (
        "environments and items per stage",
        "Each environment's version, state, health and replicas, and the items in each\nstage.",
        ("shipdeck status", "shipdeck status --json | jq .environments.staging"),
    ),
    "item": (
        "add, list, show, move, archive items; their history",
        "Items are the cards on the board: a feature, fix or chore moving from Plan to\n"
        "Monitor. Their ids (SD-1, SD-2...) are never reused.",
        (
            'shipdeck item add "Say hola" --kind feature',
            "shipdeck item list",
            "shipdeck item show SD-5 --json",
            "shipdeck item move SD-5 code",
        ),
    ),
    "advance": (
        "run the stages of an item up to STAGE, streaming output",
        "Run an item's stages, one after the other, up to STAGE (default: the next one),\n"
        "streaming each step's output; the gates apply. Ctrl-C cancels the run cleanly\n"
        "(nothing it started is left behind) and exits 130.",
        (
            "shipdeck advance SD-5",
            "shipdeck advance SD-5 --to deploy --env staging",
            "shipdeck advance SD-5 --to test --dry-run",
            "shipdeck advance SD-5 --to release --json | jq -c 'select(.event==\"finished\")'",
        ),
    ),
    "deploy": (
        "deploy a release to an environment",
        "Deploy a release (default: the newest) to an environment and wait until it is\n"
        "healthy; an unhealthy release is rolled back.",
        ("shipdeck deploy staging", "shipdeck deploy production --version v1.2.0 --yes"),
    ),
    "rollback": (
        "go back to the previous healthy release",
        "Go back to the environment's previous healthy release.",
        ("shipdeck rollback staging",),
    ),
    "restart": (
        "restart the running release",
        "Restart the environment's running release and wait until it is healthy.",
        ("shipdeck restart staging",),
    ),
    "stop": (
        "stop the environment's service",
        "Stop the environment's service (shipdeck deploy starts it again).",
        ("shipdeck stop staging",),
    ),
    "scale": (
        "set the number of replicas",
        "Set the number of replicas the environment runs (0 stops them all).",
        ("shipdeck scale staging 3",),
    ),
    "logs": (
        "an item's last run log, or an environment's live output",
        "Print an item's last run log (or a stage's, or any run's), or an environment's\n"
        "service output (--env). --follow keeps printing new lines: an item's run until it\n"
        "ends, an environment's until Ctrl-C (exit 130).",
        (
            "shipdeck logs SD-5",
            "shipdeck logs SD-5 --stage build --tail 50",
            "shipdeck logs SD-5-test-20261122T193000-1a2b   (a run, as item show lists it)",
            "shipdeck logs SD-5 --follow",
            "shipdeck logs --env staging --follow",
            "shipdeck logs staging --json       (an environment's name: as --env)",
        ),
    ),
    "dora": (
        "deployment frequency, lead time, failure rate, restore time",
        "The four DORA metrics from the journal: deployment frequency, lead time for\n"
        "changes, change failure rate and time to restore.",
        ("shipdeck dora", "shipdeck dora --days 90 --env production --json"),
    ),
    "monitor": (
        "probe and sample the host; journal alerts",
        "Probe the environments' health URLs and sample the host (cpu, memory, disk)\n"
        "every monitor.interval seconds; alerts go to the journal and the webhook.\n"
        "With --once, exit 1 while an alert is active.",
        ("shipdeck monitor", "shipdeck monitor --once --json", "shipdeck monitor --duration 60"),
    ),
    "gc": (
        "prune old run logs, release exports and builds in .shipdeck/",
        "Delete what the retention: block of shipdeck.yaml does not keep: old run logs,\n"
        "release exports no environment runs or would roll back to, old build trees.\n"
        "The journal is never pruned. Runs by itself after each run and deploy.",
        ("shipdeck gc", "shipdeck gc --dry-run", "shipdeck gc --json | jq .freed"),
    ),
    "schema": (
        "print the JSON Schema of shipdeck.yaml",
        "Print the JSON Schema of shipdeck.yaml, for editors (yaml-language-server) and\n"
        "validators.",
        (
            "shipdeck schema > shipdeck.schema.json",
            "# first line of shipdeck.yaml:",
            "# yaml-language-server: $schema=shipdeck.schema.json",
        ),
    ),
    "completion": (
        "print a shell completion script (bash, zsh or fish)",
        "Print a completion script for your shell: it completes commands, options,\n"
        "stages, environment names and item ids.",
        (
            "source <(shipdeck completion bash)       # in ~/.bashrc",
            "source <(shipdeck completion zsh)        # in ~/.zshrc",
            "shipdeck completion fish > ~/.config/fish/completions/shipdeck.fish",
        ),
    ),
}

ITEM_COMMANDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "add": (
        "add a plan item; prints its id",
        "Add an item to Plan and print its id. --from-alert makes a bug linked to the\n"
        "release the alert fired on.",
        (
            'shipdeck item add "Say hola"',
            'shipdeck item add "Drop v1 API" --breaking',
            "shipdeck item add --from-alert A-3",
        ),
    ),
    "list": (
        "list items with their stage and state",
        "List the active items (--all: archived ones too) with stage, state and kind:"
        " the first 200 (--limit), read from the board's index.",
        ("shipdeck item list", "shipdeck item list --stage test --json"),
    ),
    "show": (
        "one item in full",
        "One item in full: each stage it went through, its tests, branch and version.",
        ("shipdeck item show SD-5", "shipdeck item show SD-5 --json"),
    ),
    "move": (
        "move an item to a stage (the gates apply)",
        "Move an item to a stage without running anything; the gates apply, and --force\n"
        "overrides one (journaled, with --reason).",
        (
            "shipdeck item move SD-5 code",
            'shipdeck item move SD-5 deploy --force --reason "hotfix"',
        ),
    ),
    "archive": (
        "archive an item (its id is never reused)",
        "Archive an item: it leaves the board; its id is never reused.",
        ("shipdeck item archive SD-5",),
    ),
    "history": (
        "an item's changes, from the board's commits",
        "An item's changes, newest first, from the board ref's commits.",
        ("shipdeck item history SD-5", "shipdeck item history SD-5 --json"),
    ),
}

JSON_HELP = "machine-readable output (JSON)"
JSON_LINES_HELP = "machine-readable output: one JSON object per line"


def _command(
    sub: Any, table: Mapping[str, tuple[str, str, tuple[str, ...]]], name: str, handler: Handler
) -> argparse.ArgumentParser:
    """A (sub)command parser from its row of ``table``: help, description, examples."""
    short, long, examples = table[name]
    sp: argparse.ArgumentParser = sub.add_parser(
        name, help=short, description=long, epilog=_examples(*examples), formatter_class=_Help
    )
    sp.set_defaults(handler=handler)
    return sp


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="shipdeck",
        usage="shipdeck [-C PATH] [PATH | COMMAND ...]",
        description=DESCRIPTION,
        epilog=TOP_EXAMPLES,
        formatter_class=_Help,
    )
    p.add_argument("--version", action=_VersionAction)
    p.add_argument(
        "-C", dest="chdir", metavar="PATH", help="run as if started in PATH (like git -C)"
    )
    p.set_defaults(handler=None, path=None)
    sub = p.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser, title="commands", prog="shipdeck"
    )

    def cmd(name: str, handler: Handler) -> argparse.ArgumentParser:
        return _command(sub, COMMANDS, name, handler)

    sp = cmd("init", "init:command")
    sp.add_argument("path", nargs="?", default=".", help="the repository (default: here)")
    sp.add_argument("--force", action="store_true", help="overwrite an existing shipdeck.yaml")

    cmd("check", "items:check").add_argument("--json", action="store_true", help=JSON_HELP)

    sp = cmd("demo", "items:demo")
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

    sp = cmd("sync", "items:sync")
    sp.add_argument("remote", nargs="?", default="origin", help="the git remote (default: origin)")
    sp.add_argument("--json", action="store_true", help=JSON_HELP)

    cmd("status", "items:status").add_argument("--json", action="store_true", help=JSON_HELP)

    item = cmd("item", "items:item_list")
    item.set_defaults(handler=lambda _a: _missing(item))
    isub = item.add_subparsers(
        dest="item_command",
        metavar="ACTION",
        parser_class=_Parser,
        title="actions",
        prog="shipdeck item",
    )

    def icmd(name: str, handler: Handler) -> argparse.ArgumentParser:
        return _command(isub, ITEM_COMMANDS, name, handler)

    sp = icmd("add", "items:item_add")
    sp.add_argument("title", nargs="?", help="required unless --from-alert")
    sp.add_argument("--kind", choices=_kinds(), default="feature", help="default: feature")
    sp.add_argument("--body", default="", help="the description")
    sp.add_argument("--breaking", action="store_true", help="a breaking change (major version)")
    sp.add_argument("--from-alert", metavar="ALERT_ID", help="a bug linked to an alert's release")
    sp.add_argument("--json", action="store_true", help=JSON_HELP)

    sp = icmd("list", "items:item_list")
    sp.add_argument("--json", action="store_true", help=JSON_HELP)
    sp.add_argument("--all", action="store_true", help="include archived items")
    sp.add_argument("--stage", metavar="STAGE", help="only items in this stage")
    sp.add_argument(
        "--limit",
        metavar="N",
        type=int,
        help="at most N items, in id order (0: every one); the table shows 200 unless"
        " told, --json every item unless told",
    )

    sp = icmd("show", "items:item_show")
    sp.add_argument("id", metavar="ID", help="the item (SD-5, or just 5)")
    sp.add_argument("--json", action="store_true", help=JSON_HELP)

    sp = icmd("move", "items:item_move")
    sp.add_argument("id", metavar="ID", help="the item")
    sp.add_argument("stage", metavar="STAGE", help="plan, code, build ... monitor")
    sp.add_argument("--force", action="store_true", help="override a gate (journaled)")
    sp.add_argument("--reason", default="", help="why the gate is overridden")
    sp.add_argument("--json", action="store_true", help=JSON_HELP)

    sp = icmd("archive", "items:item_archive")
    sp.add_argument("id", metavar="ID", help="the item")
    sp.add_argument("--json", action="store_true", help=JSON_HELP)

    sp = icmd("history", "items:item_history")
    sp.add_argument("id", metavar="ID", help="the item")
    sp.add_argument("--json", action="store_true", help=JSON_HELP)

    _ops_commands(cmd)

    sp = cmd("gc", "gc:gc")
    sp.add_argument("--dry-run", action="store_true", help="say what would go; delete nothing")
    sp.add_argument("--json", action="store_true", help=JSON_HELP)

    sp = cmd("schema", "schema:schema")
    sp = cmd("completion", "completion:completion")
    sp.add_argument("shell", choices=["bash", "zsh", "fish"], help="bash, zsh or fish")
    return p


def _ops_commands(cmd: Callable[[str, Handler], argparse.ArgumentParser]) -> None:
    sp = cmd("advance", "ops:advance")
    sp.add_argument("id", metavar="ID", help="the item")
    sp.add_argument("--to", metavar="STAGE", help="stop after this stage (default: the next)")
    sp.add_argument("--env", metavar="ENV", help="the environment to deploy to")
    sp.add_argument("--yes", action="store_true", help="approve deploys that need approval")
    sp.add_argument(
        "--dry-run", action="store_true", help="say what advancing would do, and run nothing"
    )
    sp.add_argument("--json", action="store_true", help=JSON_LINES_HELP)

    sp = cmd("deploy", "ops:deploy")
    sp.add_argument("env", metavar="ENV", help="the environment")
    sp.add_argument("--version", dest="version", help="the release (default: the newest)")
    sp.add_argument("--yes", action="store_true", help="approve when the environment asks")
    sp.add_argument("--json", action="store_true", help=JSON_LINES_HELP)

    for name in ("rollback", "restart", "stop"):
        sp = cmd(name, f"ops:{name}")
        sp.add_argument("env", metavar="ENV", help="the environment")
        sp.add_argument("--json", action="store_true", help=JSON_LINES_HELP)

    sp = cmd("scale", "ops:scale")
    sp.add_argument("env", metavar="ENV", help="the environment")
    sp.add_argument("replicas", metavar="N", type=int, help="how many replicas")
    sp.add_argument("--json", action="store_true", help=JSON_LINES_HELP)

    sp = cmd("logs", "ops:logs")
    sp.add_argument(
        "id",
        metavar="ID",
        nargs="?",
        help="the item whose last run to print, or a run (as `item show` lists it);"
        " an environment's name: as --env",
    )
    sp.add_argument("--stage", metavar="STAGE", help="the item's last run of this stage")
    sp.add_argument("--env", metavar="ENV", help="the environment's service output instead")
    sp.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    sp.add_argument("--tail", type=_tail, default=None, metavar="N", help="last N lines (or all)")
    sp.add_argument("--json", action="store_true", help=JSON_LINES_HELP)

    sp = cmd("dora", "ops:dora")
    sp.add_argument("--json", action="store_true", help=JSON_HELP)
    sp.add_argument("--days", type=int, default=30, help="the window (default: 30 days)")
    sp.add_argument("--env", metavar="ENV", help="only this environment")

    sp = cmd("monitor", "ops:monitor")
    sp.add_argument("--once", action="store_true", help="one sample, then exit")
    sp.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop after S seconds"
    )
    sp.add_argument("--json", action="store_true", help=JSON_LINES_HELP)


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
    """One line on stderr, what the user typed in it escaped: ``shipdeck "$(printf
    '\\033]0;x\\007')"`` had retitled the terminal through "unknown command"."""
    from shipdeck.lifecycle.text import escape_controls

    sys.stderr.write(f"shipdeck: {escape_controls(message, keep_newlines=True)}\n")


def _looks_like_path(word: str) -> bool:
    return os.sep in word or word in (".", "..") or word.startswith("~") or os.path.isdir(word)


def _board_path(argv: list[str], commands: Sequence[str]) -> list[str]:
    """``shipdeck PATH`` (docs/architecture.md section 5) is ``shipdeck -C PATH``; a word
    that is neither a command nor a path is a mistyped command: "did you mean", exit 2."""
    if argv and argv[0] not in commands and not argv[0].startswith("-"):
        if not _looks_like_path(argv[0]):
            raise UsageError(f"unknown command '{argv[0]}'{did_you_mean(argv[0], commands)}")
        return ["-C", argv[0], *argv[1:]]
    return argv


def run(argv: Sequence[str]) -> int:
    if argv[:1] == ["__complete"]:  # completion asks for ids or environments: no parser
        from shipdeck.cli.completion import complete

        return complete(list(argv[1:]), build_parser)
    parser = build_parser()
    commands = [
        name
        for action in parser._subparsers._group_actions  # type: ignore[union-attr]
        for name in getattr(action, "choices", {}) or {}
    ]
    try:
        argv = _board_path(list(argv), commands)
    except UsageError as exc:
        _report(f"{exc} (see shipdeck --help)")
        return EXIT_USAGE
    args = parser.parse_args(argv)
    if args.chdir:
        try:
            os.chdir(args.chdir)
        except OSError as exc:
            _report(f"cannot open {args.chdir}: {exc.strerror}")
            return EXIT_USAGE
    if args.handler is None:
        args.handler = "items:open_board"
    if args.handler in _NAMES_THE_INTERPRETER and _may_run_steps(args):
        _ask_for_the_interpreter_early()
    if isinstance(args.handler, str):
        import importlib

        module, name = args.handler.split(":")
        args.handler = getattr(importlib.import_module(f"shipdeck.cli.{module}"), name)
    if getattr(args.handler, "__name__", "") != "open_board":  # the board says so itself
        _announce_long_indexing()
    return _guarded(args)


def _announce_long_indexing() -> None:
    """On a terminal, one line on stderr when a command starts indexing a big journal
    (the first ``dora`` on a million events: ~9 s, once), so it is not taken for a hang.
    Not when stderr is a file or a pipe: a script's stderr stays its own."""
    if not sys.stderr.isatty():
        return
    from shipdeck.lifecycle import history
    from shipdeck.lifecycle.units import byte_size

    def say(size: int) -> None:
        sys.stderr.write(
            f"shipdeck: indexing the journal ({byte_size(size)}), once: later commands"
            " read the index\n"
        )
        sys.stderr.flush()

    history.announce = say


# The operations that run steps or start a release with the project's interpreter (a
# restart or rollback runs the one recorded with the release; stop and logs, none).
_NAMES_THE_INTERPRETER = frozenset({"ops:advance", "ops:deploy"})


def _may_run_steps(args: argparse.Namespace) -> bool:
    """False for ``advance --to plan`` or ``--to code``: a branch runs no step, and asking
    a pyenv shim would cost processes (~0.1 s of CPU) that nothing waits for."""
    to = getattr(args, "to", None)
    return not (isinstance(to, str) and to.strip().lower() in ("plan", "code"))


def _ask_for_the_interpreter_early() -> None:
    """An operation runs steps with the project's interpreter, and a pyenv shim takes
    ~0.1 s to name it: start asking now, so the answer comes while the command's
    modules import (``project.interpreter.prefetch``; nothing is asked for a venv)."""
    from pathlib import Path

    from shipdeck.project import interpreter
    from shipdeck.project.repo import find_root

    root = find_root(Path.cwd())
    if root is not None:
        interpreter.prefetch(root)


# Commands that never read the board.
_NO_BOARD = frozenset({"init", "check", "demo", "schema", "completion"})


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
        from shipdeck.lifecycle.text import escape_controls

        sys.stderr.write(f"{escape_controls(str(exc), keep_newlines=True)}\n")  # file:line:col
        return EXIT_USAGE
    if isinstance(exc, UsageError) or _raised(
        exc,
        "shipdeck.lifecycle.board:ItemNotFound",
        "shipdeck.lifecycle.config.behaviour:UnknownEnvironment",
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
