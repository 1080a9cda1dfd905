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


def test_an_endpoint_that_never_answers_holds_no_other_probe(tmp_path: Path) -> None:
    """Found by a stranger's hunt: probes ran one after another, each up to its timeout,
    so five endpoints that never answer made a 1 s sample take 25 s, and a healthy
    environment's alert would come minutes late. Here four probes wait on a real server
    that reads each request and never answers, for longer than any wait in the suite:
    all four requests arrive while the sample runs, and the healthy probe's result is
    in the sample that comes back once the server goes away."""
    import threading

    from shipdeck.backends.probe import HttpProber
    from shipdeck.lifecycle.sampling import Sample, Sampler
    from tests.faults.servers import FaultServer
    from tests.waiting import DEADLINE, wait_until

    server, healthy = FaultServer(), FaultServer()
    project = create(tmp_path / "demo")
    config = project.root / "shipdeck.yaml"
    never = DEADLINE * 3  # sequential, the second request would come only after this
    stuck = "".join(
        f"    - {{name: stuck{n}, url: '{server.url}/silent', timeout: {never}}}\n"
        for n in range(4)
    )
    text = config.read_text().replace(
        "  probes:\n", f"  probe_environments: false\n  probes:\n{stuck}"
    )
    text += f"    - {{name: fine, url: '{healthy.url}/ok'}}\n"
    config.write_text(text)
    engine = build_engine(Project(project.root))
    sampled: list[Sample] = []
    with HttpProber() as prober:
        sampler = Sampler(engine, prober, Host())  # type: ignore[arg-type]
        names = [p.name for p in sampler.probes]
        assert names[:4] == [f"stuck{n}" for n in range(4)] and "fine" in names
        thread = threading.Thread(target=lambda: sampled.append(sampler.sample()), daemon=True)
        thread.start()
        try:
            wait_until(
                lambda: sum(path == "/silent" for _method, path in server.requests) == 4,
                what="the four stuck probes' requests, all at once",
            )
            assert thread.is_alive() and not sampled  # they are still waiting
        finally:
            server.close()  # the stuck ones end: their connections close
            thread.join(DEADLINE)
            healthy.close()
    (sample,) = sampled
    by_name = {p.name: p for p in sample.probes}
    assert [p.name for p in sample.probes] == names  # in the config's order
    assert by_name["fine"].ok and not any(by_name[f"stuck{n}"].ok for n in range(4))
