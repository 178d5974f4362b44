/**
 * What the export and synchronization pages share about runs: their state as badges, task errors in words,
 * a poller that refreshes a run until it completes, the run id a "start a run" answer points to, the
 * consent runs need, and downloads of storage files.
 */
import { ApiError, json, page, request } from "../../api";
import { onLeave } from "../../main";
import { attempt, errorBox, formatDate, h } from "../../ui";

export const ACCEPT_JSON = "application/vnd.bentley.itwin-platform.v1+json";

/** The contract's TaskError (api-contract.md §4.5); every field may be missing on older runs. */
export interface TaskError {
  errorCode?: string;
  message?: string;
  details?: string;
  description?: string;
  descriptionKey?: string;
  canUserFix?: boolean;
  phase?: string;
  system?: string;
  kbArticleLink?: string;
}

export interface Task {
  id: string;
  state: string;
  result: string;
  startDateTime?: string | null;
  endDateTime?: string | null;
  retryAttempts?: number;
  error?: TaskError;
  [field: string]: any;
}

export interface Job {
  id: string;
  state: string;
  result: string;
  startDateTime?: string | null;
  endDateTime?: string | null;
  connectorType?: string;
  tasks: Task[];
}

export interface Run {
  id: string;
  connectionId: string;
  state: string;
  result: string;
  phase?: string;
  startDateTime?: string | null;
  endDateTime?: string | null;
  error?: { errorKey?: string; description?: string; [field: string]: any };
  jobs: Job[];
}

export function isCompleted(run: { state: string }): boolean {
  return run.state === "Completed";
}

/** A run's (or job's, or task's) state and result, coloured by how it ended. */
export function stateBadge(state: string, result: string | null | undefined, testId?: string): HTMLElement {
  const tone =
    state !== "Completed"
      ? "active"
      : result === "Success"
        ? "good"
        : result === "PartialSuccess"
          ? "warn"
          : "bad";
  return h(
    "span",
    { class: `badge ${tone}`, "data-testid": testId },
    state === "Completed" ? `${state} · ${result}` : state,
  );
}

/** A task error as a person reads it: what happened, why, and whether they can fix it themselves. */
export function taskErrorView(error: TaskError): HTMLElement {
  const rows: [string, string | undefined][] = [
    ["What happened", error.message],
    ["Details", error.details],
    ["Description", error.description],
    ["Can you fix it?", error.canUserFix === undefined ? undefined : error.canUserFix ? "Yes: the cause is in your input or settings; change it and run again." : "No: the cause is not in your input; run again, and ask the server's administrator if it persists."],
    ["Code", [error.errorCode, error.descriptionKey && error.descriptionKey !== error.errorCode ? error.descriptionKey : ""].filter(Boolean).join(" · ")],
    ["Phase", error.phase],
  ];
  return h(
    "div",
    { class: "task-error", role: "alert", "data-testid": "task-error" },
    h(
      "dl",
      {},
      rows.filter(([, value]) => value).flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]),
    ),
    error.kbArticleLink ? h("a", { href: error.kbArticleLink, target: "_blank", rel: "noopener" }, "Read more") : null,
  );
}

/** A run's own error (the contract's run-level `error`: errorKey and description). */
export function runErrorView(run: Run): HTMLElement | null {
  if (!run.error) return null;
  return h(
    "p",
    { class: "task-error", role: "alert", "data-testid": "run-error" },
    h("strong", {}, run.error.errorKey ?? "Error"),
    ": ",
    run.error.description ?? JSON.stringify(run.error),
  );
}

/** "2 min 5 s" from the run's start to its end (or to now while it runs). */
export function duration(start?: string | null, end?: string | null): string {
  if (!start) return "";
  const seconds = Math.max(0, ((end ? Date.parse(end) : Date.now()) - Date.parse(start)) / 1000);
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** The times of a run, job or task as "start → end (duration)". */
export function times(item: { startDateTime?: string | null; endDateTime?: string | null }): string {
  if (!item.startDateTime) return "—";
  const end = item.endDateTime ? formatDate(item.endDateTime) : "…";
  return `${formatDate(item.startDateTime)} → ${end} (${duration(item.startDateTime, item.endDateTime)})`;
}

/**
 * Loads `path` every second, handing each answer to `show`, until `done` says so or the user leaves the
 * page. A failed load is shown in `errors` and retried.
 */
export function poll<T>(
  path: string,
  show: (body: T) => void,
  done: (body: T) => boolean,
  errors: HTMLElement,
  intervalMs = 1000,
): void {
  let stopped = false;
  let timer: number | undefined;
  // The page that started polling; a poller outliving it (left before it registered) stops by itself.
  const hash = location.hash;
  onLeave(() => {
    stopped = true;
    window.clearTimeout(timer);
  });
  const tick = async () => {
    if (location.hash !== hash) stopped = true;
    if (stopped) return;
    let finished = false;
    errors.replaceChildren();
    try {
      const body = await json<T>(path);
      if (stopped) return;
      show(body);
      finished = done(body);
    } catch (error) {
      errors.append(errorBox(error));
      // Gone or forbidden stays so; anything else (a restart, a 429) may pass.
      if (error instanceof ApiError && [401, 403, 404].includes(error.status)) finished = true;
    }
    if (!finished && !stopped) timer = window.setTimeout(tick, intervalMs);
  };
  void tick();
}

/**
 * Starts a run with POST `path` and returns its id: from the Location of a 202, or, when the iModel already
 * had an active run (303, which the browser follows), from the run it answered with.
 */
export async function startRun(path: string, body?: unknown): Promise<{ runId: string; existing: boolean }> {
  let response: Response;
  try {
    response = await request(path, { method: "POST", body });
  } catch (error) {
    // A 303 to the server's address under another host name than this page's is a redirect the browser
    // may not follow (another site): the active run is then the connection's run that has not completed.
    if (!(error instanceof TypeError)) throw error;
    const runs = await page<Run>(`${path.replace(/\/run$/, "")}${path.endsWith("/runs") ? "" : "/runs"}`, "runs");
    const active = runs.items.find((run) => !isCompleted(run));
    if (!active) throw error;
    return { runId: active.id, existing: true };
  }
  const location = response.headers.get("Location");
  if (response.status === 202 && location) return { runId: location.split("/").pop()!, existing: false };
  const answered = await response.json().catch(() => null);
  const runId = answered?.run?.id ?? (response.url.split("/").pop() || "");
  if (!runId) throw new Error(`The server answered ${response.status} without the run's address.`);
  return { runId, existing: true };
}

/**
 * Downloads a storage file: GET /storage/files/{id}/download (with the token) redirects to a signed URL of
 * its content, which the browser then fetches itself as an attachment (no token in the URL, no copy in
 * memory).
 */
export async function downloadStorageFile(fileId: string): Promise<void> {
  const response = await request(`/storage/files/${encodeURIComponent(fileId)}/download`);
  const signed = response.url;
  await response.body?.cancel();
  const anchor = h("a", { href: signed, download: "" });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
}

/**
 * Runs act for the user in the background, which needs their consent once (the authorization URL of the
 * API's authorizationinformation operation). Shows a notice with the link when it is missing.
 */
export function consentNotice(path: "/export/authorizationinformation" | "/synchronization/imodels/connections/authorizationinformation"): HTMLElement {
  const element = h("div", { "data-testid": "consent-notice" });
  const redirect = location.href;
  void json(`${path}?redirectUrl=${encodeURIComponent(redirect)}`)
    .then((body) => {
      const information = body?.authorizationInformation;
      if (information && !information.isUserAuthorized) {
        element.append(
          h(
            "p",
            { class: "notice" },
            "Runs act for you in the background and need your consent once. ",
            h("a", { href: information._links?.authorizationUrl?.href, "data-testid": "give-consent" }, "Give consent"),
          ),
        );
      }
    })
    .catch(() => undefined);
  return element;
}

/** A definition list of name → value pairs (values that are empty are left out). */
export function facts(pairs: [string, Node | string | number | null | undefined][]): HTMLElement {
  return h(
    "dl",
    { class: "facts" },
    pairs
      .filter(([, value]) => value !== null && value !== undefined && value !== "")
      .flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value as Node | string | number)]),
  );
}

/** What a run without a start time is doing. */
export function waiting(run: { state: string }): string {
  return ["NotStarted", "Queued", "WaitingToExecute", "Idle"].includes(run.state) ? "waiting for a worker" : "—";
}

/** The button that cancels a run (twinbridge's extension): `show` draws the run its answer carries, and
 * `note` says what happens next. */
export function cancelButton(runPath: string, status: HTMLElement, show: (run: Run) => void, note: string): HTMLButtonElement {
  const cancel = h("button", { class: "secondary", "data-testid": "cancel-run" }, "Cancel run");
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    await attempt(status, async () => {
      show((await json(`${runPath}/cancel`, { method: "POST" })).run);
      status.append(h("p", { class: "muted" }, note));
    });
  });
  return cancel;
}

/** A run's facts (id, state, result, `extra`, times) and its run error, as both APIs' run pages show them. */
export function runSummary(run: Run, extra: [string, Node | string | number | null | undefined][] = []): Node[] {
  const summary = facts([
    ["Run", h("code", {}, run.id)],
    ["State", stateBadge(run.state, run.result, "run-state")],
    ["Result", h("span", { "data-testid": "run-result" }, run.result)],
    ...extra,
    ["Times", run.startDateTime ? times(run) : waiting(run)],
  ]);
  const error = runErrorView(run);
  return error ? [summary, error] : [summary];
}
