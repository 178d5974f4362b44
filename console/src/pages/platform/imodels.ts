/** The iModels of an iTwin (a section of #/itwins/:itwinId: list, create empty, upload a .bim) and
 * #/imodels/:imodelId: the iModel, its versions (changesets, named versions) and the download of any. */
import { json } from "../../api";
import type { Parameters } from "../../main";
import { attempt, formatDate, h, link, pagedTable, progress } from "../../ui";
import { downloadCheckpoint, formatSize, putFile } from "./transfer";

interface IModel {
  id: string;
  displayName: string;
  description?: string | null;
  state?: string;
  createdDateTime?: string;
  lastChangesetPushDateTime?: string | null;
  iTwinId: string;
  _links?: { upload?: { href: string }; complete?: { href: string } };
}

interface Changeset {
  id: string;
  index: number;
  description: string;
  creatorId: string;
  pushDateTime: string;
  fileSize: number;
  synchronizationInfo?: { changedFiles?: string[] | null } | null;
}

interface NamedVersion {
  id: string;
  displayName: string;
  description?: string | null;
  changesetId: string | null;
  changesetIndex: number;
  createdDateTime?: string;
  state?: string;
}

const imodelPath = (imodelId: string) => `/imodels/${encodeURIComponent(imodelId)}`;

export function imodelsSection(itwinId: string): HTMLElement {
  const list = h("div");
  const show = () =>
    list.replaceChildren(
      pagedTable<IModel>(
        `/imodels?iTwinId=${encodeURIComponent(itwinId)}&$top=20`,
        "iModels",
        [
          { title: "iModel", cell: (imodel) => h("a", { href: `#/imodels/${imodel.id}`, "data-testid": "imodel-row" }, imodel.displayName) },
          { title: "Id", cell: (imodel) => h("code", {}, imodel.id) },
        ],
        "No iModels yet: create an empty one or upload a .bim file below.",
      ),
    );
  show();
  return h("section", {}, h("h2", {}, "iModels"), list, createEmptyForm(itwinId), uploadForm(itwinId));
}

function createEmptyForm(itwinId: string): HTMLElement {
  const name = h("input", { placeholder: "Name of the new iModel", required: true, "data-testid": "imodel-name" });
  const description = h("input", { placeholder: "Description (optional)", "data-testid": "imodel-description" });
  const create = h("button", { type: "submit", "data-testid": "create-imodel" }, "Create empty iModel");
  const status = h("div");
  const form = h("form", {}, name, description, create);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    create.disabled = true;
    status.replaceChildren(h("p", { class: "muted" }, "Creating the iModel…"));
    await attempt(status, async () => {
      const imodel: IModel = (
        await json("/imodels", {
          method: "POST",
          body: { iTwinId: itwinId, name: name.value.trim(), description: description.value.trim() || undefined, creationMode: "empty" },
        })
      ).iModel;
      location.hash = `#/imodels/${imodel.id}`;
    });
    create.disabled = false;
  });
  return h("div", {}, h("h3", {}, "New empty iModel"), form, status);
}

/** An iModel from a .bim snapshot: create it awaiting its baseline, PUT the file, then complete it. */
function uploadForm(itwinId: string): HTMLElement {
  const file = h("input", { type: "file", accept: ".bim", required: true, "data-testid": "bim-file-input" });
  const name = h("input", { placeholder: "Name (default: the file's)", "data-testid": "bim-name" });
  const upload = h("button", { type: "submit", "data-testid": "upload-bim" }, "Upload .bim");
  const bar = progress();
  bar.element.setAttribute("data-testid", "upload-progress");
  const status = h("div");
  const form = h("form", {}, file, name, upload);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) return;
    upload.disabled = true;
    await attempt(status, async () => {
      bar.set("Creating the iModel…");
      const imodel: IModel = (
        await json("/imodels", {
          method: "POST",
          body: {
            iTwinId: itwinId,
            name: name.value.trim() || chosen.name.replace(/\.bim$/i, ""),
            creationMode: "fromBaseline",
            baselineFile: { size: chosen.size },
          },
        })
      ).iModel;
      const uploadHref = imodel._links?.upload?.href;
      if (!uploadHref) throw new Error("The server gave no upload link for the new iModel.");
      await putFile(uploadHref, chosen, (fraction) => bar.set(`Uploading ${chosen.name}: ${Math.round(fraction * 100)}%`, fraction));
      bar.set("Checking the file…", 1);
      await json(`${imodelPath(imodel.id)}/baselinefile/complete`, { method: "POST" });
      bar.set("Uploaded.", 1);
      location.hash = `#/imodels/${imodel.id}`;
    });
    upload.disabled = false;
  });
  return h(
    "div",
    {},
    h("h3", {}, "Upload a .bim snapshot"),
    h("p", { class: "muted" }, "The file becomes the iModel's baseline (version 0); it is checked once uploaded."),
    form,
    bar.element,
    status,
  );
}

function downloadButton(path: string, testId: string, label = "Download"): HTMLElement {
  const status = h("span");
  const button = h(
    "button",
    {
      class: "secondary",
      "data-testid": testId,
      onclick: async () => {
        button.disabled = true;
        await attempt(status, async () => {
          const checkpoint = await downloadCheckpoint(path);
          status.append(h("span", { class: "muted" }, ` ${checkpoint.dbName} (${formatSize(checkpoint.size)})`));
        });
        button.disabled = false;
      },
    },
    label,
  );
  return h("span", {}, button, status);
}

export async function renderIModel(root: HTMLElement, parameters: Parameters): Promise<void> {
  const imodelId = parameters.imodelId;
  const path = imodelPath(imodelId);
  const imodel: IModel = (await json(path)).iModel;
  const itwinName = await json(`/itwins/${encodeURIComponent(imodel.iTwinId)}`)
    .then((body) => body.iTwin.displayName as string)
    .catch(() => "iTwin");
  const initialized = imodel.state === "initialized";
  root.append(
    h("p", { class: "crumbs" }, link("#/itwins", "iTwins"), " / ", link(`#/itwins/${imodel.iTwinId}`, itwinName), " / ", imodel.displayName),
    h("h1", { "data-testid": "imodel-title" }, imodel.displayName),
    h("p", { hidden: !imodel.description }, imodel.description ?? ""),
    h(
      "p",
      { class: "muted" },
      "State ",
      h("span", { "data-testid": "imodel-state" }, imodel.state ?? ""),
      ` · created ${formatDate(imodel.createdDateTime)}`,
      imodel.lastChangesetPushDateTime ? ` · last version ${formatDate(imodel.lastChangesetPushDateTime)}` : "",
      " · id ",
      h("code", {}, imodel.id),
    ),
    h(
      "p",
      { class: "actions" },
      h("a", { href: `#/imodels/${imodelId}/export`, "data-testid": "imodel-export-link" }, "Export to IFC"),
      " · ",
      h("a", { href: `#/imodels/${imodelId}/synchronization`, "data-testid": "imodel-synchronization-link" }, "Synchronize files into it"),
      " · ",
      h("a", { href: `#/view/imodel/${imodelId}`, "data-testid": "view-imodel-link" }, "View the latest version in 3D"),
    ),
  );
  if (!initialized) {
    root.append(
      h(
        "section",
        {},
        h("p", {}, "This iModel has no version yet: its baseline file was not uploaded and completed. Upload a .bim file from its iTwin's page."),
      ),
    );
    return;
  }
  const changesets = pagedTable<Changeset>(
    `${path}/changesets?$top=20`,
    "changesets",
    [
      { title: "Version", cell: (changeset) => h("span", { "data-testid": "changeset-row" }, changeset.index) },
      { title: "Description", cell: (changeset) => changeset.description },
      { title: "By", cell: (changeset) => changeset.creatorId },
      { title: "Pushed", cell: (changeset) => formatDate(changeset.pushDateTime) },
      { title: "Size", cell: (changeset) => formatSize(changeset.fileSize) },
      { title: "", cell: (changeset) => versionActions(imodelId, changeset.index, `${path}/changesets/${changeset.index}/checkpoint`) },
    ],
  );
  // Version 0, the baseline, is no changeset of the API: its row comes first, from its checkpoint.
  const baselineSize = h("span");
  changesets.querySelector("tbody")?.prepend(
    h(
      "tr",
      {},
      h("td", {}, h("span", { "data-testid": "changeset-row" }, 0)),
      h("td", {}, "Baseline"),
      h("td", {}),
      h("td", {}, formatDate(imodel.createdDateTime)),
      h("td", {}, baselineSize),
      h("td", {}, versionActions(imodelId, 0, `${path}/changesets/0/checkpoint`, "download-baseline")),
    ),
  );
  void json(`${path}/changesets/0/checkpoint`)
    .then((body) => (baselineSize.textContent = formatSize(body.checkpoint.size)))
    .catch(() => undefined);
  root.append(
    h(
      "section",
      {},
      h("h2", {}, "Versions"),
      h(
        "p",
        { class: "muted" },
        "Version 0 is the baseline; every synchronization run adds a changeset. Each version can be downloaded as a .bim snapshot. ",
        downloadButton(`${path}/briefcases/checkpoint`, "download-latest", "Download the latest version"),
      ),
      changesets,
      h("h3", {}, "Named versions"),
      namedVersions(imodelId),
    ),
  );
}

function versionActions(imodelId: string, index: number, checkpointPath: string, testId = "download-version"): Node[] {
  return [
    downloadButton(checkpointPath, testId),
    document.createTextNode(" "),
    h("a", { href: `#/view/imodel/${imodelId}?changeset=${index}`, "data-testid": "view-version" }, "View"),
  ];
}

function namedVersions(imodelId: string): HTMLElement {
  const path = imodelPath(imodelId);
  const list = h("div");
  const show = () =>
    list.replaceChildren(
      pagedTable<NamedVersion>(
        `${path}/namedversions?$top=20`,
        "namedVersions",
        [
          { title: "Name", cell: (version) => h("span", { "data-testid": "named-version-row" }, version.displayName) },
          { title: "Changeset", cell: (version) => version.changesetIndex },
          { title: "Description", cell: (version) => version.description ?? "" },
          { title: "Created", cell: (version) => formatDate(version.createdDateTime) },
          {
            title: "",
            cell: (version) =>
              versionActions(imodelId, version.changesetIndex, `${path}/namedversions/${encodeURIComponent(version.id)}/checkpoint`, "download-named-version"),
          },
        ],
        "No named versions yet.",
      ),
    );
  show();

  // Naming a version: on a changeset by its index (0, the baseline, has no changeset id).
  const name = h("input", { placeholder: "Name", required: true, "data-testid": "named-version-name" });
  const index = h("input", { type: "number", min: 0, value: 0, style: "width: 6em", "data-testid": "named-version-changeset" });
  const create = h("button", { type: "submit", "data-testid": "create-named-version" }, "Name this version");
  const status = h("div");
  const form = h("form", {}, name, "on changeset", index, create);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    create.disabled = true;
    const named = await attempt(status, async () => {
      const body: Record<string, string> = { name: name.value.trim() };
      if (Number(index.value) > 0) {
        body.changesetId = (await json(`${path}/changesets/${Number(index.value)}`)).changeset.id;
      }
      await json(`${path}/namedversions`, { method: "POST", body });
    });
    create.disabled = false;
    if (named) {
      name.value = "";
      show();
    }
  });
  return h("div", {}, list, form, status);
}
