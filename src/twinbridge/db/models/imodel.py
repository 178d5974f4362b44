from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from twinbridge.db.base import Base, CreatedAt


class IModel(CreatedAt, Base):
    """An iModel: a name in an iTwin and a line of immutable snapshot versions (`IModelVersion`)."""

    __tablename__ = "imodels"
    __table_args__ = (UniqueConstraint("itwin_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    itwin_id: Mapped[str] = mapped_column(ForeignKey("itwins.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    # "notInitialized" until a baseline is accepted, then "initialized" (the iModels API's states).
    state: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str | None] = mapped_column(String(255))
    # The pre-authorised upload of the "fromBaseline" flow: a secret in the upload URL, like a SAS token.
    baseline_upload_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    baseline_expected_size: Mapped[int | None] = mapped_column(BigInteger)


class IModelVersion(CreatedAt, Base):
    """One snapshot file of an iModel. Index 0 is the baseline; later versions carry a changeset id."""

    __tablename__ = "imodel_versions"
    __table_args__ = (UniqueConstraint("imodel_id", "changeset_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    imodel_id: Mapped[str] = mapped_column(ForeignKey("imodels.id", ondelete="CASCADE"), index=True)
    changeset_index: Mapped[int] = mapped_column(Integer)
    changeset_id: Mapped[str | None] = mapped_column(String(64), index=True)
    blob_key: Mapped[str] = mapped_column(String(512))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(255))
