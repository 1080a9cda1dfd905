"""The config reference in the README is a config shipdeck accepts."""

from __future__ import annotations

import re
from pathlib import Path

from shipdeck.lifecycle.config.schema import parse_config

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_config_reference_is_valid() -> None:
    # The reference is the first yaml block of the "shipdeck.yaml" section (other
    # sections show other YAML, such as a CI workflow).
    section = README.read_text().split("\n## shipdeck.yaml\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    assert blocks, "the README's shipdeck.yaml section has no yaml block"
    config = parse_config(blocks[0], "README.md")
    assert set(config.environments) == {"staging", "production", "cluster"}
    assert config.environments["production"].target == "docker"
    cluster = config.environments["cluster"]
    assert cluster.target == "swarm" and cluster.autoscale is not None
    assert cluster.resources is not None and cluster.resources.memory == 256 << 20
    assert config.secret_names() == {"API_TOKEN"}
