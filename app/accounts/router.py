"""Admin management of accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.access.roles import Role
from app.accounts import service
from app.accounts.schemas import AccountUpdate, StaffAccountCreate
from app.auth.schemas import AccountRead
from app.deps import AdminUser, SessionDep
from app.openapi import problems
from app.pagination import CursorQuery, LimitQuery
from app.schemas import IdPath, Page

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountRead,
    responses=problems(401, 403, 409, 422),
)
def create_account(body: StaffAccountCreate, admin: AdminUser, session: SessionDep) -> AccountRead:
    """Create a staff account (admin only)."""
    account = service.create_staff_account(session, **body.model_dump())
    return AccountRead.model_validate(account)


@router.get("", response_model=Page[AccountRead], responses=problems(401, 403, 422))
def list_accounts(
    admin: AdminUser,
    session: SessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    role: Annotated[
        Role | None,
        Query(description="Only accounts of this role"),
    ] = None,
) -> Page[AccountRead]:
    """All accounts, optionally of one role (admin only)."""
    page = service.list_accounts(session, role=role, cursor=cursor, limit=limit)
    return Page[AccountRead](
        items=[AccountRead.model_validate(a) for a in page.items], next_cursor=page.next_cursor
    )


@router.get("/{account_id}", response_model=AccountRead, responses=problems(401, 403, 404))
def get_account(account_id: IdPath, admin: AdminUser, session: SessionDep) -> AccountRead:
    """One account (admin only)."""
    return AccountRead.model_validate(service.get_account(session, account_id))


@router.patch("/{account_id}", response_model=AccountRead, responses=problems(401, 403, 404, 409, 422))
def update_account(
    account_id: IdPath, body: AccountUpdate, admin: AdminUser, session: SessionDep
) -> AccountRead:
    """Rename, move or deactivate an account (admin only)."""
    account = service.get_account(session, account_id)
    updated = service.update_account(
        session, account, fields=body.model_fields_set, actor_id=admin.id, **body.model_dump()
    )
    return AccountRead.model_validate(updated)
