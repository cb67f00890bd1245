#!/usr/bin/env python3
"""End-to-end check of the "person in the loop" features with an independent client: the
official Python MCP SDK (`mcp` 2.3.0), against the server's built-in sandbox.

Usage: python scripts/person_e2e.py /path/to/make-credentials-mcp
(scripts/person_e2e.sh creates a venv with mcp==2.3.0 when needed and runs this.)

For each transport (stdio, stateless Streamable HTTP, HTTP with legacy sessions) and each
protocol era (legacy = initialize at 2025-11-25, and 2026-07-28 = no handshake, server-to-client
requests replaced by input-required round trips that the SDK drives through the same
elicitation callback), the script starts its own server and plays two roles:

* the model and its client: tool calls through `mcp.Client`, with an elicitation callback
  standing in for the person's answers in the client UI;
* the person in the browser: form posts to the sandbox's consent page for the new request.

Workflows:
 1. new credentials: create-by-credentials (google + apikeyauth), link accepted; then
    wait-for-authorization while the "browser" authorizes google and declines the key.
 2. link declined: the same create, the person declines the link.
 3. safe delete: connections_delete 1002, first declined (nothing deleted), then confirmed.

One line per check (PASS/FAIL), then "N passed, M failed"; the exit status is 1 on any failure.
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import mcp.types as types
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

TRANSPORTS = ("stdio", "http", "sessions")  # http = stateless Streamable HTTP
MODES = ("legacy", "2026-07-28")
TEAM = 1
SLACK_CONNECTION = 1002  # seeded in the sandbox: slack3 "Slack (Acme workspace)"
CREATE_ARGS = {
    "connections": [{"type": "google", "scope": ["https://www.googleapis.com/auth/drive"]}],
    "keys": [{"type": "apikeyauth"}],
}

# ---------------------------------------------------------------------------------------------
# Reporting


@dataclass
class Report:
    passed: int = 0
    failed: int = 0

    def check(self, combo: str, what: str, ok: bool, detail: Any = "") -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        # Details in full (within reason) on failure, shortened on success.
        text = " ".join(str(detail).split())[: 160 if ok else 1500]
        suffix = f" ({text})" if text else ""
        print(f"{'PASS' if ok else 'FAIL'} [{combo}] {what}{suffix}", flush=True)
        return ok

    def info(self, combo: str, text: str) -> None:
        print(f"INFO [{combo}] {text}", flush=True)


REPORT = Report()
# Model-visible tool calls per combination and workflow, "turns (wire tools/call requests)".
TURNS: dict[str, dict[str, str]] = {}

# ---------------------------------------------------------------------------------------------
# The person: answers in the client UI (elicitation callback) and on the consent page (HTTP)


@dataclass
class Person:
    """What the person answers in the client, and everything the client was sent."""

    url_answer: str = "accept"  # answer to URL elicitations (the link to the consent page)
    form_answer: str = "decline"  # answer to form elicitations (delete confirmation)
    elicitations: list[Any] = field(default_factory=list)  # ElicitRequest{URL,Form}Params
    notifications: list[Any] = field(default_factory=list)  # ServerNotification objects

    async def elicit(self, context: Any, params: Any) -> types.ElicitResult:
        self.elicitations.append(params)
        if params.mode == "url":
            return types.ElicitResult(action=self.url_answer)
        if self.form_answer == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action=self.form_answer)

    async def on_message(self, message: Any) -> None:
        # Transport-level exceptions arrive here too; keep only notifications.
        if not isinstance(message, Exception):
            self.notifications.append(message)

    def take(self, mode: str) -> list[Any]:
        """Elicitations of one mode received so far, and forget all of them."""
        got = [e for e in self.elicitations if e.mode == mode]
        self.elicitations.clear()
        return got

    def completions(self) -> list[str]:
        return [n.params.elicitation_id for n in self.notifications
                if isinstance(n, types.ElicitCompleteNotification)]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # surface the 303 instead of following it


_OPENER = urllib.request.build_opener(_NoRedirect)


def consent_post(public_uri: str, path: str, fields: dict[str, str]) -> int:
    """POST a form to the consent page's origin (loopback only); returns the HTTP status."""
    origin = urllib.parse.urlsplit(public_uri)
    assert origin.hostname in ("127.0.0.1", "localhost", "::1"), public_uri
    url = f"{origin.scheme}://{origin.netloc}{path}"
    body = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with _OPENER.open(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:  # includes the unfollowed 303
        return err.code


async def browser(public_uri: str, request_id: str, creds: list[dict], seen_one: anyio.Event,
                  log: list[str]) -> None:
    """The person on the consent page: 1 s in, authorize google; 1 s later, decline the key.

    The server polls Make (about every 1 s, then 1.5 s, ... with +-20 % jitter), so a state that
    lasts only 1 s can fall between two polls. To make the "1 of 2" progress report observable
    every time, the decline also waits (at most 8 s) until that report has arrived; if it never
    does, the decline goes ahead anyway and the progress check fails."""
    base = f"/credential-requests/{request_id}/credentials"
    google = next(c for c in creds if c.get("component") == "account")
    key = next(c for c in creds if c.get("component") == "keychain")
    await anyio.sleep(1)
    status = await anyio.to_thread.run_sync(
        consent_post, public_uri, f"{base}/{google['id']}/authorize", {})
    log.append(f"authorize google -> {status}")
    await anyio.sleep(1)
    held = time.monotonic()
    with anyio.move_on_after(8):
        await seen_one.wait()
    held = time.monotonic() - held
    status = await anyio.to_thread.run_sync(
        consent_post, public_uri, f"{base}/{key['id']}/decline", {"reason": "no key today"})
    log.append(f"decline apikeyauth -> {status}")
    if held > 0.05:
        log.append(f"(decline held {held:.1f} s for the 1-of-2 report)")


# ---------------------------------------------------------------------------------------------
# Servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_http(binary: str, sessions: bool, errlog: Any, extra: Sequence[str] = (),
               env: Mapping[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """Spawn `BIN --sandbox http --listen 127.0.0.1:PORT [--sessions] EXTRA...` (with `env` added
    to this process's environment); wait for /healthz. Returns the process and the /mcp URL."""
    port = free_port()
    args = [binary, "--sandbox", "http", "--listen", f"127.0.0.1:{port}"] + (["--sessions"] if sessions else [])
    args += list(extra)
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog,
                            env={**os.environ, **env} if env else None)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc, f"http://127.0.0.1:{port}/mcp"
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("server did not answer /healthz within 20 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------------
# The model's side


class Model:
    """Tool calls as the model makes them. `turns` counts model-visible tool calls of the
    current workflow; `wire_calls` counts the tools/call requests the SDK actually sent
    (more than `turns` when it retried with input responses, in the 2026 round trips)."""

    def __init__(self, client: Client):
        self.client = client
        self.turns = 0
        self.wire_calls = 0
        session = client.session
        original = session.call_tool

        async def counting(*args: Any, **kwargs: Any) -> Any:
            self.wire_calls += 1
            return await original(*args, **kwargs)

        session.call_tool = counting  # type: ignore[method-assign]

    def reset(self) -> None:
        self.turns = self.wire_calls = 0

    def record(self, combo: str, workflow: str) -> None:
        TURNS.setdefault(combo, {})[workflow] = f"{self.turns} ({self.wire_calls} on the wire)"

    async def call(self, name: str, args: dict, **kwargs: Any) -> types.CallToolResult:
        self.turns += 1
        return await self.client.call_tool(name, args, **kwargs)

    async def check_call(self, name: str, args: dict) -> types.CallToolResult:
        """A verification call outside the workflow: counted neither as turn nor wire call."""
        before = self.wire_calls
        result = await self.client.call_tool(name, args)
        self.wire_calls = before
        return result

    async def count_requests(self) -> int:
        out = (await self.check_call("credential-requests_list", {"teamId": TEAM})).structured_content or {}
        total = (out.get("pg") or {}).get("total")
        return total if isinstance(total, int) else len(out.get("requests") or [])


def text_of(result: types.CallToolResult) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)[:300]


async def run_combo(binary: str, transport: str, mode: str, logdir: str) -> None:
    combo = f"{transport}/{mode}"
    can_ask = not (transport == "http" and mode == "legacy")  # stateless + legacy: no way back
    live_legacy = mode == "legacy" and transport in ("stdio", "sessions")
    via = "elicitation" if live_legacy else "input_required"
    person = Person()
    errlog = open(os.path.join(logdir, f"{transport}-{mode}.log"), "w")
    proc = None
    try:
        if transport == "stdio":
            # Same as passing the StdioServerParameters to Client, but with the server's stderr
            # (its logs) going to the log file instead of ours.
            params = StdioServerParameters(command=binary, args=["--sandbox"],
                                           env={"RUST_LOG": "warn", "PATH": os.environ.get("PATH", "")})
            target: Any = stdio_client(params, errlog=errlog)
        else:
            proc, target = start_http(binary, transport == "sessions", errlog)
        client = Client(target, mode=mode, elicitation_callback=person.elicit,
                        message_handler=person.on_message, read_timeout_seconds=60)
        with anyio.fail_after(60):
            async with client:
                REPORT.info(combo, f"negotiated {client.protocol_version}")
                model = Model(client)
                await new_credentials(combo, model, person, can_ask, live_legacy, via)
                await link_declined(combo, model, person, can_ask, via)
                await safe_delete(combo, model, person, can_ask, via)
    except Exception as exc:  # a crash or a hang is a failed check, not the end of the run
        REPORT.check(combo, "combination ran to completion", False, f"{type(exc).__name__}: {exc!r}"[:500])
    finally:
        if proc is not None:
            stop(proc)
        errlog.close()


async def new_credentials(combo: str, model: Model, person: Person, can_ask: bool,
                          live_legacy: bool, via: str) -> None:
    c = f"{combo} new-credentials"
    before = await model.count_requests()
    model.reset()
    person.url_answer = "accept"
    result = await model.call("credential-requests_create-by-credentials",
                              {"name": "E2E new credentials", **CREATE_ARGS})
    out = result.structured_content or {}
    after = await model.count_requests()
    if not REPORT.check(c, "create succeeded", not result.is_error,
                        (out.get("request") or {}).get("id") if not result.is_error else text_of(result)):
        return
    public_uri = out.get("publicUri")
    request_id = (out.get("request") or {}).get("id")
    creds = out.get("credentials") or []
    REPORT.check(c, "publicUri present", bool(public_uri), public_uri)
    REPORT.check(c, "exactly one request created", after - before == 1, f"{before} -> {after}")
    urls = person.take("url")
    person_field = out.get("person")
    if can_ask:
        REPORT.check(c, "one URL elicitation with url == publicUri",
                     len(urls) == 1 and urls[0].url == public_uri, [u.url for u in urls])
        REPORT.check(c, "person.action == accept", (person_field or {}).get("action") == "accept", person_field)
        REPORT.check(c, f"person.via == {via}", (person_field or {}).get("via") == via, person_field)
    else:
        REPORT.check(c, "no elicitation and no person field (client cannot be asked)",
                     not urls and person_field is None, person_field)
    elicitation_id = (person_field or {}).get("elicitationId")
    if live_legacy:
        REPORT.check(c, "person.elicitationId matches the URL elicitation's id",
                     bool(elicitation_id) and bool(urls) and urls[0].elicitation_id == elicitation_id,
                     f"{elicitation_id} vs {[u.elicitation_id for u in urls]}")
    REPORT.check(c, "one account and one keychain credential",
                 sorted(x.get("component") for x in creds) == ["account", "keychain"],
                 [(x.get("component"), x.get("name"), x.get("state")) for x in creds])

    # The person works on the consent page while the model waits.
    progress: list[tuple[float, float | None, str | None]] = []
    seen_one = anyio.Event()

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total, message))
        if p == 1:
            seen_one.set()

    browser_log: list[str] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(browser, public_uri, request_id, creds, seen_one, browser_log)
        waited = await model.call("credential-requests_wait-for-authorization",
                                  {"requestId": request_id, "timeoutSeconds": 30}, progress_callback=on_progress)
    w = waited.structured_content or {}
    REPORT.check(c, "consent page answered 303", browser_log[:2] == ["authorize google -> 303",
                                                                     "decline apikeyauth -> 303"], browser_log)
    REPORT.check(c, "wait: done, not timed out", w.get("done") is True and w.get("timedOut") is False,
                 {k: w.get(k) for k in ("done", "timedOut")} if w else text_of(waited))
    REPORT.check(c, "wait: summary", w.get("summary") == "2 of 2 done: google authorized, apikeyauth declined",
                 w.get("summary"))
    REPORT.check(c, "progress 1 of 2 notified", any(p == 1 and t == 2 for p, t, _ in progress), progress)
    if live_legacy:
        # The server sends notifications/elicitation/complete once the request is settled; it may
        # trail the tool result slightly, so allow it a moment.
        with anyio.move_on_after(3):
            while elicitation_id not in person.completions():
                await anyio.sleep(0.05)
        REPORT.check(c, "notifications/elicitation/complete with person.elicitationId",
                     person.completions() == [elicitation_id], person.completions())
    elif person.completions():
        REPORT.info(c, f"unexpected elicitation/complete: {person.completions()}")
    model.record(combo, "new-credentials")
    REPORT.info(c, f"progress messages: {[m for _, _, m in progress]}")


async def link_declined(combo: str, model: Model, person: Person, can_ask: bool, via: str) -> None:
    c = f"{combo} link-declined"
    before = await model.count_requests()
    model.reset()
    person.url_answer = "decline"
    result = await model.call("credential-requests_create-by-credentials",
                              {"name": "E2E link declined", **CREATE_ARGS})
    out = result.structured_content or {}
    after = await model.count_requests()
    REPORT.check(c, "normal (non-error) result", not result.is_error,
                 (out.get("request") or {}).get("id") if not result.is_error else text_of(result))
    REPORT.check(c, "publicUri still present", bool(out.get("publicUri")), out.get("publicUri"))
    REPORT.check(c, "exactly one request created", after - before == 1, f"{before} -> {after}")
    urls = person.take("url")
    person_field = out.get("person")
    if can_ask:
        REPORT.check(c, "one URL elicitation", len(urls) == 1, len(urls))
        REPORT.check(c, "person.action == decline", (person_field or {}).get("action") == "decline", person_field)
        REPORT.check(c, f"person.via == {via}", (person_field or {}).get("via") == via, person_field)
    else:
        REPORT.check(c, "no elicitation and no person field", not urls and person_field is None, person_field)
    model.record(combo, "link-declined")
    REPORT.info(c, f"message: {out.get('message')!r}")


async def safe_delete(combo: str, model: Model, person: Person, can_ask: bool, via: str) -> None:
    c = f"{combo} safe-delete"
    model.reset()
    args = {"connectionId": SLACK_CONNECTION}
    if can_ask:
        person.form_answer = "decline"
        first = await model.call("connections_delete", args)
        out = first.structured_content or {}
        forms = person.take("form")
        props = (forms[0].requested_schema.get("properties") or {}) if forms else {}
        REPORT.check(c, "one form elicitation with a boolean `confirm`",
                     len(forms) == 1 and list(props) == ["confirm"] and props["confirm"].get("type") == "boolean",
                     [f.requested_schema for f in forms])
        REPORT.check(c, "declined: normal result, deleted false",
                     not first.is_error and out.get("deleted") is False, out or text_of(first))
        REPORT.check(c, "declined: confirmation recorded",
                     out.get("confirmation") == {"via": via, "action": "decline", "proceeded": False},
                     out.get("confirmation"))
        still = await model.check_call("connections_get", args)
        REPORT.check(c, "declined: connection still there",
                     not still.is_error and ((still.structured_content or {}).get("connection") or {}).get("id")
                     == SLACK_CONNECTION, text_of(still))
        person.form_answer = "accept"
        second = await model.call("connections_delete", args)
        out = second.structured_content or {}
        REPORT.check(c, "confirmed: one more form elicitation", len(person.take("form")) == 1)
        REPORT.check(c, "confirmed: deleted true", not second.is_error and out.get("deleted") is True,
                     out or text_of(second))
        REPORT.check(c, "confirmed: confirmation recorded",
                     out.get("confirmation") == {"via": via, "action": "accept", "proceeded": True},
                     out.get("confirmation"))
    else:
        # --confirm auto proceeds where the client cannot be asked.
        first = await model.call("connections_delete", args)
        out = first.structured_content or {}
        REPORT.check(c, "cannot ask: deleted at once, no elicitation",
                     not first.is_error and out.get("deleted") is True and not person.take("form"),
                     out or text_of(first))
    gone = await model.check_call("connections_get", args)
    REPORT.check(c, "connection gone afterwards", gone.is_error, text_of(gone))
    model.record(combo, "safe-delete")


def finish(report: Report, logdir: str, started: float) -> int:
    """Prints the totals; keeps the server logs only when a check failed. The exit status."""
    elapsed = time.monotonic() - started
    if report.failed:
        print(f"(server logs kept in {logdir}; {elapsed:.1f} s)")
    else:
        shutil.rmtree(logdir, ignore_errors=True)
        print(f"({elapsed:.1f} s)")
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


async def main(binary: str) -> int:
    # SDK warnings (e.g. about session termination) interleaved with the check lines.
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="SDK %(levelname)s %(name)s: %(message)s")
    logdir = tempfile.mkdtemp(prefix="person-e2e-")
    started = time.monotonic()
    for transport in TRANSPORTS:
        for mode in MODES:
            await run_combo(binary, transport, mode, logdir)
    for combo, turns in TURNS.items():
        print(f"TURNS [{combo}] " + ", ".join(f"{w}: {n}" for w, n in turns.items()))
    return finish(REPORT, logdir, started)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(anyio.run(main, os.path.abspath(sys.argv[1])))
