"""Every table, imported here so Alembic and the mappers see the whole schema."""

from app.db import Base
from app.models.accounts import Account, LoginFailure, RateLimitCounter, RefreshToken
from app.models.feedback import MatchRating
from app.models.honours import Honour
from app.models.imports import ImportRowIssue, ImportRowResult, RosterFile, RosterImport
from app.models.jobs import IdempotencyRecord, Job
from app.models.matches import (
    CheckIn,
    Commitment,
    Match,
    MatchingRun,
    MatchTransition,
    ModelVersion,
    Notification,
)
from app.models.outcomes import MatchOutcome, OutcomeReport
from app.models.profiles import Mentor, MentorProduct, Newcomer, NewcomerProduct
from app.models.regions import Category, CategoryLink, Region

__all__ = [
    "Account",
    "Base",
    "Category",
    "CategoryLink",
    "CheckIn",
    "Commitment",
    "Honour",
    "IdempotencyRecord",
    "ImportRowIssue",
    "ImportRowResult",
    "Job",
    "LoginFailure",
    "Match",
    "MatchOutcome",
    "MatchRating",
    "MatchTransition",
    "MatchingRun",
    "Mentor",
    "MentorProduct",
    "ModelVersion",
    "Newcomer",
    "NewcomerProduct",
    "Notification",
    "OutcomeReport",
    "RateLimitCounter",
    "RefreshToken",
    "Region",
    "RosterFile",
    "RosterImport",
]
