"use strict";
// Scenario 6 (a smoke; synchronization itself is covered by tests/integration/test_synchronization_e2e.py):
// the token of @itwin/service-authorization works on the Synchronization API as `itp imodel populate` calls it.

const { test, before } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { server, setting, serviceToken, needs } = require("./lib/harness");
const { PlatformApiClient, SYNCHRONIZATION, rootFolder, uploadNewFile } = require("./lib/platform-api");

const state = {};

before(async () => {
  state.api = new PlatformApiClient(await serviceToken());
  state.iModelId = setting("CLIENT_TESTS_IMODEL_ID");
});

test("storage connections of an iModel without any are an empty list", async () => {
  const body = await state.api.get(SYNCHRONIZATION, { query: { imodelId: state.iModelId } });
  assert.deepEqual(body.connections, []);
  assert.ok(body._links.self.href.startsWith(`${server.url}/${SYNCHRONIZATION}`), JSON.stringify(body._links));
});

test("a storage connection made with the token is listed for the iModel", async () => {
  const ifc = setting("CLIENT_TESTS_SAMPLE_IFC");
  const root = await rootFolder(state.api, setting("CLIENT_TESTS_ITWIN_ID"));
  const { fileId } = await uploadNewFile(state.api, root.id, path.basename(ifc), fs.readFileSync(ifc));
  const { connection } = await state.api.post(SYNCHRONIZATION, {
    authenticationType: "Service",
    displayName: "Default iTwinCLI Connection",
    iModelId: state.iModelId,
    sourceFiles: [{ connectorType: "IFC", storageFileId: fileId }],
  });
  state.connection = connection;
  state.fileId = fileId;
  const body = await state.api.get(SYNCHRONIZATION, { query: { imodelId: state.iModelId } });
  assert.deepEqual(body.connections, [{ id: connection.id, displayName: "Default iTwinCLI Connection" }]);
});

test("the connection reads back with its source file", async (t) => {
  if (!needs(t, state.connection, "storage connection")) return;
  const { connection } = await state.api.get(`${SYNCHRONIZATION}/${state.connection.id}`);
  assert.equal(connection.id, state.connection.id);
  assert.equal(connection.iModelId, state.iModelId);
  assert.equal(connection.authenticationType, "Service");
  // `itp imodel populate` lists them with Prefer: return=representation and reads storageFileId.
  const { sourceFiles } = await state.api.get(`${SYNCHRONIZATION}/${state.connection.id}/sourcefiles`, {
    headers: { Prefer: "return=representation" },
  });
  assert.deepEqual(
    sourceFiles.map((file) => [file.connectorType, file.storageFileId]),
    [["IFC", state.fileId]],
  );
});
