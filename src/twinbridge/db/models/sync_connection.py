from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from twinbridge.db.base import Base, CreatedAt


class SyncConnection(CreatedAt, Base):
    """A Synchronization connection: `manifest` (files by URL with each run) or `storage` (stored files)."""

    __tablename__ = "sync_connections"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    imodel_id: Mapped[str] = mapped_column(ForeignKey("imodels.id", ondelete="CASCADE"), index=True)
    itwin_id: Mapped[str] = mapped_column(String(36))
    display_name: Mapped[str] = mapped_column(String(255))
    authentication_type: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(255))


class SyncSourceFile(CreatedAt, Base):
    """A file mapped into an iModel through a connection; a file maps into an iModel at most once."""

    __tablename__ = "sync_source_files"
    __table_args__ = (UniqueConstraint("imodel_id", "kind", "file_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("sync_connections.id", ondelete="CASCADE"), index=True
    )
    imodel_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))
    # The caller's document id (manifest `sourceFileId`) or the storage file id (`storageFileId`).
    file_key: Mapped[str] = mapped_column(String(255))
    connector_type: Mapped[str | None] = mapped_column(String(32))
    last_known_file_name: Mapped[str | None] = mapped_column(String(255))
    ordinal: Mapped[int] = mapped_column(Integer, default=0)
