from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from twinbridge.db.base import Base, CreatedAt


class ServiceClient(CreatedAt, Base):
    """A client registered with the built-in issuer for the client_credentials grant."""

    __tablename__ = "service_clients"

    client_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[str] = mapped_column(String(1024))
