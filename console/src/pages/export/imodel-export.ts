/** #/imodels/:imodelId/export: the iModel's export connections, a new connection, and a run of one. */
import { json } from "../../api";
import type { Parameters } from "../../main";
import { attempt, h, link, pagedTable } from "../../ui";
import { consentNotice } from "./runs";
import { runForm } from "./run-form";

export interface ExportConnection {
  id: string;
  displayName?: string | null;
  iModelId: string;
  iTwinId: string;
  authenticationType: string;
}

export async function renderImodelExport(root: HTMLElement, parameters: Parameters): Promise<void> {
  const imodelId = parameters.imodelId;
  const imodel = (await json(`/imodels/${encodeURIComponent(imodelId)}`)).iModel;
  root.append(
    h("p", { class: "crumbs" }, link(`#/itwins/${imodel.iTwinId}`, "iTwin"), " / ", link(`#/imodels/${imodelId}`, imodel.displayName)),
    h("h1", {}, `Export ${imodel.displayName} to IFC`),
    consentNotice("/export/authorizationinformation"),
  );

  const connections = h("div");
  const showConnections = () =>
    connections.replaceChildren(
      pagedTable<ExportConnection>(
        `/export/connections?imodelId=${encodeURIComponent(imodelId)}`,
        "connections",
        [
          { title: "Connection", cell: (c) => h("a", { href: `#/export/connections/${c.id}`, "data-testid": "export-connection-row" }, c.displayName || c.id) },
          { title: "Authentication", cell: (c) => c.authenticationType },
          { title: "Id", cell: (c) => h("code", {}, c.id) },
        ],
        "No export connections yet: create one below.",
      ),
    );
  showConnections();

  const name = h("input", { placeholder: "Display name", value: `${imodel.displayName} to IFC`, "data-testid": "export-connection-name" });
  const authentication = h(
    "select",
    { "data-testid": "export-connection-authentication" },
    h("option", { value: "User" }, "User (runs act for you)"),
    h("option", { value: "Service" }, "Service"),
  );
  const status = h("div");
  const runArea = h("div");
  const create = h("button", { type: "submit", "data-testid": "create-export-connection" }, "Create connection");
  const form = h("form", {}, name, authentication, create);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    create.disabled = true;
    await attempt(status, async () => {
      const body = await json(`/export/connections`, {
        method: "POST",
        body: { iModelId: imodelId, displayName: name.value || undefined, authenticationType: authentication.value },
      });
      const connection: ExportConnection = body.connection;
      status.append(
        h("p", { "data-testid": "export-connection-created" }, "Created ", link(`#/export/connections/${connection.id}`, connection.displayName || connection.id), "."),
      );
      showConnections();
      runArea.replaceChildren(h("h3", {}, `Start a run of ${connection.displayName || connection.id}`), await runForm(connection));
    });
    create.disabled = false;
  });

  root.append(
    h("section", {}, h("h2", {}, "Connections"), connections),
    h("section", {}, h("h2", {}, "New connection"), form, status, runArea),
  );
}
