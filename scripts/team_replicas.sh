#!/usr/bin/env bash
# Team mode on replicas: two `http --auth oauth` replicas on one throwaway Postgres, behind nginx
# round-robin, with the standalone sandbox playing Make (its OAuth access tokens last 135 s, so a
# grant is due for refresh 15 s after sign-in). scripts/team_e2e.py --replicas signs ada in
# through nginx with the Python SDK's OAuthClientProvider, checks the token on each replica
# directly, waits 16 s, then fires 10 concurrent calls across both replicas. From the replicas'
# logs this script then proves that the Make grant was refreshed exactly once in total (the
# database lease), that both replicas served steps of the sign-in (any replica can take any
# step), and that no secret (the sandbox's client secret, the database password, the keys)
# reached a log.
# Make's request limit: the sandbox enforces MAKE_LIMIT requests a minute for the organization
# (answering 429 past it, as Make does) and reports it as the plan's limit (license.apiLimit);
# the replicas are given no --make-rate-limit, so they learn that limit at sign-in and divide it
# between them (--replicas 2). scripts/team_e2e.py --rate-limit then runs
# ada's agent away through nginx until both replicas hold her back with "try again in N s",
# signs grace (same organization) in, whose calls must succeed; the sandbox's log must show no
# 429 and both replicas' logs their refusals.
#
# Usage: scripts/team_replicas.sh BIN   (the server binary with team mode; builds nothing)
# Needs: Postgres's server binaries (scripts/postgres.sh installs Debian's postgresql), nginx
# (installed with apt-get when missing; that needs root), python3 with venv; the Python mcp SDK
# comes from the venv scripts/person_e2e.sh uses ($PERSON_E2E_VENV, else
# $TMPDIR/person-e2e-venv), created with `pip install mcp==2.3.0` when it lacks that version.
# Everything listens on 127.0.0.1; everything is bounded in time and cleaned up on exit.
# Exit codes: 0 proven, 1 failed, 2 usage, 3 a prerequisite could not be installed.
# Env: PORT_BASE (nginx on it, replicas on +1 and +2, the sandbox on +3); default: four ports
# the system reports free (fixed ports inside the ephemeral range can be taken by any
# outgoing connection of an earlier step).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 BIN" >&2; exit 2; }
BIN=$(realpath -m "$1")
[ -x "$BIN" ] || { echo "no server binary at $BIN: build it first (cargo build)" >&2; exit 2; }

if [ -n "${PORT_BASE:-}" ]; then
  LB_PORT=$PORT_BASE R1_PORT=$((PORT_BASE + 1)) R2_PORT=$((PORT_BASE + 2)) SB_PORT=$((PORT_BASE + 3))
else
  read -r LB_PORT R1_PORT R2_PORT SB_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
fi
LB=http://127.0.0.1:$LB_PORT
WAIT_SECS=16
# Make API requests a minute for the sandbox's organization: the sandbox's limit, which the
# replicas learn as the plan's (small, so the runaway reaches it in seconds; not 60, which the
# replicas would keep without learning it).
MAKE_LIMIT=80
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mcp-team-replicas.XXXXXX")
PIDS=()
DATABASE_URL=

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  [ -z "$DATABASE_URL" ] || "$here/postgres.sh" stop "$DATABASE_URL" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# --- Prerequisites (exit 3 when one cannot be installed: not a failure of this code)

if ! command -v nginx >/dev/null; then
  echo "== installing nginx (Debian package)"
  timeout 600 apt-get update -qq || { echo "could not update apt lists" >&2; exit 3; }
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq nginx >/dev/null \
    || { echo "could not install nginx" >&2; exit 3; }
fi

venv=${PERSON_E2E_VENV:-${TMPDIR:-/tmp}/person-e2e-venv}
if ! "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("mcp") != "2.3.0")' 2>/dev/null; then
  echo "== creating $venv with mcp==2.3.0"
  python3 -m venv "$venv" || exit 3
  timeout 600 "$venv/bin/pip" install --quiet 'mcp==2.3.0' || exit 3
fi

echo "== starting a throwaway Postgres"
rc=0
DATABASE_URL=$(timeout 900 "$here/postgres.sh" start) || rc=$?
if [ "$rc" -ne 0 ]; then
  DATABASE_URL=
  [ "$rc" -eq 3 ] && exit 3
  echo "Postgres did not start (exit $rc)" >&2
  exit 1
fi

# --- The sandbox, standing in for Make's API and OAuth provider (shared by both replicas)

echo "== starting the sandbox on 127.0.0.1:$SB_PORT (Make OAuth tokens last 135 s)"
"$BIN" sandbox --port "$SB_PORT" --oauth-redirect-uri "$LB/oauth/callback" \
  --oauth-token-lifetime 135 --rate-limit "$MAKE_LIMIT" 2>"$WORK/sandbox.log" &
PIDS+=($!)
printed() { sed -n "s/^ *export $1=//p" "$WORK/sandbox.log"; }
for _ in $(seq 1 100); do [ -n "$(printed MAKE_OAUTH_CLIENT_SECRET)" ] && break; sleep 0.2; done
MAKE_API_URL=$(printed MAKE_API_URL)
MAKE_OAUTH_ISSUER=$(printed MAKE_OAUTH_ISSUER)
MAKE_OAUTH_CLIENT_ID=$(printed MAKE_OAUTH_CLIENT_ID)
MAKE_OAUTH_CLIENT_SECRET=$(printed MAKE_OAUTH_CLIENT_SECRET)
if [ -z "$MAKE_API_URL" ] || [ -z "$MAKE_OAUTH_ISSUER" ] || [ -z "$MAKE_OAUTH_CLIENT_ID" ] \
  || [ -z "$MAKE_OAUTH_CLIENT_SECRET" ]; then
  echo "the sandbox did not print its API URL and OAuth client:" >&2
  sed 's/SECRET=.*/SECRET=(hidden)/' "$WORK/sandbox.log" >&2
  exit 1
fi

# --- Two replicas: same database, keys, public URL and Make OAuth client

# Keys for this run only, shared by both replicas.
MCP_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
MCP_STATE_KEY=$(head -c 32 /dev/urandom | base64)

echo "== starting two replicas on 127.0.0.1:$R1_PORT and 127.0.0.1:$R2_PORT (public URL $LB)"
for port in "$R1_PORT" "$R2_PORT"; do
  # Team mode takes no operator key or static token: keep the caller's out.
  env -u MAKE_API_KEY -u MCP_AUTH_TOKEN -u MAKE_ZONE \
    MCP_AUTH=oauth MCP_PUBLIC_URL="$LB" DATABASE_URL="$DATABASE_URL" \
    MCP_ENCRYPTION_KEY="$MCP_ENCRYPTION_KEY" MCP_STATE_KEY="$MCP_STATE_KEY" \
    MAKE_API_URL="$MAKE_API_URL" MAKE_OAUTH_ISSUER="$MAKE_OAUTH_ISSUER" \
    MAKE_OAUTH_CLIENT_ID="$MAKE_OAUTH_CLIENT_ID" MAKE_OAUTH_CLIENT_SECRET="$MAKE_OAUTH_CLIENT_SECRET" \
    MCP_REPLICAS=2 RUST_LOG=make_credentials_mcp=info \
    "$BIN" --no-cli-login http --listen "127.0.0.1:$port" --max-connections-per-client 256 \
    2>"$WORK/replica-$port.log" &
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
      proxy_set_header Host \$http_host;   # passed through: the public URL's 127.0.0.1:$LB_PORT
      proxy_buffering off;
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
show_logs() {
  for port in "$R1_PORT" "$R2_PORT"; do
    echo "== last lines of replica :$port's log"
    tail -n 20 "$WORK/replica-$port.log" | sed 's/^/   /'
  done
}
if ! wait_ready "http://127.0.0.1:$R1_PORT/healthz" || ! wait_ready "http://127.0.0.1:$R2_PORT/healthz"; then
  show_logs
  exit 1
fi

echo "== starting nginx on 127.0.0.1:$LB_PORT"
nginx -p "$WORK" -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf" &
PIDS+=($!)
wait_ready "$LB/healthz" || { cat "$WORK/nginx-error.log" >&2; exit 1; }

# --- The client's checks

FAILED=0
echo "== team_e2e.py --replicas: sign in through nginx, each replica directly, refresh under load"
timeout 300 "$venv/bin/python" "$here/team_e2e.py" --replicas "$LB" \
  "http://127.0.0.1:$R1_PORT" "http://127.0.0.1:$R2_PORT" "$WAIT_SECS" 2>&1 | sed 's/^/   /' \
  || FAILED=1

# --- What the replicas' logs prove

# Requests of the sign-in: every path but /mcp and /healthz (discovery, registration,
# /authorize, Make's callback, consent, /token), with the replica that served each.
signin() { grep 'http request' "$WORK/replica-$1.log" | grep -v 'path="\?/\(mcp\|healthz\)\b' || true; }
served() { signin "$1" | grep -c "path=\"\\?$2\\b" || true; }
s1=$(signin "$R1_PORT" | grep -c . || true)
s2=$(signin "$R2_PORT" | grep -c . || true)
echo "== sign-in requests: replica :$R1_PORT served $s1, replica :$R2_PORT served $s2"
for port in "$R1_PORT" "$R2_PORT"; do signin "$port" | sed "s/^[^ ]* */   :$port /"; done
authorize_at="" callback_at=""
for port in "$R1_PORT" "$R2_PORT"; do
  [ "$(served "$port" /authorize)" -gt 0 ] && authorize_at="$authorize_at :$port"
  [ "$(served "$port" /oauth/callback)" -gt 0 ] && callback_at="$callback_at :$port"
done
if [ -n "$authorize_at" ] && [ -n "$callback_at" ] && [ "$authorize_at" != "$callback_at" ]; then
  echo "   OK: /authorize was served by${authorize_at}, Make's callback by${callback_at}"
elif [ "$s1" -gt 0 ] && [ "$s2" -gt 0 ]; then
  echo "   OK: both replicas served steps of the sign-in (/authorize by${authorize_at:- none}, callback by${callback_at:- none})"
else
  echo "   FAIL: the sign-in did not span both replicas"
  FAILED=1
fi

r1=$(grep -c 'refreshed a Make grant' "$WORK/replica-$R1_PORT.log" || true)
r2=$(grep -c 'refreshed a Make grant' "$WORK/replica-$R2_PORT.log" || true)
echo "== Make grant refreshes: replica :$R1_PORT $r1, replica :$R2_PORT $r2"
if [ $((r1 + r2)) -eq 1 ]; then
  echo "   OK: the grant was refreshed exactly once across both replicas"
else
  echo "   FAIL: expected exactly one refresh in total, saw $((r1 + r2))"
  FAILED=1
fi

echo "== team_e2e.py --rate-limit: a runaway and a colleague share the organization's budget"
timeout 300 "$venv/bin/python" "$here/team_e2e.py" --rate-limit "$LB" 2>&1 | sed 's/^/   /' \
  || FAILED=1
make429=$(grep -c 'sandbox rate limit: answered 429' "$WORK/sandbox.log" || true)
if [ "$make429" -eq 0 ]; then
  echo "   OK: the sandbox (Make) answered no 429 (limit $MAKE_LIMIT a minute)"
else
  echo "   FAIL: the sandbox answered 429 $make429 times: the replicas sent more than the budget"
  FAILED=1
fi
unknown=$(cat "$WORK"/replica-*.log | grep -c "Make organization\|organizations in time" || true)
if [ "$unknown" -eq 0 ]; then
  echo "   OK: every sign-in learned the person's Make organization"
else
  echo "   FAIL: $unknown sign-ins did not learn the person's Make organization"
  FAILED=1
fi
# Held back at the plan's limit divided between the replicas, not at the default's 30.
if grep 'held back by the make request budget' "$WORK"/replica-*.log | grep -q "per_window: $((MAKE_LIMIT / 2))\b"; then
  echo "   OK: the replicas kept the plan's limit Make reported ($MAKE_LIMIT a minute, $((MAKE_LIMIT / 2)) each)"
else
  echo "   FAIL: no replica held back at the plan's limit ($((MAKE_LIMIT / 2)) each): did they learn license.apiLimit?"
  FAILED=1
fi
h1=$(grep -c 'held back by the make request budget' "$WORK/replica-$R1_PORT.log" || true)
h2=$(grep -c 'held back by the make request budget' "$WORK/replica-$R2_PORT.log" || true)
if [ "$h1" -gt 0 ] && [ "$h2" -gt 0 ]; then
  echo "   OK: both replicas held requests back (:$R1_PORT $h1, :$R2_PORT $h2)"
else
  echo "   FAIL: each replica must hold the runaway back (:$R1_PORT $h1, :$R2_PORT $h2)"
  FAILED=1
fi

pg_password=$(sed -E 's|^postgres://[^:]*:([^@]*)@.*|\1|' <<<"$DATABASE_URL")
for secret in MAKE_OAUTH_CLIENT_SECRET MCP_ENCRYPTION_KEY MCP_STATE_KEY pg_password; do
  if grep -qF -- "${!secret}" "$WORK"/replica-*.log "$WORK/nginx-access.log"; then
    echo "   FAIL: $secret appears in a replica or proxy log"
    FAILED=1
  fi
done

[ "$FAILED" = 0 ] || show_logs
[ "$FAILED" = 0 ] && echo "== team replicas: PASS" || echo "== team replicas: FAIL"
exit "$FAILED"
