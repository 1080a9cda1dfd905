"""Merged output of a service's tasks: each source prefix keeps its colour."""

from __future__ import annotations


def test_each_task_of_a_service_keeps_one_colour_and_no_colour_without_a_terminal() -> None:
    from shipdeck.lifecycle.text import colour_source, source_colour

    first = colour_source("staging.1@swm-n1 | tick 1")
    assert first.startswith(f"\x1b[{source_colour('staging.1@swm-n1')[1]}mstaging.1@swm-n1")
    assert first.endswith("\x1b[0m | tick 1")
    assert colour_source("staging.1@swm-n1 | tick 2").split(" | ")[0] == first.split(" | ")[0]
    colours = {source_colour(f"staging.{i}@swm-n{i}")[0] for i in range(1, 4)}
    assert len(colours) >= 2  # three tasks are not all one colour
    assert colour_source("no prefix here | x") == "no prefix here | x"
