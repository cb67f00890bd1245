#!/usr/bin/env bash
# The sandbox's consent page and team mode's sign-in pages in a real headless browser.
#
#   scripts/browser_e2e.sh /path/to/make-credentials-mcp
#
#  1. Installs what it needs: Debian's `chromium` package (apt-get, only when /usr/bin/chromium
#     is missing), and into a temporary folder (never into the repo) Node 22 (node@22.23.3,
#     only when the `node` on PATH is older than 20) and the exact versions in
#     scripts/browser-e2e/package.json: playwright-core 1.65.1 (drives the installed
#     Chromium; no browser is downloaded) and @modelcontextprotocol/sdk 1.32.2.
#  2. Runs scripts/browser-e2e/consent_page.mjs: the SDK's client starts `BINARY --sandbox`
#     over stdio and creates credential requests; Chromium opens their publicUri and clicks
#     Authorize on an OAuth credential, fills in and submits a key credential's parameters,
#     declines one, and lets two foreign pages (another loopback port, another host name)
#     auto-post to a pending credential's authorize URL (expects 403). Every outcome is
#     checked through the tools.
#  3. In the same run and the same totals, scripts/browser-e2e/team_sign_in.mjs: starts
#     `BINARY --sandbox http --auth oauth` on a free port, registers clients with a loopback
#     redirect URI the test serves, and Chromium signs ada in from /authorize (PKCE from Node)
#     through the sandbox's Make login and consent and the server's own consent page: Allow
#     gives a code, the state and iss at the callback, and the code redeemed at /token calls
#     connections_list over /mcp; Deny gives error=access_denied; the consent page refuses
#     framing (X-Frame-Options, CSP frame-ancestors) and foreign pages (another loopback port,
#     another host name) that auto-post its form with a live ticket (403).
#  4. Also in the same totals, scripts/browser-e2e/account_page.mjs: on a team server of its
#     own, ada allows a client and creates a key with its token; Chromium opens /account,
#     signs in through the sandbox's Make login, and checks the page (ada's name, email and
#     Make user id, her grant's scopes and last refresh, the client with a Revoke button, the
#     key's audit entry; framing and caching forbidden; screenshot 11-account-page.png);
#     foreign pages (another loopback port, another host name) auto-posting the revoke form
#     with the page's own values get 403 and the token still works; Revoke on the page
#     (screenshot 12-account-revoked.png) makes the client's token get 401 at /mcp and puts
#     the revoke (account_revoke) in the page's recent activity; Sign out
#     ends the session (/account goes to Make's login again).
# Screenshots go to ${BROWSER_E2E_OUT:-target/browser-e2e} (relative to the repo root).
# Prints PASS/FAIL lines and a final "N passed, M failed".
# Exit: 3 when Chromium or the npm packages could not be installed; otherwise 0 when all
# passed, 1 when a check failed or the test did not finish.
# Env: BROWSER_E2E_TOOLS (reuse an install folder), BROWSER_E2E_OUT, KEEP=1 (keep the temp
# folder). Takes about 20 s once installed.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 /path/to/make-credentials-mcp (an executable)" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${BROWSER_E2E_OUT:-target/browser-e2e}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
WORK=$(mktemp -d "${TMPDIR:-/tmp}/browser-e2e.XXXXXX")
TOOLS=${BROWSER_E2E_TOOLS:-$WORK/tools}
CHROMIUM=/usr/bin/chromium
TEST_PGID= TAIL_PID=

cleanup() {
  # The test runs in a process group of its own (Node and the server it spawned): if it is
  # still there, however this script ends, ask it to stop (playwright then closes Chromium,
  # which runs in a group of its own and also exits when Node's pipe to it closes), then
  # end it.
  if [ -n "$TEST_PGID" ] && kill -TERM -- "-$TEST_PGID" 2>/dev/null; then
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 -- "-$TEST_PGID" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL -- "-$TEST_PGID" 2>/dev/null
  fi
  if [ -n "$TAIL_PID" ]; then kill "$TAIL_PID" 2>/dev/null; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "(kept $WORK)" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$ROOT/scripts/lib/node-tools.sh"

if [ ! -x "$CHROMIUM" ]; then
  echo "== installing Debian's chromium package" >&2
  { timeout 600 apt-get update && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y chromium; } \
    >"$WORK/apt.log" 2>&1 || cannot_install "Debian's chromium package" "$WORK/apt.log"
  [ -x "$CHROMIUM" ] || cannot_install "Debian's chromium package (no $CHROMIUM afterwards)" "$WORK/apt.log"
fi

echo "== installing into $TOOLS" >&2
use_node 20 0 # playwright-core's floor
install_deps "$ROOT/scripts/browser-e2e/package.json" playwright-core @modelcontextprotocol/sdk
echo "   node $("$NODE" --version), $("$CHROMIUM" --version 2>/dev/null | head -n 1)" >&2

# ---------------------------------------------------------------------------------------------
echo "== consent, team sign-in and account pages in headless Chromium (screenshots in $OUT)" >&2
mkdir -p "$OUT"
rm -f "$OUT"/*.png
# Job control gives the test its own process group, which cleanup ends as a whole. The script
# bounds itself (150 s) and closes its browser and server; timeout is the backstop.
: >"$WORK/test.out"
set -m
NODE_PATH=$TOOLS/deps/node_modules TMPDIR=$WORK timeout -k 10 210 \
  "$NODE" "$ROOT/scripts/browser-e2e/consent_page.mjs" "$BIN" "$OUT" >"$WORK/test.out" 2>"$WORK/test.err" &
TEST_PGID=$!
set +m
# Both in the background: `wait` returns at once on INT or TERM, a foreground command would not.
tail -n +1 -f --pid="$TEST_PGID" "$WORK/test.out" &
TAIL_PID=$!
wait "$TEST_PGID"
RC=$?
TEST_PGID=
wait "$TAIL_PID"
TAIL_PID=
if [ -s "$WORK/test.err" ]; then
  echo "-- stderr of the test:" >&2
  tail -20 "$WORK/test.err" >&2
fi

LAST=$(tail -n 1 "$WORK/test.out")
if [[ ! $LAST =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]]; then
  echo "FAIL [browser] the test ended without its summary line (exit $RC)"
  echo "0 passed, 1 failed"
  exit 1
fi
[ "$RC" -eq 0 ] || exit 1
