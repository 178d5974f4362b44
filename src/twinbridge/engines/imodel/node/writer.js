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

const { SnapshotDb, PhysicalModel, SpatialCategory } = backend;
const { IModel, Code, ColorDef, SubCategoryAppearance } = common;

/** Create an empty snapshot (or a copy of an open iModel when `from` is given) and return it writable. */
function createSnapshot(filePath, { rootSubject = "twinbridge", description, guid, from } = {}) {
  if (from) return SnapshotDb.createFrom(from, filePath);
  const props = { rootSubject: { name: rootSubject, description } };
  if (guid) props.guid = guid;
  return SnapshotDb.createEmpty(filePath, props);
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

module.exports = { createSnapshot, importSchemas, insertPhysicalModel, insertSpatialCategory, insertGeometricElement, colorOf, isValidId };
