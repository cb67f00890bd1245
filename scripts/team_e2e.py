#!/usr/bin/env python3
"""Team mode (`http --auth oauth`) with independent OAuth clients: the official Python MCP SDK's
`OAuthClientProvider` (mcp 2.3.0) signs people in against the server's sandbox, which plays
Make's OAuth provider.

Usage: python scripts/team_e2e.py /path/to/make-credentials-mcp
       python scripts/team_e2e.py --replicas PROXY_URL REPLICA1_URL REPLICA2_URL WAIT_SECS
       python scripts/team_e2e.py --rate-limit PROXY_URL
(scripts/person_e2e.sh creates a venv with mcp==2.3.0 when needed and runs this too.)

The "browser" is plain HTTP: the provider's redirect handler follows the authorize URL hop by
hop, fills in the sandbox's Make login (ada or grace, password `sandbox`) and consent, then
this server's own consent page, and hands the final redirect's code, state and iss to the
provider's callback handler. Nothing here knows the server's internals.

Checks: discovery and 401 challenge; dynamic registration and sign-in for two people in both
protocol eras; each sees only their own team's objects and gets Make's 403 on the other's;
tokens are the server's own (never Make's); forged and revoked tokens get 401; a denied consent
yields no code; consent is remembered; the refresh token rotates and a reused one is refused;
and after a restart on the same database and key, nobody has to sign in again and the database
file holds no token in clear.

One line per check (PASS/FAIL), then "N passed, M failed"; exit status 1 on any failure.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import anyio
import httpx2
import mcp.types as types
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (AuthorizationCodeResult, OAuthClientInformationFull,
                             OAuthClientMetadata, OAuthToken)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from person_e2e import Report, finish, free_port, stop  # noqa: E402

REPORT = Report()
REDIRECT_URI = "http://127.0.0.1:33418/callback"  # never listened on: the "browser" stops there
PASSWORD = "sandbox"
# Seeded in the sandbox: ada works in team 1, grace in team 2 (crates/make-sandbox/src/seed.rs).
PEOPLE = {"ada": 1, "grace": 2}


# ---------------------------------------------------------------------------------------------
# The browser: forms over plain HTTP


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif self.forms and tag == "input" and a.get("name"):
            if a.get("type") == "submit":
                self.forms[-1].buttons.append((a["name"], a.get("value", "")))
            else:
                self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1].buttons.append((a["name"], a.get("value", "")))


@dataclass
class Browser:
    """Signs `person` in when the provider redirects; `decision` is what they click on
    consent pages ("allow" or "deny")."""
    person: str
    decision: str = "allow"
    pages: list[str] = field(default_factory=list)
    result: AuthorizationCodeResult | None = None
    error: str | None = None

    async def redirect(self, url: str) -> None:
        self.result, self.error = None, None
        async with httpx2.AsyncClient(timeout=15) as http:
            response = await http.get(url)
            for _ in range(20):
                if response.status_code in (301, 302, 303, 307):
                    location = urllib.parse.urljoin(str(response.url), response.headers["location"])
                    if location.startswith(REDIRECT_URI):
                        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
                        if "code" in query:
                            self.result = AuthorizationCodeResult(code=query["code"], state=query.get("state"),
                                                                  iss=query.get("iss"))
                        else:
                            self.error = query.get("error", "no code")
                        return
                    response = await http.get(location)
                    continue
                if response.status_code != 200:
                    self.error = f"{response.status_code} at {response.url}: {response.text[:300]}"
                    return
                self.pages.append(response.text)
                parser = Forms()
                parser.feed(response.text)
                if not parser.forms:
                    self.error = f"no form at {response.url}: {response.text[:300]}"
                    return
                form = parser.forms[0]
                data = dict(form.fields)
                for name in data:
                    if "user" in name.lower() or name.lower() in ("login", "email"):
                        data[name] = self.person
                    elif "pass" in name.lower():
                        data[name] = PASSWORD
                wanted = ("allow", "approve") if self.decision == "allow" else ("deny", "decline", "reject")
                chosen = [b for b in form.buttons if b[1].lower() in wanted or b[0].lower() in wanted]
                if chosen or len(form.buttons) == 1:
                    name, value = (chosen or form.buttons)[0]
                    data[name] = value
                action = urllib.parse.urljoin(str(response.url), form.action or str(response.url))
                origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(str(response.url)))
                response = await http.post(action, data=data, headers={"origin": origin})
            self.error = "too many hops"

    async def callback(self) -> AuthorizationCodeResult:
        if self.result is None:
            raise RuntimeError(f"sign-in failed: {self.error}")
        return self.result


class Memory(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def provider(url: str, browser: Browser, storage: Memory, name: str = "team-e2e") -> OAuthClientProvider:
    metadata = OAuthClientMetadata(client_name=name, redirect_uris=[REDIRECT_URI],
                                   grant_types=["authorization_code", "refresh_token"],
                                   response_types=["code"], token_endpoint_auth_method="none")
    return OAuthClientProvider(server_url=url, client_metadata=metadata, storage=storage,
                               redirect_handler=browser.redirect, callback_handler=browser.callback)


async def session(url: str, auth: Any, mode: str):
    http_client = httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30, read=60))
    return http_client, Client(streamable_http_client(url, http_client=http_client), mode=mode,
                               read_timeout_seconds=30)


async def call(url: str, auth: Any, mode: str, tool: str, args: dict[str, Any]) -> Any:
    http_client, client = await session(url, auth, mode)
    async with http_client, client:
        return await client.call_tool(tool, args)


async def tool_names(url: str, auth: Any, mode: str) -> list[str]:
    http_client, client = await session(url, auth, mode)
    async with http_client, client:
        return [t.name for t in (await client.list_tools()).tools]


def text_of(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


# ---------------------------------------------------------------------------------------------
# Servers


def start(args: list[str], log: Any, env: dict[str, str] | None = None,
          ready: str | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            env={**os.environ, **(env or {})})
    if ready:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{args[0]} exited with {proc.returncode}")
            try:
                if httpx2.get(ready, timeout=1).status_code == 200:
                    return proc
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        proc.terminate()
        raise RuntimeError(f"{ready} did not answer within 20 s")
    return proc


async def in_process_sandbox(binary: str, logdir: str) -> None:
    """`--sandbox http --auth oauth`: the whole command, nothing else configured."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/mcp"
    with open(os.path.join(logdir, "sandbox-mode.log"), "w") as log:
        proc = start([binary, "--sandbox", "http", "--auth", "oauth", "--listen", f"127.0.0.1:{port}"],
                     log, ready=f"{base}/healthz")
        try:
            await discovery(base, url)
            for mode in ("legacy", "2026-07-28"):
                await two_people(url, mode)
            await person_in_the_loop(url)
            await denied(url)
            await forged(base, url)
        finally:
            stop(proc)


async def discovery(base: str, url: str) -> None:
    combo = "discovery"
    async with httpx2.AsyncClient() as http:
        r = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                            headers={"accept": "application/json, text/event-stream"})
        challenge = r.headers.get("www-authenticate", "")
        REPORT.check(combo, "401 without a token, pointing at the resource metadata",
                     r.status_code == 401 and f'resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"' in challenge,
                     f"{r.status_code} {challenge}")
        prm = (await http.get(f"{base}/.well-known/oauth-protected-resource/mcp")).json()
        REPORT.check(combo, "protected resource metadata names /mcp and this server",
                     prm.get("resource") == url and prm.get("authorization_servers") == [base], prm)
        asm = (await http.get(f"{base}/.well-known/oauth-authorization-server")).json()
        REPORT.check(combo, "authorization server metadata: S256, registration, metadata documents, iss",
                     asm.get("code_challenge_methods_supported") == ["S256"]
                     and asm.get("registration_endpoint") == f"{base}/register"
                     and asm.get("client_id_metadata_document_supported") is True
                     and asm.get("authorization_response_iss_parameter_supported") is True, asm)


async def two_people(url: str, mode: str) -> None:
    seen: dict[str, Memory] = {}
    for person, team in PEOPLE.items():
        combo = f"{mode} {person}"
        browser, storage = Browser(person), Memory()
        auth = provider(url, browser, storage)
        try:
            own = await call(url, auth, mode, "connections_list", {"teamId": team})
        except Exception as exc:
            REPORT.check(combo, "signs in through Make and calls a tool", False, f"{exc!r} {browser.error}")
            continue
        rows = (own.structured_content or {}).get("connections", [])
        REPORT.check(combo, "signs in through Make and lists their team's connections",
                     not own.is_error and len(rows) > 0, text_of(own)[:300])
        REPORT.check(combo, "the consent page named the client and the Make scopes",
                     any("team-e2e" in p and "connections:read" in p and "act as you in Make" in p for p in browser.pages),
                     len(browser.pages))
        token = storage.tokens.access_token if storage.tokens else ""
        REPORT.check(combo, "holds this server's token (never Make's)", token.startswith("mcp_at_"), token[:8])
        other = PEOPLE["grace" if person == "ada" else "ada"]
        theirs = await call(url, auth, mode, "connections_list", {"teamId": other})
        REPORT.check(combo, "gets Make's 403 on the other person's team",
                     theirs.is_error is True and "403" in text_of(theirs), text_of(theirs)[:300])
        pages_before = len(browser.pages)
        again = Memory()
        again.client = storage.client
        await call(url, provider(url, browser, again), mode, "connections_list", {"teamId": team})
        REPORT.check(combo, "a second sign-in of the same client skips the consent page (remembered)",
                     again.tokens is not None and not any("act as you in Make" in p for p in browser.pages[pages_before:]),
                     browser.pages[pages_before:][:1])
        seen[person] = storage
    if len(seen) == 2:
        REPORT.check(f"{mode}", "two people got different tokens",
                     seen["ada"].tokens.access_token != seen["grace"].tokens.access_token)


async def person_in_the_loop(url: str) -> None:
    """A signed-in person is asked before a delete (2026-07-28 input-required round trips, the
    stateless path) and their answer decides; the confirmation runs as them in Make."""
    storage = Memory()
    auth = provider(url, Browser("grace"), storage)
    asked: list[Any] = []

    async def answer(action: str):
        async def elicit(context: Any, params: Any) -> types.ElicitResult:
            asked.append(params)
            if action == "accept":
                return types.ElicitResult(action="accept", content={"confirm": True})
            return types.ElicitResult(action=action)
        return elicit

    combo = "2026-07-28 grace confirm"
    for action in ("decline", "accept"):
        http_client = httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30, read=60))
        client = Client(streamable_http_client(url, http_client=http_client), mode="2026-07-28",
                        read_timeout_seconds=30, elicitation_callback=await answer(action))
        async with http_client, client:
            result = await client.call_tool("connections_delete", {"connectionId": 1005})
        body = (result.structured_content or {})
        if action == "decline":
            REPORT.check(combo, "grace is asked before deleting her connection, and declining keeps it",
                         len(asked) == 1 and not result.is_error and "declin" in json.dumps(body).lower(), body)
        else:
            REPORT.check(combo, "confirming deletes it, as grace",
                         len(asked) == 2 and not result.is_error and "declin" not in json.dumps(body).lower(), body)
    gone = await call(url, auth, "legacy", "connections_get", {"connectionId": 1005})
    REPORT.check(combo, "the connection is gone", gone.is_error is True and "404" in text_of(gone), text_of(gone)[:200])


async def denied(url: str) -> None:
    combo = "deny"
    browser = Browser("ada", decision="deny")
    auth = provider(url, browser, Memory(), name="denied-client")
    try:
        await call(url, auth, "legacy", "connections_list", {"teamId": 1})
        REPORT.check(combo, "a denied consent yields no code and no token", False, "the call went through")
    except Exception:
        REPORT.check(combo, "a denied consent yields no code and no token",
                     browser.result is None and browser.error == "access_denied", browser.error)


async def forged(base: str, url: str) -> None:
    combo = "tokens"
    browser, storage = Browser("ada"), Memory()
    await call(url, provider(url, browser, storage), "legacy", "connections_list", {"teamId": 1})
    tokens, client = storage.tokens, storage.client
    async with httpx2.AsyncClient() as http:
        async def status(token: str) -> int:
            r = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                headers={"authorization": f"Bearer {token}",
                                         "accept": "application/json, text/event-stream",
                                         "mcp-protocol-version": "2025-11-25"})
            return r.status_code
        REPORT.check(combo, "the issued token works on a raw request", await status(tokens.access_token) == 200)
        REPORT.check(combo, "a forged token gets 401", await status("mcp_at_" + "A" * 43) == 401)
        token_endpoint = f"{base}/token"
        first = await http.post(token_endpoint, data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token,
                                                      "client_id": client.client_id})
        rotated = first.json()
        REPORT.check(combo, "the refresh token rotates",
                     first.status_code == 200 and rotated.get("refresh_token") not in (None, tokens.refresh_token), first.text[:200])
        reused = await http.post(token_endpoint, data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token,
                                                       "client_id": client.client_id})
        REPORT.check(combo, "a rotated refresh token used again is refused",
                     reused.status_code == 400 and reused.json().get("error") == "invalid_grant", reused.text[:200])
        REPORT.check(combo, "reusing it revoked that sign-in's newer tokens too",
                     await status(rotated.get("access_token", "")) == 401)
        browser2, storage2 = Browser("ada"), Memory()
        await call(url, provider(url, browser2, storage2), "legacy", "connections_list", {"teamId": 1})
        revoke = await http.post(f"{base}/revoke", data={"token": storage2.tokens.access_token,
                                                         "client_id": storage2.client.client_id})
        REPORT.check(combo, "a revoked token gets 401",
                     revoke.status_code == 200 and await status(storage2.tokens.access_token) == 401)


async def restart(binary: str, logdir: str) -> None:
    """The sandbox on its own, the server on a SQLite file with a fixed key: restarted, the
    server still honours the tokens it issued, and the file holds no token in clear."""
    combo = "restart"
    sandbox_port, port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/mcp"
    db = os.path.join(logdir, "team.db")
    sandbox_log = os.path.join(logdir, "sandbox.log")
    with open(sandbox_log, "w") as log:
        sandbox = start([binary, "sandbox", "--port", str(sandbox_port),
                         "--oauth-redirect-uri", f"{base}/oauth/callback"], log)
    try:
        deadline = time.monotonic() + 20
        printed = ""
        while time.monotonic() < deadline and "make_oauth_client_secret" not in printed.lower():
            time.sleep(0.1)
            printed = open(sandbox_log).read()

        def printed_value(name: str) -> str:
            match = re.search(rf"export {name}=(\S+)", printed)
            return match.group(1) if match else ""
        env = {
            "MAKE_API_URL": printed_value("MAKE_API_URL"),
            "MAKE_OAUTH_ISSUER": f"http://127.0.0.1:{sandbox_port}",
            "MAKE_OAUTH_CLIENT_ID": printed_value("MAKE_OAUTH_CLIENT_ID"),
            "MAKE_OAUTH_CLIENT_SECRET": printed_value("MAKE_OAUTH_CLIENT_SECRET"),
            "MCP_ENCRYPTION_KEY": "1:" + "kz8yq0bW3pYpG1m0h1N4a2uVv6cQ9x7rT5sE8dF2gHk=",
            "DATABASE_URL": f"sqlite://{db}?mode=rwc",
            "MCP_AUTH": "oauth",
            "MCP_PUBLIC_URL": base,
        }
        REPORT.check(combo, "the sandbox printed its OAuth client", all(env.values()), {k: bool(v) for k, v in env.items()})
        args = [binary, "http", "--listen", f"127.0.0.1:{port}", "--no-cli-login"]
        storage = Memory()
        with open(os.path.join(logdir, "server-1.log"), "w") as log:
            server = start(args, log, env, ready=f"{base}/healthz")
            try:
                first = await call(url, provider(url, Browser("grace"), storage), "legacy", "connections_list", {"teamId": 2})
                REPORT.check(combo, "signs in against the standalone sandbox", not first.is_error, text_of(first)[:200])
            finally:
                stop(server)
        with open(os.path.join(logdir, "server-2.log"), "w") as log:
            server = start(args, log, env, ready=f"{base}/healthz")
            try:
                browser = Browser("grace")
                again = await call(url, provider(url, browser, storage), "legacy", "connections_list", {"teamId": 2})
                REPORT.check(combo, "after a restart the same token works without a sign-in",
                             not again.is_error and not browser.pages, text_of(again)[:200])
            finally:
                stop(server)
        raw = open(db, "rb").read()
        for suffix in ("-wal", "-shm"):
            if os.path.exists(db + suffix):
                raw += open(db + suffix, "rb").read()
        leaked = [name for name, secret in (("access token", storage.tokens.access_token),
                                            ("refresh token", storage.tokens.refresh_token or ""))
                  if secret and secret.encode() in raw]
        REPORT.check(combo, "the database file holds no MCP token in clear", not leaked, leaked)
    finally:
        stop(sandbox)


async def replicas(balanced: str, first: str, second: str, wait: float) -> int:
    """Two replicas on one Postgres behind nginx (scripts/team_replicas.sh starts them): a person
    signs in through the proxy (the callback lands on whichever replica nginx picks), then the
    token works on each replica directly. After `wait` seconds the Make grant is due for
    refresh, and calls on both replicas at once must refresh it once (the script counts)."""
    started = time.monotonic()
    combo = "replicas"
    storage = Memory()
    browser = Browser("ada")
    signed = await call(f"{balanced}/mcp", provider(f"{balanced}/mcp", browser, storage), "legacy",
                        "connections_list", {"teamId": 1})
    REPORT.check(combo, "signs in through the proxy", not signed.is_error, text_of(signed)[:200])
    for name, base in (("first", first), ("second", second)):
        async with httpx2.AsyncClient() as http:
            r = await http.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                                     "params": {"name": "connections_list", "arguments": {"teamId": 1}}},
                                headers={"authorization": f"Bearer {storage.tokens.access_token}",
                                         "accept": "application/json, text/event-stream",
                                         "mcp-protocol-version": "2025-11-25", "host": balanced.split("//")[1]})
            REPORT.check(combo, f"the token works on the {name} replica directly",
                         r.status_code == 200 and '"isError":true' not in r.text, r.text[:200])
    await anyio.sleep(wait)
    results: list[int] = []

    async def hit(base: str) -> None:
        async with httpx2.AsyncClient(timeout=60) as http:
            r = await http.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                                     "params": {"name": "connections_list", "arguments": {"teamId": 1}}},
                                headers={"authorization": f"Bearer {storage.tokens.access_token}",
                                         "accept": "application/json, text/event-stream",
                                         "mcp-protocol-version": "2025-11-25", "host": balanced.split("//")[1]})
            results.append(r.status_code if '"isError":true' not in r.text else 599)

    async with anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(hit, first if i % 2 else second)
    REPORT.check(combo, "10 calls on both replicas while the grant is due for refresh all succeed",
                 results == [200] * 10, results)
    return finish(REPORT, tempfile.mkdtemp(prefix="team-replicas-"), started)


async def raw_call(base: str, host: str, token: str, team: int) -> tuple[bool, str]:
    """One stateless `tools/call` of connections_list; (isError, the result's text)."""
    async with httpx2.AsyncClient(timeout=60) as http:
        r = await http.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                                 "params": {"name": "connections_list", "arguments": {"teamId": team}}},
                            headers={"authorization": f"Bearer {token}",
                                     "accept": "application/json, text/event-stream",
                                     "mcp-protocol-version": "2025-11-25", "host": host})
        body = r.json()
        result = body.get("result", {})
        text = " ".join(c.get("text", "") for c in result.get("content", []))
        return bool(result.get("isError")) or r.status_code != 200, text or r.text[:300]


async def rate_limit(balanced: str) -> int:
    """Make's request limit shared fairly across two replicas behind nginx (scripts/team_replicas.sh
    starts them with a small budget and the sandbox enforcing the same limit): ada's agent runs
    away through the proxy until both replicas hold her back with a "try again in N s" result;
    then grace, in the same Make organization, signs in and her calls succeed; ada is still held
    back. The script checks the sandbox's log for 429s (there must be none)."""
    started = time.monotonic()
    combo = "rate limit"
    host = balanced.split("//")[1]
    storage = Memory()
    signed = await call(f"{balanced}/mcp", provider(f"{balanced}/mcp", Browser("ada"), storage), "legacy",
                        "connections_list", {"teamId": 1})
    REPORT.check(combo, "ada signs in through the proxy", not signed.is_error, text_of(signed)[:200])
    served, refusals, in_a_row = 1, [], 0
    for _ in range(300):
        failed, text = await raw_call(balanced, host, storage.tokens.access_token, 1)
        if failed:
            refusals.append(text)
            in_a_row += 1
            if in_a_row == 4:  # round robin: both replicas refuse
                break
        else:
            served += 1
            in_a_row = 0
    waits = [re.search(r"try again in (\d+) s", t) for t in refusals]
    REPORT.check(combo, "the runaway is held back on both replicas, after some calls were served",
                 in_a_row == 4 and served > 1, f"served {served}, refused {len(refusals)}")
    REPORT.check(combo, "every refusal says when to try again and that nothing was sent to Make",
                 refusals and all(w and 0 < int(w.group(1)) <= 61 for w in waits)
                 and all(t.startswith("Not sent to Make") for t in refusals), refusals[:2])
    REPORT.check(combo, "no refusal is Make's 429", not any("429" in t for t in refusals), refusals[:2])
    grace_storage = Memory()
    grace = await call(f"{balanced}/mcp", provider(f"{balanced}/mcp", Browser("grace"), grace_storage),
                       "legacy", "connections_list", {"teamId": 2})
    REPORT.check(combo, "grace (same organization) signs in and is served at once", not grace.is_error,
                 text_of(grace)[:300])
    failed, text = await raw_call(balanced, host, grace_storage.tokens.access_token, 2)
    REPORT.check(combo, "grace's next call is served too", not failed, text[:300])
    failed, text = await raw_call(balanced, host, storage.tokens.access_token, 1)
    REPORT.check(combo, "the runaway is still held back", failed and "try again in" in text, text[:300])
    print(f"runaway: {served} calls served, then held back; first refusal: {refusals[0][:160] if refusals else '-'}")
    return finish(REPORT, tempfile.mkdtemp(prefix="team-rate-limit-"), started)


def settings_refused(binary: str) -> None:
    """Team mode with nothing configured stops at start: exit 2, one sentence per problem."""
    combo = "settings"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": tempfile.mkdtemp(prefix="team-e2e-home-")}
    run = subprocess.run([binary, "http", "--auth", "oauth", "--no-cli-login"], env=env,
                         capture_output=True, text=True, timeout=30)
    needed = ["--public-url", "MAKE_OAUTH_CLIENT_ID", "MAKE_OAUTH_CLIENT_SECRET", "MAKE_ZONE", "MCP_ENCRYPTION_KEY"]
    REPORT.check(combo, "missing settings: exit 2 and a sentence for each",
                 run.returncode == 2 and all(n in run.stderr for n in needed), f"{run.returncode} {run.stderr[-600:]}")
    run = subprocess.run([binary, "http", "--public-url", "https://mcp.example.com", "--no-cli-login"], env=env,
                         capture_output=True, text=True, timeout=30)
    REPORT.check(combo, "a team-mode setting without --auth oauth: exit 2",
                 run.returncode == 2 and "--auth oauth" in run.stderr, f"{run.returncode} {run.stderr[-300:]}")


async def main(binary: str) -> int:
    logdir = tempfile.mkdtemp(prefix="team-e2e-")
    started = time.monotonic()
    settings_refused(binary)
    await in_process_sandbox(binary, logdir)
    await restart(binary, logdir)
    return finish(REPORT, logdir, started)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--rate-limit":
        sys.exit(anyio.run(rate_limit, sys.argv[2]))
    if len(sys.argv) == 6 and sys.argv[1] == "--replicas":
        sys.exit(anyio.run(replicas, sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])))
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(anyio.run(main, os.path.abspath(sys.argv[1])))
