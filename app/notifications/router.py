"""The mobile notification feed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.deps import MobileUser, SessionDep
from app.notifications.service import feed
from app.openapi import problems
from app.schemas import MAX_ID, Output

router = APIRouter(prefix="/api/v1", tags=["notifications"])


class NotificationRead(Output):
    """One feed item."""

    id: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime


class NotificationFeed(Output):
    """Items after the cursor; poll again with `after=next_after`."""

    items: list[NotificationRead]
    next_after: int | None


@router.get("/me/notifications", response_model=NotificationFeed, responses=problems(401, 403, 422))
def my_notifications(
    caller: MobileUser,
    session: SessionDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Last id you have seen")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> NotificationFeed:
    """New items since `after` (approved proposals, activated matches, check-ins due or overdue)."""
    items = feed(session, caller.id, after=after, limit=limit)
    return NotificationFeed(
        items=[NotificationRead.model_validate(n) for n in items], next_after=items[-1].id if items else after
    )
