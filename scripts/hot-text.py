#!/usr/bin/env python3
"""Writes link/hot-text.txt: the functions a session runs, busiest first (issue 11).

    scripts/hot-text.py [--bin PATH] [--calls N]

build.rs hands the list to the linker (`--symbol-ordering-file`), which puts those functions
together at the front of the binary. The kernel maps code in 64 KiB windows around every page
that runs, so functions spread over 9 MiB of code made nearly all of it resident; packed, the
code a session runs fits in under 2 MiB.

How: the release binary (its symbol table is kept: `strip = "debuginfo"`) runs under
valgrind's callgrind against the canned Make double of scripts/bench.py: a stdio session
(initialize, tools/list, tool calls one at a time and 16 in flight) and an HTTP one in each
protocol era. Every function of the binary that ran is listed in parts: first those that ran
after the first tool call, by their own instruction count from then on (those both transports
ran, then those only stdio ran, then those only HTTP ran); then those that only start-up ran. After the first call the server unmaps its code (src/startup_pages.rs),
and only what runs from then on comes back, so that part must be packed on its own. Rebuild
afterwards (`cargo build --release`) and check the figure with scripts/bench.py.

Re-run it when the bench shows the resident size creeping up: names that changed since the
list was made are ignored by the linker, so a stale list costs memory, never correctness.
Needs valgrind (apt install valgrind).
"""
import argparse, collections, http.client, json, os, re, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the canned Make double and the stdio helpers)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "link", "hot-text.txt")
CALLGRIND = ["valgrind", "--tool=callgrind", "--demangle=no", "--compress-strings=no",
             "--compress-pos=no", "--dump-line=no"]
# Tools whose code runs against the double: lists answer, the rest take the error path.
CALLS = [("connections_list", {"teamId": 1}), ("connections_get", {"connectionId": 1000}),
         ("keys_list", {"teamId": 1}), ("credential-requests_list", {"teamId": 1}),
         ("connections_list", {"teamId": "x"})]


def traced(bin_, out, port, *args):
    return subprocess.Popen([*CALLGRIND, f"--callgrind-out-file={out}", bin_, "--no-cli-login", *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=bench.env_for(port))


def tool_call(i, name, arguments):
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


def start_up_done(p, out):
    """Writes what ran so far (start-up and the first call) to `out`.start-up, and counts
    from zero again: the profile written at exit is what runs after start-up."""
    subprocess.run(["callgrind_control", f"--dump={os.path.basename(out)}.start-up", str(p.pid)],
                   check=True, capture_output=True)


def stdio_session(bin_, out, port, calls):
    p = traced(bin_, out, port)
    bench.rpc(p, bench.INIT)
    bench.send(p, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    bench.rpc(p, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    for i in range(calls):
        bench.rpc(p, tool_call(10 + i, *CALLS[i % len(CALLS)]))
        if i == 0:
            start_up_done(p, out)
    for i in range(0, calls, 16):  # and 16 in flight, as scripts/bench.py also runs them
        for j in range(16):
            bench.send(p, bench.call(10_000 + i + j))
        for _ in range(16):
            p.stdout.readline()
    bench.rpc(p, {"jsonrpc": "2.0", "id": 2, "method": "ping"})
    p.stdin.close()
    p.wait()


def http_session(bin_, out, port, calls):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        mcp_port = s.getsockname()[1]
    p = traced(bin_, out, port, "http", "--listen", f"127.0.0.1:{mcp_port}")
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", mcp_port)).close()
            break
        except OSError:
            time.sleep(0.05)
    conn = http.client.HTTPConnection("127.0.0.1", mcp_port)
    for version in ("2025-11-25", "2026-07-28"):
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": version}
        modern = version >= "2026"
        meta = {"_meta": {"io.modelcontextprotocol/protocolVersion": version,
                          "io.modelcontextprotocol/clientCapabilities": {}}} if modern else {}

        def post(message, name=None):
            message.setdefault("params", {}).update(meta)
            extra = {"Mcp-Method": message["method"], **({"Mcp-Name": name} if name else {})} if modern else {}
            conn.request("POST", "/mcp", json.dumps(message), {**headers, **extra})
            reply = conn.getresponse().read()
            if b'"error"' in reply[:200] and b'"result"' not in reply:
                sys.exit(f"hot-text: {version} {message['method']} failed: {reply[:300]!r}")
        for i in range(calls):
            name, arguments = CALLS[i % len(CALLS)]
            post(tool_call(i, name, arguments), name)
            if i == 0 and not modern:
                start_up_done(p, out)
        post({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    p.terminate()
    p.wait()


def own_cost(profile, binary):
    """Instructions each function of `binary` ran itself (calls to others not counted)."""
    cost, ob, fn, skip = collections.Counter(), None, None, False
    for line in open(profile):
        if line.startswith("ob="):
            ob = line[3:].strip()
        elif line.startswith("fn="):
            # callgrind marks recursion depth with a suffix (`name'2`): one function
            fn = re.sub(r"'\d+$", "", line[3:].strip()) if ob == binary else None
        elif line.startswith("calls="):
            skip = True  # the next cost line is the call's, not this function's
        elif line[:1].isdigit() or line[:1] in "+-*":
            if not skip and fn:
                parts = line.split()
                cost[fn] += int(parts[1]) if len(parts) > 1 else 0
            skip = False
    return cost


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/make-credentials-mcp")
    ap.add_argument("--calls", type=int, default=60)
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    if not subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True).stdout:
        sys.exit("hot-text: the binary has no symbol table (strip = \"debuginfo\" keeps it)")
    port = bench.start_double()
    steady, start_up = {}, collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for session in (stdio_session, http_session):
            out = os.path.join(tmp, session.__name__)
            session(binary, out, port, a.calls)
            dumps = [f for f in os.listdir(tmp) if f.startswith(session.__name__ + ".")]
            if len(dumps) != 1:
                sys.exit(f"hot-text: expected one start-up dump of {session.__name__}, found {dumps}")
            start_up.update(own_cost(os.path.join(tmp, dumps[0]), binary))
            steady[session] = own_cost(out, binary)
    ours = lambda counter: [n for n, _ in counter.most_common() if n.startswith(("_ZN", "_R"))]
    # What both transports run comes first, then what only stdio runs, then only HTTP: a
    # process serves one transport, so the other's code stays out of its pages.
    stdio, http_ = steady[stdio_session], steady[http_session]
    both = collections.Counter({n: stdio[n] + http_[n] for n in stdio.keys() & http_.keys()})
    names = ours(both) + [n for n in ours(stdio) if n not in http_] + [n for n in ours(http_) if n not in stdio]
    after_start_up = len(names)
    names += [n for n in ours(start_up) if n not in stdio and n not in http_]
    with open(OUT, "w") as f:
        f.write("".join(n + "\n" for n in names))
    print(f"hot-text: {len(names)} functions ({after_start_up} after start-up) -> "
          f"{os.path.relpath(OUT)}; rebuild to apply")


if __name__ == "__main__":
    main()
