#!/usr/bin/env python3
"""Container log throughput: shipdeck's reader vs ``docker logs`` vs the SDK, side by side.

A scratch+busybox container prints N lines (default 300,000; every 10th to
stderr) and exits; the same image runs once more with a TTY. Both get the log
driver ``DockerTarget`` deploys with (``local`` on a factory-default engine;
``--log-driver json-file`` measures the engine's default instead). Each reader then
drains the whole log (``--tail all``, no follow) into a counter, which is what
``> /dev/null`` costs it:

- shipdeck: ``DockerTarget.logs(follow=False, tail=None)`` (backends.docker.logs)
- docker CLI: ``docker logs NAME >/dev/null 2>&1`` (includes the CLI's start-up)
- sdk: ``container.logs(stream=True)`` iterated, as most Python tools do; for a
  TTY container the SDK reads one byte per iteration, so that one is measured on
  the first ``--sdk-tty-bytes`` only and extrapolated (pass 0 to skip it).

Rounds are interleaved and the median is reported, since the daemon (which
decodes its JSON log file) sets the pace. Prints one JSON document; exit 1 when
a target is missed: >= 0.8x docker logs, >= 2.5x the SDK, TTY within 20%.

    eval "$(scripts/docker-up.sh)"; .venv/bin/python benchmarks/docker_logs.py
"""

from __future__ import annotations

import argparse
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]

import docker_images as di  # noqa: E402

from shipdeck.backends.docker.engine import connect, log_config_for  # noqa: E402
from shipdeck.backends.docker.target import DockerTarget  # noqa: E402
from shipdeck.lifecycle.ports import CancelToken  # noqa: E402

PROJECT = "shipdeck-bench"


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    t0 = time.perf_counter()
    count = fn()
    return time.perf_counter() - t0, count


def shipdeck_reader(env: str) -> Callable[[], int]:
    target = DockerTarget(env, project=PROJECT)

    def run() -> int:
        n = 0
        for batch in target.logs(follow=False, tail=None, cancel=CancelToken()):
            n += len(batch)
        return n

    return run


def docker_cli(name: str, docker: str) -> Callable[[], int]:
    def run() -> int:
        subprocess.run(
            [docker, "logs", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )
        return -1  # the CLI does not count; the lines are known

    return run


def sdk_iteration(container: Any, limit: int | None = None) -> Callable[[], int]:
    def run() -> int:
        n = size = 0
        stream = container.logs(stream=True)
        try:
            for chunk in stream:
                n += chunk.count(b"\n")
                size += len(chunk)
                if limit and size >= limit:
                    break
        finally:
            stream.close()
        return n

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sdk-tty-bytes", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the containers and image")
    parser.add_argument("--log-driver", default="auto", help="auto: the one shipdeck deploys with")
    args = parser.parse_args(argv)

    why = di.busybox_missing()
    if why:
        print(json.dumps({"error": why}))
        return 2
    client = connect()
    docker = shutil.which("docker")
    image = f"shipdeck-test/printer:{args.lines}"
    with tempfile.TemporaryDirectory() as tmp:
        di.build(client, di.printer_context(Path(tmp), args.lines, stderr_every=10), image)
    # The log driver DockerTarget gives the containers it deploys (``--log-driver``
    # measures another one, e.g. json-file, the engine's factory default).
    log_config = log_config_for(client)
    if args.log_driver != "auto":
        log_config = {"Type": args.log_driver, "Config": {}}
    driver = (log_config or {}).get("Type") or client.info().get("LoggingDriver")
    containers = {}
    for kind, tty in (("plain", False), ("tty", True)):
        labels = {**di.LABELS, "shipdeck.project": PROJECT, "shipdeck.env": kind}
        labels["shipdeck.managed"] = "true"
        c = client.containers.run(image, detach=True, tty=tty, labels=labels, log_config=log_config)
        c.wait()
        containers[kind] = c

    methods: dict[str, dict[str, Callable[[], int]]] = {}
    for kind, c in containers.items():
        methods[kind] = {"shipdeck": shipdeck_reader(kind)}
        if docker:
            methods[kind]["docker_cli"] = docker_cli(c.name, docker)
        if kind == "plain":
            methods[kind]["sdk"] = sdk_iteration(c)
        elif args.sdk_tty_bytes:
            methods[kind]["sdk_partial"] = sdk_iteration(c, args.sdk_tty_bytes)

    times: dict[str, dict[str, list[float]]] = {k: {m: [] for m in v} for k, v in methods.items()}
    counts: dict[str, dict[str, int]] = {k: {} for k in methods}
    try:
        for _ in range(args.rounds):
            for kind, by_name in methods.items():
                for name, fn in by_name.items():
                    seconds, count = timed(fn)
                    times[kind][name].append(seconds)
                    counts[kind][name] = count
    finally:
        if not args.keep:
            for c in containers.values():
                c.remove(force=True)
            client.images.remove(image, force=True)

    results: dict[str, dict[str, Any]] = {}
    for kind, measured in times.items():
        results[kind] = {}
        for name, samples in measured.items():
            seconds = statistics.median(samples)
            lines = counts[kind][name] if counts[kind][name] >= 0 else args.lines
            results[kind][name] = {
                "seconds": round(seconds, 3),
                "lines": lines,
                "lines_per_s": round(lines / seconds),
                "samples": [round(s, 3) for s in samples],
            }
        if "sdk_partial" in results[kind]:
            part = results[kind]["sdk_partial"]
            part["note"] = f"first {args.sdk_tty_bytes} bytes only: the SDK reads a TTY bytewise"
            part["extrapolated_seconds"] = round(part["seconds"] * args.lines / part["lines"], 1)

    def rate(kind: str, name: str) -> float | None:
        entry = results.get(kind, {}).get(name)
        return entry["lines_per_s"] if entry else None

    ours = rate("plain", "shipdeck") or 0
    ratios = {
        "vs_docker_cli": round(ours / cli, 2) if (cli := rate("plain", "docker_cli")) else None,
        "vs_sdk": round(ours / sdk, 2) if (sdk := rate("plain", "sdk")) else None,
        "tty_vs_plain": round((rate("tty", "shipdeck") or 0) / ours, 2) if ours else None,
    }
    checks = {
        "vs_docker_cli >= 0.8": ratios["vs_docker_cli"] is None or ratios["vs_docker_cli"] >= 0.8,
        "vs_sdk >= 2.5": ratios["vs_sdk"] is None or ratios["vs_sdk"] >= 2.5,
        "tty within 20%": ratios["tty_vs_plain"] is not None
        and abs(ratios["tty_vs_plain"] - 1) <= 0.2,
    }
    report = {
        "benchmark": "docker_logs",
        "lines": args.lines,
        "rounds": args.rounds,
        "engine": os.environ.get("DOCKER_HOST", "default"),
        "server_version": client.version().get("Version"),
        "log_driver": driver,
        "results": results,
        "ratios": ratios,
        "targets": checks,
        "ok": all(checks.values()),
    }
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
