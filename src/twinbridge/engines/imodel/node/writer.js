/*
 * Writing snapshot iModels with @itwin/core-backend: shared by engine.js (writer ops) and
 * generate.js (synthetic test iModels). CommonJS, no build step.
 *
 * A SnapshotDb returned by SnapshotDb.createEmpty / createFrom is writable until it is closed;
 * SnapshotDb.openFile always opens read-only. So a writer session is: create -> insert... ->
 * saveChanges -> close. Geometry is given as GeometryStreamProps JSON (IModelJson), e.g.
 *   [{"appearance": {"color": 0x0000ff}}, {"box": {...}}, {"cone": {...}}, {"indexedMesh": {...}}]
 * or built with GeometryStreamBuilder from @itwin/core-geometry objects (see generate.js).
 */
"use strict";

const backend = require("@itwin/core-backend");
const common = require("@itwin/core-common");
const { Id64 } = require("@itwin/core-bentley");

const { Range3d } = require("@itwin/core-geometry");

const { SnapshotDb, PhysicalModel, SpatialCategory } = backend;
const { IModel, Code, ColorDef, SubCategoryAppearance, Cartographic, EcefLocation } = common;

/**
 * Create an empty snapshot (or a copy of an open iModel when `from` is given) and return it writable.
 * An empty one may be placed on the Earth: `extent` is the iModels API's latitude/longitude box (see
 * `geoLocationOf`), `geographicCoordinateSystem` a GeographicCRSProps ({horizontalCRS: {id}, ...}).
 */
function createSnapshot(filePath, { rootSubject = "twinbridge", description, guid, from, extent, geographicCoordinateSystem } = {}) {
  if (from) return SnapshotDb.createFrom(from, filePath);
  const props = { rootSubject: { name: rootSubject, description } };
  if (guid) props.guid = guid;
  if (extent) Object.assign(props, geoLocationOf(extent));
  if (geographicCoordinateSystem) props.geographicCoordinateSystem = geographicCoordinateSystem;
  const db = SnapshotDb.createEmpty(filePath, props);
  // createEmpty sets the ECEF location and the coordinate system in memory only: store them with the file.
  if (extent || geographicCoordinateSystem) db.updateIModelProps();
  return db;
}

/**
 * Where a latitude/longitude box ({southWest: {latitude, longitude}, northEast: {...}}, degrees) puts an
 * iModel: its ECEF location at the centre of the box (iModel x east, y north, z up, in metres) and project
 * extents that cover the box on the ellipsoid. A box whose west longitude is greater than its east one
 * crosses the antimeridian. The vertical range is at least that of an empty iModel's default (-10 to 30 m).
 */
function geoLocationOf(extent) {
  const south = extent.southWest.latitude;
  const north = extent.northEast.latitude;
  const west = extent.southWest.longitude;
  let east = extent.northEast.longitude;
  if (east < west) east += 360;
  let centreLongitude = (west + east) / 2;
  if (centreLongitude > 180) centreLongitude -= 360;
  const centre = Cartographic.fromDegrees({ longitude: centreLongitude, latitude: (south + north) / 2, height: 0 });
  const ecefLocation = EcefLocation.createFromCartographicOrigin(centre);
  const toLocal = ecefLocation.getTransform().inverse();
  const range = Range3d.createXYZXYZ(0, 0, -10, 0, 0, 30);
  const steps = 8; // the box's edges are curves in the local frame: sample them
  for (let i = 0; i <= steps; i++) {
    const latitude = south + ((north - south) * i) / steps;
    const longitude = west + ((east - west) * i) / steps;
    for (const [lat, lon] of [[latitude, west], [latitude, east], [south, longitude], [north, longitude]]) {
      const point = Cartographic.fromDegrees({ longitude: lon, latitude: lat, height: 0 }).toEcef();
      range.extendPoint(toLocal.multiplyPoint3d(point));
    }
  }
  return { ecefLocation: ecefLocation.toJSON(), projectExtents: range.toJSON() };
}

/** Import one or more ECSchema XML strings (a schema's references must already be in the iModel or in the list). */
async function importSchemas(db, xmlStrings) {
  await db.importSchemaStrings(xmlStrings);
  db.saveChanges("import schemas");
}

/** Insert a PhysicalPartition + PhysicalModel under the root subject; returns the model id. */
function insertPhysicalModel(db, name) {
  const existing = db.elements.queryElementIdByCode(PhysicalPartitionCode(db, name));
  if (existing) throw new Error(`a physical model named ${JSON.stringify(name)} already exists (${existing})`);
  return PhysicalModel.insert(db, IModel.rootSubjectId, name);
}
function PhysicalPartitionCode(db, name) {
  return backend.PhysicalPartition.createCode(db, IModel.rootSubjectId, name);
}

/** Insert a SpatialCategory in the dictionary model; colour is a TBGR number or "#rrggbb". */
function insertSpatialCategory(db, name, color) {
  const c = colorOf(color === undefined ? "#808080" : color);
  return SpatialCategory.insert(db, IModel.dictionaryId, name, new SubCategoryAppearance({ color: c.toJSON() }));
}

function colorOf(c) {
  if (typeof c === "number") return ColorDef.fromJSON(c);
  if (typeof c === "string") return ColorDef.fromString(c);
  throw new Error(`bad colour ${JSON.stringify(c)}`);
}

/**
 * Insert a GeometricElement3d.
 * spec: { classFullName = "Generic:PhysicalObject", model, category, codeValue?, userLabel?,
 *         origin = [0,0,0], angles = {yaw,pitch,roll} (degrees), geom: GeometryStreamProps, props: {...} }
 * Returns the new element id.
 */
function insertGeometricElement(db, spec) {
  const props = {
    classFullName: spec.classFullName || "Generic:PhysicalObject",
    model: spec.model,
    category: spec.category,
    code: spec.codeValue ? new Code({ spec: elementCodeSpecId(db), scope: spec.model, value: spec.codeValue }) : Code.createEmpty(),
    userLabel: spec.userLabel,
    placement: { origin: spec.origin || [0, 0, 0], angles: spec.angles || {} },
    geom: spec.geom,
    ...(spec.props || {}),
  };
  if (spec.federationGuid) props.federationGuid = spec.federationGuid;
  return db.elements.insertElement(props);
}

/** A model-scoped CodeSpec "twinbridge:ElementCode" for element CodeValues (created on first use). */
const ELEMENT_CODE_SPEC = "twinbridge:ElementCode";
function elementCodeSpecId(db) {
  if (db.codeSpecs.hasName(ELEMENT_CODE_SPEC)) return db.codeSpecs.getByName(ELEMENT_CODE_SPEC).id;
  return db.codeSpecs.insert(ELEMENT_CODE_SPEC, common.CodeScopeSpec.Type.Model);
}

function isValidId(x) {
  return typeof x === "string" && Id64.isValidId64(x);
}

module.exports = { createSnapshot, geoLocationOf, importSchemas, insertPhysicalModel, insertSpatialCategory, insertGeometricElement, colorOf, isValidId };
