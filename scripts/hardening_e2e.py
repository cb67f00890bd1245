#!/usr/bin/env python3
"""End-to-end check of the HTTP server's hardening (issue 17) with an independent client: the
official Python MCP SDK (`mcp` 2.3.0, whose HTTP client is httpx2), against the real binary with
its built-in sandbox.

Usage: python scripts/hardening_e2e.py /path/to/make-credentials-mcp
(scripts/person_e2e.sh runs it after person_e2e.py, with the same venv.)

Each check starts its own `--sandbox http` server:
 1. confirm-always: `--confirm always`, stateless HTTP, legacy era (the client cannot be asked):
    credential-requests_credential-decline and connections_delete are refused with an error
    saying confirmation is required, and nothing changes.
 2. session-cap: `--sessions --max-sessions 2`: two SDK sessions work, a third is refused (503
    with Retry-After), and once one of the two ends (the SDK sends DELETE) a new one gets in.
 3. proxy: without a token, a client sending X-Forwarded-For is refused (403, saying to set a
    token) and one without it is served; with a token, the X-Forwarded-For client is served.
 4. slot-hogging: default limits; 300 raw keep-alive sockets each sending GET /healthz every
    second, then 300 sockets with half-sent request headers (both reconnecting whenever the
    server closes them), from one address and spread over ten; meanwhile three SDK clients, 0.7 s
    apart (across the hogs' reconnect waves), connect and call connections_list within 10 s.
 5. per-client-cap: `--max-connections 8 --max-connections-per-client 4`; four raw sockets from
    127.0.0.1 are busy with a request (answered 100 Continue, 1 of 1000 body bytes sent); an SDK
    client from 127.0.0.1 gets 503, one bound to 127.0.0.2 is served.

The SDK reports an HTTP error status only as "Server returned an error response" (the status and
the body are dropped), so the clients here record error responses with an httpx2 response hook
to check the status and the server's message.

One line per check (PASS/FAIL), then "N passed, M failed"; the exit status is 1 on any failure.
"""
from __future__ import annotations

import http.client
import logging
import os
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from person_e2e import Report, finish, start_http, stop, text_of

REPORT = Report()
TEAM = 1
SLACK_CONNECTION = 1002  # seeded in the sandbox
HOGS = 300
INIT_BODY = (b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
             b'"capabilities":{},"clientInfo":{"name":"hardening-e2e-raw","version":"1"}}}')

# ---------------------------------------------------------------------------------------------
# SDK clients


@dataclass
class Seen:
    """HTTP error responses a client received, recorded by an httpx2 response hook, because the
    SDK turns them into a JSON-RPC error without the status or the body."""

    errors: list[tuple[int, str | None, str]] = field(default_factory=list)  # status, Retry-After, body
    exchanges: list[tuple[str, int]] = field(default_factory=list)  # method, status of every response

    async def hook(self, response: httpx2.Response) -> None:
        self.exchanges.append((response.request.method, response.status_code))
        if response.status_code >= 400:
            await response.aread()
            self.errors.append((response.status_code, response.headers.get("retry-after"),
                                response.text.strip()))

    def statuses(self) -> list[int]:
        return [status for status, _, _ in self.errors]

    def bodies(self) -> str:
        return " | ".join(body for _, _, body in self.errors)


@asynccontextmanager
async def sdk(url: str, *, headers: dict[str, str] | None = None, local_address: str | None = None,
              seen: Seen | None = None, mode: str = "legacy") -> AsyncIterator[Client]:
    """An entered `mcp.Client` over Streamable HTTP whose httpx2 client sends `headers`, binds
    `local_address` and reports error responses to `seen`."""
    transport = httpx2.AsyncHTTPTransport(local_address=local_address) if local_address else None
    hooks = {"response": [seen.hook]} if seen else None
    async with httpx2.AsyncClient(headers=headers, transport=transport, event_hooks=hooks,
                                  timeout=httpx2.Timeout(30, read=60)) as http_client:
        target = streamable_http_client(url, http_client=http_client)
        async with Client(target, mode=mode, read_timeout_seconds=30) as client:
            yield client


def leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in leaves(sub)]
    return [exc]


def describe(exc: BaseException) -> str:
    """The exceptions inside the SDK's nested exception groups, as the caller sees them."""
    return "; ".join(f"{type(e).__name__}: {e}" for e in leaves(exc))


async def try_list_tools(url: str, limit: float = 15, **kwargs: Any) -> tuple[int | None, str]:
    """Connect, list the tools and leave. Returns (number of tools, "") or (None, error text)."""
    try:
        with anyio.fail_after(limit):
            async with sdk(url, **kwargs) as client:
                return len((await client.list_tools()).tools), ""
    except Exception as exc:  # the refusal under test, or a failure to report
        return None, describe(exc)


# ---------------------------------------------------------------------------------------------
# Raw sockets


async def read_response(stream: Any) -> int | None:
    """Read one HTTP/1.1 response with a Content-Length body; its status, or None at EOF."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            buf += await stream.receive()
        except anyio.EndOfStream:
            return None
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(v) for k, _, v in (line.partition(":") for line in lines[1:])
                   if k.strip().lower() == "content-length"), 0)
    while len(body) < length:
        try:
            body += await stream.receive()
        except anyio.EndOfStream:
            return None
    return int(lines[0].split()[1])


def raw_post(port: int, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """A plain POST /mcp; returns status, lower-cased headers and body text."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/mcp", body=body, headers={
            "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
            **(headers or {})})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode(errors="replace")
    finally:
        conn.close()


def healthz(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


@dataclass
class Hogs:
    """`count` raw sockets holding connection slots, each reconnecting a second after the server
    closes it. kind "keepalive": GET /healthz every second on one connection; kind "halfsent": the
    first bytes of a request's headers, then nothing."""

    port: int
    kind: str
    addresses: list[str]
    count: int = HOGS
    opened: int = 0
    closed: int = 0  # by the server (EOF or reset)
    answered: int = 0  # keep-alive /healthz responses
    connect_errors: int = 0
    all_open: anyio.Event = field(default_factory=anyio.Event)

    HALF_SENT = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"
    HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    async def one(self, i: int) -> None:
        local = self.addresses[i % len(self.addresses)]
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", self.port, local_host=local)
            except OSError:
                self.connect_errors += 1
                await anyio.sleep(1)
                continue
            self.opened += 1
            if self.opened >= self.count:
                self.all_open.set()
            try:
                async with stream:
                    if self.kind == "keepalive":
                        while True:
                            await stream.send(self.HEALTHZ)
                            if await read_response(stream) is None:
                                break
                            self.answered += 1
                            await anyio.sleep(1)
                    else:
                        await stream.send(self.HALF_SENT)
                        while True:  # whatever the server answers (408, or nothing), wait for EOF
                            await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                pass
            self.closed += 1
            await anyio.sleep(1)

    def summary(self) -> str:
        return (f"{self.opened} connections opened, {self.closed} closed by the server, "
                f"{self.answered} /healthz answered, {self.connect_errors} connect errors")


# ---------------------------------------------------------------------------------------------
# Checks


class Server:
    """A `--sandbox http` server for one check, stopped on exit; its log goes to `logdir`."""

    def __init__(self, binary: str, logdir: str, name: str, sessions: bool = False,
                 extra: tuple[str, ...] = (), env: dict[str, str] | None = None):
        self.args = (binary, sessions, extra, env)
        self.log_path = os.path.join(logdir, f"{name}.log")

    def __enter__(self) -> "Server":
        binary, sessions, extra, env = self.args
        self.errlog = open(self.log_path, "w")
        self.proc, self.url = start_http(binary, sessions, self.errlog, extra, env)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        return self

    def __exit__(self, *exc: Any) -> None:
        stop(self.proc)
        self.errlog.close()


def is_refusal_for_confirmation(result: Any) -> bool:
    return bool(result.is_error) and "confirm" in text_of(result).lower()


async def confirm_always(binary: str, logdir: str) -> None:
    c = "confirm-always"
    with Server(binary, logdir, c, extra=("--confirm", "always")) as server:
        async with sdk(server.url) as client:
            created = await client.call_tool("credential-requests_create-by-credentials",
                                             {"name": "E2E confirm always", "keys": [{"type": "apikeyauth"}]})
            out = created.structured_content or {}
            creds = out.get("credentials") or []
            request_id = (out.get("request") or {}).get("id")
            if not REPORT.check(c, "create-by-credentials succeeded, one credential",
                                not created.is_error and request_id and len(creds) == 1,
                                request_id if not created.is_error else text_of(created)):
                return
            cred_id, state = creds[0].get("id"), creds[0].get("state")
            REPORT.info(c, f"request {request_id}, credential {cred_id} in state {state!r}")

            declined = await client.call_tool("credential-requests_credential-decline",
                                              {"credentialId": cred_id, "reason": "e2e"})
            REPORT.check(c, "credential-decline refused: isError, says confirmation is required",
                         is_refusal_for_confirmation(declined), text_of(declined))
            got = await client.call_tool("credential-requests_get", {"requestId": request_id})
            request = (got.structured_content or {}).get("request") or {}
            after = [x for x in request.get("credentials") or [] if x.get("id") == cred_id]
            REPORT.check(c, f"credential still {state!r} afterwards",
                         not got.is_error and state == "pending" and [x.get("state") for x in after] == [state],
                         [x.get("state") for x in after] if not got.is_error else text_of(got))

            deleted = await client.call_tool("connections_delete", {"connectionId": SLACK_CONNECTION})
            REPORT.check(c, "connections_delete refused: isError, says confirmation is required",
                         is_refusal_for_confirmation(deleted), text_of(deleted))
            still = await client.call_tool("connections_get", {"connectionId": SLACK_CONNECTION})
            REPORT.check(c, "connection still there afterwards",
                         not still.is_error and ((still.structured_content or {}).get("connection") or {}).get("id")
                         == SLACK_CONNECTION, text_of(still))


async def session_cap(binary: str, logdir: str) -> None:
    c = "session-cap"
    with Server(binary, logdir, c, sessions=True, extra=("--max-sessions", "2")) as server:
        async with sdk(server.url) as first:
            second_seen = Seen()
            async with sdk(server.url, seen=second_seen) as second:
                n1 = len((await first.list_tools()).tools)
                n2 = len((await second.list_tools()).tools)
                REPORT.check(c, "two sessions connected and list tools", n1 > 0 and n2 > 0, f"{n1}, {n2} tools")

                seen = Seen()
                tools, error = await try_list_tools(server.url, seen=seen)
                REPORT.check(c, "third SDK client: initialize raises", tools is None, error or f"{tools} tools")
                REPORT.check(c, "third SDK client: server answered 503 with Retry-After",
                             any(s == 503 and ra for s, ra, _ in seen.errors), seen.errors)
                REPORT.check(c, "third SDK client: the SDK's error carries the server's reason",
                             "maximum of 2 sessions" in error, error)
                status, headers, body = await anyio.to_thread.run_sync(raw_post, server.port, INIT_BODY)
                REPORT.check(c, "raw initialize POST: 503 with Retry-After",
                             status == 503 and bool(headers.get("retry-after")),
                             f"{status}, Retry-After {headers.get('retry-after')!r}: {body}")
            deletes = [status for method, status in second_seen.exchanges if method == "DELETE"]
            REPORT.check(c, "the second client left with a DELETE, answered 2xx",
                         len(deletes) == 1 and 200 <= deletes[0] < 300, second_seen.exchanges)
            REPORT.info(c, f"DELETE answered {deletes} (the SDK logs a warning for anything but 200/204)")
            tools, error = await try_list_tools(server.url)
            REPORT.check(c, "after one client left, a new client connects and lists tools",
                         bool(tools), error or f"{tools} tools")
            n1 = len((await first.list_tools()).tools)
            REPORT.check(c, "the first session still works", n1 > 0, f"{n1} tools")


async def proxy(binary: str, logdir: str) -> None:
    c = "proxy"
    xff = {"X-Forwarded-For": "203.0.113.7"}
    with Server(binary, logdir, f"{c}-tokenless") as server:
        seen = Seen()
        tools, error = await try_list_tools(server.url, headers=xff, seen=seen)
        REPORT.check(c, "tokenless, X-Forwarded-For: SDK client fails", tools is None, error or f"{tools} tools")
        REPORT.check(c, "tokenless, X-Forwarded-For: 403 saying to set a token",
                     403 in seen.statuses() and "token" in seen.bodies().lower(), seen.errors)
        REPORT.check(c, "tokenless, X-Forwarded-For: the SDK's error says to set a token",
                     "MCP_AUTH_TOKEN" in error, error)
        tools, error = await try_list_tools(server.url)
        REPORT.check(c, "tokenless, no proxy header: lists tools", bool(tools), error or f"{tools} tools")
    token = secrets.token_urlsafe(32)
    with Server(binary, logdir, f"{c}-token", env={"MCP_AUTH_TOKEN": token}) as server:
        tools, error = await try_list_tools(server.url, headers={**xff, "Authorization": f"Bearer {token}"})
        REPORT.check(c, "with a token, X-Forwarded-For + Bearer: lists tools", bool(tools), error or f"{tools} tools")
        seen = Seen()
        tools, error = await try_list_tools(server.url, headers=xff, seen=seen)
        REPORT.check(c, "with a token, X-Forwarded-For without Bearer: 401",
                     tools is None and 401 in seen.statuses(), error or f"{tools} tools")


async def timed(limit: float, work: Callable[[], Awaitable[Any]]) -> tuple[float, Any, str]:
    """Run `work` within `limit` seconds: (seconds taken, its result or None, error text)."""
    started = time.monotonic()
    try:
        with anyio.fail_after(limit):
            result = await work()
        return time.monotonic() - started, result, ""
    except Exception as exc:
        return time.monotonic() - started, None, describe(exc) or type(exc).__name__


async def slot_hogging(binary: str, logdir: str, kind: str, spread: bool) -> None:
    c = f"slot-hogging/{kind}/{'10-addresses' if spread else '1-address'}"
    addresses = [f"127.0.0.{i}" for i in range(2, 12)] if spread else ["127.0.0.1"]
    with Server(binary, logdir, c.replace("/", "-")) as server:
        hogs = Hogs(server.port, kind, addresses)
        async with anyio.create_task_group() as tg:
            for i in range(hogs.count):
                tg.start_soon(hogs.one, i)
            with anyio.move_on_after(10):
                await hogs.all_open.wait()
            await anyio.sleep(1.5)  # every hog has sent its first request (or half of one)
            REPORT.info(c, f"before the client: {hogs.summary()}")

            async def call() -> Any:
                async with sdk(server.url) as client:
                    return await client.call_tool("connections_list", {"teamId": TEAM})

            # Three clients, 0.7 s apart: the hogs reconnect in waves (a second after the
            # server closes them), and a client must get in whether it lands on a wave that
            # has just connected or on one that has been holding its slots for a while.
            for attempt in (1, 2, 3):
                if attempt > 1:
                    await anyio.sleep(0.7)
                took, result, error = await timed(10, call)
                REPORT.check(c, f"SDK client {attempt}: connections_list succeeded within 10 s "
                                f"({took * 1000:.0f} ms)",
                             result is not None and not result.is_error,
                             error or (text_of(result) if result.is_error else ""))
                took_h, status, error_h = await timed(10, lambda: anyio.to_thread.run_sync(healthz, server.port))
                REPORT.check(c, f"fresh /healthz {attempt} answered 200 within 10 s ({took_h * 1000:.0f} ms)",
                             status == 200, error_h or status)
                REPORT.info(c, f"latency {attempt}: connections_list {took * 1000:.0f} ms, "
                               f"/healthz {took_h * 1000:.0f} ms; {hogs.summary()}")
            tg.cancel_scope.cancel()


async def per_client_cap(binary: str, logdir: str) -> None:
    c = "per-client-cap"
    extra = ("--max-connections", "8", "--max-connections-per-client", "4", "--body-timeout", "60")
    with Server(binary, logdir, c, extra=extra) as server:
        busy, interims = [], []
        try:
            for _ in range(4):
                stream = await anyio.connect_tcp("127.0.0.1", server.port, local_host="127.0.0.1")
                busy.append(stream)
                await stream.send(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                  b"Accept: application/json, text/event-stream\r\nExpect: 100-continue\r\n"
                                  b"Content-Length: 1000\r\n\r\n")
                # "100 Continue" comes once the server reads the body, i.e. the request is being
                # handled: from then on this connection is busy, not idle or in its headers.
                with anyio.fail_after(10):
                    interims.append(await stream.receive())
                await stream.send(b"{")
            REPORT.check(c, "4 raw sockets from 127.0.0.1 busy (100 Continue, 1 byte of 1000 sent)",
                         all(i.startswith(b"HTTP/1.1 100 ") for i in interims), interims)
            seen = Seen()
            tools, error = await try_list_tools(server.url, seen=seen, local_address="127.0.0.1")
            REPORT.check(c, "SDK client from 127.0.0.1 (4 busy there): fails", tools is None,
                         error or f"{tools} tools")
            REPORT.check(c, "... with 503 naming --max-connections-per-client",
                         503 in seen.statuses() and "--max-connections-per-client" in seen.bodies(), seen.errors)
            REPORT.check(c, "... and the SDK's error carries the server's reason",
                         "--max-connections-per-client" in error, error)
            tools, error = await try_list_tools(server.url, local_address="127.0.0.2")
            REPORT.check(c, "SDK client bound to 127.0.0.2: lists tools", bool(tools), error or f"{tools} tools")
        finally:
            for stream in busy:
                await stream.aclose()
        # The busy sockets are gone: 127.0.0.1 is served again.
        # (The server notices the closes on its own time: retry for a few seconds.)
        tools, error = None, ""
        with anyio.move_on_after(10):
            while not tools:
                tools, error = await try_list_tools(server.url, local_address="127.0.0.1")
                if not tools:
                    await anyio.sleep(0.2)
        REPORT.check(c, "after the busy sockets closed, 127.0.0.1 lists tools", bool(tools), error)


async def main(binary: str) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="SDK %(levelname)s %(name)s: %(message)s")
    # 300 hog sockets plus the clients' own; the servers started from here inherit the limit.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    logdir = tempfile.mkdtemp(prefix="hardening-e2e-")
    started = time.monotonic()
    checks: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("confirm-always", lambda: confirm_always(binary, logdir)),
        ("session-cap", lambda: session_cap(binary, logdir)),
        ("proxy", lambda: proxy(binary, logdir)),
        *[(f"slot-hogging/{kind}/{spread}", lambda kind=kind, spread=spread: slot_hogging(binary, logdir, kind, spread))
          for kind in ("keepalive", "halfsent") for spread in (False, True)],
        ("per-client-cap", lambda: per_client_cap(binary, logdir)),
    ]
    for name, check in checks:
        try:
            with anyio.fail_after(60):
                await check()
        except Exception as exc:  # a crash or a hang is a failed check, not the end of the run
            REPORT.check(name, "check ran to completion", False, f"{type(exc).__name__}: {describe(exc)}"[:500])
    return finish(REPORT, logdir, started)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(anyio.run(main, os.path.abspath(sys.argv[1])))
