"""The fast container log reader: its decoding alone, then against a real engine."""

from __future__ import annotations

import itertools
import random
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker_images as di
import pytest

from shipdeck.backends.docker.logs import LogSource, container_logs, since_param, source_of
from shipdeck.backends.docker.stream import Dechunker, Splitter
from shipdeck.lifecycle.ports import CancelToken, Line, Stream, TargetError
from tests.waiting import returns, wait_until

# --- decoding, no engine needed -------------------------------------------------------


def frame(kind: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", kind, len(data)) + data


def chunked(body: bytes, sizes: Iterator[int]) -> bytes:
    out, pos = b"", 0
    while pos < len(body):
        size = next(sizes)
        part = body[pos : pos + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
        pos += size
    return out + b"0\r\n\r\n"


def decode(stream: bytes, tty: bool, cuts: list[int]) -> list[Line]:
    dechunk, split = Dechunker(), Splitter(tty)
    lines: list[Line] = []
    edges = [0, *sorted(cuts), len(stream)]
    for a, b in itertools.pairwise(edges):
        lines += split.feed(dechunk.feed(stream[a:b]))
    assert dechunk.done
    return lines + split.flush()


@pytest.mark.parametrize("seed", range(20))
def test_frames_and_chunks_split_anywhere_decode_the_same(seed: int) -> None:
    rnd = random.Random(seed)
    want: list[Line] = []
    body = b""
    for i in range(200):
        kind = rnd.choice((1, 2))
        text = f"line {i} é ✓ " + "x" * rnd.randrange(0, 300)
        want.append(Line(Stream.STDOUT if kind == 1 else Stream.STDERR, text))
        data = (text + "\n").encode()
        cut = rnd.randrange(len(data) + 1)  # a line may span two frames
        body += frame(kind, data[:cut]) + frame(kind, data[cut:])
    stream = chunked(body, iter(lambda: rnd.choice((1, 7, 100, 5000)), None))
    cuts = [rnd.randrange(len(stream)) for _ in range(rnd.randrange(1, 60))]
    got = decode(stream, tty=False, cuts=cuts)
    assert [ln for ln in got if ln.stream is Stream.STDOUT] == [
        ln for ln in want if ln.stream is Stream.STDOUT
    ]
    assert [ln for ln in got if ln.stream is Stream.STDERR] == [
        ln for ln in want if ln.stream is Stream.STDERR
    ]


def test_tty_output_has_no_frames_and_crlf_line_ends() -> None:
    body = "one\r\ntwo ✓\r\nthree".encode()
    stream = chunked(body, iter(lambda: 3, None))
    got = decode(stream, tty=True, cuts=[5, 11])
    assert got == [Line(Stream.STDOUT, t) for t in ("one", "two ✓", "three")]


def test_a_prefix_names_the_source() -> None:
    split = Splitter(False, "web-1 | ")
    assert split.feed(frame(2, b"oops\n")) == [Line(Stream.STDERR, "web-1 | oops")]


def test_since_accepts_the_daemons_times() -> None:
    assert since_param("2026-11-22T19:31:00.123456789Z") == "1795375860.123456789"
    assert since_param("2026-11-22T19:31:00Z") == "1795375860.000000000"
    assert since_param(12.5) == "12.500000000"


# --- against the engine ------------------------------------------------------------------


@pytest.fixture(scope="module")
def printed(client: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A container that printed 1,000 lines, every 10th to stderr, and exited."""
    base = tmp_path_factory.mktemp("printer")
    tag = di.build(client, di.printer_context(base, 1000, stderr_every=10), "shipdeck-test/p:1k")
    container = client.containers.run(tag, detach=True, labels=di.LABELS)
    container.wait()
    return container


@pytest.fixture(scope="module")
def talker_image(client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    base = tmp_path_factory.mktemp("talker")
    return di.build(client, di.talker_context(base), "shipdeck-test/talker:1")


def lines_of(batches: Any) -> list[Line]:
    return [line for batch in batches for line in batch]


@pytest.mark.docker
@pytest.mark.slow
def test_tail_and_streams_kept_apart(client: Any, printed: Any) -> None:
    source = source_of(printed.attrs)
    everything = lines_of(container_logs(client.api, [source]))
    assert len(everything) == 1000
    errors = [t for s, t in everything if s is Stream.STDERR]
    assert len(errors) == 100 and all(int(t.split()[1]) % 10 == 0 for t in errors)
    outs = [int(t.split()[1]) for s, t in everything if s is Stream.STDOUT]
    assert sorted(outs) == [i for i in range(1, 1001) if i % 10]

    last = lines_of(container_logs(client.api, [source], tail=5))
    assert last == everything[-5:]  # the log's own order: awk buffers stdout, not stderr
    assert lines_of(container_logs(client.api, [source], tail=0)) == []

    stamped = lines_of(container_logs(client.api, [source], tail=1, timestamps=True))
    stamp, text = stamped[0].text.split(" ", 1)
    assert stamp.startswith("20") and stamp.endswith("Z") and text == everything[-1].text
    future = lines_of(container_logs(client.api, [source], since=time.time() + 3600))
    assert future == []


@pytest.mark.docker
@pytest.mark.slow
def test_a_tty_container_reads_the_same(client: Any, printed: Any) -> None:
    container = client.containers.run(printed.image.id, detach=True, tty=True, labels=di.LABELS)
    container.wait()
    source = source_of(client.api.inspect_container(container.id))
    assert source.tty
    got = lines_of(container_logs(client.api, [source]))
    assert len(got) == 1000 and all(s is Stream.STDOUT for s, _ in got)
    assert got[0].text.startswith("line 0000001") and not got[0].text.endswith("\r")


@pytest.mark.docker
@pytest.mark.slow
def test_follow_survives_a_restart(client: Any, talker_image: str) -> None:
    container = client.containers.run(
        talker_image, detach=True, name=f"talker-{time.time_ns()}", labels=di.LABELS
    )

    def resolve() -> list[LogSource]:
        container.reload()
        return [source_of(container.attrs)]

    cancel = CancelToken()
    seen: list[Line] = []
    lock = threading.Lock()

    def pump() -> None:
        for batch in container_logs(
            client.api, resolve(), follow=True, tail=0, cancel=cancel, resolve=resolve
        ):
            with lock:
                seen.extend(batch)

    def lines() -> list[Line]:
        with lock:
            return list(seen)

    def so_far() -> str:
        return f"a line; the lines so far: {lines()}"

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        wait_until(lambda: any(t.startswith("out ") for _, t in lines()), what=so_far)
        wait_until(
            lambda: any(st is Stream.STDERR and t.startswith("err ") for st, t in lines()),
            what=so_far,
        )
        container.restart(timeout=1)
        marker = f"--- reattached to {container.name} ({container.id[:12]}) ---"
        wait_until(lambda: Line(Stream.INFO, marker) in lines(), what=so_far)

        def counting_again() -> bool:  # the new run starts at 0: its lines come after the marker
            s = lines()
            return Line(Stream.STDOUT, "out 1") in s[s.index(Line(Stream.INFO, marker)) :]

        wait_until(counting_again, what=so_far)
        with lock:
            after = seen[seen.index(Line(Stream.INFO, marker)) + 1 :]
        before = seen[: seen.index(Line(Stream.INFO, marker))]
        assert Line(Stream.STDOUT, "out 0") not in before  # tail=0: no backlog
        assert after.count(Line(Stream.STDOUT, "out 1")) == 1  # the old run is not re-read
    finally:
        cancel.cancel()
        thread.join(5)
        container.remove(force=True)
    assert not thread.is_alive()


@pytest.mark.docker
@pytest.mark.slow
def test_replicas_merge_with_a_prefix(client: Any, talker_image: str) -> None:
    containers = [
        client.containers.run(
            talker_image, detach=True, name=f"rep{i}-{time.time_ns()}", labels=di.LABELS
        )
        for i in range(2)
    ]
    try:
        time.sleep(0.7)
        sources = [source_of(client.api.inspect_container(c.id)) for c in containers]
        cancel = CancelToken()
        seen: list[Line] = []
        for batch in container_logs(client.api, sources, follow=True, cancel=cancel):
            seen.extend(batch)
            names = {t.split(" | ")[0] for _, t in seen}
            if names == {c.name for c in containers}:
                cancel.cancel()
        assert all(" | " in t for _, t in seen)
        assert {t.split(" | ")[0] for _, t in seen} == {c.name for c in containers}
    finally:
        for c in containers:
            c.remove(force=True)


@pytest.mark.docker
@pytest.mark.slow
def test_cancel_unblocks_a_quiet_follow(client: Any, talker_image: str) -> None:
    container = client.containers.run(talker_image, ["sleep", "600"], detach=True, labels=di.LABELS)
    try:
        cancel = CancelToken()
        threading.Timer(0.5, cancel.cancel).start()
        source = source_of(client.api.inspect_container(container.id))
        followed = returns(
            lambda: lines_of(container_logs(client.api, [source], follow=True, cancel=cancel))
        )
        assert followed == []
        container.reload()
        assert container.status == "running"  # the cancel ended the follow, not the container
    finally:
        container.remove(force=True)


@pytest.mark.docker
@pytest.mark.slow
def test_a_vanished_container_is_a_clear_error(client: Any) -> None:
    ghost = LogSource("0" * 64, "ghost")
    with pytest.raises(TargetError, match="ghost is gone"):
        lines_of(container_logs(client.api, [ghost]))


def test_no_sources_and_no_follow_is_empty(tmp_path: Path) -> None:
    assert lines_of(container_logs(object(), [])) == []
