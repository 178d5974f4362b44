"use strict";
// Scenario 3: @itwin/itwins-client 1.6.1 (`ITwinsAccessClient`, as `itp itwin …` uses it) creates iTwins with
// every field, reads them back, queries them with each filter, updates and deletes them. The service client
// of this scenario is a member of no other iTwin, so every query has an exact expected answer.

const { test, before } = require("node:test");
const assert = require("node:assert/strict");
const { ITwinsAccessClient } = require("@itwin/itwins-client");
const { server, serviceToken, claimsOf, randomTag, expectStatus, needs } = require("./lib/harness");

const tag = randomTag();
const client = new ITwinsAccessClient(`${server.url}/itwins`);
const state = { created: {} };

const PORTFOLIO = {
  class: "Thing",
  subClass: "Portfolio",
  type: "Portfolio",
  displayName: `Harness Portfolio ${tag}`,
  number: `HP-000-${tag}`,
  dataCenterLocation: "East US",
  status: "Active",
  ianaTimeZone: "America/New_York",
  geographicLocation: "Exton, PA",
};
// Every field the client sends on create; parentId is set to the portfolio once it exists.
const BRIDGE = {
  class: "Endeavor",
  subClass: "Project",
  type: "Bridge",
  displayName: `Harness Bridge North ${tag}`,
  number: `HB-001-${tag}`,
  dataCenterLocation: "North Europe",
  status: "Active",
  ianaTimeZone: "Europe/Berlin",
  geographicLocation: "Berlin, Germany",
};
const ROAD = {
  class: "Endeavor",
  subClass: "Project",
  type: "Road",
  displayName: `Harness Road East ${tag}`,
  number: `HR-002-${tag}`,
  dataCenterLocation: "East US",
  status: "Trial",
  ianaTimeZone: "America/Chicago",
  geographicLocation: "Chicago, IL",
};
const OLD_BRIDGE = {
  class: "Thing",
  subClass: "Asset",
  type: "Bridge",
  displayName: `Harness Bridge Old ${tag}`,
  number: `HB-003-${tag}`,
  dataCenterLocation: "East US",
  status: "Inactive",
  ianaTimeZone: "America/New_York",
  geographicLocation: "Pittsburgh, PA",
};

before(async () => {
  state.token = await serviceToken();
});

function assertFields(actual, expected, what) {
  for (const [name, value] of Object.entries(expected)) {
    const message = `${what}: ${name} is ${JSON.stringify(actual[name])}, expected ${JSON.stringify(value)}`;
    assert.deepEqual(actual[name], value, message);
  }
}

async function create(name, fields) {
  const response = await client.createiTwin(state.token, fields);
  expectStatus(response, 201, `createiTwin ${name}`);
  assertFields(response.data, fields, `created ${name}`);
  assert.match(response.data.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  state.created[name] = response.data;
  return response.data;
}

test("createiTwin keeps every field it is given, and names the caller as creator", async () => {
  const before = Date.now();
  const portfolio = await create("portfolio", PORTFOLIO);
  const bridge = await create("bridge", { ...BRIDGE, parentId: portfolio.id });
  await create("road", ROAD);
  await create("oldBridge", OLD_BRIDGE);
  assert.equal(bridge.parentId, portfolio.id);
  assert.equal(bridge.createdBy, claimsOf(state.token).sub);
  const created = Date.parse(bridge.createdDateTime);
  assert.ok(created >= before - 5000 && created <= Date.now() + 5000, `createdDateTime ${bridge.createdDateTime}`);
});

test("getAsync with representation returns the whole iTwin", async (t) => {
  const bridge = state.created.bridge;
  if (!needs(t, bridge, "createiTwin")) return;
  const response = await client.getAsync(state.token, bridge.id, "representation");
  expectStatus(response, 200, "getAsync");
  assertFields(response.data, { ...BRIDGE, id: bridge.id, parentId: state.created.portfolio.id }, "getAsync");
  assert.equal(response.data.createdDateTime, bridge.createdDateTime);
  assert.equal(response.data.createdBy, bridge.createdBy);
});

/** The ids a query answers, sorted, against the names of the created iTwins expected. */
async function assertQuery(arg, expectedNames) {
  const response = await client.queryAsync(state.token, undefined, arg);
  expectStatus(response, 200, `queryAsync ${JSON.stringify(arg)}`);
  const ids = response.data.map((iTwin) => iTwin.id).sort();
  const expected = expectedNames.map((name) => state.created[name].id).sort();
  const names = Object.fromEntries(Object.entries(state.created).map(([name, iTwin]) => [iTwin.id, name]));
  assert.deepEqual(
    ids.map((id) => names[id] ?? id),
    expected.map((id) => names[id]),
    `queryAsync ${JSON.stringify(arg)}`,
  );
  return response.data;
}

test("queryAsync without filters lists the caller's active and trial iTwins", async (t) => {
  if (!needs(t, state.created.oldBridge, "createiTwin")) return;
  await assertQuery({}, ["portfolio", "bridge", "road"]);
  await assertQuery({ includeInactive: true }, ["portfolio", "bridge", "road", "oldBridge"]);
});

test("queryAsync filters by displayName exactly", async (t) => {
  if (!needs(t, state.created.oldBridge, "createiTwin")) return;
  const found = await assertQuery({ displayName: BRIDGE.displayName }, ["bridge"]);
  assert.equal(found[0].displayName, BRIDGE.displayName);
  await assertQuery({ displayName: `Harness Bridge ${tag}` }, []);
});

test("queryAsync $search finds a part of the name", async (t) => {
  if (!needs(t, state.created.oldBridge, "createiTwin")) return;
  await assertQuery({ search: "Bridge" }, ["bridge"]);
  await assertQuery({ search: "Bridge", includeInactive: true }, ["bridge", "oldBridge"]);
  await assertQuery({ search: "Harness" }, ["portfolio", "bridge", "road"]);
});

test("queryAsync filters by subClass, type and status", async (t) => {
  if (!needs(t, state.created.oldBridge, "createiTwin")) return;
  await assertQuery({ subClass: "Project" }, ["bridge", "road"]);
  await assertQuery({ subClass: "Portfolio" }, ["portfolio"]);
  await assertQuery({ subClass: "Asset", includeInactive: true }, ["oldBridge"]);
  await assertQuery({ type: "Bridge" }, ["bridge"]);
  await assertQuery({ type: "Bridge", includeInactive: true }, ["bridge", "oldBridge"]);
  await assertQuery({ status: "Trial" }, ["road"]);
  await assertQuery({ status: "Inactive" }, ["oldBridge"]);
  await assertQuery({ subClass: "Project", type: "Road" }, ["road"]);
});

test("queryAsync with representation returns whole iTwins", async (t) => {
  if (!needs(t, state.created.oldBridge, "createiTwin")) return;
  const [road] = await assertQuery({ displayName: ROAD.displayName, resultMode: "representation" }, ["road"]);
  assertFields(road, ROAD, "queried road");
});

test("updateiTwin changes the given fields and keeps the others", async (t) => {
  const bridge = state.created.bridge;
  if (!needs(t, bridge, "createiTwin")) return;
  const changes = {
    displayName: `Harness Bridge South ${tag}`,
    type: "Viaduct",
    geographicLocation: "Munich, Germany",
    ianaTimeZone: "Europe/Vienna",
  };
  const response = await client.updateiTwin(state.token, bridge.id, changes);
  expectStatus(response, 200, "updateiTwin");
  const expected = { ...BRIDGE, ...changes, id: bridge.id, parentId: state.created.portfolio.id };
  assertFields(response.data, expected, "updated");
  const read = await client.getAsync(state.token, bridge.id, "representation");
  expectStatus(read, 200, "getAsync after updateiTwin");
  assertFields(read.data, expected, "read after update");
  await assertQuery({ displayName: changes.displayName }, ["bridge"]);
  await assertQuery({ displayName: BRIDGE.displayName }, []);
});

test("deleteiTwin answers 204 without a body, and the iTwin is gone", async (t) => {
  const road = state.created.road;
  if (!needs(t, road, "createiTwin")) return;
  const response = await client.deleteiTwin(state.token, road.id);
  expectStatus(response, 204, "deleteiTwin");
  assert.equal(response.data, undefined);
  assert.equal(response.error, undefined);
  const read = await client.getAsync(state.token, road.id);
  expectStatus(read, 404, "getAsync of the deleted iTwin");
  assert.equal(read.error.code, "iTwinNotFound");
  await assertQuery({ subClass: "Project" }, ["bridge"]);
});
