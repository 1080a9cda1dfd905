#!/usr/bin/env bash
# The suite against the lowest versions pyproject.toml allows for shipdeck's direct
# dependencies (uv's --resolution lowest-direct), in a venv of its own: the floors
# it declares are the ones it passes with, not hopes (issue #13).
#
#   scripts/lowest-deps.sh            the fast lane and the slow tests that lean on each
#                                     library (textual, rich, pydantic, git, docker, httpx)
#   scripts/lowest-deps.sh ARGS...    pytest ARGS instead
#
# Needs uv (the test extra installs it into .venv). The venv lives in
# ${SHIPDECK_LOWEST_VENV:-/tmp/shipdeck-lowest}; it prints what it installed.
set -euo pipefail
cd "$(dirname "$0")/.."

uv=${UV:-.venv/bin/uv}
[ -x "$uv" ] || uv=$(command -v uv) || { echo "lowest-deps: uv is not installed" >&2; exit 2; }
venv=${SHIPDECK_LOWEST_VENV:-/tmp/shipdeck-lowest}

rm -rf "$venv"
"$uv" venv -q --python "${PYTHON:-python3}" "$venv"
VIRTUAL_ENV="$venv" "$uv" pip install -q --resolution lowest-direct -e '.[test]'
echo "== lowest direct versions:"
VIRTUAL_ENV="$venv" "$uv" pip list 2>/dev/null \
  | grep -iE '^(textual|rich|pydantic|pyyaml|docker|psutil|httpx) ' | sed 's/^/   /'

if [ $# -gt 0 ]; then
  exec "$venv/bin/python" -m pytest "$@"
fi
# The fast lane covers the domain and the widgets; these slow tests are the ones that
# drive the libraries and tools for real: Pilot and Textual's terminal driver in tmux
# (textual, rich; tui/driver.py subclasses the driver), git repositories and
# remotes (the git command line), the Docker Engine and a swarm (docker), probes and processes (httpx, psutil), the
# CLI. Not the SVG snapshots: they are pictures made with the newest Textual, and an
# older one draws a few cells differently by design. Not the release-kill test either:
# it aims its kills by time, which an older, slower import moves (it needs kills on
# both sides of the publish), and it tests git plumbing, not a library's floor.
"$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow"
"$venv/bin/python" -m pytest -q -p no:cacheprovider -k "not snapshot" \
  --deselect tests/integration/test_git_as_users_do.py::test_sigkill_during_release_leaves_none_or_one_whole_release \
  tests/tui/test_board_keys.py \
  tests/integration/test_board_in_tmux.py::test_the_idle_board_polls_nothing_and_escape_alone_still_acts \
  tests/tui/test_panes.py \
  tests/integration/test_cli_foundation.py \
  tests/integration/test_pipeline.py \
  tests/integration/test_git_as_users_do.py \
  tests/integration/test_monitor_probes.py \
  tests/integration/test_docker_pipeline.py \
  tests/swarm/test_swarm_board.py
