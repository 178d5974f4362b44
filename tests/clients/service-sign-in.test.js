"use strict";
// Scenario 1: @itwin/service-authorization 2.1.0 signs in with a service client made by
// `twinbridge clients create`, and its token works with Bentley's API clients.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { ITwinsAccessClient } = require("@itwin/itwins-client");
const { IModelsClient } = require("@itwin/imodels-client-management");
const { server, setting, serviceAuthorizationClient, claimsOf, imodelsAuthorization, expectStatus, needs } =
  require("./lib/harness");

const state = {};

test("getAccessToken returns a Bearer JWT of the built-in issuer for the service client", async () => {
  const token = await serviceAuthorizationClient().getAccessToken();
  const claims = claimsOf(token);
  assert.equal(claims.iss, server.url);
  assert.equal(claims.client_id, server.clientId);
  assert.equal(claims.sub, server.clientId);
  assert.deepEqual(String(claims.scope).split(" "), ["itwin-platform"]);
  assert.equal(typeof claims.exp, "number");
  const now = Date.now() / 1000;
  assert.ok(claims.exp > now + 60, `exp ${claims.exp} should lie in the future (now ${now})`);
  state.token = token;
});

test("the client keeps its token while it is valid", async () => {
  const client = serviceAuthorizationClient();
  const first = await client.getAccessToken();
  const second = await client.getAccessToken();
  assert.equal(second, first);
});

test("a wrong secret is refused by the token endpoint with 401", async () => {
  const client = serviceAuthorizationClient({ clientSecret: "not-the-secret" });
  await assert.rejects(client.getAccessToken(), (error) => {
    assert.equal(error.response?.statusCode, 401, `expected HTTP 401, got ${error.response?.statusCode} ${error}`);
    const body = JSON.parse(error.response.body);
    assert.equal(body.error, "invalid_client");
    return true;
  });
});

test("the token reads the client's iTwin through the iTwins client", async (t) => {
  if (!needs(t, state.token, "getAccessToken")) return;
  const iTwinId = setting("CLIENT_TESTS_ITWIN_ID");
  const client = new ITwinsAccessClient(`${server.url}/itwins`);
  const response = await client.getAsync(state.token, iTwinId, "representation");
  expectStatus(response, 200, "getAsync");
  assert.equal(response.data.id, iTwinId);
  assert.equal(response.data.displayName, setting("CLIENT_TESTS_ITWIN_NAME"));
});

test("the token lists the iTwin's iModels through the iModels client", async (t) => {
  if (!needs(t, state.token, "getAccessToken")) return;
  const client = new IModelsClient({ api: { baseUrl: `${server.url}/imodels` } });
  const iModels = [];
  for await (const iModel of client.iModels.getMinimalList({
    authorization: imodelsAuthorization(state.token),
    urlParams: { iTwinId: setting("CLIENT_TESTS_ITWIN_ID") },
  })) {
    iModels.push(iModel);
  }
  const expected = { id: setting("CLIENT_TESTS_IMODEL_ID"), displayName: setting("CLIENT_TESTS_IMODEL_NAME") };
  assert.deepEqual(iModels, [expected]);
});
