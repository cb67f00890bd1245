#!/usr/bin/env python3
"""Quick measurements of the release binary over stdio against its built-in sandbox:
time to answer `initialize` after spawn, per-call latency of a tool call (which includes the
loopback HTTP round trip to the sandbox), the server's own overhead for a call refused before
any Make request, and peak memory (VmHWM). Usage: scripts/bench.py [BIN] [CALLS]."""
import json, os, statistics, subprocess, sys, time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/make-credentials-mcp"
CALLS = int(sys.argv[2]) if len(sys.argv) > 2 else 500

def rpc(proc, msg):
    proc.stdin.write((json.dumps(msg) + "\n").encode()); proc.stdin.flush()
    if "id" not in msg:
        return None
    while True:
        line = proc.stdout.readline()
        reply = json.loads(line)
        if reply.get("id") == msg["id"]:
            return reply

def spawn():
    env = dict(os.environ, RUST_LOG="warn")
    return subprocess.Popen([BIN, "--no-cli-login", "--sandbox"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)

def initialize(proc):
    rpc(proc, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}})
    rpc(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})

starts = []
for _ in range(20):
    t = time.perf_counter(); p = spawn(); initialize(p); starts.append((time.perf_counter() - t) * 1000)
    p.stdin.close(); p.wait()

p = spawn(); initialize(p)
def timed(name, args, n):
    out = []
    for i in range(n):
        t = time.perf_counter()
        r = rpc(p, {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {"name": name, "arguments": args}})
        out.append((time.perf_counter() - t) * 1e6)
    return r, out

_, listing = timed("tools/list", {}, 1)
r, calls = timed("connections_list", {"teamId": 1}, CALLS)
assert not r["result"].get("isError"), r
r, refused = timed("connections_get", {"connectionId": 0}, CALLS)
assert r["result"].get("isError"), r
hwm = [l for l in open(f"/proc/{p.pid}/status") if l.startswith(("VmHWM", "VmRSS"))]
p.stdin.close(); p.wait()

q = lambda xs, f: sorted(xs)[int(len(xs) * f)]
print(f"spawn + initialize: median {statistics.median(starts):.1f} ms, max {max(starts):.1f} ms (20 runs)")
print(f"connections_list via the sandbox: median {statistics.median(calls):.0f} us, p95 {q(calls, .95):.0f} us ({CALLS} calls)")
print(f"call refused by validation (no Make request): median {statistics.median(refused):.0f} us, p95 {q(refused, .95):.0f} us")
print("memory after the calls (server + in-process sandbox):", ", ".join(l.split(':')[0] + ' ' + l.split(':')[1].strip() for l in hwm))
