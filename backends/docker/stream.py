"""The daemon's HTTP streams (logs, stats) read in large blocks and decoded here.

The daemon flushes one HTTP chunk per log line, a chunk holding one 8-byte
multiplexed frame, and the SDK reads them the same way: a header, then a body,
through urllib3, per line; for a TTY container even byte by byte. Here the
response's socket buffer is read 64 KiB at a time and the chunked transfer
encoding, the frames and the lines are split in a few passes over each block,
so Python keeps up with the daemon instead of trailing it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any

import docker.errors
import requests

from shipdeck.lifecycle.ports import CancelToken, Line, Stream, TargetError

CHUNK = 1 << 16
_MAX_LINE = 1 << 20  # a "line" without a newline is cut here so memory stays bounded
_HEADER = struct.Struct(">BxxxL")
_STREAMS = (Stream.STDOUT, Stream.STDOUT, Stream.STDERR, Stream.STDERR)  # stdin, out, err, sys


# --- decoding ----------------------------------------------------------------------


class Dechunker:
    """HTTP/1.1 chunked decoding over large reads; ``done`` after the last chunk."""

    __slots__ = ("_buf", "_left", "done")

    def __init__(self) -> None:
        self._buf = b""
        self._left = 0  # > 0: body bytes to come; < 0: CRLF bytes to skip; 0: a size line
        self.done = False

    def feed(self, data: bytes) -> bytes:
        buf = self._buf + data if self._buf else data
        n, pos, left = len(buf), 0, self._left
        out: list[bytes] = []
        while pos < n:
            if left > 0:
                end = pos + left
                if end <= n:
                    out.append(buf[pos:end])
                    pos, left = end, -2
                else:
                    out.append(buf[pos:])
                    left -= n - pos
                    pos = n
            elif left < 0:
                skip = min(-left, n - pos)
                pos, left = pos + skip, left + skip
            else:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    if n - pos > 4096:
                        raise TargetError("the Docker engine sent a malformed log stream")
                    break
                try:
                    size = int(buf[pos:eol].split(b";", 1)[0], 16)
                except ValueError:
                    raise TargetError("the Docker engine sent a malformed log stream") from None
                pos = eol + 2
                if size == 0:
                    self.done, pos = True, n
                    break
                end = pos + size
                if end + 2 <= n:
                    out.append(buf[pos:end])
                    pos = end + 2
                else:
                    left = size
        self._buf = buf[pos:] if pos < n else b""
        self._left = left
        return out[0] if len(out) == 1 else b"".join(out)


class Splitter:
    """Frames (or raw TTY bytes) to ``Line`` batches, keeping partial lines per stream."""

    def __init__(self, tty: bool, prefix: str = "") -> None:
        self.raw = tty  # no frame headers: everything is stdout
        self.prefix = prefix
        self._frame = b""  # an incomplete frame carried to the next block
        self._partial: dict[Stream, bytes] = {Stream.STDOUT: b"", Stream.STDERR: b""}

    def feed(self, data: bytes) -> list[Line]:
        if self.raw:
            return self._lines(Stream.STDOUT, data) if data else []
        buf = self._frame + data if self._frame else data
        n, pos = len(buf), 0
        batch: list[Line] = []
        unpack = _HEADER.unpack_from
        current: Stream | None = None
        parts: list[bytes] = []
        while pos + 8 <= n:
            kind, size = unpack(buf, pos)
            if kind > 3:  # not a frame header: the container is a TTY after all
                self.raw = True
                if parts and current is not None:
                    batch += self._lines(current, b"".join(parts))
                return batch + self._lines(Stream.STDOUT, buf[pos:])
            end = pos + 8 + size
            if end > n:
                break
            stream = _STREAMS[kind]
            if stream is not current:
                if parts and current is not None:
                    batch += self._lines(current, b"".join(parts))
                current, parts = stream, []
            parts.append(buf[pos + 8 : end])
            pos = end
        if parts and current is not None:
            batch += self._lines(current, parts[0] if len(parts) == 1 else b"".join(parts))
        self._frame = buf[pos:] if pos < n else b""
        return batch

    def _lines(self, stream: Stream, data: bytes) -> list[Line]:
        held = self._partial[stream]
        if held:
            data = held + data
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) < _MAX_LINE:
                self._partial[stream] = data
                return []
            cut = len(data)
        self._partial[stream] = data[cut + 1 :]
        end = cut - 1 if cut and data[cut - 1] == 13 else cut  # CRLF, as a TTY writes
        text = data[:end].decode("utf-8", "replace")
        if "\r\n" in text:
            text = text.replace("\r\n", "\n")
        prefix = self.prefix
        if prefix:
            return [Line(stream, prefix + t) for t in text.split("\n")]
        return [Line(stream, t) for t in text.split("\n")]

    def flush(self) -> list[Line]:
        """The last line of each stream when the output did not end with a newline."""
        out = []
        for stream, held in self._partial.items():
            if held:
                text = held.decode("utf-8", "replace").removesuffix("\r")
                out.append(Line(stream, self.prefix + text))
                self._partial[stream] = b""
        return out


# --- reading --------------------------------------------------------------------------


def open_stream(api: Any, path: str, ref: str, params: dict[str, str], what: str) -> Any:
    """GET a streaming endpoint (``/containers/{0}/logs``) with no read timeout."""
    try:
        response = api._get(api._url(path, ref), params=params, stream=True, timeout=None)
        api._raise_for_status(response)
    except docker.errors.NotFound:
        raise TargetError(f"container {what} is gone") from None
    except docker.errors.APIError as exc:
        raise TargetError(f"{what}: {exc.explanation or exc}") from None
    except requests.exceptions.RequestException as exc:
        raise TargetError(f"cannot reach the Docker engine for {what}: {exc}") from None
    return response


def abort(response: Any) -> None:
    """Unblock a read in another thread: shut the socket down (closing it would not)."""
    raw = getattr(getattr(getattr(response.raw, "_fp", None), "fp", None), "raw", None)
    sock = getattr(raw, "_sock", raw)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    else:
        with contextlib.suppress(Exception):
            response.close()


def _reader(response: Any) -> tuple[Callable[[int], bytes], Dechunker | None]:
    """A block reader on the socket buffer itself; chunked decoding is then ours.

    ``read1`` returns what has arrived (up to 64 KiB) without waiting for more,
    so a followed stream shows each line at once; a blocking ``read`` would also
    hang after the last chunk, since the daemon keeps the connection open.
    """
    http = getattr(response.raw, "_fp", None)
    fp = getattr(http, "fp", None)
    if getattr(http, "chunked", False) and hasattr(fp, "read1"):
        return fp.read1, Dechunker()  # type: ignore[union-attr]
    if hasattr(http, "read1"):
        return http.read1, None  # type: ignore[union-attr]  # Content-Length: http.client bounds it
    return response.raw.read, None


def body_blocks(response: Any, cancel: CancelToken) -> Iterator[bytes]:
    """The response body in large blocks until it ends or ``cancel`` is set; then closed."""
    undo = cancel.on_cancel(lambda: abort(response))
    try:
        read, dechunk = _reader(response)
        while not cancel.cancelled:
            try:
                data = read(CHUNK)
            except (OSError, ValueError, AttributeError):
                break  # aborted by cancel, or the connection dropped
            if not data:
                break
            if dechunk is None:
                yield data
                continue
            data = dechunk.feed(data)
            if data:
                yield data
            if dechunk.done:
                break
    finally:
        undo()
        with contextlib.suppress(Exception):
            response.close()
