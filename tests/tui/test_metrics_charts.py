"""The metrics pane's charts as a user sees them: per-environment rows, full width,
a time axis from the interval, alerts marked on their chart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.text import Text

from shipdeck.lifecycle.alerts import Alert, History
from shipdeck.lifecycle.ports import ContainerStats, HostSample, ProbeResult
from shipdeck.widgets.ops.chart import FAIL_MARK
from shipdeck.widgets.ops.metrics import (
    Chart,
    EnvRows,
    MetricRow,
    MetricsPane,
    ProbeRow,
    SectionTitle,
)
from tests.tui.host import PaneApp

SIZE = (120, 40)
T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def local_stats(cpu: float | None, version: str = "v0.1.0") -> ContainerStats:
    return ContainerStats(
        name=f"staging {version}",
        id="4242",
        cpu=cpu,
        memory=22_000_000,
        memory_limit=16_000_000_000,
        net_rx=0,
        net_tx=0,
        block_read=4096,
        block_write=49152,
        pids=2,
    )


def sample(n: int) -> tuple[HostSample, list[ProbeResult], History, History]:
    host, probes = History(), History()
    for i in range(n):
        host.add("cpu", 40.0 + i % 7)
        host.add("memory", 6.1 if i % 2 else 7.3)
        host.add("disk", 22.0)
        host.add("net_recv", 900.0)
        host.add("net_sent", 300.0)
        probes.add("staging", None if i == n - 2 else 40.0 + i)
    now = HostSample(cpu=46.0, memory=7.3, disk=22.0, net_sent=300.0, net_recv=900.0)
    result = ProbeResult("staging", "http://127.0.0.1:8081/health", True, 200, 40.0 + n)
    return now, [result], host, probes


@pytest.mark.slow  # a Pilot test on the demo repository
async def test_a_local_environment_gets_cpu_and_memory_rows_at_120x40() -> None:
    pane = MetricsPane(tz=UTC, interval=1.0)
    app = PaneApp(pane)
    async with app.run_test(size=SIZE) as pilot:
        for cpu in (None, 2.5, 3.0):
            pane.show_containers([local_stats(cpu)], {})
        host, probes, host_history, probe_history = sample(30)
        pane.show_sample(host, probes, host_history, probe_history, [])
        await pilot.pause()
        rows = list(pane.query(EnvRows))
        assert [r.key for r in rows] == ["staging"]
        env = rows[0]
        assert env.display and pane.query_one("#envs-title").display
        assert "staging v0.1.0" in str(env.title.render())
        cpu_line = str(env.cpu.render())
        assert "cpu" in cpu_line and "3.0%" in cpu_line and "0–100%" in cpu_line
        memory_line = str(env.memory.render())
        assert "memory" in memory_line and "21.0 MB" in memory_line
        assert env.history.series("cpu") == [None, 2.5, 3.0]  # the first reading is a gap
        # A new release of the same environment stays on its chart.
        pane.show_containers([local_stats(4.0, "v0.2.0")], {})
        await pilot.pause()
        assert list(pane.query(EnvRows)) == [env] and len(env.history.series("cpu")) == 4
        # The environment going away takes its rows with it.
        pane.show_containers([], {})
        await pilot.pause()
        assert not list(pane.query(EnvRows)) and not pane.query_one("#envs-title").display


async def test_charts_span_the_width_with_a_time_axis_from_the_interval() -> None:
    pane = MetricsPane(tz=UTC, interval=1.0)
    app = PaneApp(pane)
    async with app.run_test(size=SIZE) as pilot:
        pane.show_sample(*sample(60), [])
        await pilot.pause()
        cpu = pane.query_one("#metric-cpu", MetricRow)
        assert cpu.size.width >= 110
        line = str(cpu.render()).splitlines()[0]
        assert len(line) == cpu.size.width
        assert line.startswith("cpu") and "46.0%" in line[:24]  # label and value by the chart
        title = pane.query_one("#host-title", SectionTitle)
        axis = str(title.render())
        assert axis.startswith("Host") and "-1m" in axis and axis.rstrip().endswith("now")
        # 6.1% <-> 7.3% memory stays on the bottom row, an eighth apart: no spike.
        memory = str(pane.query_one("#metric-memory", MetricRow).render()).splitlines()
        assert set(memory[-1][25:-11]) <= {"▁", "▂"}
        assert all(not line[25:-11].strip() for line in memory[:-1])
        # A failed probe is a mark, its chart labelled with its top.
        probe = next(iter(pane.query(ProbeRow)))
        chart_line = str(probe.chart.render()).splitlines()[-1]
        assert FAIL_MARK in chart_line and "100 ms" in chart_line


async def test_an_active_alert_marks_its_chart() -> None:
    pane = MetricsPane(tz=UTC, interval=2.0)
    app = PaneApp(pane)
    async with app.run_test(size=(120, 70)) as pilot:
        host, probes, host_history, probe_history = sample(20)
        for _ in range(5):
            host_history.add("cpu", 95.0)
        alert = Alert("AL-1", "cpu", 95.0, 90.0, "cpu at 95% (threshold 90%)", T0)
        pane.show_sample(host, probes, host_history, probe_history, [alert])
        await pilot.pause()
        cpu = pane.query_one("#metric-cpu", MetricRow)
        assert cpu.has_class("-alerting")
        assert not pane.query_one("#metric-memory", Chart).has_class("-alerting")
        assert pane.chart_height >= 2  # room for taller charts at 70 rows
        text = str(cpu.render())
        assert "AL-1 ≥ 90%" in text  # the threshold, next to the label
        assert "90" in text.splitlines()[0] or "╌" in text  # threshold line or its value
        # The label is drawn in the alert colour.
        label_style = cpu.get_component_rich_style("chart--label", partial=True)
        normal = pane.query_one("#metric-memory", Chart)
        assert (
            label_style.color != normal.get_component_rich_style("chart--label", partial=True).color
        )


async def test_a_chart_repaints_only_when_what_it_draws_changed(monkeypatch) -> None:
    """Memory moving 6.1% -> 6.2% stays in the same eighth of a one-row bar: no repaint
    (each one costs the compositor every widget between the dirty rows); 6.1% -> 60%
    and a new value in the gutter each repaint."""
    chart = Chart("memory")
    app = PaneApp(chart)
    async with app.run_test(size=(80, 5)) as pilot:
        await pilot.pause()
        repaints: list[int] = []
        original = Chart.refresh

        def counted(self: Chart, *args: object, **kwargs: object) -> Chart:
            repaints.append(1)
            return original(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Chart, "refresh", counted)

        def show(values: list[float], value: str) -> None:
            chart.set(values, Text(value), high=100.0, scale="100%")

        show([6.1] * 10, "6.1%")
        assert len(repaints) == 1
        drawn = chart.render().plain
        show([6.1] * 9 + [6.2], "6.1%")  # same eighth, same text: nothing to draw
        assert len(repaints) == 1
        assert chart.render().plain == drawn
        show([6.1] * 9 + [6.2], "6.2%")  # the gutter's value changed
        assert len(repaints) == 2
        show([6.1] * 9 + [60.0], "6.2%")  # a higher bar
        assert len(repaints) == 3
        assert chart.render().plain != drawn
