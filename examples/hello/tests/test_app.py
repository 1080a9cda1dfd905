from app import GREETING
from app.__main__ import body_for


def test_health_is_ok():
    status, body = body_for("/health")
    assert status == 200
    assert body["status"] == "ok"


def test_root_greets():
    status, body = body_for("/")
    assert status == 200
    assert body["message"] == GREETING


def test_unknown_path_is_404():
    assert body_for("/nope")[0] == 404
