"""Item details show a body as text: no control character reaches the terminal.

Regression: the details screen replaced ESC only, so a C1 CSI (U+009B), a bell or a
bidi override in an item's body (anyone with push access can write one through
``shipdeck sync``) went to the terminal as it was."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from rich.console import Console

from shipdeck.lifecycle.items import Item, RunState
from shipdeck.lifecycle.runs import new_run_id, run_id_parts
from shipdeck.tui.details import run_label, summary
from shipdeck.widgets.ops.text import clock

HOSTILE = "line one\n\x9b2J\x1b]0;pwned\x07 \u202eevil\u202c \x1b[31mred\x1b[0m"


def test_a_hostile_body_is_shown_escaped_with_its_lines_kept() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None, force_terminal=False)
    console.print(summary(Item(id="SD-1", title="t", body=HOSTILE)))
    shown = out.getvalue()
    assert re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", shown) is None
    assert "line one" in shown and "pwned" in shown and "red" in shown
    assert "\\x9b" in shown and "\\x1b" in shown  # shown as escapes, not dropped


def test_a_runs_label_says_what_ran_and_when_and_any_other_name_is_kept() -> None:
    """The runs list showed ids (``SD-1-deploy-20261206T135849-320d``), wrapped over
    two lines at 80 columns; the stage and the local start say the same in one."""
    run_id = new_run_id("SD-12", "deploy")
    action, started = run_id_parts(run_id) or ("", None)
    assert action == "deploy" and started is not None
    assert abs((datetime.now(UTC) - started).total_seconds()) < 5
    assert run_label(run_id).plain == f"  deploy   {clock(started)}"  # not ended: no mark
    assert run_label(run_id, RunState.FAILED).plain == f"✘ deploy   {clock(started)}"
    env_run = new_run_id("env:staging", "rollback")
    assert run_id_parts(env_run) is not None and run_id_parts(env_run)[0] == "rollback"
    for other in ("SD-1-deploy-2026120-abcd", "notes", "SD-1-\x1b[31m-20261206T135849-abcd"):
        assert run_id_parts(other) is None
        assert "\x1b" not in run_label(other).plain  # an odd file name is shown escaped
