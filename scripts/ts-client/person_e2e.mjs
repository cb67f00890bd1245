#!/usr/bin/env node
// End-to-end check of the "person in the loop" features with an independent client: the
// official TypeScript MCP SDK (@modelcontextprotocol/sdk, version pinned in package.json here),
// against the server's built-in sandbox, over stdio and over Streamable HTTP with sessions, and
// plain tool calls over stateless Streamable HTTP (the default HTTP mode).
//
// Usage: node scripts/ts-client/person_e2e.mjs /path/to/make-credentials-mcp
// (scripts/ts_person_e2e.sh installs the pinned packages into a temp dir, points NODE_PATH at
// it and runs this; the SDK is loaded with require() so NODE_PATH works for an .mjs file too.)
//
// The client declares elicitation {form, url} and protocol 2025-11-25 (the SDK's latest), and
// plays two roles: the model (tool calls) with the person's answers in the client UI (the
// elicitation handler), and the person in the browser (form posts to the sandbox consent page).
//
// Workflows per transport:
//  1. create-by-credentials (google) -> one URL elicitation, url == publicUri, answered accept;
//     result person {via: elicitation, action: accept, elicitationId}; the browser authorizes;
//     wait-for-authorization (with onprogress) -> done; notifications/elicitation/complete
//     arrives with the same elicitationId.
//  2. connections_delete 1002: form elicitation (boolean confirm) declined -> deleted false;
//     then accepted with {confirm: true} -> deleted true.
//
// One line per check (PASS/FAIL), then exactly "N passed, M failed"; exit status 1 on failure.

import { createRequire } from "node:module";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { check, info, summary, withTimeout } from "../lib/e2e.mjs";

const require = createRequire(import.meta.url);
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const {
  CallToolResultSchema,
  ElicitRequestSchema,
  ElicitationCompleteNotificationSchema,
  LATEST_PROTOCOL_VERSION,
} = require("@modelcontextprotocol/sdk/types.js");

const TEAM = 1;
const SLACK_CONNECTION = 1002; // seeded in the sandbox: slack3 "Slack (Acme workspace)"
const CREATE_ARGS = {
  name: "TS SDK e2e",
  connections: [{ type: "google", scope: ["https://www.googleapis.com/auth/drive"] }],
};
const COMBO_LIMIT_MS = 90_000;

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(pred, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pred()) return true;
    await sleep(50);
  }
  return pred();
}

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

function sdkVersion() {
  // package.json is not in the SDK's exports map: walk up from a resolved entry point.
  let dir = path.dirname(require.resolve("@modelcontextprotocol/sdk/client/index.js"));
  while (dir !== path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
      if (pkg.name === "@modelcontextprotocol/sdk") return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return "unknown";
}

/** The person on the consent page: POST an empty form; the 303 is surfaced, not followed. */
async function consentPost(publicUri, requestId, credentialId, action) {
  const origin = new URL(publicUri);
  if (!["127.0.0.1", "localhost", "[::1]"].includes(origin.hostname)) {
    throw new Error(`consent page not on loopback: ${publicUri}`);
  }
  const url = `${origin.origin}/credential-requests/${requestId}/credentials/${credentialId}/${action}`;
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "",
    redirect: "manual",
  });
  await res.arrayBuffer().catch(() => {});
  return { status: res.status, location: res.headers.get("location") };
}

// ---------------------------------------------------------------------------------------------
// The person in the client UI: elicitation answers, and every notification the client got

class Person {
  constructor() {
    this.urlAnswer = "accept";
    this.formAnswer = "decline";
    this.elicitations = []; // params of elicitation/create requests
    this.completions = []; // elicitationIds of notifications/elicitation/complete
    this.otherNotifications = []; // methods of notifications without a handler of their own
  }

  install(client) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      const params = request.params;
      this.elicitations.push(params);
      if (params.mode === "url") return { action: this.urlAnswer };
      if (this.formAnswer === "accept") return { action: "accept", content: { confirm: true } };
      return { action: this.formAnswer };
    });
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, async (notification) => {
      this.completions.push(notification.params.elicitationId);
    });
    client.fallbackNotificationHandler = async (notification) => {
      this.otherNotifications.push(notification.method);
    };
  }

  /** Elicitations of one mode ("form" also matches a missing mode) received so far; forget all. */
  take(mode) {
    const got = this.elicitations.filter((e) => (e.mode ?? "form") === mode);
    this.elicitations = [];
    return got;
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

/** Our environment minus the server's own settings (MAKE_*, MCP_*), which would change its behaviour. */
function serverEnv() {
  const env = { RUST_LOG: "warn" };
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(MAKE_|MCP_)/.test(k) && k !== "RUST_LOG") env[k] = v;
  }
  return env;
}

async function startHttp(binary, logFd, sessions = true) {
  const port = await freePort();
  const args = ["--sandbox", "http", "--listen", `127.0.0.1:${port}`, ...(sessions ? ["--sessions"] : [])];
  const proc = spawn(binary, args, { stdio: ["ignore", logFd, logFd], env: serverEnv() });
  let exited = null;
  proc.on("exit", (code, signal) => {
    exited = { code, signal };
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`server exited early: ${JSON.stringify(exited)}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return { proc, url: `http://127.0.0.1:${port}/mcp` };
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
// Workflows

async function call(client, name, args, options = {}) {
  return client.callTool({ name, arguments: args }, CallToolResultSchema, { timeout: 60_000, ...options });
}

async function newCredentials(combo, client, person) {
  const c = `${combo} new-credentials`;
  person.urlAnswer = "accept";
  person.take("url");
  const result = await call(client, "credential-requests_create-by-credentials", CREATE_ARGS);
  const out = result.structuredContent ?? {};
  if (!check(c, "create succeeded", !result.isError, result.isError ? textOf(result) : out.request?.id)) return;
  const publicUri = out.publicUri;
  const requestId = out.request?.id;
  const creds = out.credentials ?? [];
  check(c, "publicUri present", typeof publicUri === "string" && publicUri.length > 0, publicUri);
  const urls = person.take("url");
  check(c, "exactly one URL elicitation, url == publicUri",
    urls.length === 1 && urls[0].url === publicUri, urls.map((u) => u.url));
  check(c, "URL elicitation carries a message and an elicitationId",
    urls.length === 1 && typeof urls[0].message === "string" && urls[0].message.length > 0
      && typeof urls[0].elicitationId === "string" && urls[0].elicitationId.length > 0,
    urls[0]);
  const personField = out.person;
  check(c, "person.action == accept", personField?.action === "accept", personField);
  check(c, "person.via == elicitation", personField?.via === "elicitation", personField);
  const elicitationId = personField?.elicitationId;
  check(c, "person.elicitationId == the URL elicitation's elicitationId",
    typeof elicitationId === "string" && urls.length === 1 && urls[0].elicitationId === elicitationId,
    `${elicitationId} vs ${JSON.stringify(urls.map((u) => u.elicitationId))}`);
  const google = creds.find((x) => x.component === "account");
  check(c, "one pending account credential",
    creds.length === 1 && google && google.state === "pending" && typeof google.id === "string",
    creds.map((x) => ({ id: x.id, component: x.component, name: x.name, state: x.state })));
  if (!google || !requestId || !publicUri) return;

  // The person authorizes on the consent page while the model waits.
  const progress = [];
  const browser = (async () => {
    await sleep(1000);
    return consentPost(publicUri, requestId, google.id, "authorize");
  })();
  const waited = await call(client, "credential-requests_wait-for-authorization",
    { requestId, timeoutSeconds: 30 },
    { onprogress: (p) => progress.push(p), resetTimeoutOnProgress: true });
  const posted = await browser;
  check(c, "consent page authorize answered 303", posted.status === 303, posted);
  const w = waited.structuredContent ?? {};
  check(c, "wait: done, not timed out", !waited.isError && w.done === true && w.timedOut === false,
    waited.isError ? textOf(waited) : { done: w.done, timedOut: w.timedOut });
  const wc = w.credentials ?? [];
  check(c, "wait: google credential authorized with a remoteId",
    wc.length === 1 && wc[0].state === "authorized" && wc[0].remoteId !== undefined && wc[0].remoteId !== null,
    wc.map((x) => ({ state: x.state, remoteId: x.remoteId })));
  check(c, "wait: summary mentions google authorized",
    typeof w.summary === "string" && w.summary.includes("google authorized"), w.summary);
  check(c, "notifications/progress received through onprogress", progress.length >= 1, progress);
  check(c, "progress values never decrease",
    progress.every((p, i) => i === 0 || p.progress >= progress[i - 1].progress), progress);
  // The server sends notifications/elicitation/complete once the request is settled; it may
  // trail the tool result slightly, so allow it a moment.
  await waitFor(() => person.completions.includes(elicitationId), 3000);
  check(c, "notifications/elicitation/complete with person.elicitationId (exactly once)",
    person.completions.length === 1 && person.completions[0] === elicitationId,
    { completions: person.completions, expected: elicitationId });
  info(c, `progress: ${JSON.stringify(progress)}; summary: ${JSON.stringify(w.summary)}`);
}

async function safeDelete(combo, client, person) {
  const c = `${combo} safe-delete`;
  const args = { connectionId: SLACK_CONNECTION };
  person.take("form");
  person.formAnswer = "decline";
  const first = await call(client, "connections_delete", args);
  let out = first.structuredContent ?? {};
  let forms = person.take("form");
  const props = forms[0]?.requestedSchema?.properties ?? {};
  check(c, "one form elicitation with a boolean `confirm`",
    forms.length === 1 && Object.keys(props).join() === "confirm" && props.confirm?.type === "boolean",
    forms.map((f) => f.requestedSchema));
  check(c, "declined: normal result, deleted false", !first.isError && out.deleted === false,
    first.isError ? textOf(first) : out);
  check(c, "declined: confirmation {via: elicitation, action: decline, proceeded: false}",
    out.confirmation?.via === "elicitation" && out.confirmation?.action === "decline"
      && out.confirmation?.proceeded === false, out.confirmation);
  check(c, "declined: message present", typeof out.message === "string" && out.message.length > 0, out.message);
  const still = await call(client, "connections_get", args);
  check(c, "declined: connection still there",
    !still.isError && still.structuredContent?.connection?.id === SLACK_CONNECTION, textOf(still));

  person.formAnswer = "accept";
  const second = await call(client, "connections_delete", args);
  out = second.structuredContent ?? {};
  forms = person.take("form");
  check(c, "confirmed: one more form elicitation", forms.length === 1, forms.length);
  check(c, "confirmed: deleted true", !second.isError && out.deleted === true,
    second.isError ? textOf(second) : out);
  check(c, "confirmed: confirmation {via: elicitation, action: accept, proceeded: true}",
    out.confirmation?.via === "elicitation" && out.confirmation?.action === "accept"
      && out.confirmation?.proceeded === true, out.confirmation);
  const gone = await call(client, "connections_get", args);
  check(c, "connection gone afterwards", gone.isError === true, textOf(gone));
}

// Stateless HTTP (the default mode): plain tool calls. The SDK validates every
// structuredContent against the output schema from tools/list.
async function plainCalls(combo, client) {
  const c = `${combo}/plain calls`;
  const got = await call(client, "connections_get", { connectionId: SLACK_CONNECTION });
  check(c, "connections_get: the seeded Slack connection",
    !got.isError && got.structuredContent?.connection?.id === SLACK_CONNECTION,
    got.isError ? textOf(got) : got.structuredContent?.connection?.name);
  const text = got.content?.[0]?.text ?? "";
  check(c, "the text copy is the same JSON", deepEqual(JSON.parse(text), got.structuredContent), text.slice(0, 80));
  const listed = await call(client, "connections_list", { teamId: TEAM });
  check(c, "connections_list lists the seeded connections",
    !listed.isError && Array.isArray(listed.structuredContent?.connections)
      && listed.structuredContent.connections.length > 0,
    listed.isError ? textOf(listed) : `${listed.structuredContent?.connections?.length} connections`);
  const missing = await call(client, "keys_get", { keyId: 999999 });
  check(c, "a missing key is an isError result", missing.isError === true, textOf(missing).slice(0, 80));
  const invalid = await call(client, "connections_list", { teamId: "x" });
  check(c, "an invalid argument is an isError result", invalid.isError === true, textOf(invalid).slice(0, 80));
  let unknown = null;
  try {
    await call(client, "no_such_tool", {});
  } catch (err) {
    unknown = err;
  }
  check(c, "an unknown tool is a JSON-RPC error -32602", unknown?.code === -32602, String(unknown?.message ?? unknown));
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
}

async function runCombo(binary, transportName, logdir) {
  const combo = transportName;
  const logPath = path.join(logdir, `${transportName}.log`);
  const logFd = fs.openSync(logPath, "w");
  const person = new Person();
  let proc = null;
  let transport = null;
  const client = new Client(
    { name: "make-credentials-mcp-ts-e2e", version: "1.0.0" },
    { capabilities: { elicitation: { form: {}, url: {} } } },
  );
  person.install(client);
  const errors = [];
  let closing = false; // the SDK reports its own aborted SSE stream on close: not an error
  client.onerror = (err) => {
    if (!closing) errors.push(String(err?.message ?? err));
  };
  try {
    if (transportName === "stdio") {
      transport = new StdioClientTransport({
        command: binary,
        args: ["--sandbox"],
        env: { RUST_LOG: "warn" },
        stderr: logFd,
      });
    } else {
      const started = await startHttp(binary, logFd, transportName === "http");
      proc = started.proc;
      transport = new StreamableHTTPClientTransport(new URL(started.url));
    }
    // The Client has no getter for the negotiated version; it hands it to setProtocolVersion.
    let negotiated = null;
    const setVersion = transport.setProtocolVersion?.bind(transport);
    transport.setProtocolVersion = (v) => {
      negotiated = v;
      setVersion?.(v);
    };
    await withTimeout((async () => {
      await client.connect(transport);
      info(combo, `server ${JSON.stringify(client.getServerVersion())}, protocol ${negotiated}`
        + (transport.sessionId ? `, session ${transport.sessionId}` : ""));
      check(combo, `negotiated ${LATEST_PROTOCOL_VERSION}`, negotiated === LATEST_PROTOCOL_VERSION, negotiated);
      if (transportName === "http") {
        check(combo, "Mcp-Session-Id assigned", typeof transport.sessionId === "string" && transport.sessionId.length > 0,
          transport.sessionId);
      }
      // listTools caches the output schemas: callTool then validates structuredContent with ajv.
      const tools = (await client.listTools()).tools;
      const names = tools.map((t) => t.name);
      check(combo, "tools/list has the tools under test",
        ["credential-requests_create-by-credentials", "credential-requests_wait-for-authorization",
          "connections_delete", "connections_get"].every((n) => names.includes(n)), `${names.length} tools`);
      if (transportName === "stateless") {
        check(combo, "no Mcp-Session-Id", transport.sessionId === undefined, transport.sessionId);
        await plainCalls(combo, client);
        return;
      }
      await newCredentials(combo, client, person);
      await safeDelete(combo, client, person);
    })(), COMBO_LIMIT_MS, combo);
    if (transportName === "http") {
      closing = true;
      try {
        await transport.terminateSession();
        info(combo, "session terminated (DELETE)");
      } catch (err) {
        check(combo, "DELETE session", false, String(err?.message ?? err));
      }
    }
  } catch (err) {
    check(combo, "combination ran to completion", false, `${err?.name}: ${err?.message ?? err}`);
  } finally {
    closing = true;
    await client.close().catch(() => {});
    if (proc) await stopProc(proc);
    fs.closeSync(logFd);
  }
  if (person.otherNotifications.length) info(combo, `other notifications: ${[...new Set(person.otherNotifications)]}`);
  if (errors.length) info(combo, `client errors: ${errors.slice(0, 5).join(" | ")}`);
}

async function main() {
  const binary = process.argv[2];
  if (!binary) {
    console.error("usage: node person_e2e.mjs /path/to/make-credentials-mcp");
    return 2;
  }
  const bin = path.resolve(binary);
  const logdir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-person-e2e-"));
  const started = Date.now();
  console.log(`INFO node ${process.version}, @modelcontextprotocol/sdk ${sdkVersion()}, client protocol ${LATEST_PROTOCOL_VERSION}`);
  for (const t of ["stdio", "http", "stateless"]) await runCombo(bin, t, logdir);
  console.log(`(server logs in ${logdir}; ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return summary();
}

process.exitCode = await main();
