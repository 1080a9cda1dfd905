"""Shared fixtures. Tests never depend on the developer's own git identity."""

from __future__ import annotations

import os

for _key, _value in (
    ("GIT_AUTHOR_NAME", "shipdeck tests"),
    ("GIT_AUTHOR_EMAIL", "tests@shipdeck.invalid"),
    ("GIT_COMMITTER_NAME", "shipdeck tests"),
    ("GIT_COMMITTER_EMAIL", "tests@shipdeck.invalid"),
):
    os.environ.setdefault(_key, _value)
