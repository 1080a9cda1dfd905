"""What travels from a writer to the log pane's ring: lines packed into batches.

A batch is packed when it is written (any thread): texts in a list, one kind byte per
line. The caller's ``Line`` tuples are then free to go, instead of waiting a frame
in the inbox where the garbage collector would have to track every one of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter

from shipdeck.lifecycle.lines import Line, Stream

STDOUT, STDERR, INFO, MARKER = 0, 1, 2, 3  # a line's kind
STREAMS = (Stream.STDOUT, Stream.STDERR, Stream.INFO, Stream.INFO)
_KIND = {Stream.STDOUT: STDOUT, Stream.STDERR: STDERR, Stream.INFO: INFO}
_stream_of = itemgetter(0)
_text_of = itemgetter(1)


class Marker(Line):
    """A line drawn as a labelled rule, e.g. where a new release's output starts.

    Only recognised alone in its batch (``LogView.add_marker`` does that).
    """

    __slots__ = ()


def make_marker(text: str) -> Marker:
    return Marker(Stream.INFO, text)


@dataclass(frozen=True)
class LogStatus:
    """What a status line shows about a log view; one value, so one watcher."""

    following: bool = True
    new_since_pause: int = 0
    lines: int = 0  # in memory
    total: int = 0  # arrived since the last clear
    search: str = ""
    search_matches: int = 0
    filter: str = ""
    filter_matches: int = 0
    note: str = ""  # e.g. "not a regex ...; searched literally"
    wrap: bool = False
    timestamps: bool = False
    json: bool = False  # JSON lines pretty-printed
    searching: float | None = None  # how much of the run log the search has read so far
    filtering: float | None = None  # ... and the filter


Batch = tuple[float, list[str], bytes]  # arrival time, texts, one kind byte per line


def pack(lines: Sequence[Line]) -> tuple[list[str], bytes]:
    """Lines as the ring stores them: their texts, and a byte per line for its kind.

    Done when a batch is written, so the caller's ``Line`` tuples (which the garbage
    collector must track) are not kept while the batch waits for the next frame.
    """
    if len(lines) == 1 and type(lines[0]) is Marker:
        return [lines[0].text], bytes((MARKER,))
    texts = list(map(_text_of, lines))
    try:
        return texts, bytes(map(_KIND.__getitem__, map(_stream_of, lines)))
    except KeyError:  # not a Stream: show it as stdout
        return texts, bytes(_KIND.get(line.stream, STDOUT) for line in lines)


class Inbox:
    """Batches written since the last frame, oldest first.

    ``put`` is safe from any thread (deque appends are atomic); the rest is called
    by the UI thread only, which is also the only one taking from the left.
    """

    def __init__(self) -> None:
        self._batches: deque[Batch] = deque()

    def __bool__(self) -> bool:
        return bool(self._batches)

    def put(self, lines: Sequence[Line], when: float) -> None:
        self._batches.append((when, *pack(lines)))

    def clear(self) -> None:
        self._batches.clear()

    def skip_beyond(self, keep: int) -> int:
        """Drop all but the newest ``keep`` queued lines; returns how many were dropped."""
        batches = self._batches
        excess = sum(len(texts) for _, texts, _ in list(batches)) - keep
        skipped = 0
        while excess > 0 and batches:
            when, texts, kinds = batches[0]
            if len(texts) <= excess:
                batches.popleft()
            else:
                batches[0] = (when, texts[excess:], kinds[excess:])
            cut = min(len(texts), excess)
            skipped += cut
            excess -= cut
        return skipped

    def take(self, limit: int) -> list[Batch]:
        """Up to ``limit`` queued lines, oldest first, so one frame's work stays short."""
        batches = self._batches
        taken: list[Batch] = []
        while batches and limit > 0:
            when, texts, kinds = batches.popleft()
            if len(texts) > limit:
                batches.appendleft((when, texts[limit:], kinds[limit:]))
                texts, kinds = texts[:limit], kinds[:limit]
            taken.append((when, texts, kinds))
            limit -= len(texts)
        return taken
