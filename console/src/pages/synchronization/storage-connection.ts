/**
 * #/synchronization/storage/:connectionId: a storage connection, its source files (add one, update one's
 * content in storage), running it, and its runs.
 */
import { json, page } from "../../api";
import type { Parameters } from "../../main";
import { attempt, h, link, pagedTable, progress } from "../../ui";
import { consentNotice, facts, type Run, startRun, stateBadge, times } from "../export/runs";
import { connectorSelect, type StorageConnection } from "./imodel-synchronization";
import { formatSize, rootFolderId, type StorageFile, updateFileContent, uploadAll } from "./storage";

interface SourceFile {
  id: string;
  storageFileId: string;
  lastKnownFileName?: string | null;
  connectorType?: string;
}

export async function renderStorageConnection(root: HTMLElement, parameters: Parameters): Promise<void> {
  const connectionId = parameters.connectionId;
  const base = `/synchronization/imodels/storageconnections/${encodeURIComponent(connectionId)}`;
  const connection: StorageConnection = (await json(base)).connection;
  const lastRunId = connection._links?.lastRun?.href.split("/").pop();
  root.append(
    h(
      "p",
      { class: "crumbs" },
      link(`#/imodels/${connection.iModelId}`, "iModel"),
      " / ",
      link(`#/imodels/${connection.iModelId}/synchronization`, "Synchronization"),
    ),
    h("h1", {}, `Storage connection ${connection.displayName || connection.id}`),
    consentNotice("/synchronization/imodels/connections/authorizationinformation"),
    facts([
      ["Id", h("code", {}, connection.id)],
      ["iModel", link(`#/imodels/${connection.iModelId}`, connection.iModelId)],
      ["Authentication", connection.authenticationType],
      ["Last run", lastRunId ? link(`#/synchronization/runs/${connection.id}/${lastRunId}`, lastRunId) : "none yet"],
    ]),
  );

  // Run it.
  const run = h("button", { "data-testid": "start-sync-run" }, "Run synchronization");
  const runStatus = h("div");
  const runs = h("div");
  const showRuns = () =>
    runs.replaceChildren(
      pagedTable<Run>(
        `${base}/runs`,
        "runs",
        [
          { title: "Run", cell: (item) => h("a", { href: `#/synchronization/runs/${connectionId}/${item.id}`, "data-testid": "sync-run-row" }, item.id) },
          { title: "State", cell: (item) => stateBadge(item.state, item.result) },
          { title: "Times", cell: (item) => times(item) },
        ],
        "No runs yet.",
      ),
    );
  run.addEventListener("click", async () => {
    run.disabled = true;
    await attempt(runStatus, async () => {
      const { runId, existing } = await startRun(`${base}/run`);
      runStatus.append(
        h(
          "p",
          { "data-testid": "sync-run-started" },
          existing ? "The iModel already has an active run: " : "Started ",
          h("a", { href: `#/synchronization/runs/${connectionId}/${runId}`, "data-testid": "sync-run-link" }, `run ${runId}`),
          ".",
        ),
      );
      showRuns();
    });
    run.disabled = false;
  });

  // Its source files, each with a way to upload new content into the same storage file.
  const sourceFiles = h("div");
  const fileStatus = h("div");
  const fileProgress = progress();
  const updateCell = (source: SourceFile) => {
    const picker = h("input", { type: "file", accept: ".ifc,.ifczip,.ifcxml", "data-testid": "update-file-input" });
    const send = h("button", { class: "secondary", "data-testid": "update-file" }, "Upload new content");
    send.addEventListener("click", async () => {
      const file = picker.files?.[0];
      if (!file) {
        fileStatus.replaceChildren(h("p", { class: "error" }, "Choose the file's new content first."));
        return;
      }
      send.disabled = true;
      await attempt(fileStatus, async () => {
        const stored = await updateFileContent(source.storageFileId, file, (sent, total) =>
          fileProgress.set(`Uploading ${file.name} into ${source.lastKnownFileName ?? source.storageFileId}: ${Math.round((100 * sent) / (total || 1))}%`, total ? sent / total : undefined),
        );
        fileProgress.set(`Updated ${stored.displayName} (${formatSize(stored.size)}). Run the connection again to synchronize it.`, 1);
        fileStatus.append(h("p", { "data-testid": "file-updated" }, `${stored.displayName} now holds ${file.name}. `, "Run again to synchronize the change."));
      });
      send.disabled = false;
    });
    return h("span", { class: "inline" }, picker, send);
  };
  // Lists of source files are minimal (no connectorType) unless asked otherwise: each row reads its file.
  const connectorCell = (source: SourceFile) => {
    const cell = h("span", {}, source.connectorType ?? "");
    if (!source.connectorType) {
      void json(`${base}/sourcefiles/${encodeURIComponent(source.id)}`)
        .then((body) => (cell.textContent = body.sourceFile?.connectorType ?? ""))
        .catch(() => undefined);
    }
    return cell;
  };
  const showSourceFiles = () =>
    sourceFiles.replaceChildren(
      pagedTable<SourceFile>(
        `${base}/sourcefiles`,
        "sourceFiles",
        [
          { title: "File", cell: (source) => h("span", { "data-testid": "source-file-row" }, source.lastKnownFileName ?? "") },
          { title: "Connector", cell: connectorCell },
          { title: "Storage file", cell: (source) => h("code", {}, source.storageFileId) },
          { title: "Update the file", cell: updateCell },
        ],
        "No source files.",
      ),
    );

  // Add a file: an existing one of the iTwin's storage, or a new upload.
  const folderId = await rootFolderId(connection.iTwinId);
  const existing = h("select", { "data-testid": "add-file-existing" }, h("option", { value: "" }, "Upload a new file…"));
  try {
    const stored = await page<StorageFile>(`/storage/folders/${encodeURIComponent(folderId)}/files`, "files");
    for (const file of stored.items) existing.append(h("option", { value: file.id }, `${file.displayName} (${formatSize(file.size)})`));
  } catch {
    // uploading stays possible
  }
  const newFile = h("input", { type: "file", accept: ".ifc,.ifczip,.ifcxml", "data-testid": "add-file-input" });
  existing.addEventListener("change", () => (newFile.hidden = existing.value !== ""));
  const connector = connectorSelect("add-file-connector");
  const add = h("button", { type: "submit", "data-testid": "add-source-file" }, "Add file");
  const addForm = h("form", {}, existing, newFile, connector, add);
  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    add.disabled = true;
    await attempt(fileStatus, async () => {
      let storageFileId = existing.value;
      if (!storageFileId) {
        const file = newFile.files?.[0];
        if (!file) throw new Error("Choose a file of the iTwin's storage, or a file to upload.");
        const stored = (await uploadAll(folderId, [file], fileProgress))[0];
        storageFileId = stored.id;
        existing.append(h("option", { value: stored.id }, `${stored.displayName} (${formatSize(stored.size)})`));
        newFile.value = "";
      }
      await json(`${base}/sourcefiles`, { method: "POST", body: { storageFileId, connectorType: connector.value } });
      fileStatus.append(h("p", {}, "Added. Run the connection to synchronize it."));
      showSourceFiles();
    });
    add.disabled = false;
  });

  showSourceFiles();
  showRuns();
  root.append(
    h("section", {}, h("h2", {}, "Run"), run, runStatus),
    h("section", {}, h("h2", {}, "Source files"), sourceFiles, fileProgress.element, fileStatus, h("h3", {}, "Add a file"), addForm),
    h("section", {}, h("h2", {}, "Runs"), runs),
  );
}
