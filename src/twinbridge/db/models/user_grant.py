from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from twinbridge.db.base import Base, CreatedAt


class UserGrant(CreatedAt, Base):
    """A user's consent that runs may act on their behalf in the background (the cloud's stored token)."""

    __tablename__ = "user_grants"

    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime | None]
