"""``shipdeck schema``: the JSON Schema of shipdeck.yaml, from the config's own model
(lifecycle/config/schema.py), so the schema and the validation never disagree."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from shipdeck.project.errors import EXIT_OK

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def config_schema() -> dict[str, Any]:
    """The JSON Schema of shipdeck.yaml (pydantic's, draft 2020-12), with a title and
    a description for editors."""
    from shipdeck.lifecycle.config.schema import Config

    schema = Config.model_json_schema()
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "shipdeck.yaml",
        **{k: v for k, v in schema.items() if k != "title"},
        "description": schema.get("description") or "A whole shipdeck.yaml.",
    }


def schema(_args: argparse.Namespace) -> int:
    sys.stdout.write(json.dumps(config_schema(), indent=2) + "\n")
    return EXIT_OK
