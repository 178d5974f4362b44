#!/usr/bin/env node
/*
 * twinbridge iModel engine: a long-lived worker around @itwin/core-backend (the Bentley native
 * library @bentley/imodeljs-native). Plain CommonJS, no build step.
 *
 * Protocol (see README.md for the full description):
 *   stdin : one JSON command per line: {"id": <int>, "op": "<name>", ...args}
 *   stdout: frames only. frame = u32 big-endian payload length + 1 byte kind + payload
 *           kind 'J' (0x4A): UTF-8 JSON message
 *           kind 'B' (0x42): binary mesh batch (layout below, little-endian)
 *   stderr: logs only (also everything the libraries print via console.*).
 *
 * Replies: {"id": n, "ok": true, ...} or {"id": n, "ok": false, "error": {"code", "message", ...}}.
 * Streaming ops (query, exportGraphics) send zero or more data frames (JSON {"id", "rows": [...]} or
 * binary batches carrying the request id) and then one final JSON {"id": n, "ok": true, "done": true, ...}.
 * If a streaming op fails part-way, the final frame is {"id": n, "ok": false, "done": true, "error": {...}}.
 *
 * Commands are executed one at a time, in arrival order (a worker serves one job at a time; run
 * several workers for parallelism). "cancel" ({"op":"cancel","target":<id>}) is handled out of band
 * as soon as its line arrives and stops a running stream at its next batch boundary.
 *
 * Binary mesh batch (kind 'B'), all little-endian:
 *   header, 16 bytes: u32 magic 0x314D4254 (bytes "TBM1"), u32 request id, u32 record count,
 *                     u32 batch flags (bit0: positions are element-local, see "frame" below)
 *   records, each starting with a 48-byte header:
 *     u8 type (1 = triangle mesh, 2 = line segments)
 *     u8 flags (bit0 normals present, bit1 two-sided, bit2 uv params present, bit3 positions are float64)
 *     u8 geometryClass (0 primary, 1 construction, 2 dimension, 3 pattern)
 *     u8 reserved (0)
 *     u8[4] colour r, g, b, a (a = 255 - transparency)
 *     u64 elementId, u64 subCategoryId, u64 materialId (0 = none), u64 textureId (0 = none)
 *     u32 vertexCount, u32 indexCount
 *   then: positions  f32[3*vertexCount]  (f64 if flag bit3)
 *         normals    f32[3*vertexCount]  (if flag bit0; always in world orientation rotated like positions)
 *         params     f32[2*vertexCount]  (if flag bit2)
 *         indices    u32[indexCount]     (3 per triangle for type 1, 2 per segment for type 2)
 *   Records of one element are contiguous; an element never spans two batches.
 *
 * Coordinates: IModelDb.exportGraphics returns vertices in the iModel's WORLD (spatial) coordinate
 * system (documented in core-backend, and verified here: a yaw-90 element comes out rotated).
 * With "frame": "local" this engine multiplies every vertex (and normal) by the inverse of the
 * element's Placement3d/Placement2d transform (Origin + Yaw/Pitch/Roll, or Origin + Rotation),
 * so positions are in the element-local frame that an IfcLocalPlacement built from the same
 * placement expects. float32 world coordinates lose precision far from the origin (about 3 cm at
 * 500 km), so prefer "frame":"local" or "precision":"f64" for georeferenced models.
 * (GeometryPart instancing via partInstanceArray/exportPartGraphics, which yields part-local meshes,
 * is not used: parts are expanded into each element's mesh.)
 */
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const readline = require("readline");

// ---------------------------------------------------------------------------------------------
// stdout belongs to the protocol. Route every console.* call to stderr BEFORE loading the libraries.
const realStdoutWrite = process.stdout.write.bind(process.stdout);
for (const m of ["log", "info", "debug", "warn", "trace", "dir"]) {
  const orig = console.error.bind(console);
  console[m] = (...a) => orig(...a);
}

const t0 = Date.now();
const backend = require("@itwin/core-backend");
const common = require("@itwin/core-common");
const bentley = require("@itwin/core-bentley");
const geometry = require("@itwin/core-geometry");
const { IModelHost, SnapshotDb, SettingsPriority } = backend;
const { QueryRowFormat, QueryBinder, Placement3d, Placement2d } = common;
const { Logger, LogLevel, Id64 } = bentley;
const writer = require("./writer");
const requireMs = Date.now() - t0;

function log(...a) {
  process.stderr.write(`[imodel-engine ${new Date().toISOString()}] ${a.join(" ")}\n`);
}

// ---------------------------------------------------------------------------------------------
// framing
const KIND_JSON = 0x4a; // 'J'
const KIND_BIN = 0x42; // 'B'

function writeFrame(kind, payload) {
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(payload.length, 0);
  head[4] = kind;
  const buf = Buffer.concat([head, payload]);
  const ok = realStdoutWrite(buf);
  if (ok) return Promise.resolve();
  return new Promise((res) => process.stdout.once("drain", res));
}
function jsonReplacer(_k, v) {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return { $base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (typeof v === "number" && !Number.isFinite(v)) return null;
  return v;
}
function sendJson(obj) {
  return writeFrame(KIND_JSON, Buffer.from(JSON.stringify(obj, jsonReplacer), "utf8"));
}

// ---------------------------------------------------------------------------------------------
// errors
class EngineError extends Error {
  constructor(code, message, extra) {
    super(message);
    this.code = code;
    this.extra = extra;
  }
}
function errorPayload(e, fallbackCode) {
  if (e instanceof EngineError) return { code: e.code, message: e.message, ...(e.extra || {}) };
  const out = { code: fallbackCode || "ENGINE_ERROR", message: (e && (e.message || String(e))) || "unknown error" };
  if (e && e.errorNumber !== undefined) out.errorNumber = e.errorNumber;
  if (e && e.iTwinErrorId) out.iTwinErrorId = e.iTwinErrorId;
  if (e && e.name && e.name !== "Error") out.name = e.name;
  return out;
}

// ---------------------------------------------------------------------------------------------
// host
let hostStarted = false;
let warmed = false;
const cacheDir = process.env.TWINBRIDGE_IMODEL_CACHE_DIR || path.join(os.tmpdir(), `twinbridge-imodel-cache-${process.getuid ? process.getuid() : "u"}`);

async function ensureHost() {
  if (hostStarted) return 0;
  const t = Date.now();
  fs.mkdirSync(cacheDir, { recursive: true });
  Logger.initialize(
    (cat, msg) => log("ERROR", cat, msg),
    (cat, msg) => log("WARN", cat, msg),
    (cat, msg) => log("INFO", cat, msg),
    (cat, msg) => log("TRACE", cat, msg),
  );
  Logger.setLevelDefault(process.env.TWINBRIDGE_IMODEL_LOGLEVEL === "info" ? LogLevel.Info : LogLevel.Error);
  await IModelHost.startup({ cacheDir });
  // IMPORTANT: without this, the first SnapshotDb.openFile tries to connect to Bentley's public
  // cloud container of GCS (geographic coordinate system) data and busy-waits ~15 s of CPU until
  // it times out (no internet here). We never reproject coordinates, so switch it off.
  IModelHost.appWorkspace.settings.addDictionary(
    { name: "twinbridge-engine", priority: SettingsPriority.application },
    { "itwin/core/gcs/disableWorkspaces": true },
  );
  hostStarted = true;
  return Date.now() - t;
}

// ---------------------------------------------------------------------------------------------
// open iModels
const handles = new Map(); // handle -> { db, path, openedAt }
let nextHandle = 1;
function getDb(handle) {
  const h = handles.get(String(handle));
  if (!h) throw new EngineError("UNKNOWN_HANDLE", `no open iModel with handle ${JSON.stringify(handle)}`);
  return h.db;
}

function getWritableDb(handle) {
  const h = handles.get(String(handle));
  if (!h) throw new EngineError("UNKNOWN_HANDLE", `no open iModel with handle ${JSON.stringify(handle)}`);
  if (!h.writable) throw new EngineError("READ_ONLY", `handle ${handle} is read-only (only handles from 'create' are writable)`);
  return h.db;
}

async function collect(db, ecsql, params) {
  const rows = [];
  const reader = db.createQueryReader(ecsql, params, { rowFormat: QueryRowFormat.UseJsPropertyNames });
  for await (const row of reader) rows.push(row.toRow());
  return rows;
}

function isSqliteFile(p) {
  try {
    const fd = fs.openSync(p, "r");
    const b = Buffer.alloc(16);
    const n = fs.readSync(fd, b, 0, 16, 0);
    fs.closeSync(fd);
    return n === 16 && b.toString("latin1") === "SQLite format 3\u0000";
  } catch {
    return false;
  }
}

async function dbInfo(db, withModels) {
  const info = {
    name: db.rootSubject.name,
    description: db.rootSubject.description,
    iModelId: db.iModelId,
    elementCount: (await collect(db, "SELECT COUNT(*) n FROM bis.Element"))[0].n,
    projectExtents: db.projectExtents.toJSON(),
    globalOrigin: db.globalOrigin.toJSON(),
    ecefLocation: db.ecefLocation ? db.ecefLocation.toJSON() : undefined,
    isGeoLocated: db.isGeoLocated,
  };
  if (withModels) {
    info.models = await collect(
      db,
      `SELECT m.ECInstanceId id, ec_classname(m.ECClassId, 's:c') className, e.CodeValue name,
              m.ParentModel.Id parentModelId, m.IsPrivate isPrivate, m.IsTemplate isTemplate,
              (SELECT COUNT(*) FROM bis.Element x WHERE x.Model.Id = m.ECInstanceId) elementCount
         FROM bis.Model m LEFT JOIN bis.Element e ON e.ECInstanceId = m.ModeledElement.Id
        ORDER BY m.ECInstanceId`,
    );
    info.schemas = await collect(
      db,
      "SELECT Name name, Alias alias, VersionMajor versionMajor, VersionWrite versionWrite, VersionMinor versionMinor FROM meta.ECSchemaDef ORDER BY Name",
    );
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// ops
const cancelled = new Set();
const crashOnElements = new Set(
  (process.env.TWINBRIDGE_ENGINE_TEST_CRASH_ELEMENTS || "").split(",").filter(Boolean).map((x) => Id64.fromString(x.trim())),
);

const ops = {
  async ping(cmd) {
    return { pong: true, pid: process.pid, hostStarted, warmed, node: process.version, versions: engineVersions() };
  },

  async warm(cmd) {
    const t = Date.now();
    const startupMs = await ensureHost();
    // Exercise the native paths once: create a tiny snapshot, open it, run a query and an
    // exportGraphics call, then delete it. (Loads BisCore schema code, ECSQL, the faceter.)
    const tmp = path.join(cacheDir, `warm-${process.pid}-${Date.now()}.bim`);
    let db;
    try {
      db = SnapshotDb.createEmpty(tmp, { rootSubject: { name: "warm" } });
      db.close();
      db = SnapshotDb.openFile(tmp);
      await collect(db, "SELECT COUNT(*) n FROM bis.Element");
      db.exportGraphics({ elementIdArray: ["0x1"], onGraphics: () => {} });
    } finally {
      try { db && db.isOpen && db.close(); } catch { /* ignore */ }
      for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`, `${tmp}-journal`]) {
        try { fs.rmSync(f, { force: true }); } catch { /* ignore */ }
      }
    }
    warmed = true;
    return { startupMs, warmMs: Date.now() - t, requireMs, cpu: process.cpuUsage() };
  },

  async open(cmd) {
    await ensureHost();
    const p = cmd.path;
    if (typeof p !== "string" || !p) throw new EngineError("BAD_REQUEST", "open needs a 'path' string");
    const abs = path.resolve(p);
    if (!fs.existsSync(abs)) throw new EngineError("FILE_NOT_FOUND", `no such file: ${abs}`);
    if (fs.statSync(abs).isDirectory()) throw new EngineError("NOT_AN_IMODEL", `is a directory: ${abs}`);
    // The native library itself rejects non-iModels; checking the header first gives a clearer code.
    if (!isSqliteFile(abs)) throw new EngineError("NOT_AN_IMODEL", `not a SQLite/iModel file: ${abs}`);
    const t = Date.now();
    let db;
    try {
      db = SnapshotDb.openFile(abs);
    } catch (e) {
      throw new EngineError("OPEN_FAILED", `cannot open ${abs}: ${e.message}`, e.errorNumber !== undefined ? { errorNumber: e.errorNumber } : undefined);
    }
    const openMs = Date.now() - t;
    try {
      const info = await dbInfo(db, cmd.models !== false);
      const handle = String(nextHandle++);
      handles.set(handle, { db, path: abs, openedAt: Date.now() });
      return { handle, path: abs, openMs, ...info };
    } catch (e) {
      try { db.close(); } catch { /* ignore */ }
      throw new EngineError("OPEN_FAILED", `opened ${abs} but cannot read it (corrupt?): ${e.message}`);
    }
  },

  async close(cmd) {
    const h = handles.get(String(cmd.handle));
    if (!h) throw new EngineError("UNKNOWN_HANDLE", `no open iModel with handle ${JSON.stringify(cmd.handle)}`);
    handles.delete(String(cmd.handle));
    h.db.close();
    return { closed: true };
  },

  async info(cmd) {
    return await dbInfo(getDb(cmd.handle), cmd.models !== false);
  },

  // {"op":"query","handle":"1","ecsql":"SELECT ... WHERE x = ?","params":[...] | {name: value},
  //  "batchSize":500, "abbreviateBlobs":false, "limit":n}
  // Streams {"id", "rows":[...]} frames, then {"id","ok":true,"done":true,"rowCount":n}.
  async query(cmd, id) {
    const db = getDb(cmd.handle);
    if (typeof cmd.ecsql !== "string") throw new EngineError("BAD_REQUEST", "query needs an 'ecsql' string");
    const binder = bindParams(cmd.params);
    const batchSize = Math.max(1, Math.min(cmd.batchSize || 500, 100000));
    const opts = { rowFormat: QueryRowFormat.UseJsPropertyNames, abbreviateBlobs: !!cmd.abbreviateBlobs };
    if (cmd.limit) opts.limit = { count: cmd.limit };
    let batch = [];
    let n = 0;
    try {
      const reader = db.createQueryReader(cmd.ecsql, binder, opts);
      for await (const row of reader) {
        batch.push(row.toRow());
        n++;
        if (batch.length >= batchSize) {
          checkParent();
          await sendJson({ id, rows: batch });
          batch = [];
          if (cancelled.has(id)) throw new EngineError("CANCELLED", "cancelled");
        }
      }
    } catch (e) {
      if (e instanceof EngineError) throw e;
      throw new EngineError("QUERY_FAILED", e.message, e.errorNumber !== undefined ? { errorNumber: e.errorNumber } : undefined);
    }
    if (batch.length) await sendJson({ id, rows: batch });
    return { done: true, rowCount: n };
  },

  // {"op":"exportGraphics","handle":"1",
  //  "elementIds":["0x1c",...]  | "modelIds":[...] (all GeometricElement3d/2d in them) | neither (all 3d elements),
  //  "include2d": false, "chordTol":0, "angleTol":0.2618, "maxEdgeLength":0, "decimationTol":0, "minBRepFeatureSize":0,
  //  "frame":"world"|"local", "precision":"f32"|"f64", "normals":true, "params":false, "lines":false,
  //  "chunkSize":100, "ignoreMissing":false, "progress":false}
  async exportGraphics(cmd, id) {
    const db = getDb(cmd.handle);
    const tStart = Date.now();
    const local = cmd.frame === "local";
    if (cmd.frame !== undefined && cmd.frame !== "world" && cmd.frame !== "local")
      throw new EngineError("BAD_REQUEST", "frame must be 'world' or 'local'");
    const f64 = cmd.precision === "f64";
    const wantNormals = cmd.normals !== false;
    const wantParams = !!cmd.params;
    const wantLines = !!cmd.lines;

    // --- resolve the element list
    let ids;
    const missing = [];
    if (Array.isArray(cmd.elementIds)) {
      for (const x of cmd.elementIds) {
        if (typeof x !== "string" || !Id64.isValidId64(x)) throw new EngineError("BAD_REQUEST", `not an element id: ${JSON.stringify(x)}`);
      }
      const wanted = cmd.elementIds.map((x) => Id64.fromString(x));
      const found = new Set();
      for (const part of chunks(wanted, 5000)) {
        const rows = await collect(db, "SELECT ECInstanceId id FROM bis.GeometricElement WHERE InVirtualSet(?, ECInstanceId)", QueryBinder.from([part]));
        for (const r of rows) found.add(r.id);
      }
      ids = [];
      for (const x of wanted) (found.has(x) ? ids : missing).push(x);
      if (missing.length && !cmd.ignoreMissing)
        throw new EngineError("ELEMENT_NOT_FOUND", `${missing.length} id(s) are not geometric elements in this iModel: ${missing.slice(0, 20).join(", ")}`, { missing });
    } else {
      const classes = cmd.include2d ? ["bis.GeometricElement3d", "bis.GeometricElement2d"] : ["bis.GeometricElement3d"];
      ids = [];
      for (const cls of classes) {
        let rows;
        if (Array.isArray(cmd.modelIds)) {
          rows = await collect(db, `SELECT ECInstanceId id FROM ${cls} WHERE InVirtualSet(?, Model.Id) ORDER BY ECInstanceId`, QueryBinder.from([cmd.modelIds.map(String)]));
        } else {
          rows = await collect(db, `SELECT ECInstanceId id FROM ${cls} ORDER BY ECInstanceId`);
        }
        for (const r of rows) ids.push(r.id);
      }
    }

    // --- placements for "local"
    const placements = new Map(); // id -> Transform (world -> local)
    if (local && ids.length) {
      for (const part of chunks(ids, 5000)) {
        const b = QueryBinder.from([part]);
        for (const r of await collect(db, "SELECT ECInstanceId id, Origin origin, Yaw yaw, Pitch pitch, Roll roll FROM bis.GeometricElement3d WHERE InVirtualSet(?, ECInstanceId)", b)) {
          const pl = Placement3d.fromJSON({ origin: r.origin, angles: { yaw: r.yaw, pitch: r.pitch, roll: r.roll } });
          placements.set(r.id, pl.transform.inverse());
        }
        for (const r of await collect(db, "SELECT ECInstanceId id, Origin origin, Rotation rotation FROM bis.GeometricElement2d WHERE InVirtualSet(?, ECInstanceId)", QueryBinder.from([part]))) {
          const pl = Placement2d.fromJSON({ origin: r.origin, angle: r.rotation });
          placements.set(r.id, pl.transform.inverse());
        }
      }
    }

    const stats = { elements: ids.length, elementsWithGraphics: 0, meshes: 0, lineRecords: 0, triangles: 0, vertices: 0, bytes: 0, exportMs: 0 };
    const empty = [];
    const chunkSize = Math.max(1, Math.min(cmd.chunkSize || 100, 10000));
    const maxBatchBytes = 4 << 20;

    for (const part of chunks(ids, chunkSize)) {
      checkParent(); // the loop may never yield to the timer that watches the parent (see checkParent)
      if (cancelled.has(id)) throw new EngineError("CANCELLED", "cancelled");
      const perElement = new Map(); // id -> [records]
      for (const x of part) perElement.set(x, []);
      const opts = {
        elementIdArray: part,
        onGraphics: (info) => {
          const list = perElement.get(info.elementId) || perElement.set(info.elementId, []).get(info.elementId);
          list.push(meshRecord(info, 1, placements.get(info.elementId), { f64, wantNormals, wantParams }));
        },
      };
      if (wantLines)
        opts.onLineGraphics = (info) => {
          const list = perElement.get(info.elementId) || perElement.set(info.elementId, []).get(info.elementId);
          list.push(meshRecord(info, 2, placements.get(info.elementId), { f64, wantNormals: false, wantParams: false }));
        };
      for (const k of ["chordTol", "angleTol", "maxEdgeLength", "decimationTol", "minBRepFeatureSize", "minLineStyleComponentSize"])
        if (typeof cmd[k] === "number") opts[k] = cmd[k];
      // "progress": true announces each chunk before the native call, so a supervisor whose worker
      // died (the native faceter can SIGSEGV on a corrupt GeometryStream) knows which ids to bisect.
      if (cmd.progress) await sendJson({ id, progress: { exporting: part } });
      // Test hook: die like the native faceter does on a damaged GeometryStream, but deterministically
      // (a real damaged stream crashes only sometimes, depending on the process's memory state).
      if (crashOnElements.size && part.some((x) => crashOnElements.has(x))) process.kill(process.pid, "SIGSEGV");
      const te = Date.now();
      let status;
      try {
        status = db.exportGraphics(opts);
      } catch (e) {
        throw new EngineError("EXPORT_FAILED", e.message);
      }
      stats.exportMs += Date.now() - te;
      if (status !== 0) throw new EngineError("EXPORT_FAILED", `exportGraphics returned status ${status}`, { status });

      // --- pack per-element records into batches
      let recs = [];
      let size = 16;
      const flush = async () => {
        if (!recs.length) return;
        const header = Buffer.allocUnsafe(16);
        header.writeUInt32LE(0x314d4254, 0);
        header.writeUInt32LE(id >>> 0, 4);
        header.writeUInt32LE(recs.length, 8);
        header.writeUInt32LE(local ? 1 : 0, 12);
        const payload = Buffer.concat([header, ...recs.map((r) => r.buf)], size);
        stats.bytes += payload.length;
        recs = [];
        size = 16;
        await writeFrame(KIND_BIN, payload);
      };
      for (const [eid, list] of perElement) {
        if (!list.length) {
          empty.push(eid);
          continue;
        }
        stats.elementsWithGraphics++;
        const elemSize = list.reduce((s, r) => s + r.buf.length, 0);
        if (recs.length && size + elemSize > maxBatchBytes) await flush();
        for (const r of list) {
          recs.push(r);
          size += r.buf.length;
          if (r.type === 1) {
            stats.meshes++;
            stats.triangles += r.indexCount / 3;
          } else stats.lineRecords++;
          stats.vertices += r.vertexCount;
        }
      }
      await flush();
    }
    stats.totalMs = Date.now() - tStart;
    return { done: true, stats, empty, missing };
  },

  // ---- writing (see writer.js). A handle from "create" is writable until "close".
  // {"op":"create","path":"/x/new.bim","rootSubject":"name","description":"..","guid":"..","from":<handle>,"overwrite":false,
  //  "extent":{"southWest":{"latitude","longitude"},"northEast":{...}},"geographicCoordinateSystem":{"horizontalCRS":{"id"}}}
  // With "from", the new snapshot is a copy of that open iModel (SnapshotDb.createFrom), else empty; an empty one
  // may be placed by "extent" (ECEF location and project extents) and given a coordinate system. A coordinate
  // system the native library cannot resolve (unknown id, or no GCS data: GCS workspaces are off here) fails
  // with GCS_NOT_AVAILABLE and leaves no file.
  async create(cmd) {
    await ensureHost();
    if (typeof cmd.path !== "string" || !cmd.path) throw new EngineError("BAD_REQUEST", "create needs a 'path' string");
    const abs = path.resolve(cmd.path);
    if (fs.existsSync(abs)) {
      if (!cmd.overwrite) throw new EngineError("FILE_EXISTS", `file exists: ${abs}`);
      fs.rmSync(abs);
    }
    const from = cmd.from !== undefined ? getDb(cmd.from) : undefined;
    const t = Date.now();
    let db;
    try {
      db = writer.createSnapshot(abs, {
        rootSubject: cmd.rootSubject || path.basename(abs, path.extname(abs)),
        description: cmd.description,
        guid: cmd.guid,
        from,
        extent: from ? undefined : cmd.extent,
        geographicCoordinateSystem: from ? undefined : cmd.geographicCoordinateSystem,
      });
    } catch (e) {
      throw new EngineError("CREATE_FAILED", `cannot create ${abs}: ${e.message}`);
    }
    if (!from && cmd.geographicCoordinateSystem) {
      const problem = await unresolvedCoordinateSystem(db);
      if (problem) {
        try { db.close(); } catch { /* ignore */ }
        for (const f of [abs, `${abs}-wal`, `${abs}-shm`, `${abs}-journal`]) fs.rmSync(f, { force: true });
        throw new EngineError("GCS_NOT_AVAILABLE", problem);
      }
    }
    const handle = String(nextHandle++);
    handles.set(handle, { db, path: abs, openedAt: Date.now(), writable: true });
    return {
      handle, path: abs, writable: true, createMs: Date.now() - t, iModelId: db.iModelId,
      projectExtents: db.projectExtents.toJSON(),
      ecefLocation: db.ecefLocation ? db.ecefLocation.toJSON() : undefined,
      geographicCoordinateSystem: db.geographicCoordinateSystem ? db.geographicCoordinateSystem.toJSON() : undefined,
    };
  },

  // {"op":"upgradeSchemas","path":"/x/copy.bim","dryRun":false} -> {"before","after","upgraded","needed"}: brings the profile and the domain
  // schemas of a closed iModel file up to this engine's, in place (callers pass a copy). States are the native
  // library's SchemaState names (UpToDate, UpgradeRecommended, UpgradeRequired, TooOld, TooNew); "dryRun" only tells
  // whether an upgrade is needed (the file is only read). A file newer than
  // the engine cannot be written by it (SCHEMA_TOO_NEW), and an upgrade the library refuses is UPGRADE_FAILED.
  async upgradeSchemas(cmd) {
    await ensureHost();
    if (typeof cmd.path !== "string" || !cmd.path) throw new EngineError("BAD_REQUEST", "upgradeSchemas needs a 'path' string");
    const abs = path.resolve(cmd.path);
    if (!fs.existsSync(abs)) throw new EngineError("FILE_NOT_FOUND", `no such file: ${abs}`);
    const states = common.SchemaState;
    const stateName = (state) => Object.keys(states).find((name) => states[name] === state) || String(state);
    const validate = (forReadWrite) => {
      try {
        return backend.SnapshotDb.validateSchemas(abs, forReadWrite);
      } catch (e) {
        throw new EngineError("UPGRADE_FAILED", e.message); // e.g. a profile the library cannot read at all
      }
    };
    const before = validate(false); // read-only: a dry run never touches the file
    if (before === states.TooNew)
      throw new EngineError("SCHEMA_TOO_NEW", `${path.basename(abs)} was written by a newer iModel engine than this one (@itwin/core-backend ${require("@itwin/core-backend/package.json").version})`);
    if (before === states.UpToDate || cmd.dryRun)
      return { before: stateName(before), after: stateName(before), upgraded: false, needed: before !== states.UpToDate };
    try {
      backend.StandaloneDb.upgradeStandaloneSchemas(abs);
    } catch (e) {
      throw new EngineError("UPGRADE_FAILED", e.message);
    }
    const after = validate(true);
    return { before: stateName(before), after: stateName(after), upgraded: true };
  },

  // {"op":"importSchemas","handle":h,"schemas":["<ECSchema ...>", ...]}
  async importSchemas(cmd) {
    const db = getWritableDb(cmd.handle);
    if (!Array.isArray(cmd.schemas) || !cmd.schemas.every((x) => typeof x === "string"))
      throw new EngineError("BAD_REQUEST", "importSchemas needs 'schemas': [xml strings]");
    try {
      await writer.importSchemas(db, cmd.schemas);
    } catch (e) {
      throw new EngineError("SCHEMA_IMPORT_FAILED", e.message);
    }
    return {};
  },

  // {"op":"insertModel","handle":h,"name":"Structure"} -> {"modelId"} (PhysicalPartition + PhysicalModel under the root subject)
  async insertModel(cmd) {
    const db = getWritableDb(cmd.handle);
    try {
      return { modelId: writer.insertPhysicalModel(db, String(cmd.name)) };
    } catch (e) {
      throw new EngineError("INSERT_FAILED", e.message);
    }
  },

  // {"op":"insertCategory","handle":h,"name":"Walls","color":"#c0c0c0" | tbgrNumber} -> {"categoryId"}
  async insertCategory(cmd) {
    const db = getWritableDb(cmd.handle);
    try {
      return { categoryId: writer.insertSpatialCategory(db, String(cmd.name), cmd.color) };
    } catch (e) {
      throw new EngineError("INSERT_FAILED", e.message);
    }
  },

  // {"op":"insertElements","handle":h,"elements":[{classFullName, model, category, codeValue, userLabel,
  //   origin:[x,y,z], angles:{yaw,pitch,roll}, geom: GeometryStreamProps (IModelJson), props:{jsName: value},
  //   federationGuid}]} -> {"ids":[...]}. On failure: ok:false with "index" of the failing element
  //   (earlier ones stay inserted but unsaved; call abandonChanges or saveChanges).
  async insertElements(cmd) {
    const db = getWritableDb(cmd.handle);
    if (!Array.isArray(cmd.elements)) throw new EngineError("BAD_REQUEST", "insertElements needs 'elements': [...]");
    const ids = [];
    for (let i = 0; i < cmd.elements.length; i++) {
      try {
        ids.push(writer.insertGeometricElement(db, cmd.elements[i]));
      } catch (e) {
        throw new EngineError("INSERT_FAILED", `element ${i}: ${e.message}`, { index: i, inserted: ids });
      }
    }
    return { ids };
  },

  // {"op":"saveChanges","handle":h,"description":"..","updateExtents":true,"clampZ":8849}
  // The project extents become those of the elements (updateExtents); with "clampZ" their Z range is then
  // clamped to [-clampZ, clampZ], when they have an XY range (the Synchronization flag clampZExtent).
  // -> {"extentsChanged": bool}: whether the project extents are not what they were.
  async saveChanges(cmd) {
    const db = getWritableDb(cmd.handle);
    let extents;
    if (cmd.updateExtents !== false) {
      const computed = db.computeProjectExtents({}).extents;
      if (!computed.isNull) extents = computed;
    }
    if (cmd.clampZ !== undefined) {
      if (typeof cmd.clampZ !== "number" || !(cmd.clampZ >= 0)) throw new EngineError("BAD_REQUEST", "clampZ must be a number >= 0");
      const range = (extents || db.projectExtents).clone();
      if (!range.isNull && (range.xLength() > 0 || range.yLength() > 0)) {
        range.low.z = Math.min(Math.max(range.low.z, -cmd.clampZ), cmd.clampZ);
        range.high.z = Math.min(Math.max(range.high.z, -cmd.clampZ), cmd.clampZ);
        extents = range;
      }
    }
    // Compared once set: the iModel makes every side of its extents at least 1 m long.
    const before = db.projectExtents.clone();
    if (extents) db.updateProjectExtents(extents);
    const extentsChanged = !db.projectExtents.isAlmostEqual(before);
    db.saveChanges(cmd.description || "twinbridge");
    return { extentsChanged };
  },

  async abandonChanges(cmd) {
    getWritableDb(cmd.handle).abandonChanges();
    return {};
  },

  // {"op":"generate","path":..,"elements":1000,"models":3,"categories":4,"seed":1,"overwrite":false}
  async generate(cmd) {
    await ensureHost();
    if (typeof cmd.path !== "string") throw new EngineError("BAD_REQUEST", "generate needs a 'path'");
    try {
      return await require("./generate").generate({ ...cmd, out: cmd.path });
    } catch (e) {
      throw new EngineError("GENERATE_FAILED", e.message);
    }
  },

  async shutdown(cmd) {
    setImmediate(() => shutdown(0));
    return { bye: true };
  },
};
Object.assign(ops, require("./sync").syncOps({ getWritableDb, EngineError })); // connector ops (sync.js)

// ---------------------------------------------------------------------------------------------
// helpers
/**
 * Why the iModel's coordinate system cannot be used, or undefined when it can. Setting one only stores its
 * definition; converting a point through it shows whether the native library resolved it (NoGCSDefined = 100
 * and CSMapError = 4096 say it did not; the other statuses are about the point).
 */
async function unresolvedCoordinateSystem(db) {
  const id = db.geographicCoordinateSystem?.horizontalCRS?.id;
  let status;
  try {
    const reply = await db.getGeoCoordinatesFromIModelCoordinates({ target: "WGS84", iModelCoords: [[0, 0, 0]] });
    status = reply.geoCoords[0]?.s;
  } catch (e) {
    return `the coordinate system ${JSON.stringify(id)} cannot be applied: ${e.message}`;
  }
  if (status === 100 || status === 4096 || status === undefined)
    return `the coordinate system ${JSON.stringify(id)} is unknown to this engine (its geographic coordinate data is not available)`;
  return undefined;
}

function* chunks(arr, n) {
  for (let i = 0; i < arr.length; i += n) yield arr.slice(i, i + n);
}

function bindParams(params) {
  if (params === undefined || params === null) return undefined;
  if (Array.isArray(params) || typeof params === "object") {
    // {"$id": "0x1"} binds an Id, {"$ids": [...]} an id set (for InVirtualSet), {"$base64": ".."} a blob,
    // {"$point3d": {x,y,z}} / {"$point2d": {x,y}}; anything else is bound by JS type.
    const b = new QueryBinder();
    const entries = Array.isArray(params) ? params.map((v, i) => [i + 1, v]) : Object.entries(params);
    for (const [k, v] of entries) {
      if (v === null) b.bindNull(k);
      else if (typeof v === "boolean") b.bindBoolean(k, v);
      else if (typeof v === "number") Number.isSafeInteger(v) && Math.abs(v) < 2 ** 31 ? b.bindInt(k, v) : b.bindDouble(k, v);
      else if (typeof v === "string") b.bindString(k, v);
      else if (typeof v === "object" && "$id" in v) b.bindId(k, v.$id);
      else if (typeof v === "object" && "$ids" in v) b.bindIdSet(k, v.$ids);
      else if (typeof v === "object" && "$double" in v) b.bindDouble(k, v.$double);
      else if (typeof v === "object" && "$long" in v) b.bindLong(k, v.$long);
      else if (typeof v === "object" && "$base64" in v) b.bindBlob(k, new Uint8Array(Buffer.from(v.$base64, "base64")));
      else if (typeof v === "object" && "$point3d" in v) b.bindPoint3d(k, geometry.Point3d.fromJSON(v.$point3d));
      else if (typeof v === "object" && "$point2d" in v) b.bindPoint2d(k, geometry.Point2d.fromJSON(v.$point2d));
      else throw new EngineError("BAD_REQUEST", `cannot bind parameter ${k}: ${JSON.stringify(v)}`);
    }
    return b;
  }
  throw new EngineError("BAD_REQUEST", "params must be an array or an object");
}

function colorBytes(c) {
  // ColorDefProps = TBGR packed in a number: 0xTTBBGGRR
  const v = typeof c === "number" ? c >>> 0 : 0;
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, 255 - ((v >>> 24) & 0xff)];
}
function idToBig(x) {
  if (!x || !Id64.isValidId64(x)) return 0n;
  return BigInt(x);
}

function meshRecord(info, type, toLocal, o) {
  const isMesh = type === 1;
  const src = isMesh ? info.mesh : info.lines;
  const pts = src.points;
  const idx = src.indices;
  const vc = pts.length / 3;
  const ic = idx.length;
  const hasN = isMesh && o.wantNormals && info.mesh.normals && info.mesh.normals.length === pts.length;
  const hasP = isMesh && o.wantParams && info.mesh.params && info.mesh.params.length === vc * 2;
  const pBytes = vc * 3 * (o.f64 ? 8 : 4);
  const size = 48 + pBytes + (hasN ? vc * 12 : 0) + (hasP ? vc * 8 : 0) + ic * 4;
  const buf = Buffer.alloc(size);
  let flags = 0;
  if (hasN) flags |= 1;
  if (isMesh && info.mesh.isTwoSided) flags |= 2;
  if (hasP) flags |= 4;
  if (o.f64) flags |= 8;
  buf[0] = type;
  buf[1] = flags;
  buf[2] = info.geometryClass || 0;
  buf[3] = 0;
  const [r, g, b, a] = colorBytes(info.color);
  buf[4] = r; buf[5] = g; buf[6] = b; buf[7] = a;
  buf.writeBigUInt64LE(idToBig(info.elementId), 8);
  buf.writeBigUInt64LE(idToBig(info.subCategory), 16);
  buf.writeBigUInt64LE(idToBig(info.materialId), 24);
  buf.writeBigUInt64LE(idToBig(info.textureId), 32);
  buf.writeUInt32LE(vc, 40);
  buf.writeUInt32LE(ic, 44);
  let off = 48;
  // Build typed arrays and copy their bytes (Buffer memory may be unaligned for direct typed views).
  const outP = o.f64 ? new Float64Array(vc * 3) : new Float32Array(vc * 3);
  if (toLocal) {
    const m = toLocal.matrix.coffs; // row-major 3x3
    const t = toLocal.origin;
    for (let i = 0; i < vc; i++) {
      const x = pts[3 * i], y = pts[3 * i + 1], z = pts[3 * i + 2];
      outP[3 * i] = t.x + m[0] * x + m[1] * y + m[2] * z;
      outP[3 * i + 1] = t.y + m[3] * x + m[4] * y + m[5] * z;
      outP[3 * i + 2] = t.z + m[6] * x + m[7] * y + m[8] * z;
    }
  } else {
    outP.set(pts);
  }
  Buffer.from(outP.buffer).copy(buf, off);
  off += pBytes;
  if (hasN) {
    const nrm = info.mesh.normals;
    let outN = nrm;
    if (toLocal) {
      // normals transform with the inverse-transpose; the placement matrix is a rotation, so the
      // same rotation applies.
      const m = toLocal.matrix.coffs;
      outN = new Float32Array(vc * 3);
      for (let i = 0; i < vc; i++) {
        const x = nrm[3 * i], y = nrm[3 * i + 1], z = nrm[3 * i + 2];
        outN[3 * i] = m[0] * x + m[1] * y + m[2] * z;
        outN[3 * i + 1] = m[3] * x + m[4] * y + m[5] * z;
        outN[3 * i + 2] = m[6] * x + m[7] * y + m[8] * z;
      }
    }
    Buffer.from(outN.buffer, outN.byteOffset, vc * 12).copy(buf, off);
    off += vc * 12;
  }
  if (hasP) {
    const prm = info.mesh.params;
    Buffer.from(prm.buffer, prm.byteOffset, vc * 8).copy(buf, off);
    off += vc * 8;
  }
  const outI = new Uint32Array(ic);
  outI.set(idx);
  Buffer.from(outI.buffer).copy(buf, off);
  return { type, buf, vertexCount: vc, indexCount: ic };
}

function engineVersions() {
  const v = {};
  for (const p of ["@itwin/core-backend", "@itwin/core-common", "@itwin/core-bentley", "@itwin/core-geometry", "@bentley/imodeljs-native"]) {
    try { v[p] = require(`${p}/package.json`).version; } catch { /* ignore */ }
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// command loop
const queue = [];
let running = false;

async function runOne(cmd) {
  const id = cmd.id;
  const fn = Object.prototype.hasOwnProperty.call(ops, cmd.op) ? ops[cmd.op] : undefined;
  try {
    if (!fn) throw new EngineError("UNKNOWN_OP", `unknown op ${JSON.stringify(cmd.op)}`);
    const res = await fn(cmd, id);
    await sendJson({ ...res, id, ok: true });
  } catch (e) {
    if (!(e instanceof EngineError)) log("op", cmd.op, "failed:", (e && e.stack) || e);
    const streaming = cmd.op === "query" || cmd.op === "exportGraphics";
    await sendJson({ id, ok: false, ...(streaming ? { done: true } : {}), error: errorPayload(e) });
  } finally {
    cancelled.delete(id);
  }
}

async function pump() {
  if (running) return;
  running = true;
  try {
    while (queue.length) await runOne(queue.shift());
  } finally {
    running = false;
  }
  if (stdinClosed) shutdown(0);
}

let stdinClosed = false;
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
    if (!cmd || typeof cmd !== "object" || Array.isArray(cmd)) throw new Error("command must be a JSON object");
  } catch (e) {
    sendJson({ id: null, ok: false, error: { code: "BAD_JSON", message: e.message } });
    return;
  }
  if (cmd.op === "cancel") {
    cancelled.add(cmd.target);
    sendJson({ id: cmd.id, ok: true, cancelled: cmd.target });
    return;
  }
  queue.push(cmd);
  pump();
});
rl.on("close", () => {
  stdinClosed = true;
  if (!running) shutdown(0);
  // stdin closes when the parent closes it (an orderly close: finish the queued command, as above) or
  // when the parent died. A dead parent can no longer read our answers, so do not finish a long export
  // for nobody: give an orderly close a moment, then leave even mid-operation.
  setTimeout(() => orphaned("stdin closed"), 2000).unref();
});

// ---------------------------------------------------------------------------------------------
// never outlive the parent
// Orphans were seen reparented to PID 1 and still busy minutes later. Exit (without a graceful shutdown:
// the parent is gone, nobody waits for the answers) when stdout breaks, or when the parent pid changes.
let orphanExit = false;
function orphaned(why) {
  if (orphanExit) return;
  orphanExit = true;
  try { log("exiting:", why); } catch { /* stderr may be gone too */ }
  process.exit(3);
}
process.stdout.on("error", (e) => orphaned(`stdout failed (${e && e.code})`));
const parentPid = process.ppid;
function checkParent() {
  // process.ppid is a getter that reflects reparenting (to PID 1 or a subreaper) after the parent died.
  if (process.ppid !== parentPid) orphaned(`parent ${parentPid} is gone`);
}
// Streaming loops whose writes complete at once only await resolved promises (microtasks) and never give
// timers a turn, so they also call checkParent at each chunk; a single long native call is only stopped
// by the parent-death signal the Python side arms (Linux).
setInterval(checkParent, 500).unref();

let shuttingDown = false;
async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  for (const [, h] of handles) {
    try { h.db.close(); } catch { /* ignore */ }
  }
  handles.clear();
  try {
    if (hostStarted) await IModelHost.shutdown();
  } catch (e) {
    log("shutdown error", e.message);
  }
  process.exit(code);
}

process.on("uncaughtException", (e) => log("uncaughtException", (e && e.stack) || e));
process.on("unhandledRejection", (e) => log("unhandledRejection", (e && e.stack) || e));
process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));

log(`ready pid=${process.pid} require=${requireMs}ms cacheDir=${cacheDir}`);
