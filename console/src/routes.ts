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
// W3: the 3D viewer, loaded on first use (three.js and web-ifc are most of the console's weight)
const renderIfcViewer: Route["render"] = async (...page) => (await import("./pages/viewer/ifcPage")).renderIfcViewer(...page);
const renderIModelViewer: Route["render"] = async (...page) =>
  (await import("./pages/viewer/imodelPage")).renderIModelViewer(...page);
// end W3

export const routes: Route[] = [
  // W2: Export and Synchronization pages
  { pattern: "/imodels/:imodelId/export", title: "Export", render: renderImodelExport },
  { pattern: "/export/connections/:connectionId", title: "Export connection", render: renderExportConnection },
  { pattern: "/export/runs/:connectionId/:runId", title: "Export run", render: renderExportRun },
  { pattern: "/imodels/:imodelId/synchronization", title: "Synchronization", render: renderImodelSynchronization },
  { pattern: "/synchronization/storage/:connectionId", title: "Storage connection", render: renderStorageConnection },
  { pattern: "/synchronization/runs/:connectionId/:runId", title: "Synchronization run", render: renderSynchronizationRun },
  // end W2
  // W3: the 3D viewer
  { pattern: "/view/ifc", title: "IFC viewer", render: renderIfcViewer },
  { pattern: "/view/imodel/:imodelId", title: "iModel viewer", render: renderIModelViewer },
  // end W3
];
