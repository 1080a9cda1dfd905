"""Serve ``GET /`` (a greeting) and ``GET /health`` on the port given.

Every request is logged on stdout, so shipdeck's log pane has something to show.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app import GREETING

STARTED = time.time()


def body_for(path: str) -> tuple[int, dict[str, object]]:
    """The status and JSON body for a path; pure, so the unit tests can call it."""
    if path == "/health":
        return 200, {"status": "ok", "uptime": round(time.time() - STARTED, 1)}
    if path == "/":
        return 200, {
            "message": GREETING,
            "version": os.environ.get("SHIPDECK_VERSION", "dev"),
            "env": os.environ.get("SHIPDECK_ENV", "none"),
        }
    return 404, {"error": f"no route {path}"}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, payload = body_for(self.path)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="app")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container")
    args = parser.parse_args()
    warmup = float(os.environ.get("HELLO_WARMUP", "0"))  # to watch a deploy wait for health
    if warmup:
        print(f"warming up for {warmup:g}s", flush=True)
        time.sleep(warmup)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"hello {os.environ.get('SHIPDECK_VERSION', 'dev')} listening on {args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
