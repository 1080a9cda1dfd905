"""The monitor probes every environment's own health URL by default (issue #11 item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipdeck.cli.demo import create
from shipdeck.lifecycle.ports import HostSample, ProbeResult
from shipdeck.project.repo import Project
from shipdeck.project.wiring import build_engine

pytestmark = pytest.mark.slow  # the demo repository and its engine, for real


class Recorder:
    """A prober that answers at once and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def probe(self, name: str, url: str, timeout: float, slow_ms: float) -> ProbeResult:
        self.asked.append((name, url))
        return ProbeResult(name, url, True, 200, 1.0)


class Host:
    def sample(self) -> HostSample:
        return HostSample(cpu=1.0, memory=1.0, disk=1.0, net_sent=0.0, net_recv=0.0)


def _config_with_second_env(root: Path, extra: str = "") -> None:
    config = root / "shipdeck.yaml"
    text = config.read_text().replace(
        "monitor:\n",
        '  preview:\n    target: local\n    run: "true"\n    port: 18931\n'
        '    health: {url: "http://127.0.0.1:{port}/ready"}\n'
        f"monitor:\n{extra}",
    )
    config.write_text(text)


def test_each_environment_health_url_is_probed_by_its_name(tmp_path: Path) -> None:
    from shipdeck.lifecycle.sampling import Sampler

    project = create(tmp_path / "demo")
    _config_with_second_env(project.root)
    project = Project(project.root)  # the edited config
    prober = Recorder()
    sample = Sampler(build_engine(project), prober, Host()).sample()  # type: ignore[arg-type]
    names = [p.name for p in sample.probes]
    assert sorted(names) == ["preview", "staging"]  # staging: the configured probe, once
    assert ("preview", "http://127.0.0.1:18931/ready") in prober.asked  # {port} rendered


def test_probe_environments_false_probes_only_the_listed_ones(tmp_path: Path) -> None:
    from shipdeck.lifecycle.sampling import Sampler

    project = create(tmp_path / "demo")
    _config_with_second_env(project.root, "  probe_environments: false\n")
    project = Project(project.root)
    prober = Recorder()
    sample = Sampler(build_engine(project), prober, Host()).sample()  # type: ignore[arg-type]
    assert [p.name for p in sample.probes] == ["staging"]
