// Team mode's sign-in in a real browser: headless Chromium walks `BINARY --sandbox http --auth
// oauth` from /authorize through the sandbox's Make login and consent to this server's own
// consent page, and on to a loopback callback this test serves. Node plays the MCP client
// (registration, PKCE, /token, /mcp) with fetch; every post to the sign-in pages is one
// Chromium makes itself, from the page's own forms or from a foreign page's form.
//
// Imported by consent_page.mjs, which passes its Chromium context; the checks count in its
// PASS/FAIL totals. Each run registers a client of its own, because a person's choice is
// remembered per client:
//  a. Allow: ada signs in at Make, approves Make's consent; the server's consent page names
//     the client, the host the answer goes to, connections:read and ada (screenshot
//     09-team-consent.png); Allow ends at the callback with a code, the state sent and
//     iss = the server's origin. The code redeemed at /token (PKCE verifier) gives a bearer
//     token, and tools/call connections_list {teamId: 1} with it answers with team 1's
//     connections.
//  b. Deny: the same walk, Deny on the server's page ends at the callback with
//     error=access_denied, the state, and no code.
//  c. Framing and foreign posts: the consent page's response says X-Frame-Options DENY and
//     CSP frame-ancestors 'none'. While that page is held open, a page on another loopback
//     port (http://127.0.0.1:PORT, same site, and http://localhost:PORT, another site)
//     auto-posts the consent form with the page's ticket and decision=allow: the server
//     answers 403 to both, no redirect reaches the callback, and Allow on the held page still
//     ends with a code (the ticket was not spent by the foreign posts).

import crypto from "node:crypto";
import http from "node:http";
import net from "node:net";
import { spawn } from "node:child_process";
import path from "node:path";
import { check, info } from "../lib/e2e.mjs";

const PERSON = "ada";
const PASSWORD = "sandbox";
const TEAM = 1;
const FETCH_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------------------------------------
// Processes and servers this step starts

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Our environment minus the server's own settings (MAKE_*, MCP_*), which would change its behaviour. */
function serverEnv() {
  const env = { RUST_LOG: "warn" };
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(MAKE_|MCP_)/.test(k) && k !== "RUST_LOG") env[k] = v;
  }
  return env;
}

async function stopProc(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
  await done;
  clearTimeout(timer);
}

/** `--sandbox http --auth oauth` on a free loopback port: the whole command, nothing else configured. */
export async function startTeamServer(ctx) {
  const port = await freePort();
  const args = ["--sandbox", "http", "--auth", "oauth", "--listen", `127.0.0.1:${port}`];
  const proc = spawn(ctx.binary, args, { stdio: ["ignore", ctx.logFd, ctx.logFd], env: serverEnv() });
  ctx.closers.push(() => stopProc(proc));
  let exited = null;
  proc.on("exit", (code, signal) => {
    exited = { code, signal };
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`the team server exited early: ${JSON.stringify(exited)}`);
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return base;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error("the team server did not answer /healthz with 200 within 20 s");
}

export function listen(server) {
  return new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

export function closer(server) {
  return () => new Promise((r) => {
    server.close(r);
    server.closeAllConnections(); // Chromium's keep-alive connections would hold close() open
  });
}

/** The client's loopback redirect URI: records every query it receives and shows a plain page. */
export async function startCallback(ctx) {
  const hits = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    if (url.pathname === "/callback") hits.push(Object.fromEntries(url.searchParams));
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end("<!doctype html><title>Signed in</title><p>You can close this window.</p>");
  });
  const port = await listen(server);
  ctx.closers.push(closer(server));
  return { uri: `http://127.0.0.1:${port}/callback`, hits };
}

/** A foreign site (another loopback port) whose page posts `fields` to `action` on load. */
async function startForeignPoster(ctx, action, fields) {
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${esc(name)}" value="${esc(value)}">`).join("\n");
  const html = `<!doctype html><html><body><p>Win a prize!</p>
<form id="f" method="post" action="${esc(action)}">
${inputs}</form>
<script>document.getElementById("f").submit()</script></body></html>`;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(html);
  });
  const port = await listen(server);
  ctx.closers.push(closer(server));
  return port;
}

/**
 * Has a foreign page post `fields` to `action` on load, first from a same-site origin
 * (127.0.0.1, another port), then from a cross-site one (localhost), in a new tab of `page`'s
 * browser. Logs under `section` what Chromium sent, and calls `each({ label, answer, tab })`
 * with each post's answer.
 */
export async function postFromForeignPages(ctx, section, page, action, fields, each) {
  const port = await startForeignPoster(ctx, action, fields);
  const tab = await page.context().newPage();
  ctx.closers.push(() => tab.close());
  for (const [label, url] of [
    ["same-site", `http://127.0.0.1:${port}/`],
    ["cross-site", `http://localhost:${port}/`],
  ]) {
    const posted = tab.waitForResponse((r) => r.request().method() === "POST" && r.url() === action);
    await tab.goto(url);
    const answer = await posted;
    const sent = await answer.request().allHeaders();
    info(section, `the page at ${url} made Chromium post with `
      + JSON.stringify({ origin: sent.origin, "sec-fetch-site": sent["sec-fetch-site"], cookie: Boolean(sent.cookie) }));
    await each({ label, answer, tab });
  }
}

// ---------------------------------------------------------------------------------------------
// The MCP client's side, over fetch

export async function postJson(url, body, headers = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: reported as text
  }
  return { status: res.status, json, text, headers: res.headers };
}

export async function register(base, redirectUri, clientName) {
  const res = await postJson(`${base}/register`, {
    redirect_uris: [redirectUri],
    client_name: clientName,
    token_endpoint_auth_method: "none",
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`/register answered ${res.status}: ${res.text.slice(0, 200)}`);
  return res.json.client_id;
}

export function pkce() {
  const verifier = crypto.randomBytes(32).toString("base64url");
  const challenge = crypto.createHash("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

export function authorizeUrl(base, clientId, redirectUri, challenge, state) {
  const url = new URL(`${base}/authorize`);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
  })) url.searchParams.set(k, v);
  return url.href;
}

/** The answer of a Streamable HTTP post: JSON, or the one message of an SSE stream. */
function rpcMessage(res) {
  if (res.json) return res.json;
  const data = res.text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim());
  for (const d of data) {
    try {
      const msg = JSON.parse(d);
      if (msg.id !== undefined) return msg;
    } catch {
      // not a JSON message
    }
  }
  return null;
}

/** initialize, initialized, then tools/call `name` with `args`; returns the call's message. */
export async function callTool(base, token, name, args) {
  const mcp = `${base}/mcp`;
  const headers = { authorization: `Bearer ${token}`, accept: "application/json, text/event-stream" };
  const init = await postJson(mcp, {
    jsonrpc: "2.0", id: 1, method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "browser-e2e-team", version: "1.0.0" } },
  }, headers);
  if (init.status !== 200) throw new Error(`initialize answered ${init.status}: ${init.text.slice(0, 200)}`);
  const session = init.headers.get("mcp-session-id");
  const more = { ...headers, ...(session ? { "mcp-session-id": session } : {}) };
  const version = rpcMessage(init)?.result?.protocolVersion;
  if (version) more["mcp-protocol-version"] = version;
  await postJson(mcp, { jsonrpc: "2.0", method: "notifications/initialized" }, more);
  const called = await postJson(mcp, {
    jsonrpc: "2.0", id: 2, method: "tools/call", params: { name, arguments: args },
  }, more);
  if (called.status !== 200) throw new Error(`tools/call answered ${called.status}: ${called.text.slice(0, 200)}`);
  return rpcMessage(called);
}

/** The code redeemed at /token: the response and its JSON. */
export async function redeemCode(base, clientId, redirectUri, code, verifier) {
  const res = await fetch(`${base}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri,
      client_id: clientId,
      code_verifier: verifier,
    }).toString(),
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  const tokens = await res.json().catch(() => ({}));
  return { res, tokens };
}

// ---------------------------------------------------------------------------------------------
// The person's side, in Chromium

/** One step at the sandbox's Make: signs ada in on the login page, or approves Make's consent. */
export async function makeHop(page) {
  const username = page.locator('input[name="username"]');
  const approve = page.getByRole("button", { name: "Approve" });
  if ((await username.count()) === 1) {
    await username.fill(PERSON);
    await page.locator('input[name="password"]').fill(PASSWORD);
    await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Sign in" }).click()]);
  } else if ((await approve.count()) === 1) {
    await Promise.all([page.waitForEvent("load"), approve.click()]);
  } else {
    throw new Error(`neither Make's login nor its consent at ${page.url()}: ${(await page.textContent("body"))?.slice(0, 200)}`);
  }
}

/**
 * From /authorize to the server's consent page: signs in at the sandbox's Make login and
 * approves Make's consent, as often as they are shown. Returns the consent page's response.
 */
export async function walkToConsent(page, base, url) {
  const consentPage = page.waitForResponse(
    (r) => r.request().method() === "GET" && r.url().startsWith(`${base}/oauth/callback`));
  await page.goto(url);
  for (let hop = 0; hop < 4 && !page.url().startsWith(`${base}/oauth/callback`); hop++) await makeHop(page);
  const response = await consentPage;
  if (!page.url().startsWith(`${base}/oauth/callback`)) throw new Error(`not on the server's consent page: ${page.url()}`);
  return response;
}

/** Clicks a button of the server's consent page and waits until the callback has the answer. */
export async function decide(page, callback, name) {
  const before = callback.hits.length;
  await Promise.all([page.waitForURL((u) => u.href.startsWith(callback.uri)), page.getByRole("button", { name }).click()]);
  if (callback.hits.length !== before + 1) throw new Error(`${name}: ${callback.hits.length - before} answers at the callback, not 1`);
  return callback.hits.at(-1);
}

// ---------------------------------------------------------------------------------------------
// The runs

async function allowRun(ctx, page, base, callback) {
  const s = "5a team allow";
  const clientName = "Browser e2e team client";
  const clientId = await register(base, callback.uri, clientName);
  check(s, "/register: a client id for the loopback redirect URI", typeof clientId === "string" && clientId.length > 0, clientId);
  const { verifier, challenge } = pkce();
  const state = crypto.randomBytes(16).toString("hex");
  const response = await walkToConsent(page, base, authorizeUrl(base, clientId, callback.uri, challenge, state));
  check(s, "after Make's login and consent: the server's own consent page (200)", response.status() === 200, response.status());
  const text = (await page.textContent("body")) ?? "";
  const heading = ((await page.locator("h1").textContent()) ?? "").trim();
  check(s, "the heading asks to allow the client to act as you in Make",
    heading === `Allow ${clientName} to act as you in Make?`, heading);
  const answerHost = (await page.locator("p", { hasText: "receive the answer at" }).locator("code").textContent())?.trim();
  check(s, "the page names the redirect URI's host", answerHost === new URL(callback.uri).hostname, answerHost);
  check(s, "the page lists connections:read", text.includes("connections:read"));
  check(s, "the page names the person signed in (ada)", /Signed in with Make as .*ada/i.test(text), text.slice(0, 200));
  await page.screenshot({ path: path.join(ctx.outDir, "09-team-consent.png"), fullPage: true });
  ctx.shots.push(path.join(ctx.outDir, "09-team-consent.png"));

  const hit = await decide(page, callback, "Allow");
  check(s, "Allow: the callback got a code", typeof hit.code === "string" && hit.code.length > 0, Object.keys(hit));
  check(s, "the callback's state is the one sent", hit.state === state, { state: hit.state === state });
  check(s, "the callback's iss is the server's origin", hit.iss === base, hit.iss);
  if (!hit.code) return;

  const { res, tokens } = await redeemCode(base, clientId, callback.uri, hit.code, verifier);
  check(s, "/token: the code and verifier give a bearer access token",
    res.status === 200 && typeof tokens.access_token === "string" && /^bearer$/i.test(tokens.token_type ?? ""),
    { status: res.status, token_type: tokens.token_type, error: tokens.error });
  if (!tokens.access_token) return;
  const msg = await callTool(base, tokens.access_token, "connections_list", { teamId: TEAM });
  const rows = msg?.result?.structuredContent?.connections;
  check(s, `tools/call connections_list {teamId: ${TEAM}} with the bearer: team ${TEAM}'s connections`,
    msg?.result && !msg.result.isError && Array.isArray(rows) && rows.length > 0,
    msg?.result?.isError ? JSON.stringify(msg.result.content).slice(0, 300) : `${rows?.length ?? "no"} connections`);
}

async function denyRun(ctx, page, base, callback) {
  const s = "5b team deny";
  const clientId = await register(base, callback.uri, "Browser e2e denied client");
  const { challenge } = pkce();
  const state = crypto.randomBytes(16).toString("hex");
  await walkToConsent(page, base, authorizeUrl(base, clientId, callback.uri, challenge, state));
  const hit = await decide(page, callback, "Deny");
  check(s, "Deny: the callback got error=access_denied, the state sent, and no code",
    hit.error === "access_denied" && hit.state === state && hit.code === undefined,
    { error: hit.error, state: hit.state === state, code: hit.code !== undefined });
}

async function framingRun(ctx, page, base, callback) {
  const s = "5c team framing";
  const clientId = await register(base, callback.uri, "Browser e2e framed client");
  const { challenge } = pkce();
  const state = crypto.randomBytes(16).toString("hex");
  const response = await walkToConsent(page, base, authorizeUrl(base, clientId, callback.uri, challenge, state));
  const headers = await response.allHeaders();
  check(s, "the consent page's response: X-Frame-Options DENY", headers["x-frame-options"]?.toUpperCase() === "DENY",
    headers["x-frame-options"]);
  check(s, "the consent page's response: CSP frame-ancestors 'none'",
    /(^|;)\s*frame-ancestors\s+'none'\s*(;|$)/.test(headers["content-security-policy"] ?? ""),
    headers["content-security-policy"]);

  // Held open in this tab; a second tab plays the foreign sites.
  const form = page.locator('form[action="/consent"]');
  const ticket = await form.locator('input[name="ticket"]').getAttribute("value");
  const action = new URL(await form.getAttribute("action"), page.url()).href;
  if (!check(s, "the held consent page's form carries a ticket", Boolean(ticket))) return;
  const hitsBefore = callback.hits.length;
  await postFromForeignPages(ctx, s, page, action, { ticket, decision: "allow" }, async ({ label, answer, tab }) => {
    check(s, `${label} page's consent post: the server answered 403`, answer.status() === 403,
      { status: answer.status(), location: answer.headers().location });
    if (label === "cross-site") {
      await tab.waitForURL(action);
      await tab.screenshot({ path: path.join(ctx.outDir, "10-team-foreign-consent-refused.png"), fullPage: true });
      ctx.shots.push(path.join(ctx.outDir, "10-team-foreign-consent-refused.png"));
    }
  });
  check(s, "no answer reached the callback from the foreign posts", callback.hits.length === hitsBefore,
    callback.hits.slice(hitsBefore).map((h) => Object.keys(h)));
  const hit = await decide(page, callback, "Allow");
  check(s, "Allow on the held page still ends with a code and the state (the ticket was not spent)",
    typeof hit.code === "string" && hit.state === state, { code: Boolean(hit.code), state: hit.state === state, error: hit.error });
}

/**
 * Step 5: team mode's sign-in through the server's pages, in a new tab of `browser` (a
 * playwright BrowserContext). `ctx` is consent_page.mjs's: binary, outDir, logFd, shots,
 * closers.
 */
export async function teamSignInStep(ctx, browser) {
  const base = await startTeamServer(ctx);
  info("5 team", `server at ${base}`);
  const callback = await startCallback(ctx);
  const page = await browser.newPage();
  ctx.closers.push(() => page.close());
  for (const [name, run] of [["5a team allow", allowRun], ["5b team deny", denyRun], ["5c team framing", framingRun]]) {
    try {
      await browser.clearCookies(); // every run signs in at Make afresh
      await run(ctx, page, base, callback);
    } catch (err) {
      check(name, "step ran to completion", false, `${err?.name}: ${err?.message ?? err}`);
    }
  }
}
