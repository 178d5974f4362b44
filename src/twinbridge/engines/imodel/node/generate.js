#!/usr/bin/env node
/*
 * Build a synthetic test iModel (a snapshot .bim) with the Bentley native library.
 *
 *   node generate.js --out /tmp/test.bim [--elements 1000] [--models 3] [--categories 4] [--seed 1] [--overwrite]
 *
 * Content (deterministic for a given seed, except LastMod timestamps):
 *   - a custom ECSchema "TwinbridgeTest" (alias tbt), imported with importSchemaStrings, with an
 *     enumeration, a KindOfQuantity and two physical classes with typed properties
 *     (string, double, int, long, boolean, dateTime, point3d, enum, length KOQ);
 *   - M PhysicalModels, C SpatialCategories with distinct colours;
 *   - N elements cycling through shapes: box, cone/cylinder, extrusion of an L profile,
 *     polyface mesh (pyramid), sphere, and a two-colour element (box + cone);
 *     every element has a placement (grid origin + yaw), so geometry is element-local;
 *     class: Generic:PhysicalObject for a third of them, tbt:TestBeam / tbt:TestColumn otherwise.
 * Prints one JSON line with counts and timings to stdout.
 */
"use strict";

const fs = require("fs");
const path = require("path");
const os = require("os");
const { IModelHost, SettingsPriority } = require("@itwin/core-backend");
const { GeometryStreamBuilder, GeometryParams, ColorDef } = require("@itwin/core-common");
const geom = require("@itwin/core-geometry");
const { Box, Cone, Sphere, LinearSweep, Point3d, Range3d, PolyfaceBuilder, StrokeOptions } = geom;
const writer = require("./writer");

const SCHEMA_XML = `<?xml version="1.0" encoding="UTF-8"?>
<ECSchema schemaName="TwinbridgeTest" alias="tbt" version="01.00.00" xmlns="http://www.bentley.com/schemas/Bentley.ECXML.3.2" description="twinbridge synthetic test schema">
  <ECSchemaReference name="BisCore" version="01.00.00" alias="bis"/>
  <ECSchemaReference name="Units" version="01.00.00" alias="u"/>
  <ECSchemaReference name="Formats" version="01.00.00" alias="f"/>
  <ECEnumeration typeName="Status" backingTypeName="int" isStrict="true">
    <ECEnumerator name="Planned" value="0" displayLabel="Planned"/>
    <ECEnumerator name="Built" value="1" displayLabel="Built"/>
    <ECEnumerator name="Demolished" value="2" displayLabel="Demolished"/>
  </ECEnumeration>
  <KindOfQuantity typeName="LENGTH" persistenceUnit="u:M" relativeError="0.0001" presentationUnits="f:DefaultRealU(4)[u:M]"/>
  <PropertyCategory typeName="Structural" displayLabel="Structural" priority="100"/>
  <ECEntityClass typeName="TestElement" modifier="Abstract" displayLabel="Test Element">
    <BaseClass>bis:PhysicalElement</BaseClass>
    <ECProperty propertyName="Material" typeName="string" category="Structural"/>
    <ECProperty propertyName="Mass" typeName="double" displayLabel="Mass (kg)"/>
    <ECProperty propertyName="Count" typeName="int"/>
    <ECProperty propertyName="Serial" typeName="long"/>
    <ECProperty propertyName="IsLoadBearing" typeName="boolean"/>
    <ECProperty propertyName="InstalledOn" typeName="dateTime"/>
    <ECProperty propertyName="Anchor" typeName="point3d"/>
    <ECProperty propertyName="Status" typeName="Status"/>
    <ECProperty propertyName="Length" typeName="double" kindOfQuantity="LENGTH"/>
  </ECEntityClass>
  <ECEntityClass typeName="TestBeam" displayLabel="Test Beam">
    <BaseClass>TestElement</BaseClass>
    <ECProperty propertyName="Span" typeName="double" kindOfQuantity="LENGTH"/>
  </ECEntityClass>
  <ECEntityClass typeName="TestColumn" displayLabel="Test Column">
    <BaseClass>TestElement</BaseClass>
    <ECProperty propertyName="Height" typeName="double" kindOfQuantity="LENGTH"/>
    <ECProperty propertyName="Tag" typeName="string"/>
  </ECEntityClass>
</ECSchema>`;

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function uuidFrom(rand) {
  const h = [];
  for (let i = 0; i < 16; i++) h.push(Math.floor(rand() * 256));
  h[6] = (h[6] & 0x0f) | 0x40;
  h[8] = (h[8] & 0x3f) | 0x80;
  const s = h.map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

const PALETTE = ["#c0392b", "#2980b9", "#27ae60", "#f39c12", "#8e44ad", "#16a085", "#7f8c8d", "#d35400"];
const SHAPES = ["box", "cone", "extrusion", "mesh", "sphere", "twoColour"];

async function generate(opts) {
  const out = path.resolve(opts.out);
  const n = opts.elements ?? 1000;
  const nModels = opts.models ?? 3;
  const nCats = opts.categories ?? 4;
  const rand = mulberry32(opts.seed ?? 1);
  if (fs.existsSync(out)) {
    if (!opts.overwrite) throw new Error(`${out} exists (use --overwrite)`);
    fs.rmSync(out);
  }
  const t0 = Date.now();
  const db = writer.createSnapshot(out, { rootSubject: opts.name || "twinbridge synthetic", guid: uuidFrom(rand) });
  try {
    const tSchema = Date.now();
    await writer.importSchemas(db, [SCHEMA_XML]);
    const schemaMs = Date.now() - tSchema;

    const models = [];
    for (let i = 0; i < nModels; i++) models.push(writer.insertPhysicalModel(db, `Model ${i + 1}`));
    const cats = [];
    for (let i = 0; i < nCats; i++) cats.push({ id: writer.insertSpatialCategory(db, `Category ${i + 1}`, PALETTE[i % PALETTE.length]), color: PALETTE[i % PALETTE.length] });

    const tIns = Date.now();
    const counts = {};
    const perRow = Math.ceil(Math.sqrt(n));
    for (let i = 0; i < n; i++) {
      const shape = SHAPES[i % SHAPES.length];
      const model = models[i % models.length];
      const cat = cats[Math.floor(i / SHAPES.length) % cats.length];
      const b = new GeometryStreamBuilder();
      const sx = 0.5 + rand() * 2, sy = 0.5 + rand() * 2, sz = 0.5 + rand() * 3;
      const addShape = (kind) => {
        switch (kind) {
          case "box":
            b.appendGeometry(Box.createRange(Range3d.createXYZXYZ(0, 0, 0, sx, sy, sz), true));
            break;
          case "cone":
            b.appendGeometry(Cone.createAxisPoints(Point3d.create(0, 0, 0), Point3d.create(0, 0, sz), sx / 2, i % 2 ? sx / 2 : sx / 5, true));
            break;
          case "extrusion": {
            const t = Math.min(sx, sy) / 4;
            const profile = [[0, 0], [sx, 0], [sx, t], [t, t], [t, sy], [0, sy], [0, 0]].map(([x, y]) => Point3d.create(x, y, 0));
            b.appendGeometry(LinearSweep.createZSweep(profile, 0, sz, true));
            break;
          }
          case "mesh": {
            const pb = PolyfaceBuilder.create(StrokeOptions.createForFacets());
            const p = [Point3d.create(0, 0, 0), Point3d.create(sx, 0, 0), Point3d.create(sx, sy, 0), Point3d.create(0, sy, 0)];
            const apex = Point3d.create(sx / 2, sy / 2, sz);
            pb.addPolygon([p[0], p[3], p[2], p[1]]);
            for (let k = 0; k < 4; k++) pb.addPolygon([p[k], p[(k + 1) % 4], apex]);
            b.appendGeometry(pb.claimPolyface());
            break;
          }
          case "sphere":
            b.appendGeometry(Sphere.createCenterRadius(Point3d.create(sx / 2, sx / 2, sx / 2), sx / 2));
            break;
        }
      };
      if (shape === "twoColour") {
        addShape("box");
        // second primitive in a different colour: a GeometryParams change inside the stream
        const gp = new GeometryParams(cat.id);
        gp.lineColor = ColorDef.fromString("#ffcc00");
        b.appendGeometryParamsChange(gp);
        b.appendGeometry(Cone.createAxisPoints(Point3d.create(sx / 2, sy / 2, sz), Point3d.create(sx / 2, sy / 2, sz + 1), 0.3, 0.0, true));
      } else addShape(shape);

      const kind = i % 3;
      const classFullName = kind === 0 ? "Generic:PhysicalObject" : kind === 1 ? "TwinbridgeTest:TestBeam" : "TwinbridgeTest:TestColumn";
      const props = {};
      if (kind !== 0) {
        Object.assign(props, {
          material: ["Concrete", "Steel", "Timber"][i % 3],
          mass: Math.round(rand() * 100000) / 100,
          count: i,
          serial: 1e12 + i,
          isLoadBearing: i % 2 === 0,
          installedOn: new Date(Date.UTC(2020, 0, 1) + i * 86400000).toISOString(),
          anchor: { x: i, y: 2 * i, z: 0.5 },
          status: i % 3,
          length: sz,
        });
        if (kind === 1) props.span = sx;
        else {
          props.height = sz;
          props.tag = `C-${i}`;
        }
      }
      writer.insertGeometricElement(db, {
        classFullName,
        model,
        category: cat.id,
        codeValue: `E-${i + 1}`,
        userLabel: `${shape} ${i + 1}`,
        origin: [(i % perRow) * 4, Math.floor(i / perRow) * 4, 0],
        angles: { yaw: Math.round(rand() * 360) },
        geom: b.geometryStream,
        federationGuid: uuidFrom(rand),
        props,
      });
      counts[shape] = (counts[shape] || 0) + 1;
    }
    const insertMs = Date.now() - tIns;
    const tSave = Date.now();
    db.saveChanges("twinbridge synthetic content");
    const ext = db.computeProjectExtents({}).extents;
    ext.expandInPlace(1.0);
    db.updateProjectExtents(ext);
    db.saveChanges();
    const saveMs = Date.now() - tSave;
    return { out, elements: n, models, categories: cats.map((c) => c.id), shapes: counts, schemaMs, insertMs, saveMs, totalMs: Date.now() - t0 };
  } finally {
    db.close();
  }
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--overwrite") o.overwrite = true;
    else if (a.startsWith("--")) {
      const k = a.slice(2);
      const v = argv[++i];
      o[k] = ["elements", "models", "categories", "seed"].includes(k) ? parseInt(v, 10) : v;
    }
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!o.out) {
    process.stderr.write("usage: node generate.js --out FILE.bim [--elements N] [--models M] [--categories C] [--seed S] [--overwrite]\n");
    process.exit(2);
  }
  const cacheDir = process.env.TWINBRIDGE_IMODEL_CACHE_DIR || path.join(os.tmpdir(), "twinbridge-imodel-cache");
  fs.mkdirSync(cacheDir, { recursive: true });
  await IModelHost.startup({ cacheDir });
  IModelHost.appWorkspace.settings.addDictionary({ name: "twinbridge-generate", priority: SettingsPriority.application }, { "itwin/core/gcs/disableWorkspaces": true });
  try {
    const res = await generate(o);
    process.stdout.write(JSON.stringify(res) + "\n");
  } finally {
    await IModelHost.shutdown();
  }
}

module.exports = { generate, SCHEMA_XML };
if (require.main === module)
  main().catch((e) => {
    process.stderr.write(`generate failed: ${(e && e.stack) || e}\n`);
    process.exit(1);
  });
