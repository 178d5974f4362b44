from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from twinbridge.db.base import Base, CreatedAt


class ITwin(CreatedAt, Base):
    __tablename__ = "itwins"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(255))
    number: Mapped[str | None] = mapped_column(String(255))
    itwin_class: Mapped[str] = mapped_column(String(32), default="Endeavor")
    sub_class: Mapped[str] = mapped_column(String(32), default="Project")
    status: Mapped[str] = mapped_column(String(32), default="Active")
    created_by: Mapped[str | None] = mapped_column(String(255))


class ITwinMember(CreatedAt, Base):
    """A subject (user name or service client id) with a role on an iTwin."""

    __tablename__ = "itwin_members"

    itwin_id: Mapped[str] = mapped_column(ForeignKey("itwins.id", ondelete="CASCADE"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
