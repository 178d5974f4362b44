/** Every page of the console, by URL pattern (first match wins). */
import type { Route } from "./main";
// W1: iTwins and iModels
import { renderIModel } from "./pages/platform/imodels";
import { renderITwin, renderITwins } from "./pages/platform/itwins";
// end W1
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
  // W1: iTwins and iModels (match length differs from the pages below, so order does not matter)
  { pattern: "/itwins", title: "iTwins", render: renderITwins },
  { pattern: "/itwins/:itwinId", title: "iTwin", render: renderITwin },
  { pattern: "/imodels/:imodelId", title: "iModel", render: renderIModel },
  // end W1
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
