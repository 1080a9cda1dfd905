"""``shipdeck demo`` with a Docker engine: the same service gains a container environment,
built from the demo's Dockerfile on a base image given as a parameter, and an item goes
from Code to a healthy container with the keys' engine, no registry needed."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import docker_images as di
import httpx
import pytest

from tests.helpers import shipdeck

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_the_demo_ships_its_service_as_a_container(client: Any, tmp_path: Path) -> None:
    base = di.python_base_image(client, tmp_path / "base")
    made = shipdeck("demo", "demo", "--no-open", "--docker-base", base, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert f"adding the 'container' environment ({base})" in made.stdout
    repo = tmp_path / "demo"
    config = (repo / "shipdeck.yaml").read_text()
    port = int(re.search(r'"8080/tcp": (\d+)', config).group(1))  # type: ignore[union-attr]
    assert f'BASE: "{base}"' in config
    try:
        shipped = shipdeck("advance", "SD-1", "--to", "deploy", "--env", "container", cwd=repo)
        assert shipped.returncode == 0, shipped.stdout + shipped.stderr
        assert "tagged" in shipped.stdout and "hello:0.1.0" in shipped.stdout
        with httpx.Client(trust_env=False, timeout=5) as http:
            answer = http.get(f"http://127.0.0.1:{port}/").json()
        assert answer["version"] == "0.1.0"
        assert answer["env"] == "container"
        assert "bonjour" in answer["message"]  # the commit the item carried
        status = json.loads(shipdeck("status", "--json", cwd=repo).stdout)["environments"]
        assert status["container"]["version"] == "0.1.0"
        assert status["container"]["healthy"] is True
        running = client.containers.list(filters={"label": "shipdeck.env=container"})
        assert [c.name for c in running] == ["hello-container-0.1.0"]
        assert running[0].image.tags[0].startswith("hello:")
    finally:
        shipdeck("stop", "staging", cwd=repo)  # the auto local deploy, if it ran
        for container in client.containers.list(
            all=True, filters={"label": "shipdeck.project=hello"}
        ):
            container.remove(force=True)
        for image in client.images.list(name="hello"):
            for tag in image.tags:
                with contextlib.suppress(Exception):
                    client.images.remove(tag, force=True)


def test_without_the_base_image_the_demo_stays_local(client: Any, tmp_path: Path) -> None:
    made = shipdeck(
        "demo", "demo", "--no-open", "--docker-base", "shipdeck-test/no-such-base:1", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("no container environment: base image shipdeck-test/no-such")
    config = (tmp_path / "demo" / "shipdeck.yaml").read_text()
    assert "docker" not in config
    assert not (tmp_path / "demo" / "Dockerfile").exists()
