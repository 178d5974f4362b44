/** Every page of the console, by URL pattern (first match wins). */
import type { Route } from "./main";
// W2: Export and Synchronization pages
import { renderExportConnection } from "./pages/export/connection";
import { renderImodelExport } from "./pages/export/imodel-export";
import { renderExportRun } from "./pages/export/run";
import { renderImodelSynchronization } from "./pages/synchronization/imodel-synchronization";
import { renderSynchronizationRun } from "./pages/synchronization/run";
import { renderStorageConnection } from "./pages/synchronization/storage-connection";
// end W2

export const routes: Route[] = [
  // W2: Export and Synchronization pages
  { pattern: "/imodels/:imodelId/export", title: "Export", render: renderImodelExport },
  { pattern: "/export/connections/:connectionId", title: "Export connection", render: renderExportConnection },
  { pattern: "/export/runs/:connectionId/:runId", title: "Export run", render: renderExportRun },
  { pattern: "/imodels/:imodelId/synchronization", title: "Synchronization", render: renderImodelSynchronization },
  { pattern: "/synchronization/storage/:connectionId", title: "Storage connection", render: renderStorageConnection },
  { pattern: "/synchronization/runs/:connectionId/:runId", title: "Synchronization run", render: renderSynchronizationRun },
  // end W2
];
