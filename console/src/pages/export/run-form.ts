/** The form that starts an export run: IFC version, the iModel version, models, and where the output goes. */
import { page } from "../../api";
import { attempt, h } from "../../ui";
import type { ExportConnection } from "./imodel-export";
import { startRun } from "./runs";

const IFC_VERSIONS = ["IFC4.3", "IFC2x3", "IFC2x3 CV 2.0", "IFC4 RV 1.2"];

function labelled(text: string, control: HTMLElement): HTMLElement {
  return h("label", { class: "field" }, h("span", {}, text), control);
}

export async function runForm(connection: ExportConnection, onStarted?: (runId: string) => void): Promise<HTMLElement> {
  const version = h(
    "select",
    { "data-testid": "export-ifc-version" },
    IFC_VERSIONS.map((value) => h("option", { value }, value)),
  );
  const changeset = h("select", { "data-testid": "export-changeset" }, h("option", { value: "" }, "Latest version"));
  try {
    const changesets = await page(`/imodels/${encodeURIComponent(connection.iModelId)}/changesets`, "changesets");
    for (const item of changesets.items) {
      changeset.append(h("option", { value: item.id }, `Changeset ${item.index}${item.description ? `: ${item.description}` : ""}`));
    }
  } catch {
    // the latest version is still a choice
  }
  const models = h("input", { placeholder: "all models", size: 40, "data-testid": "export-model-ids" });
  const savedView = h("input", { placeholder: "none", size: 30, "data-testid": "export-saved-view" });
  const mapping = h("input", { placeholder: "none", size: 30, "data-testid": "export-mapping-file" });
  const outputLocation = h(
    "select",
    { "data-testid": "export-output-location" },
    h("option", { value: "" }, "The server's storage (default)"),
    h("option", { value: "ITWIN_STORAGE" }, "The iTwin's storage (a folder)"),
    h("option", { value: "USER_BLOB_STORAGE" }, "My blob storage (a SAS URL)"),
  );
  const folder = h("input", { placeholder: "folder id (the root when empty)", size: 36, "data-testid": "export-output-folder" });
  const sasUrl = h("input", { placeholder: "https://…?sv=…", size: 50, "data-testid": "export-output-sas-url" });
  const folderField = labelled("Folder", folder);
  const sasField = labelled("Output SAS URL", sasUrl);
  const showOutputFields = () => {
    folderField.hidden = outputLocation.value !== "ITWIN_STORAGE";
    sasField.hidden = outputLocation.value !== "USER_BLOB_STORAGE";
  };
  outputLocation.addEventListener("change", showOutputFields);
  showOutputFields();

  const status = h("div");
  const start = h("button", { type: "submit", "data-testid": "start-export-run" }, "Start export");
  const form = h(
    "form",
    { class: "run-form" },
    labelled("IFC version", version),
    labelled("iModel version", changeset),
    labelled("Model ids (comma-separated)", models),
    labelled("Saved view id", savedView),
    labelled("Mapping file id", mapping),
    labelled("Output", outputLocation),
    folderField,
    sasField,
    start,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    start.disabled = true;
    await attempt(status, async () => {
      const modelIds = models.value.split(/[\s,]+/).filter(Boolean);
      const inputOptions: Record<string, unknown> = {};
      if (changeset.value) inputOptions.changesetId = changeset.value;
      if (modelIds.length) inputOptions.modelIds = modelIds;
      if (savedView.value.trim()) inputOptions.savedViewId = savedView.value.trim();
      if (mapping.value.trim()) inputOptions.mappingFileId = mapping.value.trim();
      const outputOptions: Record<string, unknown> = {};
      if (outputLocation.value) outputOptions.location = outputLocation.value;
      if (outputLocation.value === "ITWIN_STORAGE" && folder.value.trim()) outputOptions.folderId = folder.value.trim();
      if (outputLocation.value === "USER_BLOB_STORAGE") outputOptions.outputSasUrl = sasUrl.value.trim();
      const { runId, existing } = await startRun(`/export/connections/${encodeURIComponent(connection.id)}/runs`, {
        exportType: "IFC",
        ifcVersion: version.value,
        inputOptions,
        outputOptions,
      });
      const runHash = `#/export/runs/${connection.id}/${runId}`;
      status.append(
        h(
          "p",
          { "data-testid": "export-run-started" },
          existing ? "The iModel already has an active export: " : "Started ",
          h("a", { href: runHash, "data-testid": "export-run-link" }, `run ${runId}`),
          ".",
        ),
      );
      onStarted?.(runId);
    });
    start.disabled = false;
  });
  return h("div", {}, form, status);
}

