"""Issue 5's must-show, from the CLI against the real engine and registry: an item goes
from Code to a healthy container through build, test-in-image, release (the registry
lists the tag) and deploy; a broken release is rolled back by itself."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker_images as di
import httpx
import pytest

from tests.helpers import git, shipdeck

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _config(project: str, port: int) -> str:
    return f"""\
version: 1
project: {project}
stages:
  build:
    - docker_build: {{context: ., tag: "{project}:{{short_sha}}"}}
  test:
    - docker_run:
        image: "{project}:{{short_sha}}"
        command: ["test", "-f", "/www/health"]
  release:
    push: "{di.registry()}/{project}"
    remote: origin
environments:
  staging:
    target: docker
    ports: {{"8000/tcp": {port}}}
    health: {{url: "http://127.0.0.1:{port}/health", timeout: 15}}
    bake: 0
    labels: {{"{di.TEST_LABEL}": "{di.RUN_ID}"}}
"""


@pytest.fixture()
def repo(tmp_path: Path, client: Any) -> Iterator[tuple[Path, int, str]]:
    project = f"sdpipe{secrets.token_hex(3)}"
    port = di.free_port()
    root = tmp_path / "svc"
    di.httpd_context(root, "v1")
    (root / "shipdeck.yaml").write_text(_config(project, port))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a busybox httpd service")
    remote = tmp_path / "remote.git"  # releases push their base branch and tag here
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    yield root, port, project
    for container in client.containers.list(
        all=True, filters={"label": f"shipdeck.project={project}"}
    ):
        container.remove(force=True)
    for image in client.images.list(filters={"label": f"shipdeck.project={project}"}):
        for tag in image.tags or [image.id]:
            with contextlib.suppress(Exception):
                client.images.remove(tag, force=True)


def _item_with_change(root: Path, title: str, version: str, *, broken: bool = False) -> str:
    item_id = shipdeck("item", "add", title, cwd=root).stdout.strip()
    moved = shipdeck("advance", item_id, "--to", "code", cwd=root)
    assert moved.returncode == 0, moved.stderr
    fresh = root.parent / f"ctx-{version}"
    di.httpd_context(fresh, version, broken=broken)
    shutil.copy(fresh / "Dockerfile", root / "Dockerfile")
    shutil.copytree(fresh / "files", root / "files", dirs_exist_ok=True)
    git(root, "add", "-A")  # as most people do: nothing of shipdeck's may come along
    git(root, "commit", "-q", "-m", f"{item_id}: {title}")
    assert git(root, "ls-files", ".shipdeck") == ""
    return item_id


def _get(port: int, path: str) -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=5) as http:
        return http.get(f"http://127.0.0.1:{port}{path}")


def test_code_to_healthy_container_then_broken_release_rolls_back(
    repo: tuple[Path, int, str],
) -> None:
    root, port, project = repo
    first = _item_with_change(root, "Serve v2", "v2")
    deployed = shipdeck("advance", first, "--to", "deploy", "--env", "staging", cwd=root)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    out = deployed.stdout
    assert "Step" in out or "FROM scratch" in out  # the build's own output was streamed
    assert "pushed" in out
    assert _get(port, "/health").status_code == 200
    assert _get(port, "/version").text.strip() == "v2"

    assert project in di.catalog()
    tags = httpx.get(f"http://{di.registry()}/v2/{project}/tags/list", trust_env=False).json()
    assert "0.1.0" in tags["tags"]
    shown = json.loads(shipdeck("item", "show", first, "--json", cwd=root).stdout)
    assert shown["artifacts"]["digest"].startswith("sha256:")
    assert shown["artifacts"]["image_id"].startswith("sha256:")

    status = json.loads(shipdeck("status", "--json", cwd=root).stdout)["environments"]["staging"]
    assert status["version"] == "0.1.0"
    assert status["healthy"] is True
    assert git(root, "status", "--porcelain") == ""
    remote = git(root, "ls-remote", "origin")
    assert "refs/tags/v0.1.0" in remote and git(root, "rev-parse", "main") in remote
    teammate = root.parent / "teammate"  # a second clone sees the board after a sync
    assert shipdeck("sync", cwd=root).returncode == 0
    git(root.parent, "clone", "-q", str(root.parent / "remote.git"), str(teammate))
    assert shipdeck("sync", cwd=teammate).returncode == 0
    seen = json.loads(shipdeck("item", "show", first, "--json", cwd=teammate).stdout)
    assert seen["version"] == "0.1.0" and seen["stage"] == "deploy"
    for stage in ("operate", "monitor"):  # bake: 0 in this config
        moved = shipdeck("advance", first, "--to", stage, cwd=root)
        assert moved.returncode == 0, moved.stdout + moved.stderr
    assert json.loads(shipdeck("item", "show", first, "--json", cwd=root).stdout)["stage"] == (
        "monitor"
    )
    assert git(root, "status", "--porcelain") == ""

    broken = _item_with_change(root, "Break httpd", "v3", broken=True)
    failed = shipdeck("advance", broken, "--to", "deploy", "--env", "staging", cwd=root)
    assert failed.returncode == 1
    assert "rolled back to 0.1.0" in failed.stderr
    assert _get(port, "/version").text.strip() == "v2"  # the previous container answers again
    journal = [
        json.loads(line) for line in (root / ".shipdeck/journal.jsonl").read_text().splitlines()
    ]
    assert [e["to_version"] for e in journal if e["type"] == "rolled_back"] == ["0.1.0"]


def test_a_refused_push_leaves_the_item_failed_in_release_with_no_tag(
    repo: tuple[Path, int, str], tmp_path: Path
) -> None:
    root, _port, _project = repo
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(di.htpasswd_line("ci", "s3cret-pw") + "\n")
    registry = di.Registry(
        tmp_path / "registry",
        extra=f"auth:\n  htpasswd:\n    realm: shipdeck-test\n    path: {htpasswd}\n",
    )
    try:
        config = (root / "shipdeck.yaml").read_text()
        (root / "shipdeck.yaml").write_text(config.replace(di.registry(), registry.address))
        git(root, "commit", "-q", "-am", "release to the private registry")
        (tmp_path / "nologin").mkdir()
        nologin = {"DOCKER_CONFIG": str(tmp_path / "nologin")}  # no docker login
        item = _item_with_change(root, "Serve v2", "v2")
        failed = shipdeck("advance", item, "--to", "release", cwd=root, env=nologin)
    finally:
        registry.stop()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    # The run's output streams above; shipdeck's own verdict is the last line.
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith(f"shipdeck: {item} stopped in Release (failed): push of ")
    assert last.endswith("refused: no basic auth credentials")  # the registry's own words
    shown = json.loads(shipdeck("item", "show", item, "--json", cwd=root).stdout)
    assert shown["stage"] == "release"
    assert shown["states"]["release"]["state"] == "failed"
    assert git(root, "tag", "--list") == ""  # a refused push leaves no version tag
    assert "digest" not in shown["artifacts"]


def test_an_image_goes_out_only_under_the_tag_of_the_code_it_holds(
    repo: tuple[Path, int, str],
) -> None:
    """Two items built and tested side by side from one main: the first's release moves
    main, so the second's image (built from its branch, without the first's change)
    would have been pushed as the next version while that version's git tag named a
    merge holding both. Refused before any push; once main is merged into the branch,
    the image deployed as the next version serves both changes."""
    root, port, project = repo
    first = _item_with_change(root, "Serve v2", "v2")
    git(root, "switch", "-q", "main")
    second = shipdeck("item", "add", "Add a page", "--kind", "bug", cwd=root).stdout.strip()
    assert shipdeck("advance", second, "--to", "code", cwd=root).returncode == 0
    (root / "files" / "www" / "page.html").write_text("a page\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"{second}: a page")
    tested = shipdeck("advance", second, "--to", "test", cwd=root)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    released = shipdeck("advance", first, "--to", "release", cwd=root)
    assert released.returncode == 0, released.stdout + released.stderr

    refused = shipdeck("advance", second, "--to", "release", cwd=root)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "main moved since" in refused.stderr.strip().splitlines()[-1]
    assert "pushing" not in refused.stdout
    tags = httpx.get(f"http://{di.registry()}/v2/{project}/tags/list", trust_env=False).json()
    assert tags["tags"] == ["0.1.0"]
    assert git(root, "tag", "--list") == "v0.1.0"

    branch = json.loads(shipdeck("item", "show", second, "--json", cwd=root).stdout)["branch"]
    git(root, "switch", "-q", branch)
    git(root, "merge", "-q", "--no-edit", "main")
    deployed = shipdeck("advance", second, "--to", "deploy", "--env", "staging", cwd=root)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "pushed" in deployed.stdout
    assert _get(port, "/version").text.strip() == "v2"  # the first item's change
    assert _get(port, "/page.html").text.strip() == "a page"  # and the second's


def test_a_container_removed_outside_shipdeck_is_named_and_deployed_again(
    repo: tuple[Path, int, str], client: Any
) -> None:
    """``docker rm -f`` of the running container: restart and rollback said "nothing is
    deployed to staging" and no more. The journal knows what ran there; they say it,
    and the deploy they name puts it back."""
    root, port, project = repo
    first = _item_with_change(root, "Serve v2", "v2")
    deployed = shipdeck("advance", first, "--to", "deploy", "--env", "staging", cwd=root)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    for container in client.containers.list(
        all=True, filters={"label": f"shipdeck.project={project}"}
    ):
        container.remove(force=True)  # as `docker rm -f` does
    for op in ("restart", "rollback"):
        refused = shipdeck(op, "staging", cwd=root)
        assert refused.returncode != 0
        assert (
            "nothing is deployed to staging, though the journal says 0.1.0 runs there"
            in refused.stderr
        ), refused.stderr
        assert "`shipdeck deploy staging --version 0.1.0` starts it again" in refused.stderr
    again = shipdeck("deploy", "staging", "--version", "0.1.0", cwd=root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _get(port, "/version").text.strip() == "v2"


def test_a_monorepo_folders_image_builds_from_the_config_init_wrote(
    tmp_path: Path, client: Any
) -> None:
    """init in backend/ of a backend/ + frontend/ repository wrote ``{context: backend,
    dockerfile: backend/Dockerfile}``; docker build reads -f from the context, so the
    build looked for backend/backend/Dockerfile and failed. Real engine, the CLI as a
    person runs it, ``git add -A`` after each step."""
    project = f"mono{secrets.token_hex(3)}"
    root = tmp_path / project
    di.httpd_context(root / "backend", "v1")
    (root / "frontend").mkdir()
    (root / "frontend" / "package.json").write_text('{"name": "f", "scripts": {}}\n')
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "backend and frontend")
    made = shipdeck("init", cwd=root / "backend")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "context: backend, dockerfile: Dockerfile" in (root / "shipdeck.yaml").read_text()
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "shipdeck")
    try:
        item_id = shipdeck("item", "add", "Say v2", cwd=root).stdout.strip()
        assert shipdeck("advance", item_id, "--to", "code", cwd=root).returncode == 0
        (root / "backend" / "files" / "www" / "version").write_text("v2\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"{item_id}: v2")
        built = shipdeck("advance", item_id, "--to", "build", cwd=root)
        assert built.returncode == 0, built.stdout + built.stderr
        short = git(root, "rev-parse", "--short=12", "HEAD")
        tags = [t for image in client.images.list(name=project) for t in image.tags]
        assert any(t.startswith(f"{project}:") for t in tags), (tags, short)
    finally:
        for image in client.images.list(filters={"label": f"shipdeck.project={project}"}):
            for tag in image.tags or [image.id]:
                with contextlib.suppress(Exception):
                    client.images.remove(tag, force=True)
