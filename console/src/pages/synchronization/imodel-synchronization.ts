/**
 * #/imodels/:imodelId/synchronization: IFC files uploaded into the iTwin's storage, the iModel's storage
 * connections, and a new connection of chosen files.
 */
import { json } from "../../api";
import type { Parameters } from "../../main";
import { attempt, formatDate, h, link, pagedTable, progress } from "../../ui";
import { consentNotice, startRun } from "../export/runs";
import { formatSize, rootFolderId, type StorageFile, uploadAll } from "./storage";

export const CONNECTOR_TYPES = [
  "IFC", "AUTOPLANT", "AVEVAPID", "CIVIL", "CIVIL3D", "DWG", "GEOSPATIAL", "MSTN", "NWD", "OBD",
  "OPENTOWER", "PROSTRUCTURES", "SPPID", "SPXREVIEW", "REVIT",
];

export interface StorageConnection {
  id: string;
  displayName?: string | null;
  iModelId: string;
  iTwinId: string;
  authenticationType: string;
  _links?: { lastRun?: { href: string } };
}

export function connectorSelect(testId: string): HTMLSelectElement {
  return h("select", { "data-testid": testId }, CONNECTOR_TYPES.map((type) => h("option", { value: type }, type)));
}

export async function renderImodelSynchronization(root: HTMLElement, parameters: Parameters): Promise<void> {
  const imodelId = parameters.imodelId;
  const imodel = (await json(`/imodels/${encodeURIComponent(imodelId)}`)).iModel;
  const folderId = await rootFolderId(imodel.iTwinId);
  root.append(
    h("p", { class: "crumbs" }, link(`#/itwins/${imodel.iTwinId}`, "iTwin"), " / ", link(`#/imodels/${imodelId}`, imodel.displayName)),
    h("h1", {}, `Synchronize files into ${imodel.displayName}`),
    consentNotice("/synchronization/imodels/connections/authorizationinformation"),
  );

  // Files of the iTwin's storage, each with a checkbox: the chosen ones go into a new connection.
  const chosen = new Set<string>();
  const files = h("div");
  const showFiles = () =>
    files.replaceChildren(
      pagedTable<StorageFile>(
        `/storage/folders/${encodeURIComponent(folderId)}/files`,
        "files",
        [
          {
            title: "Use",
            cell: (file) => {
              const box = h("input", { type: "checkbox", checked: chosen.has(file.id), "data-testid": "choose-file", "data-file-name": file.displayName });
              box.addEventListener("change", () => (box.checked ? chosen.add(file.id) : chosen.delete(file.id)));
              return box;
            },
          },
          { title: "File", cell: (file) => h("span", { "data-testid": "storage-file-row" }, file.displayName) },
          { title: "Size", cell: (file) => formatSize(file.size) },
          { title: "Modified", cell: (file) => `${formatDate(file.lastModifiedDateTime)} ${file.lastModifiedByDisplayName ?? ""}` },
          { title: "Id", cell: (file) => h("code", {}, file.id) },
        ],
        "No files in the iTwin's storage yet: upload IFC files above.",
      ),
    );

  const picker = h("input", { type: "file", accept: ".ifc,.ifczip,.ifcxml", multiple: true, "data-testid": "ifc-file-input" });
  const upload = h("button", { type: "submit", "data-testid": "upload-ifc" }, "Upload");
  const uploadProgress = progress();
  const uploadStatus = h("div");
  const uploadForm = h("form", {}, picker, upload);
  uploadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const selected = Array.from(picker.files ?? []);
    if (!selected.length) {
      uploadStatus.replaceChildren(h("p", { class: "error" }, "Choose one or more IFC files first."));
      return;
    }
    upload.disabled = true;
    await attempt(uploadStatus, async () => {
      const uploaded = await uploadAll(folderId, selected, uploadProgress);
      for (const file of uploaded) chosen.add(file.id);
      picker.value = "";
      showFiles();
    });
    upload.disabled = false;
  });
  showFiles();

  // A new storage connection of the chosen files.
  const name = h("input", { placeholder: "Display name", value: `${imodel.displayName} from IFC`, "data-testid": "storage-connection-name" });
  const connector = connectorSelect("storage-connection-connector");
  const authentication = h(
    "select",
    { "data-testid": "storage-connection-authentication" },
    h("option", { value: "User" }, "User (runs act for you)"),
    h("option", { value: "Service" }, "Service"),
  );
  const create = h("button", { type: "submit", "data-testid": "create-storage-connection" }, "Create connection");
  const createStatus = h("div");
  const createForm = h("form", {}, name, connector, authentication, create);
  const connections = h("div");
  const showConnections = () =>
    connections.replaceChildren(
      pagedTable<StorageConnection>(
        `/synchronization/imodels/storageconnections?imodelId=${encodeURIComponent(imodelId)}`,
        "connections",
        [
          { title: "Connection", cell: (c) => h("a", { href: `#/synchronization/storage/${c.id}`, "data-testid": "storage-connection-row" }, c.displayName || c.id) },
          { title: "Id", cell: (c) => h("code", {}, c.id) },
        ],
        "No storage connections yet: choose files above and create one.",
      ),
    );
  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!chosen.size) {
      createStatus.replaceChildren(h("p", { class: "error" }, "Choose at least one file of the iTwin's storage (tick it in the list above)."));
      return;
    }
    create.disabled = true;
    await attempt(createStatus, async () => {
      const body = await json(`/synchronization/imodels/storageconnections`, {
        method: "POST",
        body: {
          iModelId: imodelId,
          displayName: name.value || undefined,
          authenticationType: authentication.value,
          sourceFiles: Array.from(chosen, (storageFileId) => ({ storageFileId, connectorType: connector.value })),
        },
      });
      const connection: StorageConnection = body.connection;
      const hash = `#/synchronization/storage/${connection.id}`;
      const runNow = h("button", { "data-testid": "start-sync-run" }, "Run it now");
      const runStatus = h("span");
      runNow.addEventListener("click", async () => {
        runNow.disabled = true;
        await attempt(runStatus, async () => {
          const { runId, existing } = await startRun(`/synchronization/imodels/storageconnections/${encodeURIComponent(connection.id)}/run`);
          runStatus.append(
            existing ? " The iModel already has an active run: " : " Started ",
            h("a", { href: `#/synchronization/runs/${connection.id}/${runId}`, "data-testid": "sync-run-link" }, `run ${runId}`),
            ".",
          );
        });
      });
      createStatus.append(
        h("p", { "data-testid": "storage-connection-created" }, "Created ", h("a", { href: hash, "data-testid": "storage-connection-link" }, connection.displayName || connection.id), ". ", runNow, runStatus),
      );
      showConnections();
    });
    create.disabled = false;
  });
  showConnections();

  root.append(
    h("section", {}, h("h2", {}, "IFC files in the iTwin's storage"), uploadForm, uploadProgress.element, uploadStatus, files),
    h("section", {}, h("h2", {}, "New storage connection of the ticked files"), createForm, createStatus),
    h("section", {}, h("h2", {}, "Storage connections"), connections),
  );
}
