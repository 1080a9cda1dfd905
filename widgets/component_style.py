"""A component class's style as a widget paints it by hand (Line API, cached strips).

``get_component_rich_style(name, partial=True)`` keeps only what the class sets, but
leaves ``$text``-style colours (``auto 87%``, with alpha) unresolved: painted as is,
they came out white on a light theme. The full style has them blended over the
background; the partial one says which of them the class set.
"""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget


def component_style(widget: Widget, name: str) -> Style:
    """What component class ``name`` sets on ``widget``, its colours resolved."""
    partial = widget.get_component_rich_style(name, partial=True)
    full = widget.get_component_rich_style(name)
    colors = Style.from_color(
        full.color if partial.color else None, full.bgcolor if partial.bgcolor else None
    )
    return partial + colors
