from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from twinbridge.db.base import Base, CreatedAt
from twinbridge.platform.time import utc_now


class StorageFolder(CreatedAt, Base):
    """A folder of an iTwin's storage. The root folder (no parent) has an id derived from the iTwin's id,
    so that two requests that make it at once collide on the primary key instead of making two roots."""

    __tablename__ = "storage_folders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    itwin_id: Mapped[str] = mapped_column(ForeignKey("itwins.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("storage_folders.id", ondelete="CASCADE"), index=True
    )
    display_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(255))
    modified_at: Mapped[datetime] = mapped_column(default=utc_now)
    modified_by: Mapped[str | None] = mapped_column(String(255))


class StorageFile(CreatedAt, Base):
    """A file of an iTwin's storage: "created", then "uploaded" once bytes arrive at its upload URL, then
    "complete". Only complete files are listed and downloadable.

    A complete file's content is replaced in the same three steps (update content, upload, complete): the
    new bytes wait as the pending blob, and the file keeps its current content until the update completes.
    """

    __tablename__ = "storage_files"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    folder_id: Mapped[str] = mapped_column(ForeignKey("storage_folders.id", ondelete="CASCADE"), index=True)
    itwin_id: Mapped[str] = mapped_column(ForeignKey("itwins.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    blob_key: Mapped[str] = mapped_column(String(512))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # The secret of the upload URL, like a SAS token; cleared once the file (or its new content) is complete.
    upload_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    # New content uploaded to a complete file, waiting for its completion.
    pending_blob_key: Mapped[str | None] = mapped_column(String(512))
    pending_size: Mapped[int | None] = mapped_column(BigInteger)
    pending_sha256: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(255))
    modified_at: Mapped[datetime] = mapped_column(default=utc_now)
    modified_by: Mapped[str | None] = mapped_column(String(255))
