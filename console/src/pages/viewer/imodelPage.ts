/**
 * #/view/imodel/:imodelId?changeset=N: any version of an iModel in 3D, through the public Export API.
 *
 * The page keeps one export connection per iModel version, named "Console view · changeset N", so that a
 * connection's runs all export the same version: a finished run (Success or PartialSuccess) is reused, an
 * active one is watched, else a run is started with inputOptions.changesetId. Its IFC output is what the
 * viewer shows; the exporter writes each element's FederationGuid as its GlobalId and its element id as
 * its Tag, so a selection names the iModel's element.
 */
import { ApiError, json, request } from "../../api";
import { onLeave, type Parameters } from "../../main";
import { h, link } from "../../ui";
import { IfcViewer } from "./viewer";

interface Version {
  index: number;
  /** inputOptions.changesetId: null exports the newest version. */
  changesetId: string | null;
}

interface Run {
  id: string;
  connectionId?: string;
  state: string;
  result: string;
  startDateTime?: string | null;
  endDateTime?: string | null;
  error?: { errorCode?: string; details?: string; description?: string };
  jobs?: { tasks?: { exportOutputFileId?: string; error?: { errorCode?: string; details?: string } }[] }[];
}

const POLL_MILLISECONDS = 1000;

async function all<T>(path: string, key: string): Promise<T[]> {
  const items: T[] = [];
  let next: string | null = path;
  while (next) {
    const body: any = await json(next);
    items.push(...((body?.[key] ?? []) as T[]));
    next = body?._links?.next?.href ?? null;
  }
  return items;
}

/** The version to export: changeset N, or the newest when none is named. */
async function versionOf(imodelId: string, wanted: string | null): Promise<Version> {
  const base = `/imodels/${encodeURIComponent(imodelId)}/changesets`;
  const newest = (await json(`${base}?$orderBy=index%20desc&$top=1`))?.changesets?.[0];
  const newestIndex = newest ? Number(newest.index) : 0;
  const index = wanted === null || wanted === "" ? newestIndex : Number(wanted);
  if (!Number.isInteger(index) || index < 0) throw new Error(`"${wanted}" is not a changeset index.`);
  if (index === 0) {
    if (newestIndex === 0) return { index, changesetId: null }; // the baseline is the only version
    throw new Error(
      "The baseline (changeset 0) of an iModel that has changesets cannot be exported: the Export API names a " +
        "version by its changeset id. Choose changeset 1 or later.",
    );
  }
  // Named even when it is the newest, so that the connection's runs stay this version's.
  const changeset = (await json(`${base}/${index}`))?.changeset;
  return { index, changesetId: String(changeset.id) };
}

function connectionName(version: Version): string {
  return `Console view · changeset ${version.index}`;
}

async function connectionFor(imodelId: string, version: Version): Promise<string> {
  const name = connectionName(version);
  const connections = await all<any>(`/export/connections?imodelId=${encodeURIComponent(imodelId)}`, "connections");
  const existing = connections.find((connection) => connection.displayName === name);
  if (existing) return existing.id;
  const created = await json("/export/connections", { method: "POST", body: { iModelId: imodelId, displayName: name } });
  return created.connection.id;
}

function outputOf(run: Run): string | null {
  for (const job of run.jobs ?? []) for (const task of job.tasks ?? []) if (task.exportOutputFileId) return task.exportOutputFileId;
  return null;
}

function succeeded(run: Run): boolean {
  return run.state === "Completed" && (run.result === "Success" || run.result === "PartialSuccess") && !!outputOf(run);
}

function failure(run: Run): string {
  const errors = [run.error, ...(run.jobs ?? []).flatMap((job) => (job.tasks ?? []).map((task) => task.error))].filter(Boolean);
  const words = errors.map((error) => [error?.errorCode, error?.details].filter(Boolean).join(": ")).join("\n");
  return `The export run ended ${run.result}.${words ? `\n${words}` : ""}`;
}

/**
 * POSTs a run: the new run (202), or this connection's active run. An iModel exports one run at a time: when
 * the active run (303) is another connection's (another version), it is waited for and null returned.
 */
async function startRun(runsPath: string, connectionId: string, version: Version, viewer: IfcViewer): Promise<Run | null> {
  const body = { exportType: "IFC", ifcVersion: "IFC4.3", inputOptions: version.changesetId ? { changesetId: version.changesetId } : {} };
  let active: Run | null = null;
  try {
    const response = await request(runsPath, { method: "POST", body });
    const location = response.headers.get("Location");
    if (response.status === 202 && location) return (await json(location)).run as Run;
    active = ((await response.json().catch(() => null))?.run ?? null) as Run | null;
  } catch (error) {
    // A 303 to the server's address under another host name than the page's may not be followed.
    if (!(error instanceof TypeError)) throw error;
  }
  if (active && active.connectionId === connectionId) return active;
  const ours = (await all<Run>(runsPath, "runs")).find((run) => run.state !== "Completed");
  if (ours) return ours;
  viewer.setProgress(`Waiting for another export of this iModel to finish${active ? ` (run ${active.id}: ${active.state})` : ""}`);
  await sleep(2 * POLL_MILLISECONDS);
  return null;
}

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

export function renderIModelViewer(root: HTMLElement, parameters: Parameters, query: URLSearchParams): void {
  const imodelId = parameters.imodelId;
  const title = h("h1", {}, "iModel viewer");
  const runLink = h("p", { class: "muted", "data-testid": "viewer-export-run" });
  const viewer = new IfcViewer({ Tag: "Element id (Tag)" });
  let left = false;
  onLeave(() => {
    left = true;
    viewer.dispose();
  });
  root.append(title, h("p", {}, link(`#/imodels/${encodeURIComponent(imodelId)}`, "Back to the iModel")), runLink, viewer.element);
  void show(imodelId, query, viewer, title, runLink, () => left);
}

/** Finds or makes the export of the version, watches its run, then loads its output into the viewer. */
async function show(
  imodelId: string,
  query: URLSearchParams,
  viewer: IfcViewer,
  title: HTMLElement,
  runLink: HTMLElement,
  hasLeft: () => boolean,
): Promise<void> {
  try {
    viewer.setProgress("Finding the version");
    const imodel = (await json(`/imodels/${encodeURIComponent(imodelId)}`))?.iModel;
    const version = await versionOf(imodelId, query.get("changeset"));
    title.textContent = `${imodel?.displayName ?? "iModel"} · changeset ${version.index}`;
    viewer.setProgress("Finding an export of this version");
    const connectionId = await connectionFor(imodelId, version);
    const runsPath = `/export/connections/${encodeURIComponent(connectionId)}/runs`;
    const runs = await all<Run>(runsPath, "runs");
    const newestFirst = (a: Run, b: Run) => String(b.startDateTime ?? "").localeCompare(String(a.startDateTime ?? ""));
    let run: Run | null | undefined = runs.filter(succeeded).sort(newestFirst)[0] ?? runs.filter((r) => r.state !== "Completed")[0];
    while (!run) {
      if (hasLeft()) return;
      viewer.setProgress("Starting an export run");
      run = await startRun(runsPath, connectionId, version, viewer);
    }
    if (!run) return;
    const runPath = `${runsPath}/${encodeURIComponent(run.id)}`;
    runLink.replaceChildren(
      "Export run ",
      link(`#/export/runs/${encodeURIComponent(connectionId)}/${encodeURIComponent(run.id)}`, run.id),
      " of connection ",
      link(`#/export/connections/${encodeURIComponent(connectionId)}`, connectionName(version)),
    );
    while (run.state !== "Completed") {
      viewer.setProgress(`Export run: ${run.state}`);
      await sleep(POLL_MILLISECONDS);
      if (hasLeft()) return;
      run = (await json(runPath)).run as Run;
    }
    if (!succeeded(run)) throw new Error(failure(run));
    if (hasLeft()) return;
    await viewer.loadUrl(`/storage/files/${encodeURIComponent(outputOf(run)!)}/download`);
  } catch (error) {
    if (!hasLeft()) viewer.fail(error instanceof ApiError || error instanceof Error ? error : new Error(String(error)));
  }
}
