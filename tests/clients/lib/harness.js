"use strict";
// What every scenario shares: the served twinbridge it talks to (from the environment that
// tests/integration/test_bentley_clients.py sets), a service token from Bentley's own
// ServiceAuthorizationClient, and small helpers that make a failure show the server's answer.

require("reflect-metadata"); // @itwin/object-storage-* use inversify decorators, which need it loaded first
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const { ServiceAuthorizationClient } = require("@itwin/service-authorization");

/** A value the pytest entry passes; running a test file by hand without it says what is missing. */
function setting(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set. These tests run against a served twinbridge: start them through ` +
        "tests/integration/test_bentley_clients.py (see tests/clients/README.md).",
    );
  }
  return value;
}

const server = {
  get url() {
    return setting("CLIENT_TESTS_SERVER_URL").replace(/\/$/, "");
  },
  get clientId() {
    return setting("CLIENT_TESTS_CLIENT_ID");
  },
  get clientSecret() {
    return setting("CLIENT_TESTS_CLIENT_SECRET");
  },
};

/** The service client of scenario 1, configured exactly as the iTwin CLI's `itp auth login` does. */
function serviceAuthorizationClient(overrides = {}) {
  return new ServiceAuthorizationClient({
    authority: server.url,
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    scope: "itwin-platform",
    ...overrides,
  });
}

/** "Bearer <jwt>", as the clients hand it to the APIs. */
async function serviceToken() {
  return serviceAuthorizationClient().getAccessToken();
}

/** The claims of a "Bearer <jwt>" string, decoded as the iTwin CLI does (jwt-decode: segment 1). */
function claimsOf(bearerToken) {
  const match = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(bearerToken);
  assert.ok(match, `expected "Bearer <jwt>", got ${JSON.stringify(bearerToken)}`);
  return JSON.parse(Buffer.from(match[2], "base64url").toString("utf8"));
}

/** The authorization callback of the iModels clients, split as iTwin.js's AccessTokenAdapter does. */
function imodelsAuthorization(bearerToken) {
  const parts = bearerToken.split(" ");
  assert.equal(parts.length, 2, `unsupported access token format: ${JSON.stringify(bearerToken)}`);
  return async () => ({ scheme: parts[0], token: parts[1] });
}

/** A random tag, so that names never collide with those of another run on the same database. */
function randomTag() {
  return crypto.randomBytes(4).toString("hex");
}

function unique(prefix) {
  return `${prefix} ${randomTag()}`;
}

/**
 * Asserts an itwins-client response has the status expected; on failure the message carries the status and
 * the error body the server sent (the client passes `{status, data, error}` through for any status < 500).
 */
function expectStatus(response, status, what) {
  assert.equal(
    response.status,
    status,
    `${what}: expected HTTP ${status}, the server answered ${response.status} ` +
      `${JSON.stringify(response.error ?? response.data ?? null)}`,
  );
}

/** Rejects after `milliseconds` with `describe()` in the message: sign-in and polling hang silently otherwise. */
async function within(promise, milliseconds, what, describe = () => "") {
  let timer;
  const timeout = new Promise((_, reject) => {
    const fail = () => reject(new Error(`${what} did not finish within ${milliseconds} ms. ${describe()}`));
    timer = setTimeout(fail, milliseconds);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sha256(bytes) {
  return crypto.createHash("sha256").update(bytes).digest("hex");
}

/** Every file under `directory` whose bytes hash to `digest` (how a test finds "the file the server holds"). */
function filesWithDigest(directory, digest) {
  const found = [];
  const walk = (folder) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && sha256(fs.readFileSync(path)) === digest) found.push(path);
    }
  };
  if (fs.existsSync(directory)) walk(directory);
  return found;
}

/** Skips the rest of a test whose prerequisite step failed, naming it, instead of failing on `undefined`. */
function needs(t, value, step) {
  if (value === undefined || value === null) {
    t.skip(`needs "${step}", which failed`);
    return false;
  }
  return true;
}

module.exports = {
  setting,
  server,
  serviceAuthorizationClient,
  serviceToken,
  claimsOf,
  imodelsAuthorization,
  randomTag,
  unique,
  expectStatus,
  within,
  sha256,
  filesWithDigest,
  needs,
};
