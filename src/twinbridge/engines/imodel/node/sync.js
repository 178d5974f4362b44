/*
 * Ops for connectors that synchronize external files into a writable snapshot (see
 * src/twinbridge/engines/connectors): find-or-insert models, categories and repository links, and
 * insert / update / delete elements together with their BisCore:ExternalSourceAspect (provenance).
 * engine.js merges these handlers into its op table; every op needs a writable handle (from "create").
 *
 *   ensureModel          {handle, name}                          -> {modelId, created}
 *   ensureCategory       {handle, name, color}                   -> {categoryId, created}
 *   ensureRepositoryLink {handle, code, url, description, document, ifc} -> {linkId, created, updated}
 *   upsertElements       {handle, elements: [{id?, ...insertElements spec, aspect?}]} -> {ids}
 *       without "id" the element is inserted, with "id" it is updated (class and model must not change);
 *       aspect = {scope, identifier, kind, version, checksum, id?} is inserted or (with id) updated.
 *   deleteElements       {handle, ids: [...]}                    -> {deleted}
 *   clearCodes           {handle, ids: [...]}                    -> {cleared}
 *       the elements lose their codes, nothing else changes (geometry included): a connector frees the codes
 *       it gives to other elements before it writes any of them.
 */
"use strict";

const backend = require("@itwin/core-backend");
const common = require("@itwin/core-common");

const { PhysicalModel, PhysicalPartition, SpatialCategory, LinkElement } = backend;
const { IModel, Code, CodeScopeSpec, SubCategoryAppearance } = common;
const writer = require("./writer");

// The same CodeSpec as writer.js gives inserted elements, so codes stay comparable across ops.
const ELEMENT_CODE_SPEC = "twinbridge:ElementCode";
const ASPECT_CLASS = "BisCore:ExternalSourceAspect";
const ASPECT_RELATIONSHIP = "BisCore:ElementOwnsExternalSourceAspects";

function elementCodeSpecId(db) {
  if (db.codeSpecs.hasName(ELEMENT_CODE_SPEC)) return db.codeSpecs.getByName(ELEMENT_CODE_SPEC).id;
  return db.codeSpecs.insert(ELEMENT_CODE_SPEC, CodeScopeSpec.Type.Model);
}

// A file's document properties (a manifest's documentAttribute) and its IFC record live in its RepositoryLink's
// JSON properties; a value undefined leaves its entry as it is, null removes it.
function withEntries(jsonProperties, entries) {
  const next = { ...(jsonProperties || {}) };
  for (const [key, value] of Object.entries(entries)) {
    if (value === undefined) continue;
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return Object.keys(next).length ? next : undefined;
}

// JSON text to compare JSON properties with what the iModel gives back: it may order object keys otherwise,
// drops members whose value is null, and keeps numbers to about 16 significant digits.
function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined && value[key] !== null)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(",")}}`;
  }
  if (typeof value === "number" && Number.isFinite(value)) return String(Number(value.toPrecision(14)));
  return JSON.stringify(value === undefined ? null : value);
}

function elementProps(db, spec) {
  const props = {
    classFullName: spec.classFullName || "Generic:PhysicalObject",
    model: spec.model,
    category: spec.category,
    code: spec.codeValue ? new Code({ spec: elementCodeSpecId(db), scope: spec.model, value: spec.codeValue }) : Code.createEmpty(),
    userLabel: spec.userLabel === undefined ? undefined : spec.userLabel,
    placement: { origin: spec.origin || [0, 0, 0], angles: spec.angles || {} },
    geom: spec.geom,
    ...(spec.props || {}),
  };
  if (spec.federationGuid) props.federationGuid = spec.federationGuid;
  return props;
}

function aspectProps(elementId, aspect) {
  const props = {
    classFullName: ASPECT_CLASS,
    element: { id: elementId, relClassName: ASPECT_RELATIONSHIP },
    scope: { id: aspect.scope },
    identifier: String(aspect.identifier),
    kind: aspect.kind || "Element",
  };
  if (aspect.version !== undefined) props.version = aspect.version;
  if (aspect.checksum !== undefined) props.checksum = aspect.checksum;
  if (aspect.id) props.id = aspect.id;
  return props;
}

function syncOps({ getWritableDb, EngineError }) {
  const failed = (code, e, extra) => (e instanceof EngineError ? e : new EngineError(code, e.message, extra));
  return {
    async ensureModel(cmd) {
      const db = getWritableDb(cmd.handle);
      try {
        const name = String(cmd.name);
        const existing = db.elements.queryElementIdByCode(PhysicalPartition.createCode(db, IModel.rootSubjectId, name));
        if (existing) return { modelId: existing, created: false };
        return { modelId: PhysicalModel.insert(db, IModel.rootSubjectId, name), created: true };
      } catch (e) {
        throw failed("INSERT_FAILED", e);
      }
    },

    async ensureCategory(cmd) {
      const db = getWritableDb(cmd.handle);
      try {
        const name = String(cmd.name);
        const existing = SpatialCategory.queryCategoryIdByName(db, IModel.dictionaryId, name);
        if (existing) return { categoryId: existing, created: false };
        const color = writer.colorOf(cmd.color === undefined ? "#808080" : cmd.color);
        const id = SpatialCategory.insert(db, IModel.dictionaryId, name, new SubCategoryAppearance({ color: color.toJSON() }));
        return { categoryId: id, created: true };
      } catch (e) {
        throw failed("INSERT_FAILED", e);
      }
    },

    async ensureRepositoryLink(cmd) {
      const db = getWritableDb(cmd.handle);
      try {
        const code = String(cmd.code);
        const existing = db.elements.queryElementIdByCode(LinkElement.createCode(db, IModel.repositoryModelId, code));
        if (existing) {
          const link = db.elements.getElementProps(existing);
          const jsonProperties = withEntries(link.jsonProperties, { documentAttribute: cmd.document, ifc: cmd.ifc });
          const updated =
            (cmd.url !== undefined && link.url !== cmd.url) ||
            canonicalJson(jsonProperties || {}) !== canonicalJson(link.jsonProperties || {});
          if (updated) db.elements.updateElement({ ...link, url: cmd.url !== undefined ? cmd.url : link.url, jsonProperties });
          return { linkId: existing, created: false, updated };
        }
        const linkId = db.elements.insertElement({
          classFullName: "BisCore:RepositoryLink",
          model: IModel.repositoryModelId,
          code: LinkElement.createCode(db, IModel.repositoryModelId, code),
          url: cmd.url || code,
          description: cmd.description,
          jsonProperties: withEntries(undefined, { documentAttribute: cmd.document, ifc: cmd.ifc }),
        });
        return { linkId, created: true };
      } catch (e) {
        throw failed("INSERT_FAILED", e);
      }
    },

    async upsertElements(cmd) {
      const db = getWritableDb(cmd.handle);
      if (!Array.isArray(cmd.elements)) throw new EngineError("BAD_REQUEST", "upsertElements needs 'elements': [...]");
      const ids = [];
      for (let i = 0; i < cmd.elements.length; i++) {
        const spec = cmd.elements[i];
        try {
          const props = elementProps(db, spec);
          let id = spec.id;
          if (id) {
            props.id = id;
            db.elements.updateElement(props);
          } else {
            id = db.elements.insertElement(props);
          }
          if (spec.aspect) {
            const aspect = aspectProps(id, spec.aspect);
            if (aspect.id) db.elements.updateAspect(aspect);
            else db.elements.insertAspect(aspect);
          }
          ids.push(id);
        } catch (e) {
          throw new EngineError("INSERT_FAILED", `element ${i}: ${e.message}`, { index: i, done: ids });
        }
      }
      return { ids };
    },

    async clearCodes(cmd) {
      const db = getWritableDb(cmd.handle);
      if (!Array.isArray(cmd.ids)) throw new EngineError("BAD_REQUEST", "clearCodes needs 'ids': [...]");
      try {
        for (const id of cmd.ids) {
          // Without "geom" in the props, an update leaves the geometry stream as it is.
          const props = db.elements.getElementProps(id);
          db.elements.updateElement({ ...props, code: Code.createEmpty() });
        }
      } catch (e) {
        throw failed("UPDATE_FAILED", e);
      }
      return { cleared: cmd.ids.length };
    },

    async deleteElements(cmd) {
      const db = getWritableDb(cmd.handle);
      if (!Array.isArray(cmd.ids)) throw new EngineError("BAD_REQUEST", "deleteElements needs 'ids': [...]");
      try {
        if (cmd.ids.length) db.elements.deleteElement(cmd.ids);
      } catch (e) {
        throw failed("DELETE_FAILED", e);
      }
      return { deleted: cmd.ids.length };
    },
  };
}

module.exports = { syncOps };
