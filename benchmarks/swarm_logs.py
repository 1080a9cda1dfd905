#!/usr/bin/env python3
"""A swarm service's logs: shipdeck's reader vs ``docker service logs``, side by side.

A service of 3 replicas on the three-node test swarm (scripts/swarm-up.sh) runs a
scratch+busybox image whose every task prints N lines (default 30,000; every 10th
to stderr), then sleeps. (At 100,000 lines a task both readers stalled on this
Docker 20.10 lab: the CLI had 123k lines after 120 s and no end; not a reader's cost.)
Each reader then drains the whole backlog of all tasks on all nodes (no follow) into
a counter, as ``> /dev/null`` would:

- shipdeck: ``SwarmTarget.logs(follow=False, tail=None)`` (backends.swarm.logs): every
  line with its ``task@node`` prefix, resolved from the task and node ids
- docker CLI: ``docker service logs SERVICE >/dev/null 2>&1`` (the engine's own
  client, its start-up included; it prints ``name.slot.task@node`` prefixes too)

Rounds are interleaved and the median is reported: the manager, which gathers every
node's log stream, sets the pace. Prints one JSON document; exit 1 when shipdeck
reads under 0.8x the CLI's line rate (issue #14).

    eval "$(scripts/swarm-up.sh)"; .venv/bin/python benchmarks/swarm_logs.py
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]

import docker_images as di  # noqa: E402

from shipdeck.backends.swarm.spec import ServiceSettings  # noqa: E402
from shipdeck.backends.swarm.target import SwarmTarget  # noqa: E402
from shipdeck.lifecycle.ports import CancelToken, Release  # noqa: E402
from tests.swarm.lab import Swarm  # noqa: E402

PROJECT, ENV = "shipdeck-bench", "logs"


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    t0 = time.perf_counter()
    count = fn()
    return time.perf_counter() - t0, count


def shipdeck_reader(target: SwarmTarget) -> Callable[[], int]:
    def run() -> int:
        return sum(len(b) for b in target.logs(follow=False, tail=None, cancel=CancelToken()))

    return run


def cli_reader(docker: str, host: str, service: str) -> Callable[[], int]:
    def run() -> int:
        out = subprocess.run(
            [docker, "-H", host, "service", "logs", service],
            capture_output=True,
            check=True,
        )
        return out.stdout.count(b"\n") + out.stderr.count(b"\n")

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lines", type=int, default=30_000, help="lines per task")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if not os.environ.get("SHIPDECK_SWARM_HOST"):
        print(json.dumps({"error": 'no lab: eval "$(scripts/swarm-up.sh)" first'}))
        return 2
    docker = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker")
    if docker is None:
        print(json.dumps({"error": "no docker CLI to compare with"}))
        return 2
    lab = Swarm.from_env()
    tag = f"{lab.registry}/shipdeck-bench-printer:{args.lines}"
    every = 10
    script = (
        f"BEGIN {{ for (i = 1; i <= {args.lines}; i++) {{ "
        f'l = sprintf("line %07d the quick brown fox jumps over the lazy dog", i); '
        f'if (i % {every} == 0) print l > "/dev/stderr"; else print l }} }}'
    )
    with tempfile.TemporaryDirectory() as tmp, contextlib.closing(lab.client()) as client:
        context = di.make_context(
            Path(tmp) / "ctx", cmd=["sh", "-c", f"awk '{script}'; exec sleep 3600"]
        )
        client.images.build(path=str(context), tag=tag, rm=True)
        client.images.push(tag)
    settings = ServiceSettings(project=PROJECT, env=ENV, replicas=3, restart_policy="no")
    target = SwarmTarget(ENV, settings, host=lab.host)
    lab.remove_services(settings.service_name)  # a fresh service: no older tasks' logs
    result = target.deploy(Release("1", "0" * 40, "v1", image=tag), lambda _l: None, CancelToken())
    if not result.ok:
        print(json.dumps({"error": result.message}))
        return 2
    total = 3 * args.lines
    deadline = time.monotonic() + 300
    while shipdeck_reader(target)() < total:  # every task has printed all its lines
        if time.monotonic() > deadline:
            print(json.dumps({"error": "the tasks did not print their lines in 300 s"}))
            return 2
        time.sleep(1)
    readers = {
        "shipdeck": shipdeck_reader(target),
        "docker_service_logs": cli_reader(docker, lab.host, settings.service_name),
    }
    times: dict[str, list[float]] = {k: [] for k in readers}
    counts: dict[str, int] = {}
    try:
        for round_ in range(args.rounds):
            order = list(readers) if round_ % 2 == 0 else list(reversed(readers))
            for name in order:
                seconds, count = timed(readers[name])
                times[name].append(seconds)
                counts[name] = count
    finally:
        lab.remove_services(settings.service_name)
        target.close()
    rate = {k: counts[k] / statistics.median(v) for k, v in times.items()}
    ratio = rate["shipdeck"] / rate["docker_service_logs"]
    report = {
        "benchmark": "swarm service logs, whole backlog, 3 tasks on 3 nodes",
        "lines": counts,
        "seconds_median": {k: round(statistics.median(v), 3) for k, v in times.items()},
        "lines_per_s": {k: round(v) for k, v in rate.items()},
        "shipdeck_vs_docker_service_logs": round(ratio, 2),
        "target": ">= 0.8x docker service logs",
        "met": ratio >= 0.8,
    }
    print(json.dumps(report, indent=2))
    return 0 if report["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
