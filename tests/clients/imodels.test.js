"use strict";
// Scenario 4: @itwin/imodels-client-management 6.2.2 and @itwin/imodels-client-authoring 6.0.2, with the Azure
// storage client iTwin.js backends use (@itwin/object-storage-azure 3.0.5), against twinbridge's iModels API:
// create (empty, from a baseline .bim), update, list with filters, changesets, named versions, and
// checkpoint downloads whose bytes are compared with the files uploaded and held by the server.
// The iTwin of this scenario starts without iModels, so every list has an exact expected answer.

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const {
  IModelsClient: ManagementIModelsClient,
  IModelOrderByProperty,
  NamedVersionOrderByProperty,
  ChangesetOrderByProperty,
  OrderByOperator,
  toArray,
} = require("@itwin/imodels-client-management");
const { IModelsClient: AuthoringIModelsClient, downloadFile } = require("@itwin/imodels-client-authoring");
const { StrategyClientStorage } = require("@itwin/object-storage-core");
const { AzureClientStorage, BlockBlobClientWrapperFactory } = require("@itwin/object-storage-azure");
const { server, setting, serviceToken, imodelsAuthorization, randomTag, sha256, filesWithDigest, needs } =
  require("./lib/harness");
const { PlatformApiClient, synchronizeFile } = require("./lib/platform-api");

const tag = randomTag();
const baseUrl = `${server.url}/imodels`;
const management = new ManagementIModelsClient({ api: { baseUrl } });
// As iTwin.js's BackendIModelsAccess builds it (imodels-access-backend DefaultClientStorage), Azure only.
const cloudStorage = new StrategyClientStorage([
  { instanceName: "azure", instance: new AzureClientStorage(new BlockBlobClientWrapperFactory()) },
]);
const authoring = new AuthoringIModelsClient({ api: { baseUrl }, cloudStorage });
const downloads = fs.mkdtempSync(path.join(os.tmpdir(), "imodels-client-"));

const EXTENT = {
  southWest: { latitude: 46.13267702834806, longitude: 7.672120009938448 },
  northEast: { latitude: 46.302763954781234, longitude: 7.835541640797823 },
};
const NEW_EXTENT = {
  southWest: { latitude: 39.9, longitude: -75.7 },
  northEast: { latitude: 40.1, longitude: -75.5 },
};
const NAMES = {
  alpha: `Alpha Empty ${tag}`,
  alphaRenamed: `Alpha Renamed ${tag}`,
  beta: `Beta Baseline ${tag}`,
  gamma: `Gamma Empty ${tag}`,
};
const state = {};

before(async () => {
  state.token = await serviceToken();
  state.authorization = imodelsAuthorization(state.token);
  state.iTwinId = setting("CLIENT_TESTS_ITWIN_ID");
});

after(() => fs.rmSync(downloads, { recursive: true, force: true }));

function scoped(iModel) {
  return { authorization: state.authorization, iModelId: iModel.id };
}

test("createEmpty makes an initialized iModel with the given name, description and extent", async () => {
  const iModel = await management.iModels.createEmpty({
    authorization: state.authorization,
    iModelProperties: { iTwinId: state.iTwinId, name: NAMES.alpha, description: "made empty", extent: EXTENT },
  });
  assert.equal(iModel.state, "initialized");
  assert.equal(iModel.name, NAMES.alpha);
  assert.equal(iModel.displayName, NAMES.alpha);
  assert.equal(iModel.description, "made empty");
  assert.equal(iModel.iTwinId, state.iTwinId);
  assert.deepEqual(iModel.extent, EXTENT);
  const read = await management.iModels.getSingle(scoped(iModel));
  assert.equal(read.id, iModel.id);
  assert.equal(read.name, NAMES.alpha);
  assert.deepEqual(read.extent, EXTENT);
  assert.equal(read.state, "initialized");
  state.alpha = iModel;
  state.gamma = await management.iModels.createEmpty({
    authorization: state.authorization,
    iModelProperties: { iTwinId: state.iTwinId, name: NAMES.gamma },
  });
  assert.equal(state.gamma.extent, null);
});

test("createFromBaseline uploads the .bim through Azure storage and initializes the iModel", async () => {
  const filePath = setting("CLIENT_TESTS_SAMPLE_IMODEL");
  const iModel = await authoring.iModels.createFromBaseline({
    authorization: state.authorization,
    iModelProperties: { iTwinId: state.iTwinId, name: NAMES.beta, description: "from a baseline", filePath },
  });
  assert.equal(iModel.state, "initialized");
  assert.equal(iModel.name, NAMES.beta);
  assert.equal(iModel.description, "from a baseline");
  const baseline = await authoring.baselineFiles.getSingle(scoped(iModel));
  assert.equal(baseline.state, "initialized");
  assert.equal(baseline.fileSize, fs.statSync(filePath).size);
  state.beta = iModel;
});

test("update changes the name, description and extent", async (t) => {
  if (!needs(t, state.alpha, "createEmpty")) return;
  const updated = await management.iModels.update({
    ...scoped(state.alpha),
    iModelProperties: { name: NAMES.alphaRenamed, description: "renamed", extent: NEW_EXTENT },
  });
  assert.equal(updated.id, state.alpha.id);
  assert.equal(updated.name, NAMES.alphaRenamed);
  assert.equal(updated.description, "renamed");
  assert.deepEqual(updated.extent, NEW_EXTENT);
  const read = await management.iModels.getSingle(scoped(state.alpha));
  assert.equal(read.name, NAMES.alphaRenamed);
  assert.equal(read.description, "renamed");
  assert.deepEqual(read.extent, NEW_EXTENT);
  state.alphaRenamed = read;
});

async function listNames(urlParams, representation = false) {
  const list = representation ? management.iModels.getRepresentationList : management.iModels.getMinimalList;
  const iModels = await toArray(
    list.call(management.iModels, {
      authorization: state.authorization,
      urlParams: { iTwinId: state.iTwinId, ...urlParams },
    }),
  );
  return iModels;
}

test("the iModel lists filter by name and $search and order by name", async (t) => {
  if (!needs(t, state.alphaRenamed, "update") || !needs(t, state.beta, "createFromBaseline")) return;
  const all = [NAMES.alphaRenamed, NAMES.beta, NAMES.gamma];
  const byName = (operator) => ({ $orderBy: { property: IModelOrderByProperty.Name, operator } });
  const ascending = await listNames(byName(OrderByOperator.Ascending));
  assert.deepEqual(ascending.map((iModel) => iModel.displayName), all);
  assert.deepEqual(Object.keys(ascending[0]).sort(), ["displayName", "id"]);
  const descending = await listNames(byName(OrderByOperator.Descending));
  assert.deepEqual(descending.map((iModel) => iModel.displayName), [...all].reverse());
  const named = await listNames({ name: NAMES.beta });
  assert.deepEqual(named, [{ id: state.beta.id, displayName: NAMES.beta }]);
  const searched = await listNames({ $search: "Empty", $orderBy: { property: IModelOrderByProperty.Name } });
  assert.deepEqual(searched.map((iModel) => iModel.displayName), [NAMES.gamma]);
  const full = await listNames({ name: NAMES.alphaRenamed }, true);
  assert.equal(full.length, 1);
  assert.equal(full[0].id, state.alpha.id);
  assert.equal(full[0].description, "renamed");
  assert.deepEqual(full[0].extent, NEW_EXTENT);
  assert.equal(full[0].state, "initialized");
  const paged = await listNames({ $top: 1, $orderBy: { property: IModelOrderByProperty.Name } });
  assert.deepEqual(paged.map((iModel) => iModel.displayName), all, "the client follows _links.next page by page");
});

test("a synchronization run (as `itp imodel populate` starts it) gives the baseline iModel changeset 1", async (t) => {
  if (!needs(t, state.beta, "createFromBaseline")) return;
  const ifc = setting("CLIENT_TESTS_SAMPLE_IFC");
  await synchronizeFile(new PlatformApiClient(state.token), {
    iTwinId: state.iTwinId,
    iModelId: state.beta.id,
    fileName: path.basename(ifc),
    bytes: fs.readFileSync(ifc),
    connectorType: "IFC",
  });
  const changesets = await toArray(management.changesets.getMinimalList(scoped(state.beta)));
  assert.deepEqual(changesets.map((changeset) => changeset.index), [1]);
  state.changeset = changesets[0];
});

test("a changeset is read by its id and by its index", async (t) => {
  if (!needs(t, state.changeset, "synchronization")) return;
  const { id, index } = state.changeset;
  assert.match(id, /^[0-9a-f]{40}$/);
  const byIndex = await management.changesets.getSingle({ ...scoped(state.beta), changesetIndex: 1 });
  const byId = await management.changesets.getSingle({ ...scoped(state.beta), changesetId: id });
  for (const changeset of [byIndex, byId]) {
    assert.equal(changeset.id, id);
    assert.equal(changeset.index, index);
    assert.equal(changeset.state, "fileUploaded");
    assert.ok(changeset.fileSize > 0, `fileSize ${changeset.fileSize}`);
  }
  const newestFirst = await toArray(
    management.changesets.getRepresentationList({
      ...scoped(state.beta),
      urlParams: { $orderBy: { property: ChangesetOrderByProperty.Index, operator: OrderByOperator.Descending } },
    }),
  );
  assert.deepEqual(newestFirst.map((changeset) => changeset.id), [id]);
});

test("named versions are created, read, listed and updated", async (t) => {
  if (!needs(t, state.changeset, "synchronization")) return;
  const name = `Release ${tag}`;
  const created = await management.namedVersions.create({
    ...scoped(state.beta),
    namedVersionProperties: { name, description: "first release", changesetId: state.changeset.id },
  });
  assert.equal(created.name, name);
  assert.equal(created.displayName, name);
  assert.equal(created.description, "first release");
  assert.equal(created.changesetId, state.changeset.id);
  assert.equal(created.changesetIndex, 1);
  assert.equal(created.state, "visible");
  const read = await management.namedVersions.getSingle({ ...scoped(state.beta), namedVersionId: created.id });
  assert.equal(read.id, created.id);
  assert.equal(read.name, name);
  assert.equal(read.changesetIndex, 1);
  const listed = await toArray(management.namedVersions.getMinimalList({ ...scoped(state.beta), urlParams: { name } }));
  assert.deepEqual(listed.map((version) => [version.id, version.changesetId, version.changesetIndex]), [
    [created.id, state.changeset.id, 1],
  ]);
  const updated = await management.namedVersions.update({
    ...scoped(state.beta),
    namedVersionId: created.id,
    namedVersionProperties: { name: `${name} final`, description: "renamed", state: "hidden" },
  });
  assert.equal(updated.name, `${name} final`);
  assert.equal(updated.description, "renamed");
  assert.equal(updated.state, "hidden");
  const hidden = await toArray(
    management.namedVersions.getRepresentationList({
      ...scoped(state.beta),
      urlParams: { state: "hidden", $orderBy: { property: NamedVersionOrderByProperty.ChangesetIndex } },
    }),
  );
  assert.deepEqual(hidden.map((version) => [version.id, version.name]), [[created.id, `${name} final`]]);
  const visible = await toArray(
    management.namedVersions.getMinimalList({ ...scoped(state.beta), urlParams: { state: "visible" } }),
  );
  assert.deepEqual(visible, []);
  state.namedVersion = updated;
});

/** A checkpoint downloaded as iTwin.js's BackendIModelsAccess.downloadV1Checkpoint does it. */
async function downloadCheckpoint(parent, fileName) {
  const checkpoint = await management.checkpoints.getSingle({ ...scoped(state.beta), ...parent });
  assert.equal(checkpoint.state, "successful");
  const link = checkpoint._links.download;
  assert.ok(link, `checkpoint ${JSON.stringify(checkpoint)} has no _links.download`);
  assert.equal(link.storageType, "azure");
  // The size probe of imodels-access-backend (getV1CheckpointSize): Range bytes=0-0 → Content-Range total.
  const probe = await fetch(link.href, { headers: { Range: "bytes=0-0" } });
  assert.equal(probe.status, 206, `Range probe answered ${probe.status}`);
  const total = Number(probe.headers.get("content-range")?.split("/")[1]);
  await probe.arrayBuffer();
  const localPath = path.join(downloads, fileName);
  await downloadFile({ storage: authoring.cloudStorage, storageType: link.storageType, url: link.href, localPath });
  const bytes = fs.readFileSync(localPath);
  assert.equal(bytes.length, checkpoint.size, "the downloaded size equals checkpoint.size");
  assert.equal(total, bytes.length, "the Range probe's total equals the file size");
  return { checkpoint, bytes };
}

test("the baseline checkpoint downloads through the storage client as the file uploaded", async (t) => {
  if (!needs(t, state.beta, "createFromBaseline")) return;
  const { checkpoint, bytes } = await downloadCheckpoint({ changesetIndex: 0 }, "baseline.bim");
  assert.equal(checkpoint.changesetIndex, 0);
  assert.equal(sha256(bytes), sha256(fs.readFileSync(setting("CLIENT_TESTS_SAMPLE_IMODEL"))));
});

test("the checkpoint of changeset 1 and of its named version download as the file the server holds", async (t) => {
  if (!needs(t, state.namedVersion, "named versions")) return;
  const { checkpoint, bytes } = await downloadCheckpoint({ changesetIndex: 1 }, "changeset-1.bim");
  assert.equal(checkpoint.changesetIndex, 1);
  assert.equal(checkpoint.changesetId, state.changeset.id);
  assert.equal(bytes.subarray(0, 16).toString("latin1"), "SQLite format 3\0");
  const digest = sha256(bytes);
  assert.notEqual(digest, sha256(fs.readFileSync(setting("CLIENT_TESTS_SAMPLE_IMODEL"))));
  const held = filesWithDigest(setting("CLIENT_TESTS_BLOB_DIR"), digest);
  assert.ok(held.length > 0, `no file under the server's blob storage has the bytes downloaded (sha256 ${digest})`);
  const named = await downloadCheckpoint({ namedVersionId: state.namedVersion.id }, "named-version.bim");
  assert.equal(named.checkpoint.changesetId, state.changeset.id);
  assert.equal(sha256(named.bytes), digest);
});
