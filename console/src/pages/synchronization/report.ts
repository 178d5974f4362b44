/**
 * A synchronization task's diagnostic report (GET /synchronization/reports → each report's `sasUri`): per
 * file what was inserted, updated, deleted and left unchanged, every warning, the products left out, the
 * timings, and the version the run wrote.
 */
import { json, url } from "../../api";
import { h } from "../../ui";
import { facts, taskErrorView } from "../export/runs";

export interface ReportLink {
  id: string;
  taskId: string;
  sasUri: string;
  createdTimeStamp?: string;
  _links?: { html?: { href: string } };
}

interface Report {
  taskId: string;
  file?: {
    name?: string;
    storageFileId?: string;
    sourceFileId?: string;
    connectorType?: string;
    schema?: string | null;
    documentAttribute?: { className?: string; properties?: Record<string, unknown> } | null;
    documentAttributeSchemaUrl?: string | null;
  };
  result?: string;
  message?: string;
  error?: Record<string, any> | null;
  version?: { written?: boolean; changesetIndex?: number | null; message?: string };
  schemaUpgrade?: { before?: string; after?: string } | null;
  elements?: Record<string, number> | null;
  warnings?: { code?: string; message?: string; globalId?: string; elementId?: string }[];
  skipped?: { ifcClass?: string; globalId?: string; reason?: string }[];
  timings?: Record<string, number>;
}

const COUNTS = ["inserted", "updated", "deleted", "unchanged"] as const;
// Long lists show their first rows; the HTML rendering has them all.
const ROWS_SHOWN = 200;

function table(columns: [string, string][], rows: Record<string, unknown>[], testId: string): HTMLElement {
  if (!rows.length) return h("p", { class: "muted", "data-testid": testId }, "None.");
  const shown = rows.slice(0, ROWS_SHOWN);
  return h(
    "div",
    { "data-testid": testId },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, columns.map(([, title]) => h("th", {}, title)))),
      h("tbody", {}, shown.map((row) => h("tr", {}, columns.map(([name]) => h("td", {}, row[name] === undefined || row[name] === null ? "" : String(row[name])))))),
    ),
    rows.length > shown.length ? h("p", { class: "muted" }, `… and ${rows.length - shown.length} more (see the HTML report).`) : null,
  );
}

// Lists longer than this start folded, so that every file's report stays in sight.
const OPEN_UP_TO = 20;

function folded(title: string, rows: number, content: HTMLElement): HTMLElement {
  return h("details", { open: rows <= OPEN_UP_TO, class: "report-part" }, h("summary", {}, title), content);
}

function reportView(report: Report, link: ReportLink): HTMLElement {
  const elements = report.elements ?? {};
  const warnings = report.warnings ?? [];
  const skipped = report.skipped ?? [];
  const document = report.file?.documentAttribute;
  const timings = Object.entries(report.timings ?? {});
  return h(
    "div",
    { class: "report", "data-testid": "report" },
    h(
      "h3",
      {},
      report.file?.name ?? report.taskId,
      " ",
      link._links?.html ? h("a", { href: url(link._links.html.href), target: "_blank", rel: "noopener", "data-testid": "report-html" }, "(HTML report)") : null,
    ),
    h(
      "div",
      { class: "counts" },
      COUNTS.map((name) => h("div", { class: "count" }, h("strong", { "data-testid": `report-${name}` }, String(elements[name] ?? 0)), h("span", {}, name))),
      h("div", { class: "count" }, h("strong", { "data-testid": "report-warnings-count" }, String(warnings.length)), h("span", {}, "warnings")),
      h("div", { class: "count" }, h("strong", { "data-testid": "report-skipped-count" }, String(skipped.length)), h("span", {}, "skipped")),
    ),
    facts([
      ["Result", report.result],
      ["Summary", report.message],
      ["Connector", report.file?.connectorType],
      ["IFC schema", report.file?.schema ?? undefined],
      ["Products in the file", elements.products],
      ["New version", report.version?.message],
      ["Schema upgrade", report.schemaUpgrade ? `${report.schemaUpgrade.before} → ${report.schemaUpgrade.after}` : "none needed"],
      ["Document class", document?.className],
      ["Document attribute schema", report.file?.documentAttributeSchemaUrl ?? undefined],
    ]),
    report.error ? taskErrorView(report.error) : null,
    document?.properties ? [h("h4", {}, "Document properties"), table(Object.keys(document.properties).map((name) => [name, name]), [document.properties], "report-document")] : null,
    folded(`Warnings (${warnings.length})`, warnings.length, table([["code", "Code"], ["message", "Message"], ["globalId", "GlobalId"], ["elementId", "Element"]], warnings, "report-warnings")),
    folded(`Skipped (${skipped.length})`, skipped.length, table([["ifcClass", "IFC class"], ["globalId", "GlobalId"], ["reason", "Reason"]], skipped, "report-skipped")),
    folded("Timings", timings.length, table([["phase", "Phase"], ["seconds", "Seconds"]], timings.map(([phase, seconds]) => ({ phase, seconds })), "report-timings")),
  );
}

/** The reports of a run, one per task: fetched from their signed URLs (no token needed). */
export async function reportsView(imodelId: string, runId: string): Promise<HTMLElement> {
  const body = await json(`/synchronization/reports?imodelId=${encodeURIComponent(imodelId)}&runId=${encodeURIComponent(runId)}`);
  const links: ReportLink[] = body.reports ?? [];
  if (!links.length) return h("p", { class: "muted", "data-testid": "no-reports" }, "This run has no diagnostic reports.");
  const views = await Promise.all(
    links.map(async (link) => reportView(await json<Report>(link.sasUri, { anonymous: true }), link)),
  );
  return h("div", { "data-testid": "reports" }, views);
}
