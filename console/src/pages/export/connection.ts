/** #/export/connections/:connectionId: an export connection, its runs, and a new run. */
import { json } from "../../api";
import type { Parameters } from "../../main";
import { h, link, pagedTable } from "../../ui";
import type { ExportConnection } from "./imodel-export";
import { runForm } from "./run-form";
import { consentNotice, facts, type Run, stateBadge, times } from "./runs";

export async function renderExportConnection(root: HTMLElement, parameters: Parameters): Promise<void> {
  const connectionId = parameters.connectionId;
  const connection: ExportConnection = (await json(`/export/connections/${encodeURIComponent(connectionId)}`)).connection;
  root.append(
    h("p", { class: "crumbs" }, link(`#/imodels/${connection.iModelId}`, "iModel"), " / ", link(`#/imodels/${connection.iModelId}/export`, "Export")),
    h("h1", {}, `Export connection ${connection.displayName || connection.id}`),
    consentNotice("/export/authorizationinformation"),
    facts([
      ["Id", h("code", {}, connection.id)],
      ["iModel", link(`#/imodels/${connection.iModelId}`, connection.iModelId)],
      ["Authentication", connection.authenticationType],
    ]),
  );
  const runs = h("div");
  const showRuns = () =>
    runs.replaceChildren(
      pagedTable<Run>(
        `/export/connections/${encodeURIComponent(connectionId)}/runs`,
        "runs",
        [
          { title: "Run", cell: (run) => h("a", { href: `#/export/runs/${connectionId}/${run.id}`, "data-testid": "export-run-row" }, run.id) },
          { title: "State", cell: (run) => stateBadge(run.state, run.result) },
          { title: "Times", cell: (run) => times(run) },
        ],
        "No runs yet.",
      ),
    );
  showRuns();
  root.append(
    h("section", {}, h("h2", {}, "Start a run"), await runForm(connection, showRuns)),
    h("section", {}, h("h2", {}, "Runs"), runs),
  );
}
