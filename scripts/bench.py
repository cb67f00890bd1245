#!/usr/bin/env python3
"""What the release binary costs a user: start-up, memory, CPU per call, tools/list size.

    scripts/bench.py [--bin PATH] [--calls N] [--spawns N] [--install] [--compare]

Everything runs against a canned Make double on loopback (started here, in a thread): the
server's own cost is measured, not Make's.

1. start-up: spawn -> `initialize` answered over stdio, median of --spawns runs (default 25);
2. memory: VmRSS and VmHWM of the stdio server after --calls `connections_list` calls, one
   at a time and with 16 in flight;
3. CPU per call: the server's own utime+stime (/proc/PID/stat) over --calls calls, over
   stdio (one at a time and 16 in flight) and over HTTP (stateless, one at a time, median
   of three runs), with one upstream round trip alone beside it;
4. `tools/list` compact bytes, split into what models read (names, titles, descriptions,
   input schemas, annotations) and output schemas;
5. a clean `cargo install --path .` (only with --install: it takes minutes).

With --compare, the first four figures are also taken, in the same run, for:
- a minimal responder (examples/minimal_responder.rs): the same I/O (one upstream GET per
  call, its body as the result) with no MCP framework, no validation, no security checks;
- Make's own tool layer: @makehq/sdk's credential tools behind the TypeScript MCP SDK's
  stdio server (scripts/make-sdk-server.mjs; needs node and npm, installs both packages into
  target/bench-make-sdk). It has no HTTP transport, so that figure stays empty.

A benchmark, not a test: it never fails on a number (exit 1 only when something broke).
Two figures have a bound a user would notice, printed beside them: `tools/list` fits in
40 KB of the model's context, and with --compare the server starts at least 20 times faster
than Make's own tool layer.
"""
import argparse, http.client, json, os, socket, statistics, subprocess, sys, tempfile, threading, time

LIST_BOUND_KB = 40.0
STARTUP_FACTOR = 20.0
TICK = os.sysconf("SC_CLK_TCK")
KEY = "00000000-0000-4000-8000-000000000000"

# ---------------------------------------------------------------- the canned Make double
CONNECTIONS = json.dumps({"connections": [
    {"id": 1000 + i, "name": f"Connection {i}", "accountName": "google", "accountLabel": "Google",
     "packageName": None, "expire": None, "metadata": {"type": "email", "value": f"u{i}@example.com"},
     "teamId": 1, "theme": "#4285f4", "upgradeable": False, "scopesCnt": 2, "scoped": True,
     "accountType": "oauth", "editable": True, "uid": f"u{i}"} for i in range(3)]}).encode()
AUTHORIZATION = json.dumps({"authorization": {"scope": [
    "connections:read", "connections:write", "keys:read", "keys:write",
    "credential-requests:read", "credential-requests:write", "apps:read"]}}).encode()


def answer(path):
    if path.startswith("/api/v2/connections"):
        return CONNECTIONS
    if path.startswith("/api/v2/users/me/current-authorization"):
        return AUTHORIZATION
    return b'{"message":"not in the canned double","code":"IM005"}'


def serve_double(listener):
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=keep_alive, args=(conn,), daemon=True).start()


def keep_alive(conn):
    try:
        serve_connection(conn)
    except OSError:  # the server went away mid-request: nothing to answer
        pass


def serve_connection(conn):
    buf = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            length = next((int(l.split(b":")[1]) for l in lines[1:] if l.lower().startswith(b"content-length:")), 0)
            while len(buf) < length:
                buf += conn.recv(65536)
            buf = buf[length:]
            body = answer(lines[0].split(b" ")[1].decode())
            status = b"200 OK" if not body.startswith(b'{"message"') else b"404 Not Found"
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)


def start_double():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    threading.Thread(target=serve_double, args=(listener,), daemon=True).start()
    return listener.getsockname()[1]


def upstream_round_trip_us(port, n=2000):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/api/v2/connections?teamId=1"); conn.getresponse().read()
    t = time.perf_counter()
    for _ in range(n):
        conn.request("GET", "/api/v2/connections?teamId=1", headers={"Authorization": "Token " + KEY})
        conn.getresponse().read()
    return (time.perf_counter() - t) / n * 1e6


# ---------------------------------------------------------------- the server
def env_for(port):
    return dict(os.environ, MAKE_API_URL=f"http://127.0.0.1:{port}/api/v2", MAKE_API_KEY=KEY,
                MAKE_TEAM="1", RUST_LOG="warn")


def spawn(command, port, *args):
    """`command` (a path, or a list such as ["node", script]) with the server's flags."""
    command = [command] if isinstance(command, str) else command
    return subprocess.Popen([*command, "--no-cli-login", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env_for(port))


INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}


def send(proc, msg):
    proc.stdin.write(json.dumps(msg).encode() + b"\n"); proc.stdin.flush()


def rpc(proc, msg):
    send(proc, msg)
    while True:
        reply = json.loads(proc.stdout.readline())
        if reply.get("id") == msg["id"]:
            return reply


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def status(pid, *keys):
    return {l.split(":")[0]: int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith(keys)}


def call(i):
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call",
            "params": {"name": "connections_list", "arguments": {"teamId": 1}}}


def startup_ms(bin_, port, spawns):
    line = json.dumps(INIT).encode() + b"\n"
    times = []
    for _ in range(spawns):
        t = time.perf_counter()
        p = spawn(bin_, port)
        p.stdin.write(line); p.stdin.flush()
        p.stdout.readline()
        times.append((time.perf_counter() - t) * 1e3)
        p.stdin.close(); p.wait()
    return statistics.median(times)


def stdio_run(bin_, port, calls, window):
    """A stdio session of `calls` calls, `window` in flight at a time (1: one at a time)."""
    p = spawn(bin_, port)
    rpc(p, INIT); send(p, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    listing = rpc(p, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})["result"]
    check(rpc(p, call(2)))
    before = cpu_ticks(p.pid)
    t = time.perf_counter()
    for i in range(0, calls, window):
        sent = min(window, calls - i)
        for j in range(sent):
            send(p, call(10 + i + j))
        for _ in range(sent):
            check(json.loads(p.stdout.readline()))
    wall = time.perf_counter() - t
    cpu = (cpu_ticks(p.pid) - before) / TICK / calls * 1e6
    mem = status(p.pid, "VmRSS", "VmHWM", "RssAnon", "RssFile")
    p.stdin.close(); p.wait()
    return listing, cpu, wall / calls * 1e6, mem


def check(reply):
    result = reply.get("result") or {}
    if result.get("isError") or "error" in reply:
        sys.exit(f"bench: a call failed: {json.dumps(reply)[:400]}")


def http_run(bin_, port, calls):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); mcp_port = s.getsockname()[1]
    p = spawn(bin_, port, "http", "--listen", f"127.0.0.1:{mcp_port}")
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", mcp_port)).close(); break
        except OSError:
            time.sleep(0.01)
    conn = http.client.HTTPConnection("127.0.0.1", mcp_port)
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25"}

    def post(msg):
        conn.request("POST", "/mcp", json.dumps(msg), headers)
        check(json.loads(conn.getresponse().read()))

    post(call(1))
    before = cpu_ticks(p.pid)
    for i in range(calls):
        post(call(2 + i))
    cpu = (cpu_ticks(p.pid) - before) / TICK / calls * 1e6
    p.terminate(); p.wait()
    return cpu


def list_sizes(listing):
    compact = lambda v: len(json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode())
    total = compact(listing)
    output = sum(compact(t["outputSchema"]) for t in listing["tools"] if "outputSchema" in t)
    return total, total - output, output


def install_secs():
    root = tempfile.mkdtemp(prefix="bench-install-")
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(root, "target"), CARGO_INCREMENTAL="0")
    t = time.perf_counter()
    subprocess.run(["cargo", "install", "--locked", "--path", ".", "--root", root, "--quiet"], check=True, env=env)
    secs = time.perf_counter() - t
    subprocess.run(["rm", "-rf", root])
    return secs


def row(name, value, unit, extra=""):
    shown = f"{value:,.1f} {unit}" if value is not None else "not measured"
    print(f"| {name} | {shown} | {extra} |")


def minimal_responder():
    subprocess.run(["cargo", "build", "--quiet", "--release", "--example", "minimal_responder"], check=True)
    return os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "examples", "minimal_responder")


def make_tool_layer():
    """["node", script] serving Make's SDK tools, installed on first use; None without node/npm."""
    root = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "bench-make-sdk")
    script = os.path.join(root, "make-sdk-server.mjs")
    try:
        if not os.path.isdir(os.path.join(root, "node_modules", "@makehq")):
            os.makedirs(root, exist_ok=True)
            subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", root,
                            "@makehq/sdk@1.6.10", "@modelcontextprotocol/sdk@1"], check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"bench: Make's tool layer not measured ({e})", file=sys.stderr)
        return None
    subprocess.run(["cp", os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-sdk-server.mjs"), script],
                   check=True)
    return ["node", script]


def measure(command, port, a, http=True):
    """Start-up, memory and CPU per call of one server command: stdio one call at a time and
    with 16 in flight (as a busy agent would), HTTP one at a time."""
    startup = startup_ms(command, port, a.spawns)
    listing, serial_cpu, serial_wall, serial_mem = stdio_run(command, port, a.calls, 1)
    _, stdio_cpu, stdio_wall, mem = stdio_run(command, port, a.calls, 16)
    # The median of three runs: one-at-a-time HTTP calls are the noisiest figure.
    http_cpu = statistics.median(http_run(command, port, a.calls // 2) for _ in range(3)) if http else None
    return {"startup": startup, "listing": listing, "serial": serial_cpu, "serial_wall": serial_wall,
            "serial_mem": serial_mem, "stdio": stdio_cpu, "wall": stdio_wall, "mem": mem, "http": http_cpu}


def comparison(subjects, a):
    names = list(subjects)
    print(f"\n| figure | {' | '.join(names)} |\n|---|{'---|' * len(names)}")
    fmt = lambda v, unit: "-" if v is None else f"{v:,.1f} {unit}"
    rows = [("spawn -> initialize answered (median)", lambda m: m["startup"], "ms"),
            (f"RSS after {a.calls:,} stdio calls, one at a time", lambda m: m["serial_mem"]["VmRSS"] / 1024, "MiB"),
            (f"RSS after {a.calls:,} stdio calls, 16 in flight", lambda m: m["mem"]["VmRSS"] / 1024, "MiB"),
            ("CPU per call, stdio, one at a time", lambda m: m["serial"], "µs"),
            ("CPU per call, stdio, 16 in flight", lambda m: m["stdio"], "µs"),
            ("CPU per call, HTTP (stateless)", lambda m: m["http"], "µs")]
    for title, get, unit in rows:
        cells = " | ".join(fmt(get(subjects[n]), unit) for n in names)
        print(f"| {title} | {cells} |")
    node = subjects.get("Make's tool layer (Node)")
    if node:
        factor = node["startup"] / subjects["this server"]["startup"]
        verdict = "meets" if factor >= STARTUP_FACTOR else "misses"
        print(f"\nstart-up: {factor:.0f}x faster than Make's tool layer (bound: at least {STARTUP_FACTOR:g}x): {verdict}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/make-credentials-mcp")
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--spawns", type=int, default=25)
    ap.add_argument("--install", action="store_true")
    ap.add_argument("--compare", action="store_true")
    a = ap.parse_args()
    port = start_double()
    upstream = upstream_round_trip_us(port)
    ours = measure(a.bin, port, a)
    listing, mem = ours["listing"], ours["mem"]
    total, model, output = list_sizes(listing)
    subjects = {"this server": ours}
    if a.compare:
        subjects["minimal responder"] = measure(minimal_responder(), port, a)
        make = make_tool_layer()
        if make:
            subjects["Make's tool layer (Node)"] = measure(make, port, a, http=False)
    install = install_secs() if a.install else None
    cpu = os.popen("grep -m1 'model name' /proc/cpuinfo").read().split(":")[-1].strip()
    print(f"machine: {cpu}, {os.cpu_count()} cores; binary {os.path.getsize(a.bin) / 2**20:.1f} MiB")
    print("| figure | measured | detail |\n|---|---|---|")
    row("spawn -> initialize answered (median)", ours["startup"], "ms", f"{a.spawns} spawns")
    for label, m in (("one at a time", ours["serial_mem"]), ("16 in flight", mem)):
        row(f"RSS after {a.calls:,} stdio calls, {label}", m["VmRSS"] / 1024, "MiB",
            f"VmHWM {m['VmHWM'] / 1024:.1f} MiB; heap and stacks (RssAnon) {m['RssAnon'] / 1024:.1f} MiB, "
            f"mapped binary and libraries (RssFile) {m['RssFile'] / 1024:.1f} MiB")
    row("CPU per call, stdio, one at a time", ours["serial"], "µs",
        f"wall {ours['serial_wall']:.0f} µs/call; one upstream round trip alone {upstream:.0f} µs")
    row("CPU per call, stdio, 16 in flight", ours["stdio"], "µs",
        f"wall {ours['wall']:.0f} µs/call")
    row("CPU per call, HTTP (stateless)", ours["http"], "µs", f"median of 3 runs of {a.calls // 2:,} calls, one at a time")
    fits = "fits" if total / 1000 <= LIST_BOUND_KB else "over"
    row("tools/list, compact", total / 1000, "KB",
        f"{fits} the {LIST_BOUND_KB:g} KB bound; models read {model / 1000:.1f} KB, output schemas "
        f"{output / 1000:.1f} KB, {len(listing['tools'])} tools")
    row("clean cargo install --path .", install, "s",
        "" if a.install else "pass --install to measure")
    if len(subjects) > 1:
        comparison(subjects, a)


if __name__ == "__main__":
    main()
