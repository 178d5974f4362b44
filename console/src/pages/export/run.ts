/**
 * #/export/runs/:connectionId/:runId: an export run as it goes, polled every second until it completes;
 * its jobs and tasks, task errors in words, the output's download and 3D view, and cancelling it.
 */
import type { Parameters } from "../../main";
import { attempt, h, link } from "../../ui";
import { cancelButton, downloadStorageFile, isCompleted, poll, type Run, runSummary, stateBadge, taskErrorView, times } from "./runs";

export async function renderExportRun(root: HTMLElement, parameters: Parameters): Promise<void> {
  const { connectionId, runId } = parameters;
  const path = `/export/connections/${encodeURIComponent(connectionId)}/runs/${encodeURIComponent(runId)}`;
  const summary = h("div");
  const actions = h("div", { class: "actions" });
  const jobs = h("div");
  const errors = h("div");
  const actionStatus = h("div");
  root.append(
    h("p", { class: "crumbs" }, link(`#/export/connections/${connectionId}`, "Export connection")),
    h("h1", {}, "Export run"),
    summary,
    actions,
    actionStatus,
    errors,
    h("section", {}, h("h2", {}, "Jobs and tasks"), jobs),
  );

  const cancel = cancelButton(path, actionStatus, (run) => show(run), "Cancelling: the run stops within seconds.");
  const show = (run: Run) => {
    summary.replaceChildren(...runSummary(run));
    const outputs = run.jobs.flatMap((job) => job.tasks).map((task) => task.exportOutputFileId as string | undefined).filter((id): id is string => Boolean(id));
    actions.replaceChildren();
    if (!isCompleted(run)) actions.append(cancel);
    for (const fileId of outputs) {
      const download = h("button", { "data-testid": "download-output" }, "Download IFC");
      download.addEventListener("click", () => void attempt(actionStatus, () => downloadStorageFile(fileId)));
      actions.append(download, " ", h("a", { href: `#/view/ifc?file=${encodeURIComponent(fileId)}`, class: "button", "data-testid": "view-output" }, "View in 3D"));
    }
    jobs.replaceChildren(
      ...run.jobs.map((job) =>
        h(
          "div",
          { class: "job" },
          h("h3", {}, "Job ", h("code", {}, job.id), " ", stateBadge(job.state, job.result)),
          h("p", { class: "muted" }, times(job)),
          h(
            "table",
            {},
            h("thead", {}, h("tr", {}, h("th", {}, "Task"), h("th", {}, "State"), h("th", {}, "Times"), h("th", {}, "Retries"), h("th", {}, "Output"))),
            h(
              "tbody",
              {},
              job.tasks.flatMap((task) => [
                h(
                  "tr",
                  { "data-testid": "task-row" },
                  h("td", {}, h("code", {}, task.id)),
                  h("td", {}, stateBadge(task.state, task.result, "task-state")),
                  h("td", {}, times(task)),
                  h("td", {}, String(task.retryAttempts ?? 0)),
                  h("td", {}, task.exportOutputFileId ? h("code", {}, task.exportOutputFileId) : ""),
                ),
                task.error ? h("tr", {}, h("td", { colspan: 5 }, taskErrorView(task.error))) : null,
              ]),
            ),
          ),
        ),
      ),
    );
    if (!run.jobs.length) jobs.append(h("p", { class: "muted" }, "No jobs yet."));
  };

  poll<{ run: Run }>(path, (body) => show(body.run), (body) => isCompleted(body.run), errors);
}
