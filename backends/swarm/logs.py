"""A service's logs from every task on every node, each line prefixed ``task@node``.

The manager merges the tasks' output (``GET /services/{id}/logs``, as ``docker
service logs``); with ``details=1`` each line starts with the task and node ids,
which become ``web.2@swm-n3 | ``. The frames are decoded by the same block
reader as container logs (``backends.docker.stream``). Following, a stream the
manager ends (a leader change, a restarted manager) is opened again from the last
timestamp seen, so nothing is shown twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from shipdeck.backends.docker.logs import since_param
from shipdeck.backends.docker.stream import Splitter, body_blocks, open_stream
from shipdeck.lifecycle.ports import CancelToken, Line, Stream, TargetError

_REFRESH = 1.0  # seconds between two lookups of tasks the prefix does not know yet


class _Names:
    """Task id -> ``service.slot@node``, looked up again when a new task speaks."""

    def __init__(
        self,
        tasks: Callable[[], list[dict[str, Any]]],
        nodes: Callable[[], dict[str, str]],
        service: str,
    ) -> None:
        self._tasks, self._nodes, self._service = tasks, nodes, service
        self._known: dict[str, str] = {}
        self._looked = 0.0

    def of(self, task_id: str, node_id: str) -> str:
        name = self._known.get(task_id)
        if name is None and time.monotonic() - self._looked > _REFRESH:
            self._refresh()
            name = self._known.get(task_id)
        if name is None:
            name = f"{task_id[:10]}@{node_id[:10]}"
        return name

    def _refresh(self) -> None:
        self._looked = time.monotonic()
        try:
            nodes = self._nodes()
            for t in self._tasks():
                slot = t.get("Slot")
                task = f"{self._service}.{slot}" if slot is not None else t["ID"][:10]
                node = nodes.get(t.get("NodeID", ""), str(t.get("NodeID", ""))[:10])
                self._known[t["ID"]] = f"{task}@{node}"
        except TargetError:
            pass


def _split_details(text: str) -> tuple[dict[str, str], str]:
    """``k=v,k=v message`` -> ({k: v}, message)."""
    head, _, message = text.partition(" ")
    details = {}
    for pair in head.split(","):
        key, eq, value = pair.partition("=")
        if not eq:
            return {}, text  # no details: the line as it is
        details[key] = value
    return details, message


def service_logs(
    api: Any,
    service_id: str,
    *,
    follow: bool,
    tail: int | None,
    timestamps: bool,
    cancel: CancelToken,
    tasks: Callable[[], list[dict[str, Any]]],
    nodes: Callable[[], dict[str, str]],
    name: str = "",
) -> Iterator[list[Line]]:
    """Batches of prefixed lines, until the stream ends (or ``cancel``, following)."""
    names = _Names(tasks, nodes, name or service_id[:10])
    params = {
        "stdout": "1",
        "stderr": "1",
        "details": "1",
        "timestamps": "1",  # always: a reopened stream starts after the last one seen
        "follow": "1" if follow else "0",
        "tail": "all" if tail is None else str(max(0, tail)),
    }
    last: str | None = None  # the newest timestamp shown
    reopened: str | None = None  # lines up to this one were shown before the stream ended

    def lines(raw: list[Line]) -> list[Line]:
        nonlocal last
        batch = []
        for stream, text in raw:
            stamp, _, rest = text.partition(" ")
            if reopened is not None and stamp <= reopened:
                continue
            details, message = _split_details(rest)
            last = max(stamp, last or stamp)
            who = names.of(
                details.get("com.docker.swarm.task.id", ""),
                details.get("com.docker.swarm.node.id", ""),
            )
            shown = f"{who} | {message}"
            batch.append(Line(stream, f"{stamp} {shown}" if timestamps else shown))
        return batch

    while not cancel.cancelled:
        response = open_stream(api, "/services/{0}/logs", service_id, params, "service logs")
        split = Splitter(False)
        for data in body_blocks(response, cancel):
            batch = lines(split.feed(data))
            if batch and not cancel.cancelled:
                yield batch
        rest = lines(split.flush())
        if rest and not cancel.cancelled:
            yield rest
        if not follow or cancel.cancelled:
            return
        yield [Line(Stream.INFO, "--- the service's log stream ended; opening it again ---")]
        params = {**params, "tail": "all"}
        if last:
            params["since"] = since_param(last)
            reopened = last
        cancel.wait(0.5)
