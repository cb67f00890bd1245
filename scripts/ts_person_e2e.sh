#!/usr/bin/env bash
# Person-in-the-loop end-to-end checks with independent TypeScript clients from the npm registry.
#
#   scripts/ts_person_e2e.sh /path/to/make-credentials-mcp
#
#  1. Installs into a temporary folder (never into the repo): Node 22 (node@22.23.3, only when
#     the `node` on PATH is older than 22.19) and the exact versions in
#     scripts/ts-client/package.json: @modelcontextprotocol/sdk 1.32.2 and
#     @modelcontextprotocol/inspector 2.12.0.
#  2. Runs scripts/ts-client/person_e2e.mjs (TS SDK Client over stdio and over Streamable HTTP
#     with --sessions; URL + form elicitation, consent page, progress, elicitation/complete,
#     confirmed delete; then plain tool calls over stateless Streamable HTTP).
#  3. Runs the MCP Inspector CLI against the stdio sandbox: `tools/list --strict` (tool-schema
#     portability report; exit 6 = unportable) and a tools/call of
#     credential-requests_wait-for-authorization on the seeded pending request (expects
#     done:false, timedOut:true after 2 s).
#  4. Runs scripts/ts-client/team_e2e.mjs (team mode, `--sandbox http --auth oauth` on a free
#     port started by the script): the TS SDK's OAuth client signs ada and grace in (dynamic
#     registration, the sandbox's Make login and consent, the server's consent page, all over
#     plain HTTP), each sees only their team and gets Make's 403 on the other; a denied consent
#     yields no tokens. Then the Inspector CLI lists the tools with ada's token as a bearer
#     header (`--stored-auth-only`, so it never starts its own sign-in), and its own OAuth
#     client signs grace in unattended (MCP_AUTO_OPEN_ENABLED=true; the script walks the URL
#     it prints and calls its loopback callback).
# Prints PASS/FAIL lines and a final "N passed, M failed" (all four steps together).
# Exit: 3 when npm could not install the packages (registry outage); otherwise the first TS
# script's exit status, or 1 when only a later check failed.
# Env: TS_CLIENT_TOOLS (reuse an install folder), KEEP=1 (keep the temp folder and logs).
# Takes about 20 s once installed.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 /path/to/make-credentials-mcp (an executable)" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ts-person-e2e.XXXXXX")
TOOLS=${TS_CLIENT_TOOLS:-$WORK/tools}

cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then echo "(kept $WORK)" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

. "$ROOT/scripts/lib/node-tools.sh"

echo "== installing into $TOOLS" >&2
mkdir -p "$WORK/home"
use_node 22 19 # the Inspector asks for 22.19 or newer
export PATH=$(dirname "$NODE"):$PATH # the Inspector's bin scripts use `#!/usr/bin/env node`
install_deps "$ROOT/scripts/ts-client/package.json" @modelcontextprotocol/sdk @modelcontextprotocol/inspector
echo "   node $("$NODE" --version)" >&2

# ---------------------------------------------------------------------------------------------
echo "== TS SDK client (stdio, Streamable HTTP --sessions)" >&2
NODE_PATH=$TOOLS/deps/node_modules timeout 300 "$NODE" "$ROOT/scripts/ts-client/person_e2e.mjs" "$BIN" \
  | tee "$WORK/ts.out" | sed -E 's/^([0-9]+ passed, [0-9]+ failed)$/INFO [ts-sdk] subtotal: \1/'
RC=${PIPESTATUS[0]}
LAST=$(tail -n 1 "$WORK/ts.out")
if [[ $LAST =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
  PASSED=${BASH_REMATCH[1]} FAILED=${BASH_REMATCH[2]}
else
  echo "FAIL [ts-sdk] script ended without its summary line (exit $RC)"
  PASSED=0 FAILED=1
  [ "$RC" -ne 0 ] || RC=1
fi

# ---------------------------------------------------------------------------------------------
INSPECTOR=$TOOLS/deps/node_modules/.bin/mcp-inspector
echo "== MCP Inspector CLI $("$NODE" "$INSPECTOR" --version 2>/dev/null) (stdio)" >&2
check() { # ok(0/1) what detail
  if [ "$1" = 0 ]; then
    PASSED=$((PASSED + 1)); echo "PASS [inspector] $2${3:+ ($3)}"
  else
    FAILED=$((FAILED + 1)); echo "FAIL [inspector] $2${3:+ ($3)}"
  fi
}
inspector() { # out err args...
  local out=$1 err=$2; shift 2
  env -u MAKE_API_KEY -u MAKE_ZONE -u MAKE_API_URL -u MAKE_TEAM -u MCP_URL_ELICITATION -u MCP_CONFIRM \
    HOME="$WORK/home" RUST_LOG=warn timeout 60 "$NODE" "$INSPECTOR" --cli --format json "$@" \
    -- "$BIN" --sandbox >"$out" 2>"$err"
}
# Reads JSON on stdin, runs the JS expression with `j` bound; prints it; exit 1 when it throws.
jq_js() { "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);const v=eval(process.argv[1]);console.log(typeof v==="string"?v:JSON.stringify(v))}catch(e){console.log(String(e).slice(0,300));process.exit(1)}})' "$1"; }

inspector "$WORK/list.json" "$WORK/list.err" --strict --method tools/list
LRC=$?
REPORT=$(grep -E '^[0-9]+ errors?, [0-9]+ warnings?' "$WORK/list.err" | tail -n 1)
check $([ $LRC -eq 0 ] && echo 0 || echo 1) "tools/list --strict: portable (exit $LRC; 6 = unportable)" "$REPORT"
NTOOLS=$(jq_js 'j.result.tools.length' <"$WORK/list.json")
check $([[ $NTOOLS =~ ^[0-9]+$ && $NTOOLS -gt 0 ]] && echo 0 || echo 1) "tools/list returned tools" "$NTOOLS"
if [ $LRC -ne 0 ] || [ "${VERBOSE:-0}" = 1 ]; then grep -vE '^[0-9T:.-]+Z ' "$WORK/list.err" | head -60; fi
grep -A2 '^Warning' "$WORK/list.err" | sed -n 's/^  Issue: //p' | sort | uniq -c \
  | sed -E 's/^ *([0-9]+) (.*)$/INFO [inspector] strict warning x\1: \2/'

START=$(date +%s)
inspector "$WORK/call.json" "$WORK/call.err" --method tools/call \
  --tool-name credential-requests_wait-for-authorization \
  --tool-args-json '{"requestId":"a07e16f2ad134bf49cf83a00aa95c0a5","timeoutSeconds":2}'
CRC=$?
SECS=$(($(date +%s) - START))
check $([ $CRC -eq 0 ] && echo 0 || echo 1) "tools/call wait-for-authorization exit 0" "exit $CRC, ${SECS} s"
SC=$(jq_js 'const s=j.result.structuredContent; ({isError:j.result.isError, done:s.done, timedOut:s.timedOut, summary:s.summary})' <"$WORK/call.json")
check $([[ $SC == *'"isError":false,"done":false,"timedOut":true'* ]] && echo 0 || echo 1) \
  "wait on the seeded pending request: done false, timedOut true" "$SC"
[ $CRC -eq 0 ] || tail -20 "$WORK/call.err"

# ---------------------------------------------------------------------------------------------
echo "== TS SDK OAuth client and Inspector CLI (team mode: --sandbox http --auth oauth)" >&2
MCP_INSPECTOR=$INSPECTOR NODE_PATH=$TOOLS/deps/node_modules timeout 300 "$NODE" "$ROOT/scripts/ts-client/team_e2e.mjs" "$BIN" \
  | tee "$WORK/team.out" | sed -E 's/^([0-9]+ passed, [0-9]+ failed)$/INFO [ts-team] subtotal: \1/'
TRC=${PIPESTATUS[0]}
LAST=$(tail -n 1 "$WORK/team.out")
if [[ $LAST =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
  PASSED=$((PASSED + BASH_REMATCH[1])) FAILED=$((FAILED + BASH_REMATCH[2]))
else
  echo "FAIL [ts-team] script ended without its summary line (exit $TRC)"
  FAILED=$((FAILED + 1))
fi

echo "$PASSED passed, $FAILED failed"
if [ "$RC" -eq 0 ] && [ "$FAILED" -gt 0 ]; then RC=1; fi
exit "$RC"
