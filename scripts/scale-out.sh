#!/usr/bin/env bash
# Scale-out proof for the stateless HTTP default: two server replicas on loopback behind
# nginx round-robin; a 2026-07-28 client and a stateless 2025-11-25 client each list the
# tools and call a tool twice through nginx, and the replicas' per-request log lines show
# that both replicas served each client.
#
# Needs: cargo, and nginx (installed with apt-get when missing; that needs root).
# Everything listens on 127.0.0.1; everything is bounded in time and cleaned up on exit.
# Exit codes: 0 proven, 1 failed, 3 nginx could not be installed.
# Env: PORT_BASE (nginx on it, replicas on +1 and +2, the sandbox on +3; default: four ports
# the system reports free), CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
if [ -n "${PORT_BASE:-}" ]; then
  LB_PORT=$PORT_BASE R1_PORT=$((PORT_BASE + 1)) R2_PORT=$((PORT_BASE + 2)) SB_PORT=$((PORT_BASE + 3))
else
  # Fixed ports inside the ephemeral range can be taken by any outgoing connection.
  read -r LB_PORT R1_PORT R2_PORT SB_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
fi
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mcp-scale-out.XXXXXX")
PIDS=()

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

if ! command -v nginx >/dev/null; then
  echo "== installing nginx (Debian package)"
  # Exit 3 means "could not install the prerequisite", not "the proof failed".
  timeout 600 apt-get update -qq || { echo "could not update apt lists" >&2; exit 3; }
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq nginx >/dev/null \
    || { echo "could not install nginx" >&2; exit 3; }
fi

echo "== building the server and the example client (debug)"
timeout 1200 cargo build -q --bin make-credentials-mcp --example http_client
BIN=$TARGET/debug/make-credentials-mcp
CLIENT=$TARGET/debug/examples/http_client

# A bearer token for this run only: the proxy passes it through, the replicas check it.
MCP_AUTH_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export MCP_AUTH_TOKEN

# One shared Make API for both replicas: the built-in sandbox, standing in for Make.
echo "== starting the Make API sandbox on 127.0.0.1:$SB_PORT (shared by both replicas)"
"$BIN" sandbox --port "$SB_PORT" 2>"$WORK/sandbox.log" &
PIDS+=($!)
for _ in $(seq 1 50); do grep -q MAKE_API_KEY "$WORK/sandbox.log" 2>/dev/null && break; sleep 0.2; done
MAKE_API_URL=$(sed -n 's/^ *export MAKE_API_URL=//p' "$WORK/sandbox.log")
MAKE_API_KEY=$(sed -n 's/^ *export MAKE_API_KEY=//p' "$WORK/sandbox.log")
[ -n "$MAKE_API_KEY" ] || { echo "sandbox did not start" >&2; cat "$WORK/sandbox.log" >&2; exit 1; }

echo "== starting two replicas on 127.0.0.1:$R1_PORT and 127.0.0.1:$R2_PORT"
for port in "$R1_PORT" "$R2_PORT"; do
  env MAKE_API_URL="$MAKE_API_URL" MAKE_API_KEY="$MAKE_API_KEY" RUST_LOG=make_credentials_mcp=info \
    "$BIN" --no-cli-login http --listen "127.0.0.1:$port" --max-connections-per-client 256 2>"$WORK/replica-$port.log" &
  PIDS+=($!)
done

mkdir -p "$WORK/nginx-tmp"
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;   # stays our child, so the trap can stop and reap it
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log $WORK/nginx-access.log;
  client_body_temp_path $WORK/nginx-tmp/body;
  proxy_temp_path $WORK/nginx-tmp/proxy;
  fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
  scgi_temp_path $WORK/nginx-tmp/scgi;
  # Round-robin (nginx's default) over both replicas, one request at a time.
  upstream mcp_replicas {
    server 127.0.0.1:$R1_PORT;
    server 127.0.0.1:$R2_PORT;
  }
  server {
    listen 127.0.0.1:$LB_PORT;
    client_max_body_size 4m;
    location / {
      proxy_pass http://mcp_replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;   # 127.0.0.1:$LB_PORT, a loopback Host the replicas accept
      proxy_buffering off;            # SSE responses (--sessions) must not be buffered
      proxy_read_timeout 120s;
    }
  }
}
CONF

wait_ready() {
  local url=$1
  for _ in $(seq 1 100); do
    curl -fsS --max-time 2 "$url" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "not ready: $url" >&2
  return 1
}
wait_ready "http://127.0.0.1:$R1_PORT/healthz"
wait_ready "http://127.0.0.1:$R2_PORT/healthz"

echo "== starting nginx on 127.0.0.1:$LB_PORT"
nginx -p "$WORK" -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf" &
PIDS+=($!)
wait_ready "http://127.0.0.1:$LB_PORT/healthz"

count() { grep -c 'http request' "$WORK/replica-$1.log" || true; }

FAILED=0
run_client() {
  local era=$1 a1 a2 b1 b2
  a1=$(count "$R1_PORT"); a2=$(count "$R2_PORT")
  echo "== $era client through nginx"
  timeout 60 "$CLIENT" "http://127.0.0.1:$LB_PORT/mcp" "$era" | sed 's/^/   /'
  b1=$(count "$R1_PORT"); b2=$(count "$R2_PORT")
  echo "   replica :$R1_PORT served $((b1 - a1)) request(s), replica :$R2_PORT served $((b2 - a2))"
  if [ $((b1 - a1)) -gt 0 ] && [ $((b2 - a2)) -gt 0 ]; then
    echo "   OK: one $era client session was served by both replicas"
  else
    echo "   FAIL: the $era session did not span both replicas"
    FAILED=1
  fi
}
run_client modern
run_client legacy

echo "== per-request log lines (replica :$R1_PORT)"
grep 'http request' "$WORK/replica-$R1_PORT.log" | sed 's/^[^ ]* *//; s/^/   /'
echo "== per-request log lines (replica :$R2_PORT)"
grep 'http request' "$WORK/replica-$R2_PORT.log" | sed 's/^[^ ]* *//; s/^/   /'
if grep -q "$MCP_AUTH_TOKEN" "$WORK"/replica-*.log; then
  echo "FAIL: the bearer token appears in a replica log"; FAILED=1
fi
[ "$FAILED" = 0 ] && echo "== scale-out: PASS" || echo "== scale-out: FAIL"
exit "$FAILED"
