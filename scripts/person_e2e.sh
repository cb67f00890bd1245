#!/usr/bin/env bash
# Runs, with the Python MCP SDK as an independent client, scripts/person_e2e.py (person-in-the-loop
# end-to-end checks), then scripts/hardening_e2e.py (the HTTP server's limits and refusals); both
# run even when the first fails, and the exit status is 1 when either failed.
# Usage: scripts/person_e2e.sh [BIN]   (default: target/debug/make-credentials-mcp; builds nothing)
# The SDK comes from a venv: $PERSON_E2E_VENV if set, else $TMPDIR/person-e2e-venv, created with
# `pip install mcp==2.3.0` when it does not hold that version yet.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath -m "${1:-$here/../target/debug/make-credentials-mcp}")
if [ ! -x "$bin" ]; then
  echo "no server binary at $bin: build it first (cargo build)" >&2
  exit 2
fi
venv=${PERSON_E2E_VENV:-${TMPDIR:-/tmp}/person-e2e-venv}
has_sdk() {
  "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("mcp") != "2.3.0")' 2>/dev/null
}
if ! has_sdk; then
  echo "creating $venv with mcp==2.3.0" >&2
  # Exit 3: the SDK could not be installed (registry outage), not a failure of the server.
  python3 -m venv "$venv" || exit 3
  timeout 600 "$venv/bin/pip" install --quiet 'mcp==2.3.0' || exit 3
fi
# Any failure is exit 1, never 3 (which means "could not install", not "failed").
status=0
"$venv/bin/python" "$here/person_e2e.py" "$bin" || status=1
"$venv/bin/python" "$here/hardening_e2e.py" "$bin" || status=1
"$venv/bin/python" "$here/team_e2e.py" "$bin" || status=1
exit "$status"
