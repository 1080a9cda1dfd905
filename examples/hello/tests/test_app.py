"""The service's unit tests: the standard library's unittest, so they need nothing
installed (shipdeck runs them with the project's interpreter: `python -m unittest`)."""

import unittest

from app import GREETING
from app.__main__ import body_for


class AppTest(unittest.TestCase):
    def test_health_is_ok(self) -> None:
        status, body = body_for("/health")
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], "ok")

    def test_root_greets(self) -> None:
        status, body = body_for("/")
        self.assertEqual(status, 200)
        self.assertEqual(body["message"], GREETING)

    def test_unknown_path_is_404(self) -> None:
        self.assertEqual(body_for("/nope")[0], 404)


if __name__ == "__main__":
    unittest.main()
