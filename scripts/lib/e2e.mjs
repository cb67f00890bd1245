// Shared by the Node test clients (scripts/ts-client, scripts/browser-e2e): PASS/FAIL lines,
// the closing "N passed, M failed" line, and a time bound for any step.

let passed = 0;
let failed = 0;

/** One line per check: newlines inside tool messages would split it. */
function short(detail, ok) {
  if (detail === undefined || detail === "") return "";
  const text = (typeof detail === "string" ? detail : JSON.stringify(detail)).replace(/\s*\n\s*/g, " | ");
  return ` (${text.slice(0, ok ? 200 : 1500)})`;
}

/** Counts and prints one check of a step (a client combination, a browser step). */
export function check(step, what, ok, detail) {
  ok = Boolean(ok);
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "PASS" : "FAIL"} [${step}] ${what}${short(detail, ok)}`);
  return ok;
}

export function info(step, text) {
  console.log(`INFO [${step}] ${text}`);
}

export function anyFailed() {
  return failed > 0;
}

/** Prints the closing line and returns the exit status: 1 when a check failed. */
export function summary() {
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

/** `promise`, or a rejection naming `what` when it has not settled within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no end within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
