"""Who may read a background job: whoever may see its object (the import or run rules decide), or,
for a retrain, which has no object, the reviewer who asked for it and admins."""

from __future__ import annotations

from app.access.caller import Caller


def may_see_retrain(caller: Caller, requested_by: int) -> bool:
    """A retrain job is visible to admins and to the reviewer who requested it."""
    return caller.is_admin or (caller.is_reviewer and requested_by == caller.id)
