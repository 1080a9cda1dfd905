"""docs/architecture.md is the map a newcomer reads: every section the code cites
exists, and every file the page names is where it says."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"


def tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.split()


def test_every_cited_section_exists() -> None:
    sections = {int(n) for n in re.findall(r"^## (\d+)\. ", DOC.read_text(), re.M)}
    assert len(sections) >= 8
    cited: list[tuple[str, int]] = []
    for name in tracked():
        if not name.endswith((".py", ".md", ".tcss")):
            continue
        text = (ROOT / name).read_text(encoding="utf-8", errors="replace")
        cited += [(name, int(n)) for n in re.findall(r"architecture\.md section (\d+)", text)]
        assert "DESIGN.md" not in text or name == "tests/unit/test_docs.py", name
    assert cited, "expected the code to cite the design"
    assert [c for c in cited if c[1] not in sections] == []


def test_every_path_the_page_names_exists() -> None:
    text = DOC.read_text()
    tops = "lifecycle|backends|widgets|tui|cli|project|tests|scripts"
    named = set(re.findall(rf"`((?:{tops})/[\w/.]+)`", text))
    assert len(named) >= 15
    missing = [p for p in sorted(named) if not (ROOT / p).exists()]
    assert missing == []


def test_the_package_tree_lists_every_module() -> None:
    """The tree in section 1 names each module by its file name: a new module or a
    moved one shows up here until the page says where it is."""
    text = DOC.read_text()
    tree = text[text.index("lifecycle/            the domain core") :]
    tree = tree[: tree.index("```")]
    modules = [
        n
        for n in tracked()
        if n.endswith(".py")
        and n.split("/")[0] in {"lifecycle", "backends", "widgets", "tui", "cli", "project"}
        and not n.endswith("__init__.py")
    ]
    assert len(modules) > 60
    unnamed = [n for n in modules if Path(n).name not in tree]
    assert unnamed == []
