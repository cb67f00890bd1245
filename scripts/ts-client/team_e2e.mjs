#!/usr/bin/env node
// Team mode (`--sandbox http --auth oauth`) with an independent OAuth client: the official
// TypeScript MCP SDK's OAuth support (@modelcontextprotocol/sdk, version pinned in package.json
// here) signs people in against the server's sandbox, which plays Make's OAuth provider.
//
// Usage: node scripts/ts-client/team_e2e.mjs /path/to/make-credentials-mcp
// (scripts/ts_person_e2e.sh installs the pinned packages into a temp dir, points NODE_PATH at
// it and runs this; the SDK is loaded with require() so NODE_PATH works for an .mjs file too.
// With MCP_INSPECTOR=/path/to/mcp-inspector it also runs the MCP Inspector CLI against the
// same server with a token from this flow.)
//
// The "browser" is plain HTTP, as in scripts/team_e2e.py: the provider's
// redirectToAuthorization follows the authorize URL hop by hop with fetch(redirect: 'manual'),
// fills in the sandbox's Make login (ada or grace, password `sandbox`) and Make's consent, then
// this server's own consent page (form posts carry the page's Origin), and keeps the code,
// state and iss of the final redirect to the client's redirect_uri. The client then follows
// the SDK's own pattern (examples/client/simpleOAuthClient): connect, catch UnauthorizedError,
// transport.finishAuth(code), connect again with a new transport.
//
// Checks: ada signs in (dynamic registration) and sees only team 1's connections; team 2 is an
// isError result carrying Make's 403; grace, in a second provider, sees team 2 only; the stored
// access token is this server's own (`mcp_at_`); the final redirect carries the provider's
// state and the server's iss; a denied consent on the server's page yields no code and no
// tokens. With MCP_INSPECTOR, the Inspector CLI: lists the tools with ada's token as a bearer
// header (`--stored-auth-only`, so it never starts a sign-in of its own); without a token it
// fails with the 401 instead of hanging; and its own OAuth client signs grace in unattended
// (MCP_AUTO_OPEN_ENABLED=true with BROWSER=true: it prints the authorization URL, the browser
// here walks it and delivers the final redirect to the Inspector's loopback callback).
//
// One line per check (PASS/FAIL), then exactly "N passed, M failed"; exit status 1 on failure.

import { createRequire } from "node:module";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { check, info, summary, withTimeout } from "../lib/e2e.mjs";

const require = createRequire(import.meta.url);
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const { UnauthorizedError } = require("@modelcontextprotocol/sdk/client/auth.js");
const { CallToolResultSchema } = require("@modelcontextprotocol/sdk/types.js");

const REDIRECT_URI = "http://127.0.0.1:33418/callback"; // never listened on: the "browser" stops there
const PASSWORD = "sandbox";
// Seeded in the sandbox: ada works in team 1, grace in team 2 (crates/make-sandbox/src/seed.rs).
const PEOPLE = { ada: 1, grace: 2 };
const STEP_LIMIT_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

function textOf(result) {
  return (result?.content ?? []).map((c) => c.text ?? "").join(" ").slice(0, 300);
}

/** Our environment minus the server's own settings (MAKE_*, MCP_*), which would change its behaviour. */
function serverEnv() {
  const env = { RUST_LOG: "warn" };
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(MAKE_|MCP_)/.test(k) && k !== "RUST_LOG") env[k] = v;
  }
  return env;
}

/** `--sandbox http --auth oauth`: the whole command, nothing else configured. */
async function startTeam(binary, logFd) {
  const port = await freePort();
  const args = ["--sandbox", "http", "--auth", "oauth", "--listen", `127.0.0.1:${port}`];
  const proc = spawn(binary, args, { stdio: ["ignore", logFd, logFd], env: serverEnv() });
  let exited = null;
  proc.on("exit", (code, signal) => {
    exited = { code, signal };
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`server exited early: ${JSON.stringify(exited)}`);
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return { proc, base, url: `${base}/mcp` };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await stopProc(proc);
  throw new Error("server did not answer /healthz with 200 within 20 s");
}

async function stopProc(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  await done;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// The browser: HTML forms over plain HTTP

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", "#x27": "'", apos: "'" };
const unescape = (s) => s.replace(/&(amp|lt|gt|quot|#39|#x27|apos);/g, (_, e) => ENTITIES[e]);

function attributes(tag) {
  const attrs = {};
  const re = /([^\s=<>\/"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
  let m;
  re.exec(tag); // the tag name
  while ((m = re.exec(tag))) attrs[m[1].toLowerCase()] = unescape(m[2] ?? m[3] ?? m[4] ?? "");
  return attrs;
}

/** Every form of a page: action, method, named fields with their values, named buttons. */
function parseForms(html) {
  const forms = [];
  for (const [, open, body] of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const a = attributes(`<form ${open}`);
    const form = { action: a.action ?? "", method: (a.method ?? "get").toLowerCase(), fields: {}, buttons: [] };
    for (const [tag, name] of body.matchAll(/<(input|button)\b[^>]*>/gi)) {
      const t = attributes(tag);
      if (!t.name) continue;
      const isButton = name.toLowerCase() === "button" || t.type === "submit";
      if (isButton) form.buttons.push([t.name, t.value ?? ""]);
      else form.fields[t.name] = t.value ?? "";
    }
    forms.push(form);
  }
  return forms;
}

/**
 * Signs `person` in whenever the SDK redirects; `decision` is what they click on consent pages
 * ("allow" or "deny"). Keeps every page it saw, and the final redirect's code, state and iss
 * (or the error).
 */
class Browser {
  constructor(person, decision = "allow", redirectUri = REDIRECT_URI) {
    this.person = person;
    this.decision = decision;
    this.redirectUri = redirectUri; // the browser stops at the first redirect there
    this.pages = [];
    this.result = null;
    this.error = null;
    this.finalLocation = null;
  }

  async walk(authorizationUrl) {
    this.result = null;
    this.error = null;
    this.finalLocation = null;
    let response = await fetch(authorizationUrl, { redirect: "manual" });
    for (let hop = 0; hop < 20; hop++) {
      if ([301, 302, 303, 307, 308].includes(response.status)) {
        await response.arrayBuffer().catch(() => {});
        const location = new URL(response.headers.get("location"), response.url).href;
        if (location.startsWith(this.redirectUri)) {
          this.finalLocation = location;
          const query = new URL(location).searchParams;
          if (query.has("code")) {
            this.result = { code: query.get("code"), state: query.get("state"), iss: query.get("iss") };
          } else {
            this.error = query.get("error") ?? "no code";
          }
          return;
        }
        response = await fetch(location, { redirect: "manual" });
        continue;
      }
      const page = await response.text();
      if (response.status !== 200) {
        this.error = `${response.status} at ${response.url}: ${page.slice(0, 300)}`;
        return;
      }
      this.pages.push(page);
      const forms = parseForms(page);
      if (!forms.length) {
        this.error = `no form at ${response.url}: ${page.slice(0, 300)}`;
        return;
      }
      const form = forms[0];
      const data = { ...form.fields };
      for (const name of Object.keys(data)) {
        const n = name.toLowerCase();
        if (n.includes("user") || n === "login" || n === "email") data[name] = this.person;
        else if (n.includes("pass")) data[name] = PASSWORD;
      }
      const wanted = this.decision === "allow" ? ["allow", "approve"] : ["deny", "decline", "reject"];
      const chosen = form.buttons.filter(([n, v]) => wanted.includes(v.toLowerCase()) || wanted.includes(n.toLowerCase()));
      if (chosen.length || form.buttons.length === 1) {
        const [n, v] = (chosen.length ? chosen : form.buttons)[0];
        data[n] = v;
      }
      const action = new URL(form.action || response.url, response.url);
      response = await fetch(action, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: new URL(response.url).origin },
        body: new URLSearchParams(data).toString(),
        redirect: "manual",
      });
    }
    this.error = "too many hops";
  }
}

// ---------------------------------------------------------------------------------------------
// The SDK's OAuthClientProvider, in memory

class MemoryProvider {
  constructor(browser, clientName = "ts-team-e2e") {
    this.browser = browser;
    this._metadata = {
      client_name: clientName,
      redirect_uris: [REDIRECT_URI],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this.states = []; // every state this provider handed the SDK
    this.authorizationUrls = [];
  }

  get redirectUrl() {
    return REDIRECT_URI;
  }

  get clientMetadata() {
    return this._metadata;
  }

  state() {
    const state = crypto.randomBytes(16).toString("hex");
    this.states.push(state);
    return state;
  }

  clientInformation() {
    return this._client;
  }

  saveClientInformation(info) {
    this._client = info;
  }

  tokens() {
    return this._tokens;
  }

  saveTokens(tokens) {
    this._tokens = tokens;
  }

  saveCodeVerifier(verifier) {
    this._verifier = verifier;
  }

  codeVerifier() {
    if (!this._verifier) throw new Error("no code verifier saved");
    return this._verifier;
  }

  async redirectToAuthorization(url) {
    this.authorizationUrls.push(url.href);
    await this.browser.walk(url);
  }
}

// ---------------------------------------------------------------------------------------------
// Sign-in and calls

/**
 * Connects a new Client with `provider`; on UnauthorizedError (the provider's browser has run
 * by then) trades the code and connects again, as the SDK's simpleOAuthClient example does.
 * Returns the connected client, or throws with the browser's error.
 */
async function connect(url, provider) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const client = new Client({ name: "make-credentials-mcp-ts-team-e2e", version: "1.0.0" }, { capabilities: {} });
    const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
    try {
      await client.connect(transport);
      return client;
    } catch (err) {
      await client.close().catch(() => {});
      if (!(err instanceof UnauthorizedError) || attempt > 0) throw err;
      const result = provider.browser.result;
      if (!result) throw new Error(`sign-in gave no code: ${provider.browser.error}`);
      await transport.finishAuth(result.code);
    }
  }
  throw new Error("unreachable");
}

async function call(client, name, args) {
  return client.callTool({ name, arguments: args }, CallToolResultSchema, { timeout: 60_000 });
}

async function person(url, base, name, team) {
  const step = `team ${name}`;
  const browser = new Browser(name);
  const provider = new MemoryProvider(browser);
  let client;
  try {
    client = await connect(url, provider);
  } catch (err) {
    check(step, "signs in through Make (dynamic registration) and connects", false,
      `${err?.name}: ${err?.message ?? err}`);
    return null;
  }
  try {
    check(step, "signs in through Make (dynamic registration) and connects",
      typeof provider.clientInformation()?.client_id === "string", provider.clientInformation()?.client_id);
    check(step, "the server's consent page named the client and the Make scopes",
      browser.pages.some((p) => p.includes("ts-team-e2e") && p.includes("connections:read") && p.includes("act as you in Make")),
      `${browser.pages.length} pages`);
    const r = browser.result ?? {};
    check(step, "the final redirect carries the provider's state and the server's iss",
      provider.states.includes(r.state) && r.iss === base, { state: Boolean(r.state), iss: r.iss });
    const token = provider.tokens()?.access_token ?? "";
    check(step, "the stored access token is this server's own (mcp_at_)", token.startsWith("mcp_at_"), token.slice(0, 7));
    const own = await call(client, "connections_list", { teamId: team });
    const rows = own.structuredContent?.connections ?? [];
    check(step, `connections_list teamId ${team} lists their team's connections`,
      !own.isError && rows.length > 0, own.isError ? textOf(own) : `${rows.length} connections`);
    check(step, `every connection listed belongs to team ${team}`,
      rows.length > 0 && rows.every((c) => c.teamId === team), rows.map((c) => c.teamId));
    const other = PEOPLE[name === "ada" ? "grace" : "ada"];
    const theirs = await call(client, "connections_list", { teamId: other });
    check(step, `connections_list teamId ${other} is an isError result with Make's 403`,
      theirs.isError === true && textOf(theirs).includes("403"), textOf(theirs));
    return provider;
  } finally {
    await client.close().catch(() => {});
  }
}

async function denied(url) {
  const step = "team deny";
  const browser = new Browser("ada", "deny");
  const provider = new MemoryProvider(browser, "ts-denied-client");
  let connected = false;
  try {
    const client = await connect(url, provider);
    connected = true;
    await client.close().catch(() => {});
  } catch {
    // expected: no code to finish the sign-in with
  }
  check(step, "a denied consent on the server's page yields access_denied, no code and no tokens",
    !connected && browser.result === null && browser.error === "access_denied" && provider.tokens() === undefined,
    { connected, error: browser.error, tokens: provider.tokens() !== undefined });
}

// ---------------------------------------------------------------------------------------------
// The MCP Inspector CLI against the same server

/**
 * Runs the Inspector CLI with its own HOME (no stored sign-ins); `onStderr(text so far)` sees its
 * stderr as it comes. BROWSER=true makes its "open a browser" a no-op.
 */
function runInspector(inspector, args, home, env = {}, onStderr = () => {}) {
  return new Promise((resolve) => {
    const fullEnv = {
      ...process.env, HOME: home, MCP_CATALOG_PATH: path.join(home, "mcp.json"),
      MCP_INSPECTOR_SECRET_STORE: "memory", BROWSER: "true", DISPLAY: "", ...env,
    };
    const proc = spawn(process.execPath, [inspector, "--cli", "--format", "json", ...args],
      { stdio: ["ignore", "pipe", "pipe"], env: fullEnv });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d) => (stdout += d));
    proc.stderr.on("data", (d) => {
      stderr += d;
      onStderr(stderr);
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    proc.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

async function inspectorChecks(inspector, url, token, home) {
  const step = "inspector team";
  const listed = await runInspector(inspector,
    // --header is variadic: it goes last, after the target.
    [url, "--method", "tools/list", "--transport", "http", "--stored-auth-only", "--header", `Authorization: Bearer ${token}`],
    home);
  let tools = null;
  try {
    tools = JSON.parse(listed.stdout).result?.tools ?? JSON.parse(listed.stdout).tools;
  } catch {
    // reported below
  }
  check(step, "tools/list with a bearer header from the TS sign-in",
    listed.code === 0 && Array.isArray(tools) && tools.length > 0,
    listed.code === 0 ? `${tools?.length} tools` : `exit ${listed.code}: ${listed.stderr.replaceAll(token, "<token>").slice(-400)}`);
  const refused = await runInspector(inspector,
    [url, "--method", "tools/list", "--transport", "http", "--stored-auth-only"], home);
  check(step, "without a token (--stored-auth-only, nothing stored) it fails with the 401 instead of hanging",
    refused.code !== 0 && refused.signal === null && /unauthorized|auth_required|401/i.test(refused.stderr),
    `exit ${refused.code}: ${refused.stderr.slice(-200)}`);
}

/**
 * The Inspector's own OAuth client, unattended: MCP_AUTO_OPEN_ENABLED=true lets it sign in
 * without a TTY; it registers dynamically with its loopback callback, prints "Please navigate
 * to: URL" and waits on the callback. The browser walks the URL as grace and delivers the final
 * redirect to the Inspector's callback listener.
 */
async function inspectorOAuth(inspector, url, home) {
  const step = "inspector team oauth";
  const callback = `http://127.0.0.1:${await freePort()}/oauth/callback`;
  const browser = new Browser("grace", "allow", callback);
  let walked = null;
  const run = runInspector(inspector,
    [url, "--method", "tools/list", "--transport", "http", "--callback-url", callback], home,
    { MCP_AUTO_OPEN_ENABLED: "true" },
    (stderr) => {
      const m = stderr.match(/Please navigate to: (\S+)/);
      if (m && !walked) {
        walked = (async () => {
          await browser.walk(m[1]);
          if (!browser.finalLocation) return `no redirect to the callback: ${browser.error}`;
          const res = await fetch(browser.finalLocation);
          await res.arrayBuffer().catch(() => {});
          return res.status;
        })().catch((err) => String(err?.message ?? err));
      }
    });
  const done = await run;
  const delivered = walked ? await walked : "the Inspector printed no authorization URL";
  check(step, "the Inspector's own dynamic registration and sign-in complete unattended",
    browser.result !== null && delivered === 200 && browser.pages.some((p) => p.includes("act as you in Make")),
    { callback: delivered, error: browser.error, pages: browser.pages.length });
  let tools = null;
  try {
    tools = JSON.parse(done.stdout).result?.tools ?? JSON.parse(done.stdout).tools;
  } catch {
    // reported below
  }
  check(step, "then tools/list succeeds with its token",
    done.code === 0 && Array.isArray(tools) && tools.length > 0,
    done.code === 0 ? `${tools?.length} tools` : `exit ${done.code}: ${done.stderr.slice(-400)}`);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const binary = process.argv[2];
  if (!binary) {
    console.error("usage: node team_e2e.mjs /path/to/make-credentials-mcp");
    return 2;
  }
  const logdir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-team-e2e-"));
  const logFd = fs.openSync(path.join(logdir, "team.log"), "w");
  const started = Date.now();
  let server = null;
  try {
    server = await startTeam(path.resolve(binary), logFd);
    info("team", `server ${server.url}`);
    const providers = {};
    for (const [name, team] of Object.entries(PEOPLE)) {
      providers[name] = await withTimeout(person(server.url, server.base, name, team), STEP_LIMIT_MS, `team ${name}`);
    }
    if (providers.ada && providers.grace) {
      check("team", "two people got different tokens and different clients",
        providers.ada.tokens().access_token !== providers.grace.tokens().access_token
          && providers.ada.clientInformation().client_id !== providers.grace.clientInformation().client_id);
    }
    await withTimeout(denied(server.url), STEP_LIMIT_MS, "team deny");
    const inspector = process.env.MCP_INSPECTOR;
    if (inspector && providers.ada) {
      const home = path.join(logdir, "inspector-home");
      fs.mkdirSync(home);
      await withTimeout(inspectorChecks(inspector, server.url, providers.ada.tokens().access_token, home),
        150_000, "inspector team");
      const oauthHome = path.join(logdir, "inspector-oauth-home");
      fs.mkdirSync(oauthHome);
      await withTimeout(inspectorOAuth(inspector, server.url, oauthHome), 90_000, "inspector team oauth");
    } else if (inspector) {
      check("inspector team", "tools/list with a bearer header from the TS sign-in", false, "ada did not sign in");
    }
  } catch (err) {
    check("team", "ran to completion", false, `${err?.name}: ${err?.message ?? err}`);
  } finally {
    if (server) await stopProc(server.proc);
    fs.closeSync(logFd);
  }
  console.log(`(server log in ${logdir}; ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return summary();
}

process.exitCode = await main();
