"""The board's property test (tests/tui/test_board_property.py), run longer.

Run ``python benchmarks/board_property.py`` (2,000 cases) or ``--cases N``; prints
one JSON object: ``cases`` run, ``failures`` (cases that raised or broke a frame
check; the run goes on past them, unlike pytest, so this counts them), ``seconds``
of wall time, ``per_case_ms``, ``seed``, and the first few failures (the case as
the test prints it, and the error's first line). Each case is a fresh app on its
own generated board, size, theme, NO_COLOR setting and keys, as in the test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=None, help="a fixed seed (default: random)")
    parser.add_argument("--keep", type=int, default=5, help="failures to describe")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="board-property-") as tmp:
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")  # the theme is saved there
        print(json.dumps(run(Path(tmp), args.cases, args.seed, args.keep), indent=2))


def run(tmp: Path, cases: int, seed: int | None, keep: int) -> dict[str, Any]:
    from hypothesis import Phase, given, settings
    from hypothesis import seed as fixed_seed

    from tests.tui.static_board import build
    from tests.tui.test_board_property import CASES, SUPPRESSED, Case, play

    root = build(tmp / "hello")
    ran = 0
    failed: list[dict[str, str]] = []
    failures = 0

    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # no shrinking: every case counts once
        suppress_health_check=SUPPRESSED,
    )
    @given(case=CASES)
    def each(case: Case) -> None:
        nonlocal ran, failures
        ran += 1
        try:
            asyncio.run(play(root, case))
        except Exception as exc:  # noqa: BLE001 - counted and described, the run goes on
            failures += 1
            if len(failed) < keep:
                failed.append(describe(case, exc))

    seed = seed if seed is not None else int.from_bytes(os.urandom(4), "big")
    test = fixed_seed(seed)(each)
    start = time.monotonic()
    test()
    seconds = time.monotonic() - start
    return {
        "cases": ran,
        "failures": failures,
        "seconds": round(seconds, 1),
        "per_case_ms": round(1000 * seconds / max(1, ran)),
        "seed": seed,
        "first_failures": failed,
    }


def describe(case: object, exc: BaseException) -> dict[str, str]:
    """The case as the test prints it, the error, and the deepest frame of shipdeck's."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f"{ROOT}/" in f.filename and "/.venv/" not in f.filename]
    where = (ours or frames)[-1]
    path = Path(where.filename).relative_to(ROOT) if ours else where.filename
    first_line = (str(exc).splitlines() or [""])[0][:300]
    return {
        "case": repr(case),
        "error": f"{type(exc).__name__}: {first_line}",
        "at": f"{path}:{where.lineno}",
    }


if __name__ == "__main__":
    main()
