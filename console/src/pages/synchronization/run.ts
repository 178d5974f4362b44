/**
 * #/synchronization/runs/:connectionId/:runId: a storage connection's run as it goes (polled every second
 * until it completes), each task's counts and errors, then each file's diagnostic report.
 */
import { json, page } from "../../api";
import type { Parameters } from "../../main";
import { attempt, h, link } from "../../ui";
import { cancelButton, isCompleted, poll, type Run, runSummary, stateBadge, type Task, taskErrorView, times } from "../export/runs";
import type { StorageConnection } from "./imodel-synchronization";
import { reportsView } from "./report";

function taskDetails(task: Task): HTMLElement | string {
  const details = task.details;
  if (!details) return "";
  const elements = details.elements ?? {};
  const report = details.synchronizationReport ?? {};
  const warnings: number = report.totalWarningsCount ?? details.warnings?.length ?? 0;
  return h(
    "span",
    { "data-testid": "task-details" },
    ["inserted", "updated", "deleted", "unchanged"].map((name) => `${elements[name] ?? 0} ${name}, `).join(""),
    `${warnings} warning${warnings === 1 ? "" : "s"}`,
    report.totalErrorsCount ? `, ${report.totalErrorsCount} errors` : "",
  );
}

export async function renderSynchronizationRun(root: HTMLElement, parameters: Parameters): Promise<void> {
  const { connectionId, runId } = parameters;
  const base = `/synchronization/imodels/storageconnections/${encodeURIComponent(connectionId)}`;
  const path = `${base}/runs/${encodeURIComponent(runId)}`;
  const connection: StorageConnection = (await json(base)).connection;
  // Tasks name their storage file by id; the connection's source files know its name.
  const names = new Map<string, string>();
  await page(`${base}/sourcefiles`, "sourceFiles")
    .then((files) => files.items.forEach((file) => names.set(file.storageFileId, file.lastKnownFileName)))
    .catch(() => undefined);
  const summary = h("div");
  const actions = h("div", { class: "actions" });
  const actionStatus = h("div");
  const errors = h("div");
  const jobs = h("div");
  const reports = h("div", {}, h("p", { class: "muted" }, "The reports appear when the run completes."));
  root.append(
    h(
      "p",
      { class: "crumbs" },
      link(`#/imodels/${connection.iModelId}/synchronization`, "Synchronization"),
      " / ",
      link(`#/synchronization/storage/${connectionId}`, connection.displayName || "Storage connection"),
    ),
    h("h1", {}, "Synchronization run"),
    summary,
    actions,
    actionStatus,
    errors,
    h("section", {}, h("h2", {}, "Jobs and tasks"), jobs),
    h("section", {}, h("h2", {}, "Diagnostic reports"), reports),
  );

  const cancel = cancelButton(
    path,
    actionStatus,
    (run) => show(run),
    "Cancelling: the run stops within seconds; the iModel stays as it was.",
  );
  const show = (run: Run) => {
    summary.replaceChildren(...runSummary(run, [["Phase", run.phase]]));
    actions.replaceChildren();
    if (!isCompleted(run)) actions.append(cancel);
    else actions.append(link(`#/view/imodel/${connection.iModelId}`, "View the iModel in 3D"));
    jobs.replaceChildren(
      ...run.jobs.map((job) =>
        h(
          "div",
          { class: "job" },
          h("h3", {}, `Job (${job.connectorType ?? "connector"}) `, stateBadge(job.state, job.result)),
          h("p", { class: "muted" }, times(job)),
          h(
            "table",
            {},
            h("thead", {}, h("tr", {}, h("th", {}, "File"), h("th", {}, "State"), h("th", {}, "Details"), h("th", {}, "Times"))),
            h(
              "tbody",
              {},
              job.tasks.flatMap((task) => [
                h(
                  "tr",
                  { "data-testid": "task-row" },
                  h("td", {}, names.get(task.storageFileId) ?? h("code", {}, task.storageFileId ?? task.sourceFileId ?? task.id)),
                  h("td", {}, stateBadge(task.state, task.result, "task-state")),
                  h("td", {}, taskDetails(task)),
                  h("td", {}, times(task)),
                ),
                task.error ? h("tr", {}, h("td", { colspan: 4 }, taskErrorView(task.error))) : null,
              ]),
            ),
          ),
        ),
      ),
    );
    if (!run.jobs.length) jobs.append(h("p", { class: "muted" }, "No jobs yet."));
  };

  poll<{ run: Run }>(
    path,
    (body) => {
      show(body.run);
      if (isCompleted(body.run)) void attempt(reports, async () => reports.append(await reportsView(connection.iModelId, runId)));
    },
    (body) => isCompleted(body.run),
    errors,
  );
}
