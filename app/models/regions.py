"""China's administrative divisions and the product taxonomy (reference data)."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

LEVELS = ("province", "prefecture", "county", "township", "village")


class Region(Base):
    """One division; the code is hierarchical, so a prefix covers everything under it."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(12))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    pinyin: Mapped[str] = mapped_column(String(160), index=True)
    initials: Mapped[str] = mapped_column(String(40), index=True)
    # Share of households selling online (0..1); drives the equity rule for counties.
    penetration: Mapped[float | None] = mapped_column(Float)


class Category(Base):
    """A product category: level 1 groups, level 2 leaves that profiles refer to."""

    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"))
    level: Mapped[int] = mapped_column(Integer)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(96))


class CategoryLink(Base):
    """A directed industrial-chain link: upstream supplies downstream."""

    __tablename__ = "category_links"

    upstream_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), primary_key=True)
    downstream_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), primary_key=True)
