"""Reference data every deployment needs: regions and the product taxonomy."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Region
from app.regions.service import load_regions
from app.taxonomy.service import load_taxonomy


def load_reference_data(session: Session, *, include_townships: bool = True) -> dict[str, int]:
    """Load (or refresh) regions and taxonomy; safe to run again."""
    regions = load_regions(session, include_townships=include_townships)
    categories = load_taxonomy(session)
    return {"regions": regions, "categories": categories}


def reference_loaded(session: Session) -> bool:
    """Whether regions are present (a fresh database has none)."""
    return (session.scalar(select(func.count()).select_from(Region)) or 0) > 0
