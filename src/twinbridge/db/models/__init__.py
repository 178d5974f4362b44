"""The entities of every table: plain dataclasses, one per row. Repositories read and write them.

The schema itself comes only from the migrations (db/migrations).
"""

from twinbridge.db.models.export_connection import ExportConnection
from twinbridge.db.models.imodel import IModel, IModelUploadBlock, IModelVersion
from twinbridge.db.models.itwin import ITwin, ITwinFavorite, ITwinMember, ITwinRecent
from twinbridge.db.models.named_version import NamedVersion
from twinbridge.db.models.run import Job, Run, Task
from twinbridge.db.models.scripted_run import ScriptedRun, ScriptedRunRule
from twinbridge.db.models.service_client import ServiceClient
from twinbridge.db.models.sign_in import AuthorizationCode, RefreshToken, RefreshTokenFamily
from twinbridge.db.models.storage import StorageFile, StorageFolder
from twinbridge.db.models.sync_configuration import SyncConfiguration
from twinbridge.db.models.sync_connection import SyncConnection, SyncSourceFile
from twinbridge.db.models.sync_report import SyncReport
from twinbridge.db.models.user_grant import UserGrant
from twinbridge.db.models.webhook import Webhook, WebhookAttempt, WebhookDelivery

__all__ = [
    "AuthorizationCode",
    "ExportConnection",
    "IModel",
    "IModelUploadBlock",
    "IModelVersion",
    "ITwin",
    "ITwinFavorite",
    "ITwinMember",
    "ITwinRecent",
    "Job",
    "NamedVersion",
    "RefreshToken",
    "RefreshTokenFamily",
    "Run",
    "ScriptedRun",
    "ScriptedRunRule",
    "ServiceClient",
    "StorageFile",
    "StorageFolder",
    "SyncConfiguration",
    "SyncConnection",
    "SyncReport",
    "SyncSourceFile",
    "Task",
    "UserGrant",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
]
