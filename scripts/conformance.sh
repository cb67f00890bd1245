#!/usr/bin/env bash
# Runs the official MCP conformance suite against the `http` transport on loopback.
#
#  1. Installs Node 22 and the suite from the npm registry into a temporary folder
#     (node@22, @modelcontextprotocol/conformance@0.1.16, and @0.2.0-alpha.12 for 2026-07-28).
#  2. Starts the server twice (no auth, loopback): the stateless default, and --sessions.
#  3. 2025-11-25 scenarios that fit a product server, against both servers:
#     server-initialize, ping, tools-list, dns-rebinding-protection.
#  4. The 2026-07-28 requirement set against the default server, with the expected failures
#     in scripts/conformance-baseline-2026-07-28.yml (each with its reason).
# Prints a markdown summary; exit 0 when everything passed or is in the baseline, 3 when
# the suite could not be installed.
# Env: PORT_BASE (default 39020), CONFORMANCE_TOOLS (reuse an install folder),
#      CARGO_TARGET_DIR. Takes about a minute once the binary is built.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PORT_BASE=${PORT_BASE:-39020}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mcp-conformance.XXXXXX")
TOOLS=${CONFORMANCE_TOOLS:-$WORK/tools}
BASELINE=$ROOT/scripts/conformance-baseline-2026-07-28.yml
PIDS=()

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "== installing Node 22 and the conformance suite into $TOOLS" >&2
mkdir -p "$TOOLS/node22" "$TOOLS/conf-0.1" "$TOOLS/conf-0.2"
# Exit 3 means "could not install the suite", not "the server failed it".
npm_i() {
  (cd "$1" && shift && timeout 600 npm install --silent --no-audit --no-fund "$@" >/dev/null 2>&1) \
    || { echo "could not install $* from the npm registry" >&2; exit 3; }
}
[ -x "$TOOLS/node22/node_modules/.bin/node" ] || npm_i "$TOOLS/node22" node@22
export PATH=$TOOLS/node22/node_modules/.bin:$PATH
for dir in conf-0.1 conf-0.2; do [ -f "$TOOLS/$dir/package.json" ] || (cd "$TOOLS/$dir" && npm init -y >/dev/null); done
[ -x "$TOOLS/conf-0.1/node_modules/.bin/conformance" ] || npm_i "$TOOLS/conf-0.1" @modelcontextprotocol/conformance@0.1.16
[ -x "$TOOLS/conf-0.2/node_modules/.bin/conformance" ] || npm_i "$TOOLS/conf-0.2" @modelcontextprotocol/conformance@0.2.0-alpha.12
CONF1=$TOOLS/conf-0.1/node_modules/.bin/conformance
CONF2=$TOOLS/conf-0.2/node_modules/.bin/conformance
echo "   node $(node --version)" >&2

echo "== building the server (debug)" >&2
timeout 1200 cargo build -q --bin make-credentials-mcp
BIN=$TARGET/debug/make-credentials-mcp

start_server() { # port, extra flags...
  local port=$1; shift
  env -u MCP_AUTH_TOKEN -u MAKE_API_KEY "$BIN" --no-cli-login http --listen "127.0.0.1:$port" "$@" \
    2>"$WORK/server-$port.log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server on $port did not start" >&2; cat "$WORK/server-$port.log" >&2; return 1
}
STATELESS_PORT=$PORT_BASE
SESSIONS_PORT=$((PORT_BASE + 1))
start_server "$STATELESS_PORT"
start_server "$SESSIONS_PORT" --sessions

# "scenario: N passed, M failed, W warnings" for every checks.json under a folder.
summarize() {
  node -e '
    const fs = require("fs"), path = require("path");
    const walk = d => fs.readdirSync(d, {withFileTypes: true}).flatMap(e =>
      e.isDirectory() ? walk(path.join(d, e.name)) : e.name === "checks.json" ? [path.join(d, e.name)] : []);
    for (const f of walk(process.argv[1]).sort()) {
      const checks = JSON.parse(fs.readFileSync(f, "utf8"));
      const n = s => checks.filter(c => c.status === s).length;
      const name = path.basename(path.dirname(f)).replace(/^server-/, "").replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, "");
      const verdict = n("FAILURE") ? "fail" : n("WARNING") ? "pass (warnings)" : "pass";
      console.log(`| ${name} | ${verdict} | ${n("SUCCESS")} | ${n("FAILURE")} | ${n("WARNING")} |`);
    }' "$1"
}

FAILED=0
SUMMARY=$WORK/summary.md
{
  echo "### 2025-11-25 scenarios (conformance 0.1.16)"
} >"$SUMMARY"
for mode in stateless sessions; do
  port=$STATELESS_PORT; [ "$mode" = sessions ] && port=$SESSIONS_PORT
  {
    echo
    echo "Server mode: $mode"
    echo
    echo "| scenario | result | passed | failed | warnings |"
    echo "|---|---|---|---|---|"
  } >>"$SUMMARY"
  for scenario in server-initialize ping tools-list dns-rebinding-protection; do
    echo "== $mode: $scenario" >&2
    if ! timeout 120 "$CONF1" server --url "http://127.0.0.1:$port/mcp" --scenario "$scenario" \
        -o "$WORK/out-$mode/$scenario" >"$WORK/$mode-$scenario.txt" 2>&1; then
      FAILED=1
      sed 's/\x1b\[[0-9;]*m//g' "$WORK/$mode-$scenario.txt" | tail -20 >&2
    fi
  done
  summarize "$WORK/out-$mode" >>"$SUMMARY"
done

echo "== 2026-07-28 requirement set (conformance 0.2.0-alpha.12)" >&2
REQ_RC=0
timeout 900 "$CONF2" server --url "http://127.0.0.1:$STATELESS_PORT/mcp" --requirements 2026-07-28 \
  --expected-failures "$BASELINE" -o "$WORK/out-2026" >"$WORK/req-2026.txt" 2>&1 || REQ_RC=$?
{
  echo
  echo "### 2026-07-28 requirement set (conformance 0.2.0-alpha.12, stateless server)"
  echo
  echo "| scenario | result | passed | failed | warnings |"
  echo "|---|---|---|---|---|"
  summarize "$WORK/out-2026"
  echo
  sed 's/\x1b\[[0-9;]*m//g' "$WORK/req-2026.txt" | grep -E '^(Total:|Not scored|Baseline|Unexpected|  ✗|  ✓)' | sed -e "s/^Total: \([0-9]*\) passed, \([0-9]*\) failed/Total checks: \1 passing, \2 failing (see the baseline)/" -e "s/^/    /" || true
} >>"$SUMMARY"
if [ "$REQ_RC" != 0 ]; then
  FAILED=1
  sed 's/\x1b\[[0-9;]*m//g' "$WORK/req-2026.txt" | grep -A60 -E '^(Unexpected|Stale)' >&2 || true
fi

cat "$SUMMARY"
[ "$FAILED" = 0 ] && echo "== conformance: PASS (all failures are in the baseline)" >&2 \
  || echo "== conformance: FAIL" >&2
exit "$FAILED"
