"use strict";
// The iTwin CLI (`itp`, GitHub iTwin/itwin-cli; not on the npm registry) calls Storage and Synchronization
// with plain fetch through its ITwinPlatformApiClient. This reproduces that client's wire behaviour
// (research report §5.3), so these tests send what `itp` sends and read answers the way it reads them:
// - `Authorization: <"Bearer …" string>` and `Content-Type: application/json` on every request, GET included;
//   `Accept` only when an API version is given, other headers (e.g. `Prefer`) only where `itp` sends them;
// - falsy query values are dropped, the rest encodeURIComponent-ed;
// - a 2xx answer without Content-Type is `undefined`; with one it is parsed as JSON (so a 204 carrying a
//   Content-Type fails here as it fails in `itp`);
// - a non-2xx answer throws, with the status and the body in the message.

const { server } = require("./harness");

class PlatformApiError extends Error {
  constructor(method, url, status, body) {
    super(`${method} ${url} → HTTP ${status}: ${typeof body === "string" ? body : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

class PlatformApiClient {
  constructor(token, apiUrl = server.url) {
    this.token = token;
    this.apiUrl = apiUrl;
  }

  /** `apiPath` relative to the API root, as `itp` passes it (e.g. "storage/" or "storage/folders/ID"). */
  async send(method, apiPath, { body, query, accept, headers } = {}) {
    return this.sendTo(method, `${this.apiUrl}/${apiPath}${queryString(query)}`, { body, accept, headers });
  }

  /** The same request to an absolute URL (links the server answered with, e.g. `_links.completeUrl.href`). */
  async sendTo(method, url, { body, accept, headers: extraHeaders } = {}) {
    const headers = { Authorization: this.token, "Content-Type": "application/json", ...extraHeaders };
    if (accept) headers.Accept = accept;
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const contentType = response.headers.get("content-type");
    if (!response.ok) {
      const text = await response.text();
      let parsed = text;
      if (contentType && contentType.includes("json")) {
        try {
          parsed = JSON.parse(text).error ?? JSON.parse(text);
        } catch {
          // keep the text
        }
      }
      throw new PlatformApiError(method, url, response.status, parsed);
    }
    if (!contentType) return undefined;
    return response.json();
  }

  get(apiPath, options) {
    return this.send("GET", apiPath, options);
  }

  post(apiPath, body, options = {}) {
    return this.send("POST", apiPath, { ...options, body });
  }

  patch(apiPath, body, options = {}) {
    return this.send("PATCH", apiPath, { ...options, body });
  }

  delete(apiPath, options) {
    return this.send("DELETE", apiPath, options);
  }
}

function queryString(query) {
  if (!query) return "";
  const parts = Object.entries(query)
    .filter(([, value]) => value)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  return parts.length > 0 ? `?${parts.join("&")}` : "";
}

/** `itp storage file upload`: one PUT of the whole file, `x-ms-blob-type: BlockBlob`, no Authorization. */
async function uploadToUrl(uploadUrl, bytes) {
  const response = await fetch(uploadUrl, {
    method: "PUT",
    headers: { "x-ms-blob-type": "BlockBlob" },
    body: bytes,
  });
  if (!response.ok) {
    throw new PlatformApiError("PUT", uploadUrl, response.status, await response.text());
  }
  return response.status;
}

const STORAGE_ACCEPT = "application/vnd.bentley.itwin-platform.v1+json";

/** `itp storage root-folder`: the root folder's id is the last segment of `_links.folder.href`. */
async function rootFolder(api, iTwinId) {
  const root = await api.get("storage/", { query: { iTwinId }, accept: STORAGE_ACCEPT });
  return { id: root._links.folder.href.split("/").pop(), items: root.items, body: root };
}

/**
 * `itp imodel populate`'s upload of a new file: create it in a folder, PUT its bytes, complete it.
 * The file id comes from `completeUrl.split("/")[5]`, as `itp` takes it.
 */
async function uploadNewFile(api, folderId, displayName, bytes) {
  const created = await api.post(`storage/folders/${folderId}/files`, { displayName });
  const fileId = created._links.completeUrl.href.split("/")[5];
  await uploadToUrl(created._links.uploadUrl.href, bytes);
  const completed = await api.post(`storage/files/${fileId}/complete`);
  return { fileId, created, file: completed.file };
}

const SYNCHRONIZATION = "synchronization/imodels/storageconnections";

/**
 * `itp imodel populate` for one IFC file: upload, a storage connection (Service), a run, then the run
 * polled until Completed. The run id is `_links.lastRun.href.split("/")[8]`, as `itp` takes it.
 */
async function synchronizeFile(api, { iTwinId, iModelId, fileName, bytes, connectorType, timeoutMs = 240000 }) {
  const root = await rootFolder(api, iTwinId);
  const { fileId } = await uploadNewFile(api, root.id, fileName, bytes);
  const created = await api.post(SYNCHRONIZATION, {
    authenticationType: "Service",
    displayName: "Default iTwinCLI Connection",
    iModelId,
    sourceFiles: [{ connectorType, storageFileId: fileId }],
  });
  const connectionId = created.connection.id;
  await api.post(`${SYNCHRONIZATION}/${connectionId}/run`);
  const connection = await api.get(`${SYNCHRONIZATION}/${connectionId}`);
  const runId = connection.connection._links.lastRun.href.split("/")[8];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { run } = await api.get(`${SYNCHRONIZATION}/${connectionId}/runs/${runId}`);
    if (run.state === "Completed") {
      if (run.result !== "Success") {
        throw new Error(`synchronization run ended ${run.result}: ${JSON.stringify(run)}`);
      }
      return { connectionId, runId, fileId, run };
    }
    if (Date.now() > deadline) {
      throw new Error(`synchronization run still ${run.state} after ${timeoutMs} ms: ${JSON.stringify(run)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

module.exports = {
  PlatformApiClient,
  PlatformApiError,
  uploadToUrl,
  rootFolder,
  uploadNewFile,
  synchronizeFile,
  STORAGE_ACCEPT,
  SYNCHRONIZATION,
};
