"""The mobile notification feed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.access import MOBILE_ROLES
from app.deps import AnyUser, MobileUser, SessionDep
from app.errors import NotFound
from app.models import Account
from app.notifications.schemas import PreferenceRead, PreferenceUpdate
from app.notifications.service import feed, get_preferences, set_preferences
from app.openapi import problems
from app.schemas import MAX_ID, Output

router = APIRouter(prefix="/api/v1", tags=["notifications"])


class NotificationRead(Output):
    """One feed item."""

    id: int
    """Feed id; pass the last one as after="""
    kind: str
    """Event: proposal_approved, match_active, check_in_due, ..."""
    payload: dict[str, Any]
    """Event data (ids and names to show)"""
    created_at: datetime
    """When (UTC)"""


class NotificationFeed(Output):
    """Items after the cursor; poll again with `after=next_after`."""

    items: list[NotificationRead]
    """New items, oldest first"""
    next_after: int | None
    """Pass as after= to poll for newer items"""


@router.get("/me/notifications", response_model=NotificationFeed, responses=problems(401, 403, 422))
def my_notifications(
    caller: MobileUser,
    session: SessionDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Last id you have seen")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many items (100)")] = 50,
) -> NotificationFeed:
    """New items since `after` (approved proposals, activated matches, check-ins due or overdue)."""
    items = feed(session, caller.id, after=after, limit=limit)
    return NotificationFeed(
        items=[NotificationRead.model_validate(n) for n in items], next_after=items[-1].id if items else after
    )


_DEFAULTS = {"events": [], "quiet_start": None, "quiet_end": None, "wechat_openid": None, "email": None}


@router.get("/me/notification-preferences", response_model=PreferenceRead, responses=problems(401))
def my_preferences(caller: AnyUser, session: SessionDep) -> PreferenceRead:
    """Where and when your notifications go (by default SMS to your phone, for mentors and newcomers)."""
    pref = get_preferences(session, caller.id)
    if pref is not None:
        return PreferenceRead.model_validate(pref)
    default = "sms" if caller.has_role(*MOBILE_ROLES) else None
    return PreferenceRead(channel=default, **_DEFAULTS)


@router.put("/me/notification-preferences", response_model=PreferenceRead, responses=problems(401, 422))
def update_my_preferences(body: PreferenceUpdate, caller: AnyUser, session: SessionDep) -> PreferenceRead:
    """Choose the channel, the events and quiet hours (Beijing time); messages wait until quiet hours end."""
    account = session.get(Account, caller.id)
    if account is None:
        raise NotFound()
    return PreferenceRead.model_validate(set_preferences(session, account=account, values=body.model_dump()))
