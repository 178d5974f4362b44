"use strict";
// Scenario 2: @itwin/node-cli-authorization 1.0.1 (authorization code + PKCE on a loopback redirect, as
// `itp auth login` without a secret) signs a user in through a fake browser, and refreshes its token.

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { Logger, LogLevel } = require("@itwin/core-bentley");
const { NodeCliAuthorizationClient, NODE_CLI_AUTH_LOGGER_CATEGORY } = require("@itwin/node-cli-authorization");
const { ITwinsAccessClient } = require("@itwin/itwins-client");
const { server, setting, claimsOf, expectStatus, within } = require("./lib/harness");

const SIGN_IN_TIMEOUT_MS = 30000;
const browserFolder = fs.mkdtempSync(path.join(os.tmpdir(), "fake-browser-"));
const browserLog = path.join(browserFolder, "visits.jsonl");
const clientLog = [];

// A refused authorization does not reject signIn(): the client logs the error, its listener throws "No
// tokenResponse received from sign-in dialog" as an unhandled rejection, and signIn() never settles. The test
// runner fails the test on that rejection; this adds what the browser saw and what the client logged (the
// server's answer). Registered before the runner's own handler, so the report shows it.
process.on("unhandledRejection", (reason) => {
  if (reason instanceof Error) reason.stack = `${reason.stack}\n${signInEvidence()}`;
});

before(() => {
  const browser = `${process.execPath} ${path.join(__dirname, "fake-browser.js")}`;
  // xdg-open splits $BROWSER on ":" and then on spaces.
  assert.ok(
    !/[:\s]/.test(browser.replace(" ", "")),
    `the fake browser's path must hold no spaces or colons: ${browser}`,
  );
  process.env.BROWSER = browser;
  process.env.FAKE_BROWSER_LOG = browserLog;
  // No desktop, whatever the developer's session has: xdg-open then goes straight to $BROWSER.
  process.env.XDG_CURRENT_DESKTOP = "X-Generic";
  const desktop = ["DISPLAY", "WAYLAND_DISPLAY", "KDE_FULL_SESSION", "GNOME_DESKTOP_SESSION_ID", "DESKTOP_SESSION"];
  for (const name of desktop) delete process.env[name];
  // The client reports a refused authorization only to its logger (and then never finishes signing in).
  Logger.initialize((category, message, metadata) => {
    clientLog.push(`${category}: ${message} ${JSON.stringify(Logger.getMetaData(metadata))}`);
  });
  Logger.setLevel(NODE_CLI_AUTH_LOGGER_CATEGORY, LogLevel.Error);
});

after(() => fs.rmSync(browserFolder, { recursive: true, force: true }));

async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** What the fake browser saw and what the client logged: the server's answer when sign-in hangs. */
function signInEvidence() {
  const visits = fs.existsSync(browserLog) ? fs.readFileSync(browserLog, "utf8") : "(the browser was never opened)";
  return `Browser visits:\n${visits}\nClient log:\n${clientLog.join("\n") || "(nothing)"}`;
}

/**
 * The visits the fake browser logged, once there are `count`. It writes after its last hop, and the client
 * may finish signing in before that (the loopback answer completes the sign-in), so this waits briefly.
 */
async function browserVisits(count) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const text = fs.existsSync(browserLog) ? fs.readFileSync(browserLog, "utf8") : "";
    const lines = text.split("\n").filter(Boolean);
    if (lines.length >= count) return lines.map((line) => JSON.parse(line));
    if (Date.now() > deadline) throw new Error(`the fake browser logged ${lines.length} visit(s), expected ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function signedInClient(options = {}) {
  const client = new NodeCliAuthorizationClient({
    issuerUrl: server.url,
    clientId: setting("CLIENT_TESTS_NATIVE_CLIENT_ID"),
    redirectUri: `http://localhost:${await freePort()}/signin-callback`,
    scope: "itwin-platform",
    ...options,
  });
  await within(client.signIn(), SIGN_IN_TIMEOUT_MS, "signIn()", signInEvidence);
  return client;
}

async function readsUsersITwin(token) {
  const iTwinId = setting("CLIENT_TESTS_USER_ITWIN_ID");
  const response = await new ITwinsAccessClient(`${server.url}/itwins`).getAsync(token, iTwinId, "representation");
  expectStatus(response, 200, "getAsync with the signed-in user's token");
  assert.equal(response.data.id, iTwinId);
  assert.equal(response.data.displayName, setting("CLIENT_TESTS_USER_ITWIN_NAME"));
}

test("signIn through the browser gives the user's Bearer JWT, which reads the user's iTwin", async () => {
  const client = await signedInClient();
  const token = await client.getAccessToken();
  const claims = claimsOf(token);
  assert.equal(claims.iss, server.url);
  assert.equal(claims.sub, setting("CLIENT_TESTS_SIGN_IN_USER"));
  assert.ok(String(claims.scope).split(" ").includes("itwin-platform"), `scope ${claims.scope}`);
  assert.ok(claims.exp > Date.now() / 1000 + 60, `exp ${claims.exp} should lie in the future`);
  // Still fresh (expires in more than the default 10 minute buffer): the same token again, no refresh.
  assert.equal(await client.getAccessToken(), token);
  await readsUsersITwin(token);
  const [visit] = await browserVisits(1);
  const authorize = visit.hops[0];
  assert.equal(new URL(authorize.url).pathname, "/connect/authorize");
  assert.equal(authorize.status, 302, `the authorize endpoint answered ${JSON.stringify(authorize)}`);
  const redirect = new URL(authorize.location);
  assert.equal(redirect.pathname, "/signin-callback");
  assert.ok(redirect.searchParams.get("code"), "the redirect carries a code");
});

test("a token about to expire is refreshed with the refresh token, again and again", async () => {
  // With a buffer longer than any token lives, every getAccessToken() refreshes first.
  const client = await signedInClient({ expiryBuffer: 10 * 365 * 24 * 3600 });
  const first = await client.getAccessToken();
  const second = await client.getAccessToken();
  assert.notEqual(second, first, "each getAccessToken() should have refreshed the token");
  const [firstClaims, secondClaims] = [claimsOf(first), claimsOf(second)];
  assert.notEqual(secondClaims.jti, firstClaims.jti);
  for (const claims of [firstClaims, secondClaims]) {
    assert.equal(claims.iss, server.url);
    assert.equal(claims.sub, setting("CLIENT_TESTS_SIGN_IN_USER"));
  }
  await readsUsersITwin(first);
  await readsUsersITwin(second);
});
