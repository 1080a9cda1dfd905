"""httpx and httpcore, imported without httpx's command-line client.

httpx's package imports its ``httpx`` command whenever ``click`` is installed (it is
in many project environments, and in shipdeck's own test extras): click, pygments
and five rich modules, 70-100 ms of every process that probes a service or sends a
webhook, for a command shipdeck never runs. A placeholder stands in for
``httpx._main`` when httpx is not loaded yet; everything else of httpx is as shipped.
"""

from __future__ import annotations

import sys
import types


def _no_command() -> None:
    raise SystemExit("httpx's command line is not loaded inside shipdeck")


if "httpx" not in sys.modules:
    _command = types.ModuleType("httpx._main", "httpx's command line, left out (see shipdeck)")
    vars(_command)["main"] = _no_command
    sys.modules.setdefault("httpx._main", _command)

import httpcore  # noqa: E402
import httpx  # noqa: E402

__all__ = ["httpcore", "httpx"]
