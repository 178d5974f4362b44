from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from twinbridge.db.base import Base, CreatedAt


class ExportConnection(CreatedAt, Base):
    """Says which iModel is exported; each connection can be run many times."""

    __tablename__ = "export_connections"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    imodel_id: Mapped[str] = mapped_column(ForeignKey("imodels.id", ondelete="CASCADE"), index=True)
    itwin_id: Mapped[str] = mapped_column(String(36))
    display_name: Mapped[str] = mapped_column(String(255))
    authentication_type: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(255))
