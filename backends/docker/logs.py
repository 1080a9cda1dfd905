"""Container logs: tail, since, timestamps, follow across restarts, replicas merged.

The bytes are decoded by ``backends.docker.stream`` at the daemon's own speed.
``container_logs`` follows across a restart or a replacement: when a followed
stream ends it asks ``resolve`` for the environment's containers again, waits
for one that runs, and reattaches with a ``--- reattached to NAME (ID) ---``
marker, reading only the new run's lines. Several sources (replicas) are read
in threads and merged, each line prefixed with its source's name.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shipdeck.backends.docker.stream import Splitter, body_blocks, open_stream
from shipdeck.lifecycle.ports import CancelToken, Line, Stream, TargetError

_POLL = 0.25  # seconds between looks for the container to follow next


@dataclass(frozen=True)
class LogSource:
    """A container to read; ``started_at`` (the daemon's) lets a reattach skip old lines."""

    id: str
    name: str
    tty: bool = False
    running: bool = True
    started_at: str | None = None

    @property
    def short_id(self) -> str:
        return self.id[:12]


Resolver = Callable[[], Sequence[LogSource]]


def source_of(attrs: dict[str, Any]) -> LogSource:
    """A ``LogSource`` from a container's inspect data (``container.attrs``)."""
    state = attrs.get("State") or {}
    return LogSource(
        id=attrs["Id"],
        name=str(attrs.get("Name", "")).lstrip("/") or attrs["Id"][:12],
        tty=bool((attrs.get("Config") or {}).get("Tty")),
        running=bool(state.get("Running")),
        started_at=state.get("StartedAt") or None,
    )


def since_param(value: datetime | float | str) -> str:
    """The API's ``since`` (``seconds.nanoseconds``) from a datetime, epoch or RFC 3339 text."""
    if isinstance(value, datetime):
        micros = round(value.timestamp() * 1_000_000)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}000"
    if isinstance(value, int | float):
        return f"{value:.9f}"
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", value)
    if not m:
        return value  # already seconds[.nanos], or let the daemon say what is wrong
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    seconds = int(datetime.fromisoformat(m.group(1) + zone).timestamp())
    return f"{seconds}.{(m.group(2) or '').ljust(9, '0')[:9]}"


def _attach(
    api: Any, source: LogSource, params: dict[str, str], cancel: CancelToken, prefix: str
) -> Iterator[list[Line]]:
    """One logs request: batches until the stream ends or ``cancel`` is set."""
    response = open_stream(api, "/containers/{0}/logs", source.id, params, source.name)
    split = Splitter(source.tty, prefix)
    for data in body_blocks(response, cancel):
        batch = split.feed(data)
        if batch and not cancel.cancelled:
            yield batch
    rest = split.flush()
    if rest and not cancel.cancelled:
        yield rest


# --- follow, reattach and merge ---------------------------------------------------------


def _next_source(
    resolve: Resolver, old: LogSource, cancel: CancelToken, taken: Callable[[str], bool]
) -> Generator[list[Line], None, LogSource | None]:
    """Wait for a running container to follow after ``old``'s stream ended."""
    start = time.monotonic()
    said = False
    while not cancel.cancelled:
        try:
            found = [s for s in resolve() if s.running and not taken(s.id)]
        except TargetError:
            found = []  # the engine itself may be restarting: keep looking
        fresh = [s for s in found if (s.id, s.started_at) != (old.id, old.started_at)]
        fresh.sort(key=lambda s: s.id != old.id)  # the same container, restarted, first
        waited = time.monotonic() - start
        if fresh:
            return fresh[0]
        if waited > 2 and found:
            return found[0]  # still the same run: the stream broke, not the container
        if waited > 2 and not said:
            said = True
            yield [Line(Stream.INFO, f"--- {old.name} stopped; waiting for it to run again ---")]
        cancel.wait(_POLL)
    return None


def _follow(
    api: Any,
    source: LogSource | None,
    params: dict[str, str],
    cancel: CancelToken,
    resolve: Resolver | None,
    prefix: bool,
    taken: Callable[[str], bool] = lambda _id: False,
    claim: Callable[[str | None, str], None] = lambda _old, _new: None,
) -> Iterator[list[Line]]:
    """One source's output, then (following) each container that takes its place."""
    placeholder = LogSource("", "container", running=False)
    if source is None:  # nothing runs yet: wait for the first container
        if resolve is None:
            return
        source = yield from _next_source(resolve, placeholder, cancel, taken)
        if source is None:
            return
        claim(None, source.id)
        params = {**params, "tail": "all"}
    while True:
        yield from _attach(api, source, params, cancel, f"{source.name} | " if prefix else "")
        if params.get("follow") != "1" or resolve is None or cancel.cancelled:
            return
        nxt = yield from _next_source(resolve, source, cancel, taken)
        if nxt is None:
            return
        claim(source.id, nxt.id)
        yield [Line(Stream.INFO, f"--- reattached to {nxt.name} ({nxt.short_id}) ---")]
        params = {k: v for k, v in params.items() if k != "since"} | {"tail": "all"}
        if nxt.id == source.id and nxt.started_at == source.started_at:
            params["tail"] = "0"  # the same run: its backlog was read already
        elif nxt.id == source.id and nxt.started_at:
            params["since"] = since_param(nxt.started_at)  # restarted: only the new run
        source = nxt


def container_logs(
    api: Any,
    sources: Sequence[LogSource],
    *,
    follow: bool = False,
    tail: int | None = None,
    since: datetime | float | str | None = None,
    timestamps: bool = False,
    cancel: CancelToken | None = None,
    resolve: Resolver | None = None,
    prefix: bool | None = None,
) -> Iterator[list[Line]]:
    """The output of ``sources`` in batches; ``api`` is a ``docker.APIClient``.

    ``tail`` None means all; ``follow`` with ``resolve`` keeps going across
    restarts and replacements (and waits for a first container when ``sources``
    is empty). ``prefix`` (default: more than one source) puts ``name | `` first.
    """
    cancel = cancel or CancelToken()
    params = {
        "stdout": "1",
        "stderr": "1",
        "follow": "1" if follow else "0",
        "timestamps": "1" if timestamps else "0",
        "tail": "all" if tail is None else str(max(0, tail)),
    }
    if since is not None:
        params["since"] = since_param(since)
    many = len(sources) > 1
    if prefix is None:
        prefix = many
    if not many:
        first = sources[0] if sources else None
        if first is None and not (follow and resolve):
            return
        yield from _follow(api, first, params, cancel, resolve if follow else None, prefix)
        return
    yield from _merge(api, list(sources), params, cancel, resolve if follow else None, prefix)


def _merge(
    api: Any,
    sources: list[LogSource],
    params: dict[str, str],
    cancel: CancelToken,
    resolve: Resolver | None,
    prefix: bool,
) -> Iterator[list[Line]]:
    """Read each source in a thread; batches arrive here as they come, each source in order."""
    local = CancelToken()
    undo = cancel.on_cancel(local.cancel)
    out: queue.Queue[list[Line] | None] = queue.Queue(maxsize=64)
    lock = threading.Lock()
    following = {s.id for s in sources}

    def taken(cid: str) -> bool:
        with lock:
            return cid in following

    def claim(old: str | None, new: str) -> None:
        with lock:
            following.discard(old or "")
            following.add(new)

    def put(item: list[Line] | None) -> bool:
        while not local.cancelled:
            try:
                out.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def pump(source: LogSource) -> None:
        try:
            for batch in _follow(api, source, params, local, resolve, prefix, taken, claim):
                if not put(batch):
                    return
        except TargetError as exc:
            put([Line(Stream.INFO, f"--- {source.name}: {exc} ---")])
        finally:
            put(None)

    threads = [
        threading.Thread(target=pump, args=(s,), name=f"shipdeck-logs-{s.name}", daemon=True)
        for s in sources
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running and not cancel.cancelled:
            try:
                item = out.get(timeout=_POLL)
            except queue.Empty:
                continue
            if item is None:
                running -= 1
            else:
                yield item
    finally:
        local.cancel()
        undo()
        for thread in threads:
            thread.join(timeout=2)
