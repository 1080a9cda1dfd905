"""The board app when the board cannot be read or written, and when it has a bug.

Storage errors are the repository's, not shipdeck's: a one-line notice, the app
goes on, nothing typed is lost. A bug is a crash file, one line on stderr and
exit 70 (tui/crash.py), not a traceback over the user's shell and exit 0.
"""

from __future__ import annotations

import errno
import os
import pty
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, TextArea

from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.store import BoardError, BoardLocked
from shipdeck.project.repo import Project
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.crash import EXIT_CRASHED
from shipdeck.tui.item_form import ItemFormScreen
from tests.waiting import Notices, until, wait_until

pytestmark = pytest.mark.slow  # Pilot on the demo repository; a real shipdeck on a terminal

SIZE = (120, 40)
REPO = Path(__file__).resolve().parents[2]


def board_ref(project: Project) -> Path:
    return project.root / ".git" / "refs" / "shipdeck" / "board"


# --- saving -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            OSError(errno.EROFS, "Read-only file system", "/repo/.git/objects/obj2knjaniw"),
            "Read-only file system: /repo/.git/objects/obj2knjaniw",
        ),
        (
            BoardLocked("refs/shipdeck/board: another shipdeck process has held the board lock"),
            "refs/shipdeck/board: another shipdeck process has held the board lock",
        ),
    ],
    ids=["read-only-objects", "board-locked"],
)
async def test_a_failed_save_keeps_the_form_and_what_was_typed(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch, error: Exception, said: str
) -> None:
    store = demo_project.store
    real_add = store.add

    def failing_add(*_args: Any, **_kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(store, "add", failing_add)
    app = ShipdeckApp(demo_project)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await pilot.press("n", *"Add dark mode")
        form = app.screen
        assert isinstance(form, ItemFormScreen)
        form.query_one("#body", TextArea).focus()
        await pilot.press(*"Users asked twice.")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(notices.of(title="Not saved")))

        (notice,) = notices.of(title="Not saved")
        assert notice.severity == "error"
        assert notice.message == said
        assert "\n" not in notice.message
        assert app.is_running and app._exception is None
        assert app.screen is form  # still open, with everything typed
        assert form.query_one("#title", Input).value == "Add dark mode"
        assert form.query_one("#body", TextArea).text == "Users asked twice."
        assert "SD-5" not in {i.id for i in demo_project.store.load().items}

        # The repository is fixed: the same form saves on the next ctrl+s.
        monkeypatch.setattr(store, "add", real_add)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is app.board)
        saved = demo_project.store.load().get("SD-5")
        assert (saved.title, saved.body) == ("Add dark mode", "Users asked twice.")
        await until(pilot, lambda: app.board.selected_id() == "SD-5")


async def test_a_failed_edit_keeps_the_form(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_update(*_args: Any, **_kwargs: Any) -> Any:
        raise BoardError("refs/shipdeck/board: cannot update: fatal: cannot lock ref")

    monkeypatch.setattr(demo_project.store, "update", failing_update)
    app = ShipdeckApp(demo_project)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await pilot.press("e", "end", *" now")
        form = app.screen
        assert isinstance(form, ItemFormScreen)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(notices.of(title="Not saved")))
        assert app.screen is form
        assert form.query_one("#title", Input).value.endswith(" now")
        assert notices.of(title="Not saved")[0].message.endswith("cannot lock ref")


# --- reading ------------------------------------------------------------------------------


def shown_ids(app: ShipdeckApp) -> set[str]:
    return {i for column in app.board.columns.values() for i in column.item_ids}


async def test_a_reload_that_fails_keeps_the_last_good_board(demo_project: Project) -> None:
    ref = board_ref(demo_project)
    good = ref.read_text()
    blob = subprocess.run(  # a real object, but not a commit: the board cannot be read
        ["git", "hash-object", "-w", "--stdin"],
        cwd=demo_project.root,
        input=b"not a board\n",
        capture_output=True,
        check=True,
    ).stdout.decode()
    app = ShipdeckApp(demo_project)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await pilot.pause()
        before = shown_ids(app)
        assert before == {"SD-1", "SD-2", "SD-3", "SD-4"}

        ref.write_text(blob)  # as a bad fetch or a hand edit would leave it
        await until(pilot, lambda: bool(notices.of(title="Board unreadable")))
        (notice,) = notices.of(title="Board unreadable")
        assert notice.severity == "error"
        assert "refs/shipdeck/board" in notice.message and "\n" not in notice.message
        assert shown_ids(app) == before  # the last good board
        assert set(app.items) == before
        assert "board unreadable" in app.sub_title
        await pilot.pause(2.5)  # the poller looks again each second: still one notice
        assert len(notices.of(title="Board unreadable")) == 1
        assert app.is_running and app._exception is None

        ref.write_text(good)
        await until(pilot, lambda: bool(notices.of(title="Board")))
        assert "board unreadable" not in app.sub_title
        assert shown_ids(app) == before


async def test_an_unreadable_ref_is_said_once_and_the_board_comes_back(
    demo_project: Project,
) -> None:
    ref = board_ref(demo_project)
    good = ref.read_text()
    app = ShipdeckApp(demo_project)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await pilot.pause()
        before = shown_ids(app)
        ref.unlink()
        ref.mkdir()  # the ref file itself cannot be read (EISDIR): every poll fails
        await until(pilot, lambda: bool(notices.of(title="Board unreadable")))
        await pilot.pause(2.5)
        assert len(notices.of(title="Board unreadable")) == 1
        assert shown_ids(app) == before
        # The user starts an item meanwhile: the form outlives the repair.
        await pilot.press("n", *"Typed meanwhile")
        assert isinstance(app.screen, ItemFormScreen)

        ref.rmdir()
        ref.write_text(good)  # the same head as before: shown again all the same
        await until(pilot, lambda: bool(notices.of(title="Board")))
        assert "board unreadable" not in app.sub_title
        assert app.screen.query_one("#title", Input).value == "Typed meanwhile"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "SD-5" in app.items)
        assert app.items["SD-5"].stage is Stage.PLAN


# --- a bug --------------------------------------------------------------------------------

# The real `shipdeck` on a terminal, with one bug put in: `?` raises.
CRASHING_SHIPDECK = """
import sys
from shipdeck.tui.app import ShipdeckApp

def action_help(self):
    raise RuntimeError("injected bug: the help key raised")

ShipdeckApp.action_help = action_help
from shipdeck.cli.main import main
sys.exit(main())
"""

ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def run_on_a_pty(
    argv: list[str], cwd: Path, env: dict[str, str], keys: bytes, ready: bytes
) -> tuple[int, bytes]:
    """Run ``argv`` on a terminal, type ``keys`` once ``ready`` is on screen; (exit code,
    everything written to the terminal)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        os.chdir(cwd)
        os.execve(argv[0], argv, env)
    out = bytearray()
    sent = False

    def closed() -> bool:
        """Read what is there (types ``keys`` once ``ready`` shows); True at the end."""
        nonlocal sent
        if not sent and ready in ANSI.sub(b"", out):
            os.write(fd, keys)
            sent = True
        readable, _, _ = select.select([fd], [], [], 0.1)
        if not readable:
            return False
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return True
        out.extend(data)
        return not data

    try:
        wait_until(
            closed,
            what=lambda: f"shipdeck to exit; its screen: {ANSI.sub(b'', out)[-2000:]!r}",
            interval=0,
        )
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), bytes(out)


def test_a_bug_writes_a_crash_file_and_one_line_and_exits_non_zero(
    demo_project: Project, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        "LINES": "40",
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    env.pop("TEXTUAL", None)
    code, out = run_on_a_pty(
        [sys.executable, "-c", CRASHING_SHIPDECK],
        demo_project.root,
        env,
        keys=b"?",
        ready=b"SD-2",
    )
    assert code == EXIT_CRASHED, out[-3000:]
    # What is left on the terminal once the app has restored it (after leaving the
    # alternate screen): one line, naming the crash file. No traceback.
    after = out.rsplit(b"\x1b[?1049l", 1)[-1]
    lines = [ln.strip() for ln in ANSI.sub(b"", after).decode().splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    (line,) = lines
    assert line.startswith("shipdeck: crashed (RuntimeError: injected bug"), line
    assert "Traceback" not in ANSI.sub(b"", out).decode(errors="replace")
    named = re.search(r"the traceback is in (\S+\.log)$", line)
    assert named, line
    crash_file = demo_project.root / named.group(1)
    assert crash_file.parent == demo_project.root / ".shipdeck"
    assert re.fullmatch(r"crash-\d{8}-\d{6}\.log", crash_file.name)
    report = crash_file.read_text()
    assert "Traceback (most recent call last)" in report
    assert "in action_help" in report
    assert report.rstrip().endswith("RuntimeError: injected bug: the help key raised")


def test_a_crash_file_falls_back_to_the_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shipdeck.tui import crash

    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        assert crash.report(exc, not_a_dir) == EXIT_CRASHED
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    (written,) = (tmp_path / "tmp").glob("shipdeck-crash-*.log")
    assert str(written) in err
    assert "ValueError: boom" in written.read_text()
    shutil.rmtree(tmp_path / "tmp")
