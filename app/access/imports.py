"""Who may see a roster import, and for which township an office imports.

Whoever may see an import is an admin or the office of its township, which keeps the profiles the rows
describe; both see phones in full, so the import's rows, issues and errors.csv carry phones unmasked.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, true

from app.access.caller import Caller
from app.access.regions import nowhere
from app.models import RosterImport


def sees_import(caller: Caller, imp: RosterImport) -> bool:
    """Admins see every import; an office only its own township's."""
    if caller.is_admin:
        return True
    return caller.is_office and caller.jurisdiction is not None and imp.township_code == caller.jurisdiction


def import_scope(caller: Caller) -> ColumnElement[bool]:
    """SQL form of `sees_import`."""
    if caller.is_admin:
        return true()
    if not caller.is_office or not caller.jurisdiction:
        return nowhere()
    return RosterImport.township_code == caller.jurisdiction


def office_township(caller: Caller) -> str | None:
    """The township an office imports for (its jurisdiction, "" if it has none); None for others."""
    if not caller.is_office:
        return None
    return caller.jurisdiction or ""
