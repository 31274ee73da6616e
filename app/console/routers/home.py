"""The home page: a coordinator's counts, an office's recent imports, each a link."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.access.roles import IMPORTER_ROLES
from app.console.render import page
from app.console.routers.imports import listed
from app.console.session import StaffPage
from app.deps import SessionDep
from app.imports import service as imports_service
from app.matches.overview import home_counts

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("")
def home(request: Request, caller: StaffPage, session: SessionDep) -> Response:
    """Counts with links for coordinators; recent imports for township offices."""
    counts = home_counts(session, caller) if caller.is_reviewer else None
    imports = (
        [listed(i) for i in imports_service.list_imports(session, caller, cursor=None, limit=5).items]
        if caller.has_role(*IMPORTER_ROLES)
        else []
    )
    return page(
        request,
        "home/home.html",
        {"counts": counts, "imports": imports, "office": caller.has_role(*IMPORTER_ROLES)},
        caller=caller,
    )
