"""The iModel engine: a pool of long-lived Node processes around Bentley's native iModel library.

Typical use::

    with EnginePool(size=2) as pool, pool.open("model.bim") as imodel:
        for row in imodel.query("SELECT ECInstanceId FROM bis.PhysicalElement"):
            ...
        for graphics in imodel.export_graphics(element_ids):
            ...
"""

from twinbridge.engines.imodel.errors import (
    ElementNotFoundError,
    EngineCancelledError,
    EngineCrashedError,
    EngineError,
    EngineProtocolError,
    EngineRequestError,
    EngineTimeoutError,
    EngineUnavailableError,
    GenerateError,
    GraphicsExportError,
    IModelFileError,
    QueryError,
    SchemaUpgradeError,
)
from twinbridge.engines.imodel.frames import MeshBatch, MeshRecord, RecordType, decode_mesh_batch
from twinbridge.engines.imodel.pool import EnginePool
from twinbridge.engines.imodel.process import EngineOptions, EngineProcess
from twinbridge.engines.imodel.session import ElementGraphics, GraphicsExportReport, IModelSession

__all__ = [
    "ElementGraphics",
    "ElementNotFoundError",
    "EngineCancelledError",
    "EngineCrashedError",
    "EngineError",
    "EngineOptions",
    "EnginePool",
    "EngineProcess",
    "EngineProtocolError",
    "EngineRequestError",
    "EngineTimeoutError",
    "EngineUnavailableError",
    "GenerateError",
    "GraphicsExportError",
    "GraphicsExportReport",
    "IModelFileError",
    "IModelSession",
    "MeshBatch",
    "MeshRecord",
    "QueryError",
    "RecordType",
    "SchemaUpgradeError",
    "decode_mesh_batch",
]
