"""The API server's schema (SQLAlchemy 2). Alembic's migrations create exactly these tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Client(Base):
    __tablename__ = "clients"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(256))
    prefix: Mapped[str] = mapped_column(String(16))


class Token(Base):
    __tablename__ = "tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column()


class SoundRow(Base):
    __tablename__ = "sounds"
    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(Text)
    original: Mapped[bytes] = mapped_column(LargeBinary)
    telephony: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(64))


class ExtensionRow(Base):
    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("client", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(Text)
    create_date: Mapped[str] = mapped_column(String(19))
    fields: Mapped[dict[str, object]] = mapped_column(JSON)  # the stored-only fields
    ivr: Mapped[dict[str, object] | None] = mapped_column(JSON)  # the ivr settings, for type ivr


class ContextRow(Base):
    __tablename__ = "contexts"
    id: Mapped[int] = mapped_column(primary_key=True)
    extension: Mapped[int] = mapped_column(ForeignKey("extensions.id", ondelete="CASCADE"), index=True)
    fields: Mapped[dict[str, object]] = mapped_column(JSON)


class OptionRow(Base):
    __tablename__ = "options"
    __table_args__ = (UniqueConstraint("context", "digits"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    context: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"), index=True)
    digits: Mapped[str] = mapped_column(String(64))


class RuleRow(Base):
    __tablename__ = "rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    option: Mapped[int] = mapped_column(ForeignKey("options.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    params: Mapped[dict[str, object]] = mapped_column(JSON)
    __table_args__ = (Index("ix_rules_option_position", "option", "position"),)


class RatingRow(Base):
    __tablename__ = "quality_rates"
    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    call_uuid: Mapped[str] = mapped_column(String(64))
    datetime: Mapped[str] = mapped_column(String(19), index=True)
    extension_id: Mapped[int] = mapped_column()
    max_rate: Mapped[int] = mapped_column()
    rate: Mapped[int] = mapped_column()
