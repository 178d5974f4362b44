/**
 * The IFC worker: parses the file with web-ifc off the page's thread, so that the page keeps answering and
 * shows progress while a large model is read, merges the triangles per colour (few draw calls however many
 * elements), and answers property questions about the model it keeps open.
 */
import { IfcAPI, LogLevel } from "web-ifc";
// The single-threaded build: the multi-threaded one needs a cross-origin-isolated page.
import wasmUrl from "web-ifc/web-ifc.wasm?url";
import type { Batch, ElementProperties, PropertyGroup, PropertyValue, WorkerAnswer, WorkerRequest } from "./protocol";

const scope = self as unknown as {
  postMessage(message: WorkerAnswer, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
};

const api = new IfcAPI();
let ready: Promise<void> | null = null;
let modelId: number | null = null;

function init(): Promise<void> {
  // The wasm is emitted by vite into /console/assets/ (hashed name); web-ifc asks for it by its own name.
  ready ??= api.Init((path) => (path.endsWith(".wasm") ? new URL(wasmUrl, self.location.href).href : path), true);
  return ready;
}

/** A Float32Array or Uint32Array that grows by doubling. */
class Growable<T extends Float32Array | Uint32Array> {
  length = 0;
  constructor(
    private make: (size: number) => T,
    public data: T = make(1024),
  ) {}
  reserve(extra: number): void {
    if (this.length + extra <= this.data.length) return;
    let size = this.data.length * 2;
    while (size < this.length + extra) size *= 2;
    const bigger = this.make(size);
    bigger.set(this.data.subarray(0, this.length));
    this.data = bigger;
  }
  trimmed(): T {
    return this.data.slice(0, this.length) as T;
  }
}

class BatchBuilder {
  positions = new Growable((n) => new Float32Array(n));
  normals = new Growable((n) => new Float32Array(n));
  elementIndices = new Growable((n) => new Float32Array(n));
  indices = new Growable((n) => new Uint32Array(n));
  /** `flat`: shapes whose triangles each have one normal; their vertices are positions only, shared by the
   * faces that meet there, and the normal is the face's (three.js flatShading): a third of the vertices of
   * a box, the same picture. */
  constructor(
    readonly color: [number, number, number, number],
    readonly flat: boolean,
  ) {}

  /** Appends one shape (x y z [nx ny nz] per vertex) placed by a column-major 4x4 matrix. */
  add(shape: Shape, matrix: number[], elementIndex: number): void {
    const { vertices, triangles } = shape;
    const stride = this.flat ? 3 : 6;
    const count = vertices.length / stride;
    const first = this.positions.length / 3;
    this.positions.reserve(count * 3);
    if (!this.flat) this.normals.reserve(count * 3);
    this.elementIndices.reserve(count);
    this.indices.reserve(triangles.length);
    const p = this.positions.data;
    const n = this.normals.data;
    const e = this.elementIndices.data;
    const m = matrix;
    let pi = this.positions.length;
    let ei = this.elementIndices.length;
    for (let v = 0; v < vertices.length; v += stride) {
      const x = vertices[v], y = vertices[v + 1], z = vertices[v + 2];
      p[pi] = m[0] * x + m[4] * y + m[8] * z + m[12];
      p[pi + 1] = m[1] * x + m[5] * y + m[9] * z + m[13];
      p[pi + 2] = m[2] * x + m[6] * y + m[10] * z + m[14];
      e[ei++] = elementIndex;
      if (this.flat) {
        pi += 3;
        continue;
      }
      const nx = vertices[v + 3], ny = vertices[v + 4], nz = vertices[v + 5];
      const tx = m[0] * nx + m[4] * ny + m[8] * nz;
      const ty = m[1] * nx + m[5] * ny + m[9] * nz;
      const tz = m[2] * nx + m[6] * ny + m[10] * nz;
      const length = Math.hypot(tx, ty, tz) || 1;
      n[pi] = tx / length;
      n[pi + 1] = ty / length;
      n[pi + 2] = tz / length;
      pi += 3;
    }
    this.positions.length = pi;
    if (!this.flat) this.normals.length = pi;
    this.elementIndices.length = ei;
    const target = this.indices.data;
    let ii = this.indices.length;
    for (let t = 0; t < triangles.length; t++) target[ii++] = triangles[t] + first;
    this.indices.length = ii;
  }

  build(): Batch {
    return {
      color: this.color,
      flat: this.flat,
      positions: this.positions.trimmed(),
      normals: this.flat ? null : this.normals.trimmed(),
      elementIndices: this.elementIndices.trimmed(),
      indices: this.indices.trimmed(),
    };
  }
}

interface Shape {
  vertices: Float32Array;
  triangles: Uint32Array;
  flat: boolean;
}

/** A shape from web-ifc's x y z nx ny nz vertices: when every triangle has a single normal, positions only,
 * each position once. */
function shapeOf(vertices: Float32Array, triangles: Uint32Array): Shape {
  const same = (a: number, b: number) =>
    Math.abs(vertices[a * 6 + 3] - vertices[b * 6 + 3]) < 1e-4 &&
    Math.abs(vertices[a * 6 + 4] - vertices[b * 6 + 4]) < 1e-4 &&
    Math.abs(vertices[a * 6 + 5] - vertices[b * 6 + 5]) < 1e-4;
  for (let t = 0; t < triangles.length; t += 3) {
    if (!same(triangles[t], triangles[t + 1]) || !same(triangles[t], triangles[t + 2])) {
      return { vertices: vertices.slice(), triangles: triangles.slice(), flat: false };
    }
  }
  const seen = new Map<string, number>();
  const positions: number[] = [];
  const remapped = new Uint32Array(triangles.length);
  for (let t = 0; t < triangles.length; t++) {
    const v = triangles[t] * 6;
    const key = `${vertices[v]},${vertices[v + 1]},${vertices[v + 2]}`;
    let index = seen.get(key);
    if (index === undefined) {
      index = positions.length / 3;
      seen.set(key, index);
      positions.push(vertices[v], vertices[v + 1], vertices[v + 2]);
    }
    remapped[t] = index;
  }
  return { vertices: Float32Array.from(positions), triangles: remapped, flat: true };
}

// Shared shapes (types, repeated parts) are read from the wasm heap once; bounded so that a model of
// unique shapes does not keep a second copy of everything.
const CACHE_LIMIT_FLOATS = 16_000_000;

async function load(bytes: ArrayBuffer): Promise<void> {
  scope.postMessage({ type: "progress", phase: "Starting web-ifc", done: 0, total: 1 });
  await init();
  api.SetLogLevel(LogLevel.LOG_LEVEL_OFF);
  if (modelId !== null) api.CloseModel(modelId);
  scope.postMessage({ type: "progress", phase: "Parsing the IFC file", done: 0, total: 1 });
  modelId = api.OpenModel(new Uint8Array(bytes), { COORDINATE_TO_ORIGIN: true });
  if (modelId < 0) throw new Error("web-ifc could not open this file: is it an IFC file (STEP, ISO-10303-21)?");
  const model = modelId;
  const batches = new Map<string, BatchBuilder>();
  const expressIds: number[] = [];
  const cache = new Map<number, Shape>();
  let cachedFloats = 0;
  let lastReport = 0;
  api.StreamAllMeshes(model, (mesh, index, total) => {
    const placed = mesh.geometries;
    const elementIndex = expressIds.length;
    let drawn = false;
    for (let g = 0; g < placed.size(); g++) {
      const item = placed.get(g);
      let shape = cache.get(item.geometryExpressID);
      if (!shape) {
        const geometry = api.GetGeometry(model, item.geometryExpressID);
        const vertices = api.GetVertexArray(geometry.GetVertexData(), geometry.GetVertexDataSize());
        const triangles = api.GetIndexArray(geometry.GetIndexData(), geometry.GetIndexDataSize());
        shape = shapeOf(vertices, triangles);
        geometry.delete();
        if (cachedFloats < CACHE_LIMIT_FLOATS) {
          cache.set(item.geometryExpressID, shape);
          cachedFloats += shape.vertices.length + shape.triangles.length;
        }
      }
      if (!shape.triangles.length) continue;
      const { x, y, z, w } = item.color;
      const color: [number, number, number, number] = [x, y, z, w];
      const key = `${color.map((c) => Math.round(c * 255)).join(",")}${shape.flat ? " flat" : ""}`;
      let batch = batches.get(key);
      if (!batch) batches.set(key, (batch = new BatchBuilder(color, shape.flat)));
      batch.add(shape, item.flatTransformation, elementIndex);
      drawn = true;
    }
    if (drawn) expressIds.push(mesh.expressID);
    const now = performance.now();
    if (now - lastReport > 100) {
      lastReport = now;
      scope.postMessage({ type: "progress", phase: "Reading geometry", done: index + 1, total });
    }
  });
  const built = [...batches.values()].map((batch) => batch.build());
  const ids = Uint32Array.from(expressIds);
  const transfer: Transferable[] = [ids.buffer];
  for (const batch of built) {
    transfer.push(batch.positions.buffer, batch.elementIndices.buffer, batch.indices.buffer);
    if (batch.normals) transfer.push(batch.normals.buffer);
  }
  scope.postMessage(
    { type: "loaded", geometry: { batches: built, expressIds: ids, schema: api.GetModelSchema(model) ?? "" } },
    transfer,
  );
}

/** A value of an IFC attribute or property as text: {value}, measures, lists, enumerations. */
function text(value: any): string {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(text).join(", ");
  if (typeof value === "object") {
    if ("_representationValue" in value) return text(value._representationValue);
    if ("value" in value) return text(value.value);
    if ("expressID" in value) return `#${value.expressID}`;
    return "";
  }
  // Measures are doubles: 3999.9999999999995 is 4000 to anyone reading it.
  if (typeof value === "number") return String(Number(value.toPrecision(12)));
  return String(value);
}

const QUANTITY_FIELDS = ["LengthValue", "AreaValue", "VolumeValue", "CountValue", "WeightValue", "TimeValue"];

function groupOf(definition: any): PropertyGroup {
  const values: PropertyValue[] = [];
  if (Array.isArray(definition.Quantities)) {
    for (const quantity of definition.Quantities) {
      const field = QUANTITY_FIELDS.find((name) => quantity?.[name] !== undefined && quantity?.[name] !== null);
      values.push({ name: text(quantity?.Name), value: field ? text(quantity[field]) : "" });
    }
    return { name: text(definition.Name), kind: "quantity set", values };
  }
  for (const property of definition.HasProperties ?? []) {
    const value =
      property?.NominalValue ?? property?.EnumerationValues ?? property?.ListValues ?? property?.UpperBoundValue;
    values.push({ name: text(property?.Name), value: text(value) });
  }
  return { name: text(definition.Name), kind: "property set", values };
}

async function propertiesOf(expressId: number): Promise<ElementProperties> {
  if (modelId === null) throw new Error("No model is open.");
  const line = api.GetLine(modelId, expressId, false);
  const attributes: PropertyValue[] = [];
  for (const name of ["Description", "ObjectType", "Tag", "PredefinedType"]) {
    const value = text(line?.[name]);
    if (value) attributes.push({ name, value });
  }
  // web-ifc 0.0.77 answers no sets at all when asked to include the type's: those are read apart.
  const definitions = await api.properties.getPropertySets(modelId, expressId, true, false);
  try {
    for (const type of await api.properties.getTypeProperties(modelId, expressId, true)) {
      for (const definition of type?.HasPropertySets ?? []) {
        if (definition && typeof definition === "object") definitions.push({ ...definition, Name: { value: `${text(definition.Name)} (type ${text(type.Name)})` } });
      }
    }
  } catch {
    // an element without a type, or a type web-ifc cannot read: its own sets are shown
  }
  return {
    expressId,
    ifcClass: api.GetNameFromTypeCode(api.GetLineType(modelId, expressId)),
    globalId: text(line?.GlobalId),
    name: text(line?.Name),
    attributes,
    groups: definitions.map(groupOf),
  };
}

scope.onmessage = (event) => {
  const request = event.data;
  if (request.type === "load") {
    load(request.bytes).catch((error) => scope.postMessage({ type: "error", message: String(error?.message ?? error) }));
  } else if (request.type === "properties") {
    propertiesOf(request.expressId).then(
      (properties) => scope.postMessage({ type: "properties", requestId: request.requestId, properties }),
      (error) => scope.postMessage({ type: "error", requestId: request.requestId, message: String(error?.message ?? error) }),
    );
  }
};
