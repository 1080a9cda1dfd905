"""Which engine shipdeck talks to, as the docker CLI picks it (no engine needed):
docker_host > DOCKER_HOST > DOCKER_CONTEXT > currentContext > the default socket;
an ssh:// engine without paramiko is one line naming the extra to install."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from shipdeck.backends.docker.engine import (
    DEFAULT_HOST,
    connect,
    context_name,
    resolve,
    unreachable,
)
from shipdeck.lifecycle.ports import TargetError


def make_context(config: Path, name: str, host: str, tls: dict[str, str] | None = None) -> Path:
    """A context as ``docker context create`` stores it; its TLS directory."""
    key = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / key
    meta.mkdir(parents=True)
    endpoint = {"Host": host, "SkipTLSVerify": False}
    (meta / "meta.json").write_text(
        json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": endpoint}})
    )
    tls_dir = config / "contexts" / "tls" / key / "docker"
    for file, text in (tls or {}).items():
        tls_dir.mkdir(parents=True, exist_ok=True)
        (tls_dir / file).write_text(text)
    return tls_dir


@pytest.fixture
def config(tmp_path: Path) -> Path:
    make_context(tmp_path, "ci", "unix:///tmp/ci.sock")
    make_context(tmp_path, "other", "tcp://10.0.0.1:2375")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "other"}))
    return tmp_path


def test_precedence_as_the_docker_cli(config: Path) -> None:
    env = {"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "ci", "DOCKER_HOST": "unix:///h.sock"}
    assert resolve("tcp://given:2376", env).host == "tcp://given:2376"
    assert resolve(None, env).host == "unix:///h.sock"
    assert resolve(None, env).context is None
    del env["DOCKER_HOST"]
    assert (resolve(None, env).host, resolve(None, env).context) == ("unix:///tmp/ci.sock", "ci")
    del env["DOCKER_CONTEXT"]
    assert resolve(None, env).host == "tcp://10.0.0.1:2375"  # config.json's currentContext
    (config / "config.json").write_text("{}")
    assert resolve(None, env).host == DEFAULT_HOST
    assert context_name({"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "default"}) is None


def test_home_docker_is_the_store_without_docker_config(tmp_path: Path) -> None:
    make_context(tmp_path / ".docker", "ci", "unix:///tmp/ci.sock")
    (tmp_path / ".docker" / "config.json").write_text(json.dumps({"currentContext": "ci"}))
    assert resolve(None, {"HOME": str(tmp_path)}).host == "unix:///tmp/ci.sock"


def test_messages_name_the_context(config: Path) -> None:
    env = {"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "ci"}
    text = unreachable(resolve(None, env), OSError("[Errno 2] No such file or directory"))
    assert (
        text
        == "cannot reach the Docker engine of context 'ci' at unix:///tmp/ci.sock: no such socket"
    )
    with pytest.raises(TargetError) as err:
        connect(None, env, timeout=2)
    assert str(err.value).startswith("cannot reach the Docker engine of context 'ci' at unix:")
    assert (
        unreachable("unix:///x.sock", OSError("x"))
        == "cannot reach the Docker engine at unix:///x.sock: x"
    )


def test_a_missing_context_is_an_error_naming_it(config: Path) -> None:
    env = {"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "gone"}
    assert resolve(None, env).error is not None
    with pytest.raises(TargetError, match="docker context 'gone' not found"):
        connect(None, env)


def test_tls_material_of_the_context(tmp_path: Path) -> None:
    make_context(tmp_path, "tls", "tcp://127.0.0.1:2376", {"ca.pem": "ca"})
    end = resolve(None, {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "tls"})
    ca = tmp_path / "contexts" / "tls" / hashlib.sha256(b"tls").hexdigest() / "docker" / "ca.pem"
    assert end.tls and end.tls.verify == str(ca)
    assert end.tls.cert is None  # a CA alone is enough, as for the CLI
    make_context(tmp_path, "plain", "tcp://127.0.0.1:2375")
    assert resolve(None, {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "plain"}).tls is False


def test_ssh_without_paramiko_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "paramiko", None)  # import paramiko fails
    with pytest.raises(TargetError) as err:
        connect("ssh://user@127.0.0.1:1", {})
    text = str(err.value)
    assert "\n" not in text
    assert text == (
        "cannot reach the Docker engine at ssh://user@127.0.0.1:1: ssh:// engines need"
        " paramiko: install shipdeck[ssh] (pipx install 'shipdeck[ssh]')"
    )
