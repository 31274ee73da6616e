"""Honours: evaluating the rules, a coordinator's confirmation, revocation, certificates, verification."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.reports import report_region
from app.bulk import lock_for_transaction
from app.db import china_today, utcnow
from app.errors import Conflict, NotFound, Unprocessable
from app.honours import rules
from app.honours.certificate import CertificateText, render_certificate
from app.models import Commitment, Honour, MatchOutcome, MatchRating, Mentor
from app.pagination import Paged, desc, paginate
from app.regions.service import region_label, require_known
from app.reports.common import ReportParams, activated_in_range, first_sale_in_window, fulfilment_rate
from app.reports.service import report_range

# No 0/O, 1/I/L: a code read aloud or typed from paper should not be ambiguous. 16 of 31 is 79 bits.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 16
VERIFY_PATH = "/verify/"


def mentor_figures(session: Session, params: ReportParams) -> dict[int, dict[str, Any]]:
    """Per mentor, over matches activated in the period inside the scope: what the rules read."""
    matched = (
        select(
            MatchOutcome.mentor_id.label("mentor_id"),
            func.count(func.distinct(MatchOutcome.newcomer_id)).label("newcomers_reached"),
            func.sum(first_sale_in_window(MatchOutcome.days_to_first_sale)).label("first_sale_90d"),
        )
        .where(activated_in_range(params))
        .group_by(MatchOutcome.mentor_id)
        .subquery()
    )
    done, partial, missed = (
        func.sum(c) for c in (Commitment.done_count, Commitment.partial_count, Commitment.missed_count)
    )
    kept = (
        select(
            MatchOutcome.mentor_id.label("mentor_id"),
            done.label("done"),
            partial.label("partial"),
            missed.label("missed"),
        )
        .select_from(MatchOutcome)
        .join(Commitment, Commitment.match_id == MatchOutcome.match_id)
        .where(activated_in_range(params))
        .group_by(MatchOutcome.mentor_id)
        .subquery()
    )
    rated = (
        select(
            MatchRating.mentor_id.label("mentor_id"),
            func.avg(MatchRating.score * 1.0).label("mean_rating"),
            func.count().label("ratings"),
        )
        .join(MatchOutcome, MatchOutcome.match_id == MatchRating.match_id)
        .where(activated_in_range(params), MatchRating.party == "newcomer")
        .group_by(MatchRating.mentor_id)
        .subquery()
    )
    done_n, partial_n, missed_n = (func.coalesce(c, 0) for c in (kept.c.done, kept.c.partial, kept.c.missed))
    stmt = (
        select(
            matched.c.mentor_id,
            matched.c.newcomers_reached,
            matched.c.first_sale_90d,
            (done_n + partial_n + missed_n).label("periods"),
            # The fulfilment report's rate, so an honour's evidence reads as that report does.
            fulfilment_rate(done_n, partial_n, missed_n).label("fulfilment_rate"),
            rated.c.mean_rating,
            func.coalesce(rated.c.ratings, 0).label("ratings"),
        )
        .outerjoin(kept, kept.c.mentor_id == matched.c.mentor_id)
        .outerjoin(rated, rated.c.mentor_id == matched.c.mentor_id)
    )
    return {row.mentor_id: dict(row._mapping) for row in session.execute(stmt)}


def evaluate(
    session: Session, *, caller: Caller, region: str | None, period_start: date, period_end: date
) -> list[Honour]:
    """Apply the rules to the period and propose each honour a mentor earned and does not hold yet."""
    scope = report_region(caller, region)
    if region is not None:
        require_known(session, region)
    if not scope:
        raise Unprocessable(
            code="region_required", detail=("请指定地区", "name the region the honours are for")
        )
    # The reports' window and length limits, and the period must be over: an honour is for what was done.
    # Today has not ended, and a jurisdiction judges a stretch of time once: judged on part of its last
    # day, the period could not be judged again with the whole of it.
    period_start, period_end = report_range(period_start, period_end)
    if period_end >= china_today():
        raise Unprocessable(
            code="period_not_over",
            detail=("评选期尚未结束", "the period has not ended yet (China date)"),
        )
    # Two evaluations of one jurisdiction at once would both read "not held yet" (PostgreSQL; SQLite's
    # write transaction already serialises them).
    lock_for_transaction(session, f"honours:{scope}")
    figures = mentor_figures(session, ReportParams(scope, period_start, period_end))
    existing = held_for_period(session, jurisdiction=scope, period_start=period_start, period_end=period_end)
    proposed = []
    for mentor_id, values in sorted(figures.items()):
        for rule in rules.RULES:
            if (mentor_id, rule.code) in existing or not rule.qualifies(values):
                continue
            honour = Honour(
                mentor_id=mentor_id,
                rule_code=rule.code,
                rules_version=rules.RULES_VERSION,
                jurisdiction_code=scope,
                period_start=period_start,
                period_end=period_end,
                evidence={k: v for k, v in values.items() if k != "mentor_id"},
                status="proposed",
            )
            session.add(honour)
            proposed.append(honour)
    session.flush()
    return proposed


def held_for_period(
    session: Session, *, jurisdiction: str, period_start: date, period_end: date
) -> set[tuple[int, str]]:
    """(mentor, rule) pairs this jurisdiction already awarded for a period overlapping the given one.

    One honour per rule, jurisdiction and stretch of time: a period shifted by a day, or one inside an
    awarded quarter, is the same work judged again. A revoked honour counts too, or evaluating once more
    would undo the revocation. Another jurisdiction's honour does not: a county's recognition and its
    province's are two honours.
    """
    stmt = select(Honour.mentor_id, Honour.rule_code).where(
        Honour.jurisdiction_code == jurisdiction,
        Honour.period_start <= period_end,
        Honour.period_end >= period_start,
    )
    return {(m, r) for m, r in session.execute(stmt)}


def _visible(session: Session, caller: Caller, honour_id: int) -> Honour:
    honour = session.get(Honour, honour_id)
    if honour is None or not caller.covers(honour.jurisdiction_code):
        raise NotFound()
    return honour


def list_honours(
    session: Session, *, caller: Caller, status: str | None, cursor: str | None, limit: int
) -> Paged[Honour]:
    """Honours awarded inside the caller's jurisdiction, newest first, one keyset page."""
    return paginate(session, _listed(select(Honour), caller, status), [desc(Honour.id)], cursor, limit)


def _listed(stmt: Select[Any], caller: Caller, status: str | None) -> Select[Any]:
    """The honours a list shows: inside the caller's jurisdiction, of one status if asked."""
    stmt = stmt.where(caller.scope(Honour.jurisdiction_code))
    return stmt.where(Honour.status == status) if status else stmt


@dataclass(frozen=True, slots=True)
class HonourView:
    """An honour with what a list shows beside it: the mentor's name and the rule's titles."""

    honour: Honour
    mentor_name: str
    title_zh: str
    title_en: str


def honour_views(
    session: Session, *, caller: Caller, status: str | None, cursor: str | None, limit: int
) -> Paged[HonourView]:
    """The same page as list_honours, each honour with its mentor's name (one query)."""
    stmt = _listed(select(Honour, Mentor.name).join(Mentor, Mentor.id == Honour.mentor_id), caller, status)
    paged = paginate(session, stmt, [desc(Honour.id)], cursor, limit)
    return paged.map(
        lambda row: HonourView(
            row[0], row[1], rules.BY_CODE[row[0].rule_code].title_zh, rules.BY_CODE[row[0].rule_code].title_en
        )
    )


def get_honour(session: Session, *, caller: Caller, honour_id: int) -> Honour:
    """One honour of the caller's jurisdiction (404 for any other)."""
    return _visible(session, caller, honour_id)


def new_verification_code() -> str:
    """16 random characters in four groups, e.g. 7KQM-2ZTA-X9PD-H4WE."""
    return _grouped("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)))


def _grouped(raw: str) -> str:
    """Four groups of four, as printed."""
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def confirm(session: Session, *, caller: Caller, honour_id: int) -> Honour:
    """A coordinator confirms a proposed honour: it gets its verification code and joins the profile."""
    honour = _visible(session, caller, honour_id)
    if honour.status != "proposed":
        raise Conflict(code="honour_not_proposed", detail=("该荣誉已处理", "this honour was already decided"))
    honour.status = "confirmed"
    honour.verification_code = new_verification_code()
    honour.confirmed_by = caller.id
    honour.confirmed_on = china_today()
    session.flush()
    sync_profile_honours(session, mentor_id=honour.mentor_id)
    return honour


def revoke(session: Session, *, caller: Caller, honour_id: int) -> Honour:
    """Withdraw an honour: its code stops verifying and it leaves the profile."""
    honour = _visible(session, caller, honour_id)
    if honour.status == "revoked":
        raise Conflict(code="honour_revoked", detail=("该荣誉已撤销", "this honour is already revoked"))
    honour.status = "revoked"
    honour.revoked_at = utcnow()
    session.flush()
    sync_profile_honours(session, mentor_id=honour.mentor_id)
    return honour


def sync_profile_honours(session: Session, *, mentor_id: int) -> list[str]:
    """The profile's honours: imported entries kept, then the titles of confirmed honours (one each)."""
    mentor = session.get(Mentor, mentor_id)
    assert mentor is not None
    confirmed = session.scalars(
        select(Honour.rule_code)
        .where(Honour.mentor_id == mentor_id, Honour.status == "confirmed")
        .order_by(Honour.id)
    )
    awarded = list(dict.fromkeys(rules.BY_CODE[c].title_zh for c in confirmed))
    imported = [h for h in mentor.honours if h not in rules.AWARDED_TITLES]
    updated = imported + [t for t in awarded if t not in imported]
    if updated != mentor.honours:
        mentor.honours = updated
        session.flush()
    return updated


def certificate_pdf(session: Session, *, caller: Caller, honour_id: int, site: str) -> tuple[Honour, bytes]:
    """The certificate of a confirmed honour, for staff of its jurisdiction or the mentor themself.

    `site` is the service's address (https://host); the certificate prints the page that checks it in
    full, so that it can be checked from paper."""
    honour = session.get(Honour, honour_id)
    mentor = session.get(Mentor, honour.mentor_id) if honour else None
    if honour is None or mentor is None:
        raise NotFound()
    own = mentor.account_id is not None and mentor.account_id == caller.id
    if not (own or (caller.is_reviewer and caller.covers(honour.jurisdiction_code))):
        raise NotFound()
    if honour.status != "confirmed" or honour.verification_code is None or honour.confirmed_on is None:
        raise Conflict(
            code="honour_not_confirmed", detail=("荣誉尚未确认或已撤销", "not confirmed, or revoked")
        )
    rule = rules.BY_CODE[honour.rule_code]
    text = CertificateText(
        mentor_name=mentor.name,
        title_zh=rule.title_zh,
        title_en=rule.title_en,
        jurisdiction=region_label(session, honour.jurisdiction_code),
        confirmed_on=honour.confirmed_on,
        verification_code=honour.verification_code,
        verify_url=site.rstrip("/") + VERIFY_PATH + honour.verification_code,
    )
    return honour, render_certificate(text)


@dataclass(frozen=True, slots=True)
class Verified:
    """All a public verification reveals."""

    name: str
    honour_zh: str
    honour_en: str
    confirmed_on: date


def normalise_code(code: str) -> str:
    """The code as issued, from what a person typed off paper.

    Full-width letters and digits (a Chinese keyboard's) become ASCII, case is ignored, and everything
    that is not a letter or digit (spaces, hyphens, dashes, dots, slashes) is dropped, since the code
    holds only those; 16 characters left are grouped by four again, so 7kqm2ztax9pdh4we and
    7KQM–2ZTA–X9PD–H4WE both find 7KQM-2ZTA-X9PD-H4WE.
    """
    folded = unicodedata.normalize("NFKC", code).upper()
    bare = "".join(c for c in folded if c.isascii() and c.isalnum())
    return _grouped(bare) if len(bare) == CODE_LENGTH else bare


def verify(session: Session, *, code: str) -> Verified | None:
    """The honour a code certifies, if it is confirmed; None for a guessed or revoked code."""
    row = session.execute(
        select(Mentor.name, Honour.rule_code, Honour.confirmed_on)
        .join(Mentor, Mentor.id == Honour.mentor_id)
        .where(Honour.verification_code == normalise_code(code), Honour.status == "confirmed")
    ).first()
    if row is None or row.confirmed_on is None:
        return None
    rule = rules.BY_CODE[row.rule_code]
    return Verified(row.name, rule.title_zh, rule.title_en, row.confirmed_on)


def my_honours(session: Session, *, caller: Caller) -> list[Honour]:
    """A mentor's own confirmed honours."""
    return list(
        session.scalars(
            select(Honour)
            .join(Mentor, Mentor.id == Honour.mentor_id)
            .where(Mentor.account_id == caller.id, Honour.status == "confirmed")
            .order_by(Honour.id.desc())
        )
    )
