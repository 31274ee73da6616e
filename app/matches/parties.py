"""Who may take part in a pairing: the one rule every run, approval, acceptance and recommendation asks.

A party is pairable while its profile is active and, when the seller keeps it with an account of their
own, that account is active too. An admin who deactivates a seller's account takes the seller out of
pairing at once, as a profile deactivation does; reactivating the account brings the profile back, since
the profile itself was never deactivated.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from app.models import Account, Mentor, Newcomer

Party = type[Mentor] | type[Newcomer]


def pairable(model: Party) -> ColumnElement[bool]:
    """SQL: the profile may be proposed, approved, accepted or recommended."""
    # Deactivated accounts are few, so the NOT IN list is short; account_id NULL is a roster profile.
    inactive_accounts = select(Account.id).where(Account.is_active.is_(False))
    return model.is_active.is_(True) & (
        model.account_id.is_(None) | model.account_id.not_in(inactive_accounts)
    )


def is_pairable(session: Session, model: Party, profile_id: int) -> bool:
    """The rule for one profile, as the database holds it now."""
    return bool(session.scalar(select(pairable(model)).where(model.id == profile_id)))
