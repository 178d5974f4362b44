"use strict";
// Scenario 5: the Storage API called as the iTwin CLI calls it (plain fetch, research report §5.3–5.6):
// the root folder, folders created, listed, renamed and deleted, and a file uploaded, completed, given new
// content and downloaded. The iTwin of this scenario starts with an empty root folder.

const { test, before } = require("node:test");
const assert = require("node:assert/strict");
const { server, setting, serviceToken, randomTag, needs } = require("./lib/harness");
const { PlatformApiClient, PlatformApiError, rootFolder, uploadToUrl } = require("./lib/platform-api");

const tag = randomTag();
const state = {};
const FIRST_CONTENT = Buffer.from(`first content of the plan ${tag}\n`);
const SECOND_CONTENT = Buffer.from(`second, longer content of the plan ${tag}\n`.repeat(3));

before(async () => {
  state.api = new PlatformApiClient(await serviceToken());
});

/** The error `itp` would print for a call that should fail: the status and the error body. */
async function expectFailure(promise, status, code) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof PlatformApiError, String(error));
    assert.equal(error.status, status, error.message);
    assert.equal(error.body.code, code, error.message);
    return true;
  });
}

/** `GET storage/files/{id}/download` follows the redirect to the content, as a browser or curl -L does. */
async function download(fileId) {
  const response = await fetch(`${server.url}/storage/files/${fileId}/download`, {
    headers: { Authorization: state.api.token },
  });
  assert.equal(response.status, 200, `download answered ${response.status}: ${await response.clone().text()}`);
  return Buffer.from(await response.arrayBuffer());
}

test("the root folder of a new iTwin is empty and links to itself", async () => {
  const root = await rootFolder(state.api, setting("CLIENT_TESTS_ITWIN_ID"));
  assert.ok(root.id, `no folder id in ${JSON.stringify(root.body)}`);
  assert.deepEqual(root.items, []);
  assert.equal(root.body._links.folder.href, `${server.url}/storage/folders/${root.id}`);
  state.rootId = root.id;
});

test("folders are created in a folder and read back", async (t) => {
  if (!needs(t, state.rootId, "root folder")) return;
  const { folder } = await state.api.post(`storage/folders/${state.rootId}/folders`, {
    displayName: `Drawings ${tag}`,
    description: "harness folder",
  });
  assert.equal(folder.displayName, `Drawings ${tag}`);
  assert.equal(folder.description, "harness folder");
  assert.equal(folder.parentFolderId, state.rootId);
  const { folder: nested } = await state.api.post(`storage/folders/${folder.id}/folders`, { displayName: "Sheets" });
  assert.equal(nested.parentFolderId, folder.id);
  assert.ok(nested.path.endsWith(`Drawings ${tag}/Sheets`), `path ${nested.path}`);
  const { folder: read } = await state.api.get(`storage/folders/${folder.id}`);
  assert.equal(read.id, folder.id);
  assert.equal(read.displayName, `Drawings ${tag}`);
  assert.equal(read.description, "harness folder");
  state.folder = folder;
  state.nested = nested;
});

test("a file is created, uploaded and completed with the bytes given", async (t) => {
  if (!needs(t, state.folder, "folder create")) return;
  const created = await state.api.post(`storage/folders/${state.folder.id}/files`, {
    displayName: "plan.txt",
    description: "v1",
  });
  // `itp imodel populate` takes the file id from the fifth segment of completeUrl.
  const fileId = created._links.completeUrl.href.split("/")[5];
  assert.equal(created._links.completeUrl.href, `${server.url}/storage/files/${fileId}/complete`);
  assert.equal(await uploadToUrl(created._links.uploadUrl.href, FIRST_CONTENT), 201);
  const { file } = await state.api.post(`storage/files/${fileId}/complete`);
  assert.equal(file.id, fileId);
  assert.equal(file.displayName, "plan.txt");
  assert.equal(file.description, "v1");
  assert.equal(file.size, FIRST_CONTENT.length);
  assert.equal(file.parentFolderId, state.folder.id);
  assert.deepEqual(await download(fileId), FIRST_CONTENT);
  state.fileId = fileId;
});

test("folder listings show the subfolders and the files", async (t) => {
  if (!needs(t, state.fileId, "file upload") || !needs(t, state.nested, "folder create")) return;
  const { folders } = await state.api.get(`storage/folders/${state.rootId}/folders`);
  assert.deepEqual(folders.map((folder) => folder.id), [state.folder.id]);
  const { items } = await state.api.get(`storage/folders/${state.folder.id}/list`);
  assert.deepEqual(
    items.map((item) => [item.type, item.id, item.displayName]).sort(),
    [
      ["file", state.fileId, "plan.txt"],
      ["folder", state.nested.id, "Sheets"],
    ],
  );
  const root = await rootFolder(state.api, setting("CLIENT_TESTS_ITWIN_ID"));
  assert.deepEqual(root.items.map((item) => [item.type, item.id]), [["folder", state.folder.id]]);
});

test("a folder is renamed and described anew", async (t) => {
  if (!needs(t, state.folder, "folder create")) return;
  const { folder } = await state.api.patch(`storage/folders/${state.folder.id}`, {
    displayName: `Plans ${tag}`,
    description: "renamed",
  });
  assert.equal(folder.id, state.folder.id);
  assert.equal(folder.displayName, `Plans ${tag}`);
  assert.equal(folder.description, "renamed");
  const { folder: read } = await state.api.get(`storage/folders/${state.folder.id}`);
  assert.equal(read.displayName, `Plans ${tag}`);
  assert.equal(read.parentFolderId, state.rootId);
});

test("updatecontent, a new upload and complete replace the file's content", async (t) => {
  if (!needs(t, state.fileId, "file upload")) return;
  const links = await state.api.post(`storage/files/${state.fileId}/updatecontent`);
  assert.equal(links._links.completeUrl.href, `${server.url}/storage/files/${state.fileId}/complete`);
  assert.equal(await uploadToUrl(links._links.uploadUrl.href, SECOND_CONTENT), 201);
  const { file } = await state.api.post(`storage/files/${state.fileId}/complete`);
  assert.equal(file.size, SECOND_CONTENT.length);
  assert.equal(file.displayName, "plan.txt");
  assert.deepEqual(await download(state.fileId), SECOND_CONTENT);
});

test("deleting folders answers 204 without a Content-Type and removes their content", async (t) => {
  if (!needs(t, state.fileId, "file upload") || !needs(t, state.nested, "folder create")) return;
  // The itp client returns undefined only for an answer without Content-Type; with one it parses JSON.
  assert.equal(await state.api.delete(`storage/folders/${state.nested.id}`), undefined);
  await expectFailure(state.api.get(`storage/folders/${state.nested.id}`), 404, "FolderNotFound");
  assert.equal(await state.api.delete(`storage/folders/${state.folder.id}`), undefined);
  await expectFailure(state.api.get(`storage/folders/${state.folder.id}`), 404, "FolderNotFound");
  await expectFailure(state.api.get(`storage/files/${state.fileId}`), 404, "FileNotFound");
  const root = await rootFolder(state.api, setting("CLIENT_TESTS_ITWIN_ID"));
  assert.deepEqual(root.items, []);
});
