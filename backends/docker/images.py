"""Image builds, pushes and one-off container runs (``docker_build`` / ``docker_run`` steps).

``DockerImages`` implements ``lifecycle.ports.ImageBuilder`` and ``ContainerRunner``:

- ``build``: the low-level build API, its JSON stream turned into lines as they
  come: step headers as INFO, the steps' output as STDOUT, errors as STDERR. A
  failing step fails the build with that step named.
- ``push``: tags and pushes, aggregating the per-layer progress events into one
  summary line every half second (a push of ten layers sends thousands); the
  registry's own message when it refuses; the pushed digest returned.
- ``run_once``: runs an image once, streams its output, returns its exit code;
  the container is removed afterwards, also on cancel or timeout.

Cancel closes the streaming response (found through a requests hook, since the
SDK keeps it inside its generator), which ends the daemon's work on it.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import docker
import docker.errors
import requests

from shipdeck.backends.docker.engine import (
    CONNECTION_ERRORS,
    LABEL_MANAGED,
    EngineSession,
    api_error,
    unreachable,
)
from shipdeck.backends.docker.logs import container_logs, source_of
from shipdeck.backends.docker.stream import abort
from shipdeck.lifecycle.ports import (
    BuiltImage,
    CancelToken,
    Line,
    OutputSink,
    PushedImage,
    StepResult,
    Stream,
    TargetError,
)

PROGRESS_EVERY = 0.5  # seconds between push summary lines
_CHATTER = re.compile(r" ---> |Removing intermediate container |Successfully (built|tagged) ")

_caught = threading.local()


def _catch(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    slot = getattr(_caught, "slot", None)
    if slot is not None:
        slot.append(response)
    return response


@contextlib.contextmanager
def _cancellable(api: Any, cancel: CancelToken) -> Iterator[None]:
    """Abort this thread's streaming responses made inside the block when ``cancel`` is set."""
    if _catch not in api.hooks["response"]:
        api.hooks["response"].append(_catch)
    slot: list[requests.Response] = []
    _caught.slot = slot

    def stop() -> None:
        for response in list(slot):
            abort(response)

    undo = cancel.on_cancel(stop)
    try:
        yield
    finally:
        undo()
        _caught.slot = None


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


class _Lines:
    """The builder's ``stream`` texts to lines: pieces joined, stderr told apart.

    The classic builder wraps a step's stderr in red (``ESC[91m`` ... ``ESC[0m``),
    the reset often arriving with the next piece; that colour is the only sign.
    """

    RED, RESET = "\x1b[91m", "\x1b[0m"

    def __init__(self) -> None:
        self.red = False
        self.held = {Stream.STDOUT: "", Stream.STDERR: ""}

    def split(self, text: str) -> list[tuple[Stream, str]]:
        out: list[tuple[Stream, str]] = []
        pos = 0
        while pos <= len(text):
            marker = self.RESET if self.red else self.RED
            end = text.find(marker, pos)
            piece = text[pos:] if end < 0 else text[pos:end]
            stream = Stream.STDERR if self.red else Stream.STDOUT
            *whole, self.held[stream] = (self.held[stream] + piece.replace(self.RESET, "")).split(
                "\n"
            )
            out += [(stream, w.rstrip("\r")) for w in whole]
            if end < 0:
                break
            pos, self.red = end + len(marker), not self.red
        return out

    def rest(self) -> list[Line]:
        return [Line(s, t) for s, t in self.held.items() if t.strip()]


def _where(step: str) -> str:
    """`` at step 4/6 (RUN make)`` from the builder's last step header."""
    number, _, instruction = step.removeprefix("Step ").partition(" : ")
    if not instruction:
        return ""
    short = instruction if len(instruction) <= 60 else instruction[:57] + "..."
    return f" at step {number} ({short})"


def build_image(
    api: Any,
    context: str,
    *,
    dockerfile: str = "Dockerfile",
    tags: Sequence[str] = (),
    buildargs: Mapping[str, str] | None = None,
    target: str | None = None,
    labels: Mapping[str, str] | None = None,
    sink: OutputSink,
    cancel: CancelToken,
) -> BuiltImage:
    """Build ``context``, streaming its output; a TargetError names the failing step."""
    step = ""
    image_id = ""
    pieces = _Lines()
    with _cancellable(api, cancel):
        try:
            events = api.build(
                path=context,
                dockerfile=dockerfile,
                tag=tags[0] if tags else None,
                buildargs=dict(buildargs or {}),
                target=target,
                labels={LABEL_MANAGED: "true", **(labels or {})},
                rm=True,
                forcerm=True,
                decode=True,
            )
            for event in events:
                batch: list[Line] = []
                if "stream" in event:
                    for stream, text in pieces.split(str(event["stream"])):
                        if text.startswith("Step ") and " : " in text:
                            step = text
                            batch.append(Line(Stream.INFO, text))
                        elif _CHATTER.match(text):  # the builder's own, not the step's output
                            if text.strip() != "--->":
                                batch.append(Line(Stream.INFO, text))
                        elif text.strip():
                            batch.append(Line(stream, text))
                elif "error" in event or "errorDetail" in event:
                    message = (event.get("errorDetail") or {}).get("message") or event["error"]
                    sink([Line(Stream.STDERR, str(message).rstrip())])
                    where = _where(step)
                    raise TargetError(f"image build failed{where}: {str(message).strip()}")
                elif "aux" in event and isinstance(event["aux"], dict):
                    image_id = event["aux"].get("ID", image_id)
                elif event.get("status"):
                    batch.append(Line(Stream.INFO, str(event["status"])))
                if batch:
                    sink(batch)
        except docker.errors.APIError as exc:
            raise TargetError(f"image build failed: {api_error(exc)}") from None
        except (requests.RequestException, OSError) as exc:
            cancel.raise_if_cancelled()
            raise TargetError(f"image build failed: {unreachable(api, exc)}") from None
        except TypeError as exc:  # the SDK's way of saying the context is missing
            raise TargetError(f"image build failed: {exc}") from None
    cancel.raise_if_cancelled()
    if rest := pieces.rest():
        sink(rest)
    if not image_id:
        raise TargetError("image build ended without an image id")
    for extra in tags[1:]:
        repo, _, tag = extra.rpartition(":") if ":" in extra.split("/")[-1] else (extra, "", "")
        api.tag(image_id, repo, tag or None)
    size = api.inspect_image(image_id).get("Size")
    sink([Line(Stream.INFO, f"built {image_id[7:19]} ({_mb(size or 0)}) {' '.join(tags)}")])
    return BuiltImage(image_id, tuple(tags), size)


def tag_image(api: Any, image: str, reference: str) -> tuple[str, str]:
    """Tag ``image`` as ``reference``; (repository, tag), TargetError naming both if not."""
    repo, tag = docker.utils.parse_repository_tag(reference)
    tag = tag or "latest"
    try:
        api.tag(image, repo, tag)
    except docker.errors.APIError as exc:
        raise TargetError(f"cannot tag {image} as {repo}:{tag}: {api_error(exc)}") from None
    except CONNECTION_ERRORS as exc:
        raise TargetError(unreachable(api, exc)) from None
    return repo, tag


def push_image(
    api: Any, image: str, reference: str, *, sink: OutputSink, cancel: CancelToken
) -> PushedImage:
    """Tag ``image`` as ``reference`` and push it, summarising layer progress twice a second."""
    repo, tag = tag_image(api, image, reference)
    layers: dict[str, tuple[str, int, int]] = {}  # id -> (status, current, total)
    digest = ""
    last = 0.0

    def summary() -> Line:
        done = sum(1 for s, _, _ in layers.values() if s in _DONE or s.startswith("Mounted"))
        sent = sum(c for s, c, _ in layers.values() if s == "Pushing")
        total = sum(t for s, _, t in layers.values() if s == "Pushing")
        moving = f", {_mb(sent)} of {_mb(total)}" if total else ""
        return Line(Stream.INFO, f"pushing {repo}:{tag}: {done}/{len(layers)} layers{moving}")

    sink([Line(Stream.INFO, f"pushing {repo}:{tag}")])
    with _cancellable(api, cancel):
        try:
            for event in api.push(repo, tag=tag, stream=True, decode=True):
                if "error" in event or "errorDetail" in event:
                    message = (event.get("errorDetail") or {}).get("message") or event["error"]
                    sink([Line(Stream.STDERR, str(message))])
                    raise TargetError(f"push of {repo}:{tag} refused: {message}")
                aux = event.get("aux")
                if isinstance(aux, dict) and aux.get("Digest"):
                    digest = str(aux["Digest"])
                status = str(event.get("status", ""))
                if "id" in event and status not in ("", "Preparing", "Waiting"):
                    detail = event.get("progressDetail") or {}
                    layers[event["id"]] = (
                        status,
                        int(detail.get("current") or 0),
                        int(detail.get("total") or 0),
                    )
                elif "id" in event:
                    layers.setdefault(event["id"], (status, 0, 0))
                elif status and "digest:" not in status:
                    sink([Line(Stream.INFO, status)])
                now = time.monotonic()
                if layers and now - last >= PROGRESS_EVERY:
                    last = now
                    sink([summary()])
        except docker.errors.APIError as exc:
            raise TargetError(f"push of {repo}:{tag} failed: {api_error(exc)}") from None
        except (requests.RequestException, OSError) as exc:
            cancel.raise_if_cancelled()
            raise TargetError(f"push of {repo}:{tag} failed: {unreachable(api, exc)}") from None
    cancel.raise_if_cancelled()
    if not digest:
        raise TargetError(f"push of {repo}:{tag} ended without a digest")
    sink([summary(), Line(Stream.INFO, f"pushed {repo}:{tag} as {digest}")])
    return PushedImage(f"{repo}:{tag}", digest)


_DONE = ("Pushed", "Layer already exists")


def run_once(
    client: docker.DockerClient,
    image: str,
    command: str | Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    sink: OutputSink,
    cancel: CancelToken,
    timeout: float | None = None,
    labels: Mapping[str, str] | None = None,
) -> StepResult:
    """Run ``image`` to completion; its exit code decides. Removed afterwards, whatever happens."""
    start = time.monotonic()
    try:
        container = client.containers.create(
            image,
            command=command if command else None,
            environment=dict(env or {}),
            labels={LABEL_MANAGED: "true", "shipdeck.run": "once", **(labels or {})},
            detach=True,
        )
    except docker.errors.ImageNotFound:
        return StepResult(None, time.monotonic() - start, error=f"image {image} not found")
    except docker.errors.APIError as exc:
        return StepResult(None, time.monotonic() - start, error=api_error(exc))
    timed_out = threading.Event()

    def kill() -> None:
        with contextlib.suppress(docker.errors.APIError, requests.RequestException):
            container.kill()

    def expire() -> None:
        timed_out.set()
        kill()

    timer = threading.Timer(timeout, expire) if timeout else None
    undo = cancel.on_cancel(kill)
    try:
        container.start()
        if timer:
            timer.daemon = True
            timer.start()
        source = source_of(client.api.inspect_container(container.id))
        for batch in container_logs(client.api, [source], follow=True, cancel=cancel):
            sink(batch)
        code = int(container.wait().get("StatusCode", -1))
    except docker.errors.APIError as exc:
        return StepResult(None, time.monotonic() - start, error=api_error(exc))
    finally:
        undo()
        if timer:
            timer.cancel()
        with contextlib.suppress(docker.errors.APIError, requests.RequestException):
            container.remove(force=True)
    duration = time.monotonic() - start
    return StepResult(code, duration, timed_out=timed_out.is_set(), cancelled=cancel.cancelled)


class DockerImages:
    """``ImageBuilder`` and ``ContainerRunner`` on one engine, connected on first use."""

    def __init__(
        self,
        host: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        self._engine = EngineSession(host, environ, client)
        self.host = self._engine.address

    def client(self) -> docker.DockerClient:
        return self._engine.client()

    def build(
        self,
        context: str,
        *,
        dockerfile: str = "Dockerfile",
        tags: Sequence[str] = (),
        buildargs: Mapping[str, str] | None = None,
        target: str | None = None,
        labels: Mapping[str, str] | None = None,
        sink: OutputSink,
        cancel: CancelToken,
    ) -> BuiltImage:
        return build_image(
            self.client().api,
            context,
            dockerfile=dockerfile,
            tags=tags,
            buildargs=buildargs,
            target=target,
            labels=labels,
            sink=sink,
            cancel=cancel,
        )

    def push(
        self, image: str, reference: str, *, sink: OutputSink, cancel: CancelToken
    ) -> PushedImage:
        return push_image(self.client().api, image, reference, sink=sink, cancel=cancel)

    def tag(self, image: str, reference: str) -> None:
        tag_image(self.client().api, image, reference)

    def run_once(
        self,
        image: str,
        command: str | Sequence[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        sink: OutputSink,
        cancel: CancelToken,
        timeout: float | None = None,
    ) -> StepResult:
        return run_once(
            self.client(), image, command, env=env, sink=sink, cancel=cancel, timeout=timeout
        )
