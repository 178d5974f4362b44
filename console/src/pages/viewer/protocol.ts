/** Messages between the viewer page and its IFC worker (ifcWorker.ts), which owns web-ifc and the model. */

/** Triangles of one colour, merged over many elements: world positions, normals, and per vertex the
 * index of its element (in `ModelGeometry.expressIds`) so that picking and highlighting need no per-element
 * objects. */
export interface Batch {
  color: [number, number, number, number];
  /** Every triangle has one normal: no normals are sent, the shader takes the face's. */
  flat: boolean;
  positions: Float32Array;
  normals: Float32Array | null;
  elementIndices: Float32Array;
  indices: Uint32Array;
}

export interface ModelGeometry {
  batches: Batch[];
  /** expressID of element i (the index that `elementIndices` hold). */
  expressIds: Uint32Array;
  schema: string;
}

export interface PropertyValue {
  name: string;
  value: string;
}

export interface PropertyGroup {
  name: string;
  kind: "property set" | "quantity set";
  values: PropertyValue[];
}

export interface ElementProperties {
  expressId: number;
  ifcClass: string;
  globalId: string;
  name: string;
  attributes: PropertyValue[];
  groups: PropertyGroup[];
}

export type WorkerRequest =
  | { type: "load"; bytes: ArrayBuffer }
  | { type: "properties"; requestId: number; expressId: number };

export type WorkerAnswer =
  | { type: "progress"; phase: string; done: number; total: number }
  | { type: "loaded"; geometry: ModelGeometry }
  | { type: "properties"; requestId: number; properties: ElementProperties }
  | { type: "error"; requestId?: number; message: string };
