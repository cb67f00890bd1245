#!/usr/bin/env node
// The sandbox's consent page in a real browser: headless Chromium (Debian's `chromium`
// package, driven by playwright-core; never a downloaded browser build) plays the person, the
// TypeScript MCP SDK over stdio plays the model. No HTTP request here is hand-made: every post
// to the sandbox is one Chromium makes itself, from the page's own forms (or, in 4., from a
// foreign page's form), with the headers a browser really sends.
//
// Usage: node consent_page.mjs /path/to/make-credentials-mcp OUT_DIR
// (scripts/browser_e2e.sh installs the pinned packages into a temp dir, points NODE_PATH at
// it and runs this; packages are loaded with require() so NODE_PATH works for an .mjs file.)
//
// One request with three credentials, and one more request:
//  1. OAuth: a google connection with a Drive scope. Open publicUri, screenshot, click
//     Authorize: the post answers 303 back to the page, the card says authorized; through the
//     tools, credential-requests_get says authorized with a remoteId, and connections_list
//     has that google connection, holding the scope.
//  2. Key: an apikeyauth key (parameters key, placement, name). Fill the fields, submit; the
//     tools say authorized, keys_list has a key of that name and type; the secret typed is
//     not in the page afterwards.
//  3. Decline the slack3 connection with a reason; the tools say declined, with the reason.
//  4. Cross-site: a page served from another loopback port auto-posts a form to a pending
//     credential's authorize URL (read from its consent page's Authorize form), once as
//     http://127.0.0.1:PORT (same site, another origin) and once as http://localhost:PORT
//     (another site). The sandbox answers 403 to both, and through the tools the credential
//     is still pending.
//  5. Team mode (team_sign_in.mjs): `BINARY --sandbox http --auth oauth` on a free port; a new
//     tab signs ada in from /authorize through the sandbox's Make login and consent and the
//     server's own consent page (Allow: code, state, iss, then /token and connections_list with
//     the bearer; Deny: access_denied), and checks that page cannot be framed and refuses its
//     form posted from foreign pages (403).
//  6. The account page (account_page.mjs): on a team server of its own, ada allows a client
//     and creates a key with it; Chromium opens /account, signs in through Make, and finds
//     her grant, the client and the key's audit entry (screenshot); foreign pages posting the
//     revoke form get 403; Revoke on the page makes the client's token get 401 at /mcp;
//     Sign out ends the session.
// Screenshots go to OUT_DIR. One line per check (PASS/FAIL, INFO), then exactly
// "N passed, M failed"; exit status 1 on a failure.

import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { anyFailed, check, info, summary, withTimeout } from "../lib/e2e.mjs";
import { postFromForeignPages, teamSignInStep } from "./team_sign_in.mjs";
import { accountPageStep } from "./account_page.mjs";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
const { CallToolResultSchema } = require("@modelcontextprotocol/sdk/types.js");

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox", // runs as root in CI
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TEAM = 1;
const DRIVE = "https://www.googleapis.com/auth/drive";
const KEY_NAME = "Browser e2e API key";
const SLACK_NAME = "Browser e2e Slack";
const DECLINE_REASON = "Not this workspace, please";
const OVERALL_LIMIT_MS = 150_000; // the whole run; each step has its own, shorter bounds
const STEP_TIMEOUT_MS = 15_000; // one browser action or navigation
const TOOL_TIMEOUT_MS = 30_000; // one tool call

// ---------------------------------------------------------------------------------------------
// Helpers

function packageVersion(name, entry) {
  // package.json is not always in a package's exports map: walk up from a resolved entry point.
  let dir = path.dirname(require.resolve(entry));
  while (dir !== path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
      if (pkg.name === name) return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// The model: tool calls

function textOf(result) {
  return (result?.content ?? []).map((c) => c.text ?? "").join(" ").slice(0, 300);
}

async function call(client, name, args) {
  const result = await client.callTool({ name, arguments: args }, CallToolResultSchema, { timeout: TOOL_TIMEOUT_MS });
  if (result.isError) throw new Error(`${name}: ${textOf(result)}`);
  return result.structuredContent ?? {};
}

async function credentialNow(client, requestId, credentialId) {
  const got = await call(client, "credential-requests_get", { requestId });
  const cred = (got.request?.credentials ?? []).find((c) => c.id === credentialId);
  return { request: got.request ?? {}, cred };
}

// ---------------------------------------------------------------------------------------------
// The person: the page

const card = (page, credentialId) => page.locator(`#credential-${credentialId}`);

/** The state badge of a credential's card on the page as loaded (no waiting for one). */
async function badge(page, credentialId) {
  const b = card(page, credentialId).locator(".head .badge");
  if ((await b.count()) !== 1) return `(no card for ${credentialId} on ${page.url()})`;
  return (await b.textContent())?.trim();
}

/** Clicks a submit button and waits for the page's own POST and the page it ends on. */
async function submit(page, button, postUrl) {
  const posted = page.waitForResponse((r) => r.request().method() === "POST" && r.url() === postUrl);
  // The post leads to exactly one new document (the page again after a 303, or the refusal),
  // whose load event says it is on screen; the document shown before the click is loaded too.
  const loaded = page.waitForEvent("load");
  await button.click();
  const response = await posted;
  await loaded;
  const sent = await response.request().allHeaders();
  return {
    status: response.status(),
    sent: { origin: sent.origin, "sec-fetch-site": sent["sec-fetch-site"], referer: sent.referer },
  };
}

async function shot(page, outDir, name, shots) {
  const file = path.join(outDir, name);
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
}

// ---------------------------------------------------------------------------------------------
// Steps

async function oauthStep(ctx, page, client, req, google) {
  const s = "1 oauth";
  const action = await card(page, google.id).locator("form:has(button.primary)").getAttribute("action");
  const postUrl = new URL(action, page.url()).href;
  const before = await badge(page, google.id);
  check(s, "the google card shows pending and an Authorize button",
    before === "pending" && (await card(page, google.id).getByRole("button", { name: "Authorize" }).count()) === 1,
    before);
  check(s, "the card lists the Drive scope it will grant",
    (await card(page, google.id).textContent()).includes(DRIVE));
  await shot(page, ctx.outDir, "01-consent-page.png", ctx.shots);

  const posted = await submit(page, card(page, google.id).getByRole("button", { name: "Authorize" }), postUrl);
  info(s, `Chromium's post carried ${JSON.stringify(posted.sent)}`);
  check(s, "clicking Authorize: the sandbox answered 303", posted.status === 303, posted);
  await shot(page, ctx.outDir, "02-after-authorize.png", ctx.shots);
  check(s, "back on the consent page", page.url() === req.publicUri, page.url());
  const after = await badge(page, google.id);
  check(s, "the google card now says authorized", after === "authorized", after);

  const { cred } = await credentialNow(client, req.requestId, google.id);
  check(s, "credential-requests_get: authorized, with a remoteId",
    cred?.state === "authorized" && Number.isInteger(cred?.remoteId), { state: cred?.state, remoteId: cred?.remoteId });
  if (!Number.isInteger(cred?.remoteId)) return;
  const listed = await call(client, "connections_list", { teamId: TEAM, type: ["google"], scopes: { google: [DRIVE] } });
  const conn = (listed.connections ?? []).find((c) => c.id === cred.remoteId);
  check(s, "connections_list: the new google connection, holding the Drive scope",
    conn && conn.accountName === "google" && conn.scoped === true,
    conn && { id: conn.id, name: conn.name, accountName: conn.accountName, scoped: conn.scoped });
}

async function keyStep(ctx, page, client, req, key) {
  const s = "2 key";
  const form = card(page, key.id).locator("form.key-form");
  const postUrl = new URL(await form.getAttribute("action"), page.url()).href;
  const labels = await form.locator("label").allTextContents();
  check(s, "the key card asks for the apikeyauth parameters",
    ["Key", "API Key placement", "API Key parameter name"].every((l) => labels.some((x) => x.startsWith(l))), labels);
  // A fresh value, typed and then never printed.
  const secret = `be2e-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  await form.locator('input[name="key"]').fill(secret);
  await form.locator('select[name="placement"]').selectOption("query");
  await form.locator('input[name="name"]').fill("X-Browser-Token");
  await shot(page, ctx.outDir, "03-key-filled.png", ctx.shots);
  const posted = await submit(page, form.getByRole("button", { name: "Authorize" }), postUrl);
  check(s, "submitting the key form: the sandbox answered 303", posted.status === 303, posted);
  const after = await badge(page, key.id);
  check(s, "the key card now says authorized", after === "authorized", after);
  check(s, "the secret typed is not in the page afterwards", !(await page.content()).includes(secret));

  const { cred } = await credentialNow(client, req.requestId, key.id);
  check(s, "credential-requests_get: authorized, with a remoteId",
    cred?.state === "authorized" && Number.isInteger(cred?.remoteId), { state: cred?.state, remoteId: cred?.remoteId });
  if (!Number.isInteger(cred?.remoteId)) return;
  const listed = await call(client, "keys_list", { teamId: TEAM });
  const made = (listed.keys ?? []).find((k) => k.id === cred.remoteId);
  check(s, `keys_list: the new key, named "${KEY_NAME}", type apikeyauth`,
    made && made.name === KEY_NAME && made.typeName === "apikeyauth",
    made && { id: made.id, name: made.name, typeName: made.typeName });
}

async function declineStep(ctx, page, client, req, slack) {
  const s = "3 decline";
  const form = card(page, slack.id).locator('form:has(input[name="reason"])');
  const postUrl = new URL(await form.getAttribute("action"), page.url()).href;
  await form.locator('input[name="reason"]').fill(DECLINE_REASON);
  const posted = await submit(page, form.getByRole("button", { name: "Decline" }), postUrl);
  check(s, "clicking Decline: the sandbox answered 303", posted.status === 303, posted);
  await shot(page, ctx.outDir, "04-after-decline.png", ctx.shots);
  const after = await badge(page, slack.id);
  check(s, "the slack card now says declined", after === "declined", after);
  const { request, cred } = await credentialNow(client, req.requestId, slack.id);
  check(s, "credential-requests_get: declined, with the reason typed",
    cred?.state === "declined" && cred?.declineReason === DECLINE_REASON && cred?.remoteId == null,
    { state: cred?.state, declineReason: cred?.declineReason, remoteId: cred?.remoteId });
  info(s, `request status after all three: ${request.status}`);
}

async function crossSiteStep(ctx, page, client) {
  const s = "4 cross-site";
  const created = await call(client, "credential-requests_create-by-credentials", {
    name: "Browser e2e: cross-site target",
    connections: [{ type: "google", scope: [DRIVE] }],
  });
  const requestId = created.request?.id;
  const target = (created.credentials ?? [])[0];
  if (!check(s, "a second request with one pending credential", requestId && target?.state === "pending",
    (created.credentials ?? []).map((c) => ({ name: c.name, state: c.state })))) return;
  await page.goto(created.publicUri);
  const action = await card(page, target.id).locator("form:has(button.primary)").getAttribute("action");
  const postUrl = new URL(action, page.url()).href;
  info(s, `the page's own Authorize form posts to ${action}`);

  // Another port on the same loopback address is another origin of the same site; another
  // host name is another site. Chromium labels the posts same-site and cross-site.
  await postFromForeignPages(ctx, s, page, postUrl, { x: "1" }, async ({ label, answer, tab }) => {
    await tab.waitForURL(postUrl); // the refusal (or whatever answered) is on screen
    const body = await answer.text().catch(() => "");
    check(s, `${label} page's post: the sandbox answered 403`, answer.status() === 403,
      { status: answer.status(), body: body.slice(0, 200) });
    check(s, `${label} page's post: the refusal says why`, /^Forbidden: /.test(body), body.slice(0, 200));
    await shot(tab, ctx.outDir, `05-${label}-post-refused.png`, ctx.shots);
  });
  const { request, cred } = await credentialNow(client, requestId, target.id);
  check(s, "credential-requests_get: the credential is still pending, the request too",
    cred?.state === "pending" && cred?.remoteId == null && request.status === "pending",
    { state: cred?.state, remoteId: cred?.remoteId, request: request.status });
}

// ---------------------------------------------------------------------------------------------

async function run(ctx) {
  const client = new Client({ name: "make-credentials-mcp-browser-e2e", version: "1.0.0" }, { capabilities: {} });
  // Without elicitation support the server returns the link in the result, as for most clients.
  const transport = new StdioClientTransport({
    command: ctx.binary,
    args: ["--sandbox"],
    env: { RUST_LOG: "warn" }, // added to the SDK's minimal environment: no MAKE_* or MCP_* settings
    stderr: ctx.logFd,
  });
  ctx.closers.push(() => client.close());
  await client.connect(transport);
  info("setup", `server ${JSON.stringify(client.getServerVersion())}`);

  const types = await call(client, "keys_list-types", {});
  const apikey = (types.keysTypes ?? []).find((t) => t.name === "apikeyauth");
  check("setup", "keys_list-types: apikeyauth asks for key, placement and name",
    apikey && ["key", "placement", "name"].every((n) => apikey.parameters.some((p) => p.name === n)),
    apikey?.parameters?.map((p) => p.name));

  const created = await call(client, "credential-requests_create-by-credentials", {
    name: "Browser e2e",
    description: "Headless Chromium authorizes, fills in and declines.",
    connections: [
      { type: "google", scope: [DRIVE] },
      { type: "slack3", nameOverride: SLACK_NAME },
    ],
    keys: [{ type: "apikeyauth", nameOverride: KEY_NAME }],
  });
  const creds = created.credentials ?? [];
  const google = creds.find((c) => c.name === "google");
  const slack = creds.find((c) => c.name === "slack3");
  const key = creds.find((c) => c.name === "apikeyauth");
  const req = { requestId: created.request?.id, publicUri: created.publicUri };
  check("setup", "credential-requests_create-by-credentials: publicUri on loopback, three pending credentials",
    /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+\//.test(req.publicUri ?? "")
      && google && slack && key && creds.every((c) => c.state === "pending"),
    { publicUri: req.publicUri, credentials: creds.map((c) => ({ type: c.name, state: c.state })) });
  const ready = Boolean(google && slack && key && req.publicUri); // else steps 1-4 cannot run; 5 still does

  const userData = fs.mkdtempSync(path.join(ctx.workDir, "chromium-profile-"));
  const browser = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
    viewport: { width: 1000, height: 800 },
  });
  ctx.closers.push(() => browser.close());
  info("setup", `Chromium ${browser.browser()?.version() ?? "(version unknown)"}`);
  browser.setDefaultTimeout(STEP_TIMEOUT_MS);
  browser.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const page = browser.pages()[0] ?? (await browser.newPage());
  const refused = []; // responses of 400 and more, reported (the 403s of step 4 among them)
  page.on("response", (r) => r.status() >= 400 && refused.push(`${r.status()} ${r.request().method()} ${r.url()}`));

  if (ready) await consentSteps(ctx, page, client, req, { google, key, slack });
  try {
    await teamSignInStep(ctx, browser);
  } catch (err) {
    check("5 team", "step ran to completion", false, `${err?.name}: ${err?.message ?? err}`);
  }
  try {
    await accountPageStep(ctx, browser);
  } catch (err) {
    check("6 account page", "step ran to completion", false, `${err?.name}: ${err?.message ?? err}`);
  }
  if (refused.length) info("browser", `responses >= 400: ${refused.slice(0, 6).join(" | ")}`);
}

/** Steps 1-4 on the request's consent page, then the cross-site request. */
async function consentSteps(ctx, page, client, req, { google, key, slack }) {
  const opened = await page.goto(req.publicUri);
  check("setup", "the consent page opens (200)", opened?.status() === 200, opened?.status());
  check("setup", "its heading is the request's name", (await page.locator("h1").textContent())?.trim() === "Browser e2e");

  for (const [name, step] of [
    ["1 oauth", () => oauthStep(ctx, page, client, req, google)],
    ["2 key", () => keyStep(ctx, page, client, req, key)],
    ["3 decline", () => declineStep(ctx, page, client, req, slack)],
  ]) {
    try {
      // Each step starts on the request's page, whatever the one before it left on screen.
      if (page.url() !== req.publicUri) await page.goto(req.publicUri);
      await step();
    } catch (err) {
      check(name, "step ran to completion", false, `${err?.name}: ${err?.message ?? err}`);
    }
  }
  try {
    await crossSiteStep(ctx, page, client);
  } catch (err) {
    check("4 cross-site", "step ran to completion", false, `${err?.name}: ${err?.message ?? err}`);
  }
}

async function main() {
  const [binary, outDir] = process.argv.slice(2);
  if (!binary || !outDir) {
    console.error("usage: node consent_page.mjs /path/to/make-credentials-mcp OUT_DIR");
    return 2;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "browser-e2e-"));
  const logPath = path.join(workDir, "server.log");
  const ctx = {
    binary: path.resolve(binary),
    outDir: path.resolve(outDir),
    workDir,
    logFd: fs.openSync(logPath, "w"),
    shots: [],
    closers: [], // run in reverse on the way out, also after a failure
  };
  const started = Date.now();
  console.log(`INFO node ${process.version}, playwright-core ${packageVersion("playwright-core", "playwright-core")}, `
    + `@modelcontextprotocol/sdk ${packageVersion("@modelcontextprotocol/sdk", "@modelcontextprotocol/sdk/client/index.js")}`);
  try {
    await withTimeout(run(ctx), OVERALL_LIMIT_MS, "the browser test");
  } catch (err) {
    check("run", "ran to completion", false, `${err?.name}: ${err?.message ?? err}`);
  } finally {
    for (const close of ctx.closers.reverse()) {
      await withTimeout(Promise.resolve().then(close), 10_000, "closing").catch(() => {});
    }
    fs.closeSync(ctx.logFd);
  }
  for (const file of ctx.shots) console.log(`INFO screenshot ${file}`);
  const log = fs.readFileSync(logPath, "utf8").trim();
  if (anyFailed() && log) console.log(`INFO server log (stderr), last lines:\n${log.split("\n").slice(-15).join("\n")}`);
  fs.rmSync(workDir, { recursive: true, force: true });
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return summary();
}

// Exit even if a timed-out step left something pending (its browser and server are closed by now).
process.exit(await main());
