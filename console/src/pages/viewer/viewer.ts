/**
 * The IFC viewer both viewer pages share: a canvas (three.js), a toolbar (fit, the element count), progress
 * while the file downloads and parses, and the selected element's properties.
 *
 * Parsing runs in a worker (ifcWorker.ts), so the page answers while a large model loads. The viewer
 * publishes window.__twinbridgeViewer (timings, frame statistics, an orbit measurement) for
 * bench/bench_console_viewer.py and the browser tests.
 */
import { request } from "../../api";
import { errorBox, h, progress } from "../../ui";
import type { ElementProperties, ModelGeometry, WorkerAnswer, WorkerRequest } from "./protocol";
import { ModelScene } from "./scene";

export interface ViewerStats {
  state: "loading" | "ready" | "error";
  elementCount: number | null;
  /** performance.now() marks: the download started, the bytes arrived, the worker answered the geometry. */
  downloadStartedAt: number | null;
  downloadedAt: number | null;
  parsedAt: number | null;
  firstModelFrameAt: number | null;
  frames: number;
  orbit(frames: number): Promise<{ frames: number; seconds: number; fps: number }>;
}

declare global {
  interface Window {
    __twinbridgeViewer?: ViewerStats;
  }
}

export class IfcViewer {
  readonly element: HTMLElement;
  private scene: ModelScene;
  private worker: Worker;
  private status = h("div", { class: "viewer-status" });
  private bar = progress();
  private count = h("strong", { "data-testid": "element-count" }, "…");
  private panel = h("aside", { class: "viewer-properties", "data-testid": "element-properties" });
  private geometry: ModelGeometry | null = null;
  private requests = new Map<number, (answer: WorkerAnswer) => void>();
  private nextRequest = 1;
  private loaded: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private stats: ViewerStats;
  private selection = 0; // the newest selection wins when answers overtake each other

  /** `labels` renames attributes in the properties panel (the iModel page calls Tag the element id). */
  constructor(private labels: Record<string, string> = {}) {
    const holder = h("div", { class: "viewer-canvas" });
    const fit = h("button", { class: "secondary", "data-testid": "viewer-fit", title: "Show the whole model" }, "Fit");
    fit.addEventListener("click", () => this.scene.fit());
    this.panel.append(h("p", { class: "muted" }, "Click an element to see its properties."));
    this.element = h(
      "div",
      { class: "viewer" },
      h("div", { class: "viewer-toolbar" }, fit, h("span", {}, "Elements: ", this.count), this.bar.element),
      this.status,
      h("div", { class: "viewer-body" }, holder, this.panel),
      h("p", { class: "muted" }, "Drag to orbit, right-drag (or shift-drag) to pan, wheel to zoom, click to select."),
    );
    this.scene = new ModelScene(holder);
    this.worker = new Worker(new URL("./ifcWorker.ts", import.meta.url), { type: "module" });
    this.worker.onmessage = (event: MessageEvent<WorkerAnswer>) => this.answer(event.data);
    this.worker.onerror = (event) => this.fail(new Error(event.message || "The IFC worker failed to start."));
    const scene = this.scene;
    this.stats = {
      state: "loading",
      elementCount: null,
      downloadStartedAt: null,
      downloadedAt: null,
      parsedAt: null,
      get firstModelFrameAt() {
        return scene.stats.firstModelFrameAt;
      },
      get frames() {
        return scene.stats.frames;
      },
      orbit: (frames: number) => scene.orbit(frames),
    };
    window.__twinbridgeViewer = this.stats;
    this.listenForClicks();
  }

  /** Shows what the page is doing before the viewer has bytes (an export run's state, say). */
  setProgress(text: string, fraction?: number): void {
    this.bar.set(text, fraction);
  }

  fail(error: unknown): void {
    this.stats.state = "error";
    this.bar.element.hidden = true;
    if (this.stats.elementCount === null) this.count.textContent = "none";
    this.status.replaceChildren(errorBox(error));
    this.loaded?.reject(error instanceof Error ? error : new Error(String(error)));
    this.loaded = null;
  }

  /** Downloads an IFC file (a path of this server, with the token, or any URL) and shows it. */
  async loadUrl(path: string): Promise<void> {
    try {
      this.stats.downloadStartedAt = performance.now();
      this.setProgress("Downloading");
      const sameServer = !path.startsWith("http") || new URL(path).origin === location.origin;
      const response = sameServer ? await request(path) : await fetch(path);
      if (!response.ok) throw new Error(`The download answered ${response.status} ${response.statusText}.`);
      const bytes = await this.read(response);
      this.stats.downloadedAt = performance.now();
      await this.loadBytes(bytes);
    } catch (error) {
      this.fail(error);
    }
  }

  private async read(response: Response): Promise<ArrayBuffer> {
    const total = Number(response.headers.get("Content-Length") ?? 0);
    if (!response.body) return response.arrayBuffer();
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.length;
      const megabytes = (received / 1e6).toFixed(1);
      if (total) this.setProgress(`Downloading ${megabytes} of ${(total / 1e6).toFixed(1)} MB`, received / total);
      else this.setProgress(`Downloading ${megabytes} MB`);
    }
    const bytes = new Uint8Array(received);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes.buffer;
  }

  loadBytes(bytes: ArrayBuffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.loaded = { resolve, reject };
      this.post({ type: "load", bytes }, [bytes]);
    });
  }

  private post(message: WorkerRequest, transfer: Transferable[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  private answer(answer: WorkerAnswer): void {
    if ((answer.type === "properties" || answer.type === "error") && answer.requestId !== undefined) {
      this.requests.get(answer.requestId)?.(answer);
      this.requests.delete(answer.requestId);
      return;
    }
    if (answer.type === "progress") {
      const fraction = answer.total > 1 ? answer.done / answer.total : undefined;
      const counted = answer.total > 1 ? ` ${answer.done.toLocaleString()} of ${answer.total.toLocaleString()}` : "";
      this.setProgress(`${answer.phase}${counted}`, fraction);
    } else if (answer.type === "loaded") {
      this.stats.parsedAt = performance.now();
      this.geometry = answer.geometry;
      this.scene.setModel(answer.geometry);
      const count = answer.geometry.expressIds.length;
      this.stats.elementCount = count;
      this.stats.state = "ready";
      this.count.textContent = count.toLocaleString("en-US");
      this.bar.element.hidden = true;
      if (!count) this.status.replaceChildren(h("p", { class: "muted" }, "This file has no element with geometry."));
      this.loaded?.resolve();
      this.loaded = null;
    } else if (answer.type === "error") {
      this.fail(new Error(answer.message));
    }
  }

  private listenForClicks(): void {
    let down: { x: number; y: number } | null = null;
    this.scene.canvas.addEventListener("pointerdown", (event) => (down = { x: event.clientX, y: event.clientY }));
    this.scene.canvas.addEventListener("pointerup", (event) => {
      if (!down || event.button !== 0) return;
      const moved = Math.hypot(event.clientX - down.x, event.clientY - down.y);
      down = null;
      if (moved < 4) void this.selectAt(event.clientX, event.clientY);
    });
  }

  private async selectAt(clientX: number, clientY: number): Promise<void> {
    if (!this.geometry) return;
    const index = this.scene.pick(clientX, clientY);
    const expressId = index >= 0 ? this.geometry.expressIds[index] : undefined;
    this.scene.select(expressId === undefined ? -1 : index);
    const selection = ++this.selection;
    if (expressId === undefined) {
      this.panel.replaceChildren(h("p", { class: "muted" }, "Nothing selected. Click an element to see its properties."));
      return;
    }
    this.panel.replaceChildren(h("p", { class: "muted" }, "Reading properties…"));
    const requestId = this.nextRequest++;
    const answer = await new Promise<WorkerAnswer>((resolve) => {
      this.requests.set(requestId, resolve);
      this.post({ type: "properties", requestId, expressId });
    });
    if (selection !== this.selection) return;
    if (answer.type === "properties") this.panel.replaceChildren(...propertiesView(answer.properties, this.labels));
    else if (answer.type === "error") this.panel.replaceChildren(errorBox(new Error(answer.message)));
  }

  dispose(): void {
    this.worker.terminate();
    this.scene.dispose();
    if (window.__twinbridgeViewer === this.stats) delete window.__twinbridgeViewer;
  }
}

function row(name: string, value: string, testid?: string): HTMLElement {
  return h("tr", {}, h("th", {}, name), h("td", testid ? { "data-testid": testid } : {}, value));
}

function propertiesView(properties: ElementProperties, labels: Record<string, string>): HTMLElement[] {
  const identity = h(
    "table",
    { class: "properties" },
    h(
      "tbody",
      {},
      row("Class", properties.ifcClass, "element-class"),
      row("GlobalId", properties.globalId, "element-globalid"),
      row("Name", properties.name, "element-name"),
      row("IFC line", `#${properties.expressId}`),
      properties.attributes.map((attribute) => row(labels[attribute.name] ?? attribute.name, attribute.value)),
    ),
  );
  const groups = properties.groups.map((group) =>
    h(
      "details",
      { open: true, "data-testid": "property-group" },
      h("summary", {}, group.name || "(unnamed)", " ", h("span", { class: "muted" }, group.kind)),
      h("table", { class: "properties" }, h("tbody", {}, group.values.map((value) => row(value.name, value.value)))),
    ),
  );
  return [
    h("h3", {}, properties.name || properties.ifcClass),
    identity,
    ...(groups.length ? groups : [h("p", { class: "muted" }, "No property or quantity sets.")]),
  ];
}
