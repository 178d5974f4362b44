"""The IFC connector: synchronize IFC files into a new snapshot iModel (docs/ifc-connector.md).

Each product's provenance is a BisCore:ExternalSourceAspect (Scope = a RepositoryLink per file key,
Identifier = GlobalId, Kind = "IfcProduct", Checksum = a hash of everything written for it), and its
FederationGuid is the GlobalId expanded to a UUID, from which the IFC exporter derives the same GlobalId.
A re-synchronization updates the elements whose GlobalId is still in the file, inserts the new ones and
deletes those whose GlobalId disappeared; elements whose checksum did not change are left alone.

With `ignore_global_ids` (the Synchronization flag ignoreIfcGlobalIds), for files whose authoring tool makes
new GlobalIds on every export, the Identifier is instead `product_identifier`: the product's IFC class, its
storey (or building) name, its Tag (else its Name) and its occurrence among products alike.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ifcopenshell.guid
import numpy as np
import orjson

from twinbridge.engines.connectors.errors import ConnectorError
from twinbridge.engines.connectors.ifc_reader import IfcProductRecord, IfcSource, MeshPart, read_products
from twinbridge.engines.connectors.ifc_schema import (
    SCHEMA_NAME,
    DynamicSchema,
    convert,
    property_name,
    widen_type,
)
from twinbridge.engines.connectors.issues import SkippedItem, SyncIssue
from twinbridge.engines.connectors.writer import UPSERT_BATCH, BackgroundWrites, SnapshotWriter
from twinbridge.engines.ifc.records import RECORD_KEY
from twinbridge.engines.imodel import EngineError, EnginePool

logger = logging.getLogger(__name__)

ASPECT_KIND = "IfcProduct"
# Part of every checksum: a connector that writes elements differently updates all of them once.
CONNECTOR_VERSION = "ifc-2"
CATEGORY_COLOR = "#a0a0a0"


@dataclass
class FileSyncReport:
    """What a synchronization did with one IFC file."""

    file_key: str
    path: Path
    schema: str
    products: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    issues: list[SyncIssue] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    read_seconds: float = 0.0  # reading the file's products (their meshes are made as they are written)
    # The manifest's documentAttribute for the file ({className, properties}), kept on its RepositoryLink.
    document_attribute: dict[str, Any] | None = None


@dataclass
class SyncReport:
    """Counts per file and overall; the caller computes the changeset id from the output file."""

    output: Path
    files: list[FileSyncReport] = field(default_factory=list)
    # One per unmapped key, in their order: the elements it had, deleted (`deleted`).
    unmapped: list[FileSyncReport] = field(default_factory=list)
    schema_version: str | None = None
    # The base version's profile and schema states before and after the engine upgraded them (None when
    # they were up to date): {"before": "UpgradeRecommended", "after": "UpToDate"}.
    schema_upgrade: dict[str, str] | None = None
    # False when the new snapshot holds nothing the base version did not: no element, model, category,
    # link or schema written, and the same project extents.
    changed: bool = True
    write_seconds: float = 0.0  # meshing the products and writing the new snapshot, for all files

    @property
    def inserted(self) -> int:
        return sum(report.inserted for report in self.files)

    @property
    def updated(self) -> int:
        return sum(report.updated for report in self.files)

    @property
    def deleted(self) -> int:
        return sum(report.deleted for report in self.files + self.unmapped)

    @property
    def unchanged(self) -> int:
        return sum(report.unchanged for report in self.files)

    @property
    def issues(self) -> list[SyncIssue]:
        return [issue for report in self.files for issue in report.issues]


def federation_guid(global_id: str) -> str | None:
    """The UUID behind an IFC GlobalId (what identity.py compresses back), or None for a malformed one."""
    try:
        return str(uuid.UUID(hex=ifcopenshell.guid.expand(global_id)))
    except (ValueError, TypeError, KeyError, IndexError):
        return None


def release_freed_memory() -> None:
    """Gives the memory the C library keeps after frees back to the system (glibc's malloc_trim).

    What a file's batches held (element specs, meshes) is freed when its writing ends, but the C heap keeps
    those pages, and a worker process would keep its largest synchronization's memory until it ends.
    Elsewhere than glibc this does nothing."""
    gc.collect()
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None).malloc_trim(0)


def js_name(ec_name: str) -> str:
    """iTwin.js spells an EC property with its first letter in lower case."""
    return ec_name[:1].lower() + ec_name[1:]


def synchronize_ifc(
    source_files: Sequence[Path],
    base_version: Path | None,
    output: Path,
    pool: EnginePool,
    *,
    file_keys: Sequence[str] | None = None,
    threads: int | None = None,
    previous_keys: Sequence[str | None] | None = None,
    ignore_global_ids: bool = False,
    clamp_z: float | None = None,
    unmapped_keys: Sequence[str] = (),
    document_attributes: Sequence[dict[str, Any] | None] | None = None,
) -> SyncReport:
    """Write at `output` a new snapshot: `base_version` (or an empty iModel) updated with the IFC files.

    `base_version` is never modified; None or an empty file means "start from an empty iModel". Elements of
    file keys not in `file_keys` are kept as they are. Raises `SourceFileError` for an unusable IFC file
    (before the engine does anything) and `EngineError` subclasses when the engine fails; `output` is only
    written when everything succeeded.

    `previous_keys` (one per file, or None) name the key a file had before (its connection's key policy
    changed): the elements under that key are deleted, counted in the file's `deleted`, unless the key is
    one of `file_keys`. `ignore_global_ids` keys provenance on `product_identifier` instead of GlobalIds (and
    reads products whose GlobalId repeats); `clamp_z` bounds the Z range of the new project extents to
    [-clamp_z, clamp_z]. `unmapped_keys` name files taken out of the iModel: every element under each of
    them is deleted (counted in `report.unmapped`).

    `document_attributes` (one per file, or None) are the manifest's document properties of each file: they
    go on the file's RepositoryLink (the element that stands for the file, and the Scope of its elements'
    provenance) as `documentAttribute` in its JSON properties. A base version whose profile or schemas are
    older than the engine's is upgraded first, on a copy (raises `SchemaUpgradeError` when it cannot be).
    """
    paths = [Path(path) for path in source_files]
    keys = list(file_keys) if file_keys is not None else [path.name for path in paths]
    if len(keys) != len(paths):
        raise ConnectorError(f"{len(paths)} source files but {len(keys)} file keys")
    if len(set(keys)) != len(keys):
        raise ConnectorError("file keys must be unique")
    previous: list[str | None] = list(previous_keys) if previous_keys is not None else [None] * len(keys)
    if len(previous) != len(keys):
        raise ConnectorError(f"{len(keys)} file keys but {len(previous)} previous keys")
    unmapped = list(unmapped_keys)
    documents: list[dict[str, Any] | None] = (
        list(document_attributes) if document_attributes is not None else [None] * len(keys)
    )
    if len(documents) != len(keys):
        raise ConnectorError(f"{len(keys)} file keys but {len(documents)} document attributes")
    if set(unmapped) & set(keys) or len(set(unmapped)) != len(unmapped):
        raise ConnectorError("a key cannot be both synchronized and unmapped, nor unmapped twice")
    output = Path(output)
    base = Path(base_version) if base_version is not None else None
    if base is not None:
        if not base.is_file():
            raise ConnectorError(f"the base version {base} does not exist")
        if base.resolve() == output.resolve():
            raise ConnectorError("the output must not be the base version (it is never edited in place)")
        if base.stat().st_size == 0:
            base = None
    # Every file is read (its products, not their meshes) before the engine does anything, by reading
    # processes (reading_process.py): this process never holds a file's IfcOpenShell model.
    sources = []
    for path in paths:
        pool.raise_if_interrupted()
        sources.append(
            read_products(path, unique_global_ids=not ignore_global_ids, check=pool.raise_if_interrupted)
        )
    report = SyncReport(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(f".{output.name}.partial")
    upgraded_base = output.with_name(f".{output.name}.base")
    started = time.monotonic()
    with pool.engine() as engine:
        writer = SnapshotWriter(engine)
        try:
            if base is not None and writer.needs_schema_upgrade(base):
                shutil.copyfile(base, upgraded_base)
                report.schema_upgrade = writer.upgrade_schemas(upgraded_base)
                base = upgraded_base
            writer.create(temporary, root_subject=output.stem, base=base)
            # A canceled run's pool is interrupted: meshing stops at the next product (the engine at once).
            _Synchronizer(
                writer,
                report,
                by_global_id=not ignore_global_ids,
                threads=threads,
                check=pool.raise_if_interrupted,
            ).run(sources, keys, previous, unmapped, documents)
            writer.save(f"IFC synchronization of {', '.join(keys)}", clamp_z=clamp_z)
            report.changed = writer.changed or base is None or report.schema_upgrade is not None
            writer.close()
        except BaseException:
            try:
                writer.close()
            except EngineError:
                engine.kill()  # the pool replaces it
            temporary.unlink(missing_ok=True)
            raise
        finally:
            upgraded_base.unlink(missing_ok=True)
    os.replace(temporary, output)
    report.write_seconds = time.monotonic() - started
    logger.info(
        "IFC sync to %s: %d inserted, %d updated, %d deleted, %d unchanged, %d issues",
        output,
        report.inserted,
        report.updated,
        report.deleted,
        report.unchanged,
        len(report.issues),
    )
    return report


@dataclass(slots=True)
class _Existing:
    aspect_id: str
    element_id: str
    checksum: str | None
    class_name: str
    model_id: str
    code: str | None
    has_geometry: bool = True
    federation_guid: str | None = None


@dataclass(slots=True)
class _Planned:
    """What is decided of a product before it is meshed: its provenance, model and code, and the element it
    updates (None: a new one, or one that `replaces` an element of another class or model)."""

    identifier: str
    model_name: str
    code: str | None
    existing: _Existing | None
    replaces: bool = False


@dataclass(slots=True)
class _FilePlan:
    source: IfcSource
    file: FileSyncReport
    scope: str
    planned: dict[int, _Planned]  # by the product's STEP id


class _Synchronizer:
    """Plans every file's changes from its products, deletes what goes and frees the codes that move, then
    meshes and writes the products a batch at a time (the engine writing one while the next is meshed)."""

    def __init__(
        self,
        writer: SnapshotWriter,
        report: SyncReport,
        *,
        by_global_id: bool = True,
        threads: int | None = None,
        check: Callable[[], None] | None = None,
    ) -> None:
        self.writer = writer
        self.report = report
        self.by_global_id = by_global_id
        self.threads = threads
        self.check = check
        self.models: dict[str, str] = {}
        self.categories: dict[str, str] = {}

    def run(
        self,
        sources: list[IfcSource],
        keys: list[str],
        previous_keys: list[str | None],
        unmapped_keys: Sequence[str] = (),
        documents: Sequence[dict[str, Any] | None] | None = None,
    ) -> None:
        schema = self._update_schema(sources)
        self.report.schema_version = schema.version
        used_guids = self._federation_guids()
        deletes: list[_Existing] = []
        recoded: list[str] = []
        for key in unmapped_keys:
            unmapped = FileSyncReport(key, Path(key), "")
            link = self._repository_link(key)
            if link is not None:
                elements = list(self._existing(link).values())
                deletes += elements
                unmapped.deleted = len(elements)
            self.report.unmapped.append(unmapped)
        documents = list(documents) if documents is not None else [None] * len(keys)
        plans: list[_FilePlan] = []
        for source, key, previous_key, document in zip(sources, keys, previous_keys, documents, strict=True):
            file_report = FileSyncReport(
                key,
                source.path,
                source.schema,
                products=len(source.products),
                skipped=list(source.skipped),
                read_seconds=source.read_seconds,
                document_attribute=document,
            )
            self.report.files.append(file_report)
            if previous_key is not None and previous_key not in keys:
                retired = self._repository_link(previous_key)
                if retired is not None:
                    elements = list(self._existing(retired).values())
                    deletes += elements
                    file_report.deleted += len(elements)
            scope = self.writer.ensure_repository_link(
                key, source.path.name, document=document, ifc_record=source.record or None
            )
            existing = self._existing(scope)
            model_names = _model_names(source, key, self.by_global_id)
            identifiers = (
                [record.global_id for record in source.products]
                if self.by_global_id
                else product_identifiers(source.products)
            )
            seen: set[str] = set()
            code_counts: dict[tuple[str, str], int] = {}
            for record in source.products:
                if record.name:
                    code = (model_names[record.container_key], record.name)
                    code_counts[code] = code_counts.get(code, 0) + 1
            planned: dict[int, _Planned] = {}
            for record, identifier in zip(source.products, identifiers, strict=True):
                seen.add(identifier)
                model_name = model_names[record.container_key]
                unique_name = bool(record.name) and code_counts.get((model_name, record.name or "")) == 1
                plan = _Planned(
                    identifier, model_name, record.name if unique_name else None, existing.get(identifier)
                )
                old = plan.existing
                # Models and categories are made now: once writing starts, the engine is the writer thread's.
                model_id = self._model(model_name)
                self._category(record.ifc_class)
                if old is not None and (
                    old.class_name != f"{SCHEMA_NAME}:{record.ifc_class}" or old.model_id != model_id
                ):
                    # Class and model of an element are fixed: replace it (it gets a new element id).
                    deletes.append(old)
                    plan.existing, plan.replaces = None, True
                elif old is not None and old.code and old.code != plan.code:
                    recoded.append(old.element_id)
                planned[record.step_id] = plan
            gone = [old for identifier, old in existing.items() if identifier not in seen]
            deletes += gone
            file_report.deleted += len(gone)
            plans.append(_FilePlan(source, file_report, scope, planned))
        if deletes:
            used_guids -= {old.federation_guid for old in deletes if old.federation_guid}
            self.writer.delete_elements([old.element_id for old in deletes])
        # Codes are unique per model: the codes that move are freed before any element is written.
        self.writer.clear_codes(recoded)
        writes = BackgroundWrites(self.writer)
        try:
            for file_plan in plans:
                self._write_file(file_plan, schema, used_guids, writes)
            writes.finish()
        except BaseException:
            writes.abandon()
            raise

    def _write_file(
        self, plan: _FilePlan, schema: DynamicSchema, used_guids: set[str], writes: BackgroundWrites
    ) -> None:
        """Meshes a file's products a batch at a time; each batch's changes are queued for the engine."""
        file_report = plan.file
        issues_read = len(plan.source.issues)
        for batch in plan.source.batches(UPSERT_BATCH, threads=self.threads, check=self.check):
            replaced: list[str] = []
            updates: list[tuple[dict[str, Any], IfcProductRecord]] = []
            inserts: list[tuple[dict[str, Any], IfcProductRecord]] = []
            for record in batch:
                planned = plan.planned[record.step_id]
                spec = self._spec(
                    record,
                    planned.identifier,
                    schema,
                    planned.model_name,
                    plan.scope,
                    planned.code,
                    file_report,
                )
                old = planned.existing
                if old is not None and old.checksum == spec["aspect"]["checksum"]:
                    file_report.unchanged += 1
                elif (
                    old is not None
                    and old.has_geometry
                    and not any(len(part.triangles) for part in record.mesh)
                ):
                    # An update cannot empty an element's geometry stream: replace it. One that never had
                    # geometry is updated.
                    replaced.append(old.element_id)
                    if old.federation_guid:
                        used_guids.discard(old.federation_guid)
                    inserts.append((spec, record))
                    file_report.updated += 1
                elif old is not None:
                    spec["id"] = old.element_id
                    spec["aspect"]["id"] = old.aspect_id
                    spec.pop("federationGuid", None)  # kept as it is
                    spec["props"].update(
                        {
                            js_name(name): None
                            for name in schema.classes.get(record.ifc_class, {})
                            if js_name(name) not in spec["props"]
                        }
                    )
                    updates.append((spec, record))
                    file_report.updated += 1
                else:
                    inserts.append((spec, record))
                    if planned.replaces:
                        file_report.updated += 1
                    else:
                        file_report.inserted += 1
            for spec, record in inserts:
                guid = spec.get("federationGuid")
                if guid and guid in used_guids:
                    file_report.issues.append(
                        SyncIssue(
                            "FederationGuidTaken",
                            "The GlobalId is already the FederationGuid of another element of the iModel; "
                            "the element got a new FederationGuid, so an export gives it a new GlobalId",
                            record.global_id,
                        )
                    )
                    spec.pop("federationGuid")
                elif guid:
                    used_guids.add(guid)
            if replaced:
                writes.delete(replaced)
            written = [_complete(spec, record) for spec, record in updates + inserts]
            for record in batch:
                _release(record)
            if written:
                writes.upsert(written)
        file_report.issues[:0] = plan.source.issues[:issues_read]
        file_report.issues += plan.source.issues[issues_read:]
        release_freed_memory()  # what the file's batches held goes back to the system

    # ---- reading the iModel

    def _update_schema(self, sources: list[IfcSource]) -> DynamicSchema:
        versions = list(
            self.writer.query("SELECT VersionMinor minor FROM meta.ECSchemaDef WHERE Name = ?", [SCHEMA_NAME])
        )
        rows: list[dict[str, Any]] = []
        if versions:
            rows += self.writer.query(
                "SELECT c.Name className FROM meta.ECClassDef c JOIN meta.ECSchemaDef s"
                " ON s.ECInstanceId = c.Schema.Id WHERE s.Name = ?",
                [SCHEMA_NAME],
            )
            rows += self.writer.query(
                "SELECT c.Name className, p.Name propertyName, p.PrimitiveType primitiveType"
                " FROM meta.ECPropertyDef p JOIN meta.ECClassDef c ON c.ECInstanceId = p.Class.Id"
                " JOIN meta.ECSchemaDef s ON s.ECInstanceId = c.Schema.Id WHERE s.Name = ?"
                " ORDER BY c.Name, p.Ordinal",
                [SCHEMA_NAME],
            )
        schema = DynamicSchema.from_rows(int(versions[0]["minor"]) if versions else None, rows)
        wanted: dict[str, dict[str, str]] = {}
        for source in sources:
            for class_name, file_types in source.property_types.items():
                types = wanted.setdefault(class_name, {})
                for key, value_type in file_types.items():
                    widen_type(types, key, value_type)
        for class_name, types in sorted(wanted.items()):
            schema.add_class(class_name)
            for key, value_type in types.items():
                schema.property_for(class_name, key, value_type)
        if schema.changed or not schema.existing:
            if schema.existing:
                schema.version_minor += 1
            self.writer.import_schemas([schema.to_xml()])
        return schema

    def _federation_guids(self) -> set[str]:
        return {
            str(row["guid"]).lower()
            for row in self.writer.query(
                "SELECT FederationGuid guid FROM bis.Element WHERE FederationGuid IS NOT NULL"
            )
        }

    def _repository_link(self, code: str) -> str | None:
        """The RepositoryLink of a file key, if one was made."""
        for row in self.writer.query(
            "SELECT ECInstanceId id FROM bis.RepositoryLink WHERE CodeValue = ?", [code]
        ):
            return str(row["id"])
        return None

    def _existing(self, scope: str) -> dict[str, _Existing]:
        existing: dict[str, _Existing] = {}
        for row in self.writer.query(
            "SELECT a.ECInstanceId aspectId, a.Identifier identifier, a.Checksum checksum,"
            " e.ECInstanceId elementId, ec_classname(e.ECClassId, 's:c') className, e.Model.Id modelId,"
            " e.CodeValue code, (CASE WHEN g.GeometryStream IS NULL THEN 0 ELSE 1 END) hasGeometry,"
            " e.FederationGuid guid"
            " FROM bis.ExternalSourceAspect a JOIN bis.Element e ON e.ECInstanceId = a.Element.Id"
            " LEFT JOIN bis.GeometricElement3d g ON g.ECInstanceId = e.ECInstanceId"
            " WHERE a.Scope.Id = ? AND a.Kind = ?",
            [{"$id": scope}, ASPECT_KIND],
        ):
            existing[str(row["identifier"])] = _Existing(
                aspect_id=str(row["aspectId"]),
                element_id=str(row["elementId"]),
                checksum=row.get("checksum"),
                class_name=str(row["className"]),
                model_id=str(row["modelId"]),
                code=row.get("code"),
                has_geometry=bool(row.get("hasGeometry", 1)),
                federation_guid=str(row["guid"]).lower() if row.get("guid") else None,
            )
        return existing

    # ---- building element specs

    def _model(self, name: str) -> str:
        if name not in self.models:
            self.models[name] = self.writer.ensure_model(name)
        return self.models[name]

    def _category(self, name: str) -> str:
        if name not in self.categories:
            self.categories[name] = self.writer.ensure_category(name, CATEGORY_COLOR)
        return self.categories[name]

    def _spec(
        self,
        record: IfcProductRecord,
        identifier: str,
        schema: DynamicSchema,
        model_name: str,
        scope: str,
        code: str | None,
        file_report: FileSyncReport,
    ) -> dict[str, Any]:
        props: dict[str, Any] = {
            "globalId": record.global_id,
            "ifcClass": record.ifc_class,
        }
        for attribute, value in record.attributes.items():
            props[js_name(attribute)] = value
        class_properties = schema.classes.get(record.ifc_class, {})
        for set_name, values in record.properties.items():
            for name, raw in values.items():
                stored, ec_type = schema.property_for(
                    record.ifc_class, property_name(set_name, name), "string"
                )
                converted = convert(raw, ec_type)
                if converted is None or stored not in class_properties:
                    file_report.issues.append(
                        SyncIssue(
                            "PropertyLeftOut",
                            f"{set_name}.{name} = {raw!r} does not fit the {ec_type} property of "
                            f"{SCHEMA_NAME}:{record.ifc_class}; it was left out",
                            record.global_id,
                        )
                    )
                    continue
                props[js_name(stored)] = converted
        spec: dict[str, Any] = {
            "classFullName": f"{SCHEMA_NAME}:{record.ifc_class}",
            "model": self._model(model_name),
            "category": self._category(record.ifc_class),
            "codeValue": code,
            "userLabel": record.name,
            "origin": list(record.origin),
            "angles": dict(zip(("yaw", "pitch", "roll"), record.angles, strict=True)),
            "props": props,
        }
        guid = federation_guid(record.global_id)
        if guid is None:
            file_report.issues.append(
                SyncIssue(
                    "InvalidGlobalId",
                    "The GlobalId is not a valid IFC GlobalId; the element has no FederationGuid, so an "
                    "export gives it a new GlobalId",
                    record.global_id,
                )
            )
        else:
            spec["federationGuid"] = guid
        # The geometry stream is built when the element is written (`_complete`), so that the batch's
        # elements do not hold one before they must; the checksum covers the mesh it is made from.
        checksum = hashlib.sha1(
            orjson.dumps(
                [
                    CONNECTOR_VERSION,
                    model_name,
                    record.container_key,
                    spec,
                    [(part.color, part.transparency) for part in record.mesh],
                    record.ifc,
                ],
                default=str,
                option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY,
            )
        )
        for part in record.mesh:
            checksum.update(part.points.tobytes())
            checksum.update(part.triangles.astype(np.int32, copy=False).tobytes())
        digest = checksum.hexdigest()
        spec["aspect"] = {
            "scope": scope,
            "identifier": identifier,
            "kind": ASPECT_KIND,
            "version": CONNECTOR_VERSION,
            "checksum": digest,
        }
        return spec


def product_identifier(record: IfcProductRecord, occurrence: int) -> str:
    """A product's provenance when GlobalIds are ignored: `<IFC class>/<storey or building>/<Tag, else
    Name>/<n>`, n counting from 1 the products of the file with the same first three parts, in file order.
    Authoring tools keep Tags (Revit's and ArchiCAD's are their element ids) where they renew GlobalIds."""
    label = record.attributes.get("Tag") or record.name or ""
    return f"{record.ifc_class}/{record.container}/{label}/{occurrence}"


def product_identifiers(records: Sequence[IfcProductRecord]) -> list[str]:
    occurrences: dict[tuple[str, str, str], int] = {}
    identifiers = []
    for record in records:
        alike = (record.ifc_class, record.container, record.attributes.get("Tag") or record.name or "")
        occurrences[alike] = occurrences.get(alike, 0) + 1
        identifiers.append(product_identifier(record, occurrences[alike]))
    return identifiers


def _model_names(source: IfcSource, key: str, by_global_id: bool = True) -> dict[str, str]:
    """Model name per container key: "<file key>: <storey or building name>", or the file key alone. Two
    containers of one name are told apart by their GlobalId, or by their order when GlobalIds are ignored."""
    names: dict[str, list[str]] = {}
    for record in source.products:
        if record.container_key and record.container_key not in names.get(record.container, []):
            names.setdefault(record.container, []).append(record.container_key)
    result: dict[str, str] = {"": key}
    for name, container_keys in names.items():
        for index, container_key in enumerate(container_keys, start=1):
            tag = container_key if by_global_id else str(index)
            result[container_key] = f"{key}: {name}" if len(container_keys) == 1 else f"{key}: {name} ({tag})"
    return result


def _geometry_stream(mesh: list[MeshPart]) -> list[dict[str, Any]]:
    """IModelJson GeometryStreamProps: per colour an appearance and an indexedMesh (1-based, 0-terminated)."""
    stream: list[dict[str, Any]] = []
    for part in mesh:
        if not len(part.triangles):
            continue
        red, green, blue = part.color
        appearance: dict[str, Any] = {"color": red | (green << 8) | (blue << 16)}
        if part.transparency > 0:
            appearance["transparency"] = part.transparency
        triangles = np.asarray(part.triangles, dtype=np.int64)
        indices = np.zeros((len(triangles), 4), dtype=np.int64)
        indices[:, :3] = triangles + 1
        stream.append({"appearance": appearance})
        stream.append(
            {
                "indexedMesh": {
                    "point": np.asarray(part.points).tolist(),
                    "pointIndex": indices.ravel().tolist(),
                }
            }
        )
    return stream


def _complete(spec: dict[str, Any], record: IfcProductRecord) -> dict[str, Any]:
    """The spec with what is made only when it is written: its geometry stream and its IFC record."""
    complete = {**spec, "geom": _geometry_stream(record.mesh)}
    if record.ifc:
        complete["props"] = {**spec["props"], "jsonProperties": {RECORD_KEY: record.ifc}}
    return complete


def _release(record: IfcProductRecord) -> None:
    """Drops what a written (or unchanged) product held for its element: its mesh, record and properties."""
    record.mesh = []
    record.ifc = None
    record.properties = {}
