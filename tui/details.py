"""Item details: stage history, runs and their logs, commits, tests, artifacts, deploys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Label, OptionList, Static
from textual.widgets.option_list import Option

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.items import Item, RunState
from shipdeck.lifecycle.lines import Line, Stream
from shipdeck.lifecycle.runs import run_id_parts
from shipdeck.lifecycle.stages import Stage
from shipdeck.lifecycle.text import escape_controls
from shipdeck.lifecycle.units import duration
from shipdeck.tui.crash import STORAGE_ERRORS, describe
from shipdeck.widgets.board.cards import clean, state_icon
from shipdeck.widgets.footer import QuietFooter
from shipdeck.widgets.log.pane import LogPane
from shipdeck.widgets.ops.text import clock

if TYPE_CHECKING:
    from shipdeck.tui.host import Host

_DEPLOY_STYLE = {
    ev.DEPLOYED: "green",
    ev.DEPLOY_FAILED: "red",
    ev.DEPLOY_CANCELLED: "yellow",
    ev.ROLLED_BACK: "yellow",
}
DEPLOY_TYPES = {ev.DEPLOYED, ev.DEPLOY_FAILED, ev.DEPLOY_CANCELLED, ev.ROLLED_BACK, ev.RELEASE_CUT}


def summary(item: Item) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    rows: list[tuple[str, Any]] = [
        ("kind", item.kind.value + (" (breaking)" if item.breaking else "")),
        ("stage", _stage_line(item)),
        ("branch", item.branch),
        ("sha", item.sha),
        ("version", item.version),
        ("env", item.env),
        ("links", ", ".join(item.links) or None),
    ]
    for key, value in rows:
        if value:
            grid.add_row(key, Text(clean(str(value))))
    if item.body:
        grid.add_row("", "")
        grid.add_row("body", Text(escape_controls(item.body, keep_newlines=True)))
    return grid


def tests_text(item: Item) -> Text:
    t = item.tests
    if t is None:
        return Text("no test report yet", style="dim")
    out = Text()
    out.append(f"{t.passed} passed", "green")
    out.append(", ")
    out.append(f"{t.failed} failed", "bold red" if t.failed else "")
    out.append(f", {t.skipped} skipped")
    if t.errors:
        out.append(f", {t.errors_text}", "bold red")
    for name in t.failures:
        out.append(f"\n  ✘ {clean(name)}", "red")
    return out


class ItemDetailsScreen(Screen[None]):
    """Times in the local zone, as the events pane shows them (the JSON keeps UTC)."""

    # Under 100 columns the facts and the history take three fifths: at 80 the halves
    # cut the history's times behind a scrollbar, and the log has its own scrolling.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("escape,q", "close", "Back to board"),
        Binding("tab", "app.focus_next", "Next pane", show=False),
    ]

    def __init__(self, app: Host, item_id: str) -> None:
        super().__init__(id="details-screen")
        self.shipdeck = app
        self.item_id = item_id
        self._item: Item | None = None

    @property
    def item(self) -> Item:
        """Read fresh when the screen opens; the board's last good copy if it cannot be."""
        if self._item is None:
            try:
                self._item = self.shipdeck.project.store.get(self.item_id)
            except STORAGE_ERRORS as exc:
                shown = self.shipdeck.items.get(self.item_id)
                if shown is None:
                    raise
                self.shipdeck.storage_error("Details from the last good board", exc)
                self._item = shown
        return self._item

    def compose(self) -> ComposeResult:
        item = self.item
        yield Label(
            # the gap ends the id's span: SVG viewers drop a span's leading spaces
            Text.assemble((f"{item.id}  ", "bold"), clean(item.title)),
            id="details-title",
        )
        with Horizontal(id="details-body"):
            with VerticalScroll(id="details-left"):
                yield Static(summary(item), id="details-summary")
                yield Label("Stage history", classes="section")
                yield DataTable(id="details-history", cursor_type="row", zebra_stripes=True)
                yield Label("Tests", classes="section")
                yield Static(tests_text(item), id="details-tests")
                yield Label("Commits ahead of base", classes="section")
                yield Static("…", id="details-commits")
                yield Label("Artifacts", classes="section")
                yield Static(self._artifacts(item), id="details-artifacts")
                yield Label("Releases and deployments", classes="section")
                yield Static(self._deploys(), id="details-deploys")
            with Vertical(id="details-right"):
                yield Label("Runs (enter shows the log)", classes="section")
                yield OptionList(id="details-runs")
                yield LogPane(id="details-log")
        yield QuietFooter(pinned=("command_mode", "help", "quit"))

    def on_mount(self) -> None:
        item = self.item
        table = self.query_one("#details-history", DataTable)
        table.add_columns("stage", "state", "started", "took")  # runs: the list beside
        for stage in Stage:
            st = item.states.get(stage)
            if st is None:
                continue
            icon, style = state_icon(st.state)
            took = duration(st.duration) if st.duration is not None else ""  # whole seconds
            table.add_row(
                stage.label,
                Text(f"{icon} {st.state.value}", style=style),
                clock(st.started_at) if st.started_at else "",
                took,
            )
        runs = sorted(  # newest first; the log file's mtime is when the run last wrote
            self.shipdeck.project.paths.runs.glob(f"{item.id}-*.log"),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        if not table.row_count:  # headers over nothing read as a table that failed to load
            table.display = False
            self.query_one("#details-left").mount(
                Static(Text("none yet", style="dim"), id="details-no-history"), after=table
            )
        options = self.query_one("#details-runs", OptionList)
        ends = self._run_ends()
        options.add_options(Option(run_label(p.stem, ends.get(p.stem)), id=p.stem) for p in runs)
        if runs:
            options.highlighted = 0
            self._show_run(runs[0].stem)
        else:  # an empty box and "0 lines" said nothing
            options.add_option(Option(Text("no runs yet", style="dim"), disabled=True))
            note = Line(Stream.INFO, f"{item.id}: no runs yet")  # narrow: the log view cuts
            self.query_one("#details-log", LogPane).write_lines([note])
        self.run_worker(self._load_commits, thread=True, exit_on_error=False)

    def _load_commits(self) -> None:
        item = self.item
        text = Text("no branch yet", style="dim")
        if item.branch:
            try:
                base = self.shipdeck.project.config.base_branch
                commits = self.shipdeck.engine.vcs.log(base, item.branch, 20)
            except Exception as exc:  # noqa: BLE001 - merged or deleted branches have no 'ahead'
                reason = str(exc).replace(str(self.shipdeck.project.root), ".")
                text = Text(f"{item.branch}: {reason}", style="dim")
            else:
                text = Text()
                masker = self.shipdeck.engine.masker  # a subject is anyone's words
                for c in commits:
                    text.append(f"{c['short']} ", "yellow")
                    text.append(clean(masker.mask(str(c["subject"]))) + "\n")
                if not commits:
                    text = Text(f"{item.branch} has no commits ahead of {base}", style="dim")
        self.app.call_from_thread(self._show_commits, text)

    def _show_commits(self, text: Text) -> None:
        self.query_one("#details-commits", Static).update(text)
        self.commits_loaded = True

    commits_loaded = False

    def _artifacts(self, item: Item) -> Text:
        if not item.artifacts:
            return Text("none yet", style="dim")
        return Text("\n".join(f"{k}: {clean(v)}" for k, v in item.artifacts.items()))

    _history: list[ev.Event] | BaseException | None = None

    def _item_events(self) -> list[ev.Event] | BaseException:
        """The item's journal, read once for the screen (its deploys, its runs' ends)."""
        if self._history is None:
            try:
                self._history = self.shipdeck.project.journal.for_item(self.item_id)
            except STORAGE_ERRORS as exc:
                self._history = exc
        return self._history

    def _run_ends(self) -> dict[str, RunState]:
        """How each finished run of the item ended, by run id (a run with no end in the
        journal is running, or was cut off: it shows no mark)."""
        journal = self._item_events()
        if isinstance(journal, BaseException):
            return {}
        ends: dict[str, RunState] = {}
        for event in journal:
            if event.type == ev.STAGE_FINISHED and event.get("status") in _ENDS:
                ends[str(event.get("run_id"))] = RunState(event.get("status"))
        return ends

    def _deploys(self) -> Text:
        journal = self._item_events()
        if isinstance(journal, BaseException):
            return Text(f"journal unreadable: {describe(journal)}", style="red")
        events = [e for e in journal if e.type in DEPLOY_TYPES]
        if not events:
            return Text("none yet", style="dim")
        out = Text()
        for e in reversed(events):
            style = _DEPLOY_STYLE.get(e.type, "")
            detail = " ".join(
                f"{k}={e.get(k)}" for k in ("version", "env", "to_version", "reason") if e.get(k)
            )
            out.append(f"{clock(e.ts)} {e.type:<14} {clean(detail)}\n", style)
        return out

    def _show_run(self, run_id: str) -> None:
        path = self.shipdeck.project.paths.run_log(run_id)
        pane = self.query_one("#details-log", LogPane)
        pane.clear()
        pane.border_title = run_id
        pane.load_file(path)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self._show_run(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)


_ENDS = frozenset({RunState.PASSED, RunState.FAILED, RunState.CANCELLED})


def run_label(run_id: str, end: RunState | None = None) -> Text:
    """``✘ test     12-07 21:17:53``: how the run ended (when it has), what ran and when,
    in the history's clock; the id itself (``SD-1-deploy-20261206T135849-320d``)
    wrapped over two lines at 80 columns. The log's border keeps the id. Two Test
    runs, one failed, read alike without the mark."""
    icon, style = state_icon(end) if end is not None else (" ", "")
    parts = run_id_parts(run_id)
    if parts is None:
        return Text.assemble((icon, style), " ", clean(run_id))
    action, started = parts
    return Text.assemble((icon, style), " ", (f"{action:<8}", "bold"), " ", clock(started))


def _stage_line(item: Item) -> str:
    """``Test · running · step 2/3 unit tests``: the step while a run runs."""
    current = item.current
    line = f"{item.stage.label} · {current.state.value}"
    if current.state is RunState.RUNNING and current.step:
        line += f" · step {current.step}"
    return line
