"""shipdeck: a terminal cockpit for one service's DevOps loop.

Installed, every part of shipdeck is inside this one import package
(``shipdeck.lifecycle``, ``shipdeck.backends``, ``shipdeck.widgets``,
``shipdeck.tui``, ``shipdeck.cli``, ``shipdeck.project``). In the repository those
folders stay at the top, where docs/architecture.md draws them; this folder holds
symbolic links to them, so Python, mypy, pytest and setuptools all see the same
single package without an import hook.
"""
