// Team mode's account page in a real browser: headless Chromium signs ada in to `/account` of
// `BINARY --sandbox http --auth oauth` through the sandbox's Make login, reads the page,
// revokes a client with the page's own button, and lets foreign pages post the revoke form.
// Node plays the MCP client (registration, PKCE, /token, /mcp) with fetch.
//
// Imported by consent_page.mjs, which passes its Chromium context; the checks count in its
// PASS/FAIL totals.
//  a. A client of ada's: Chromium signs her in from /authorize and Allows it on the server's
//     consent page; the code redeemed at /token gives a bearer token, which creates a key in
//     team 1 (keys_create, so the audit trail has an entry of hers).
//  b. /account in the same browser, without a session: off to Make's login, and back on
//     /account signed in. The page names ada (name, email, Make user id), her Make grant
//     (scopes, last refreshed), the client (its name and id, with a Revoke button) and the
//     keys_create entry with the key's id; the answer forbids framing and caching.
//     Screenshot 11-account-page.png.
//  c. A page on another loopback port (same site) and one on another host name (another
//     site) auto-post the revoke form with the page's client_id and form token: 403 to both,
//     and the client's token still works.
//  d. Revoke on the page: back on /account with a notice, the client no longer listed
//     (screenshot 12-account-revoked.png), the client's token gets 401 at /mcp, and the
//     page's recent activity lists the revoke (account_revoke).
//  e. Sign out: the page says so, and /account sends the browser to Make's login again.

import crypto from "node:crypto";
import path from "node:path";
import { check, info } from "../lib/e2e.mjs";
import {
  authorizeUrl, callTool, decide, makeHop, pkce, postJson, redeemCode, register,
  postFromForeignPages, startCallback, startTeamServer, walkToConsent,
} from "./team_sign_in.mjs";

const S = "6 account page";
const CLIENT_NAME = "Browser e2e account client";

async function shot(ctx, page, name) {
  const file = path.join(ctx.outDir, name);
  await page.screenshot({ path: file, fullPage: true });
  ctx.shots.push(file);
}

/** Opens /account and walks Make's login and consent until the browser is back on it. */
async function openAccount(page, base) {
  const answered = page.waitForResponse(
    (r) => r.request().method() === "GET" && r.url() === `${base}/account` && r.status() === 200).catch(() => null);
  await page.goto(`${base}/account`);
  for (let hop = 0; hop < 4 && !page.url().startsWith(`${base}/account`); hop++) await makeHop(page);
  if (page.url() !== `${base}/account`) throw new Error(`not on the account page: ${page.url()}`);
  const response = await answered;
  if (!response) throw new Error("no 200 answer of /account was seen");
  return response;
}

/** The status of an MCP initialize with `token`. */
async function mcpStatus(base, token) {
  const res = await postJson(`${base}/mcp`, {
    jsonrpc: "2.0", id: 1, method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "browser-e2e-account", version: "1.0.0" } },
  }, { authorization: `Bearer ${token}`, accept: "application/json, text/event-stream" });
  return res.status;
}

async function accountRun(ctx, page, base, callback) {
  // a. A client of ada's, and a change of hers in Make.
  const clientId = await register(base, callback.uri, CLIENT_NAME);
  const { verifier, challenge } = pkce();
  const state = crypto.randomBytes(16).toString("hex");
  await walkToConsent(page, base, authorizeUrl(base, clientId, callback.uri, challenge, state));
  const hit = await decide(page, callback, "Allow");
  const { tokens } = await redeemCode(base, clientId, callback.uri, hit.code, verifier);
  if (!check(S, "ada allowed a client: it has a bearer token", typeof tokens.access_token === "string", tokens.error)) return;
  const token = tokens.access_token;
  const created = await callTool(base, token, "keys_create", {
    teamId: 1, name: "Browser e2e account key", typeName: "apikeyauth",
    parameters: { key: "browser-e2e-account-secret", placement: "header", name: "X-API-Key" },
  });
  const keyId = created?.result?.structuredContent?.key?.id;
  check(S, "keys_create with the client's token: a key in team 1", Number.isInteger(keyId),
    JSON.stringify(created?.result?.content ?? created).slice(0, 300));

  // b. The account page, signed in through Make.
  await page.context().clearCookies();
  const response = await openAccount(page, base);
  const headers = await response.allHeaders();
  check(S, "/account without a session went through Make's login and came back signed in", true, page.url());
  check(S, "the page's answer: X-Frame-Options DENY, CSP frame-ancestors 'none', Cache-Control no-store",
    headers["x-frame-options"]?.toUpperCase() === "DENY"
      && /frame-ancestors\s+'none'/.test(headers["content-security-policy"] ?? "")
      && headers["cache-control"] === "no-store",
    { xfo: headers["x-frame-options"], csp: headers["content-security-policy"], cache: headers["cache-control"] });
  // The audit entry is written beside the call: reload until it shows (a second at most).
  for (let i = 0; i < 10 && !((await page.textContent("body")) ?? "").includes("keys_create"); i++) {
    await new Promise((r) => setTimeout(r, 100));
    await page.reload();
  }
  const text = (await page.textContent("body")) ?? "";
  check(S, "the heading is Your account", ((await page.locator("h1").textContent()) ?? "").trim() === "Your account");
  check(S, "the page names ada: name, email and Make user id",
    text.includes("Ada Lovelace") && text.includes("ada@example.com") && /Make user id \d+/.test(text), text.slice(0, 200));
  check(S, "the Make grant: its scopes and when it was last refreshed",
    text.includes("connections:read") && /Last refreshed\s*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/.test(text));
  const row = page.locator("tr", { hasText: clientId });
  check(S, "the allowed client is listed with its name, id and a Revoke button",
    (await row.count()) === 1 && (await row.textContent()).includes(CLIENT_NAME)
      && (await row.getByRole("button", { name: /Revoke/ }).count()) === 1);
  const activity = page.locator("tr", { hasText: "keys_create" });
  check(S, "the recent activity lists ada's keys_create with the key's id and outcome done",
    (await activity.count()) >= 1 && (await activity.first().textContent()).includes(String(keyId))
      && (await activity.first().textContent()).includes("done"),
    (await activity.count()) ? await activity.first().textContent() : "no row");
  check(S, "the key's secret is not on the page", !text.includes("browser-e2e-account-secret"));
  await shot(ctx, page, "11-account-page.png");

  // c. Foreign pages auto-post the revoke form with the page's own values.
  const form = row.locator('form[action="/account/revoke"]');
  const action = new URL(await form.getAttribute("action"), page.url()).href;
  const fields = {
    client_id: await form.locator('input[name="client_id"]').getAttribute("value"),
    form_token: await form.locator('input[name="form_token"]').getAttribute("value"),
  };
  await postFromForeignPages(ctx, S, page, action, fields, ({ label, answer }) => {
    check(S, `${label} page's revoke post: the server answered 403`, answer.status() === 403, answer.status());
  });
  check(S, "after the foreign posts the client's token still works at /mcp", (await mcpStatus(base, token)) === 200);

  // d. Revoke on the page.
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/account" && u.searchParams.has("revoked")),
    row.getByRole("button", { name: /Revoke/ }).click(),
  ]);
  const after = (await page.textContent("body")) ?? "";
  check(S, "Revoke: back on /account with a notice naming the client",
    (await page.locator(".notice").count()) === 1 && (await page.locator(".notice").textContent()).includes(CLIENT_NAME));
  check(S, "the client is no longer listed", (await page.locator("tr", { hasText: clientId }).count()) === 0, after.slice(0, 300));
  check(S, "the recent activity lists the revoke (account_revoke, done)",
    (await page.locator("tr", { hasText: "account_revoke" }).filter({ hasText: "done" }).count()) >= 1,
    await page.locator("tr", { hasText: "account_revoke" }).allTextContents());
  await shot(ctx, page, "12-account-revoked.png");
  const status = await mcpStatus(base, token);
  check(S, "the revoked client's token gets 401 at /mcp", status === 401, status);

  // e. Sign out.
  await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Sign out" }).click()]);
  check(S, "Sign out: the page says so", ((await page.textContent("body")) ?? "").includes("You are signed out"));
  await page.goto(`${base}/account`);
  check(S, "after signing out, /account sends the browser to Make's login",
    !page.url().startsWith(base) && (await page.locator('input[name="username"]').count()) === 1, page.url());
}

/**
 * Step 6: the account page, on a team server of its own, in a new tab of `browser` (a
 * playwright BrowserContext). `ctx` is consent_page.mjs's.
 */
export async function accountPageStep(ctx, browser) {
  const base = await startTeamServer(ctx);
  info(S, `server at ${base}`);
  const callback = await startCallback(ctx);
  const page = await browser.newPage();
  ctx.closers.push(() => page.close());
  await browser.clearCookies();
  try {
    await accountRun(ctx, page, base, callback);
  } catch (err) {
    check(S, "step ran to completion", false, `${err?.name}: ${err?.message ?? err}`);
  }
}
