"""Account rules: mobile sign-up, staff accounts created by an admin, deactivation."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.access.roles import JURISDICTION_LEVELS, MOBILE_ROLES, STAFF_ROLES, Role
from app.auth.passwords import check_password_policy, hash_password
from app.db import utcnow
from app.errors import Conflict, NotFound, Unprocessable
from app.matches.service import end_pairings_of_account
from app.models import Account, RefreshToken, Region
from app.pagination import Paged, asc, paginate


def get_account(session: Session, account_id: int) -> Account:
    """Load an account or raise 404."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound()
    return account


def _hash_checked(password: str, *, username: str, phone: str | None = None) -> str:
    # Every way in (API, CLI, seed) comes through here, so the policy cannot be skipped.
    check_password_policy(password, username=username, phone=phone)
    return hash_password(password)


def _insert(session: Session, account: Account) -> Account:
    try:
        with session.begin_nested():
            session.add(account)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(code="already_exists", detail=("用户名已被使用", "username already taken")) from exc
    return account


def register_mobile_user(
    session: Session, *, phone: str, password: str, role: str, display_name: str
) -> Account:
    """Sign up a mentor or newcomer; the phone number is the username."""
    return _insert(
        session,
        Account(
            username=phone,
            phone=phone,
            password_hash=_hash_checked(password, username=phone, phone=phone),
            role=role,
            display_name=display_name,
        ),
    )


# How a level reads in a sentence: 江苏省（32）是省级.
_LEVEL_ZH = {
    "province": "省级",
    "prefecture": "地市级",
    "county": "县级",
    "township": "乡镇级",
    "village": "村级",
}


def _check_jurisdiction(session: Session, role: str, code: str | None) -> None:
    if role in MOBILE_ROLES:
        if code is not None:
            raise Unprocessable(
                code="jurisdiction_not_allowed",
                detail=("导师和新手账户不设管辖区", "mentor and newcomer accounts have no jurisdiction"),
            )
        return
    if role == Role.ADMIN:
        if code is not None:
            raise Unprocessable(
                code="jurisdiction_not_allowed", detail=("管理员不设管辖区", "admins have no jurisdiction")
            )
        return
    if code is None:
        raise Unprocessable(detail=("该角色必须指定管辖区", "this role needs a jurisdiction"))
    region = session.get(Region, code)
    if region is None:
        raise Unprocessable(code="region_not_found")
    levels = JURISDICTION_LEVELS[Role(role)]
    if region.level not in levels:
        raise Unprocessable(
            detail=(
                f"{region.name}（{code}）是{_LEVEL_ZH[region.level]}，该角色的管辖区应为"
                f"{'、'.join(_LEVEL_ZH[lv] for lv in levels)}",
                f"{code} is a {region.level}; this role's jurisdiction must be a {' or '.join(levels)}",
            )
        )


def create_staff_account(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str,
    jurisdiction_code: str | None,
) -> Account:
    """Create an admin, coordinator or township-office account with its jurisdiction."""
    if role not in STAFF_ROLES:
        raise Unprocessable(detail=("只能创建工作人员账户", "only staff accounts are created here"))
    # "Admin" beside "admin" would read as the same account to everyone who sees either name.
    if session.scalar(select(Account.id).where(func.lower(Account.username) == username.lower()).limit(1)):
        raise Conflict(
            code="already_exists",
            detail=("用户名已被使用（不区分大小写）", "username already taken (ignoring case)"),
        )
    _check_jurisdiction(session, role, jurisdiction_code)
    return _insert(
        session,
        Account(
            username=username,
            password_hash=_hash_checked(password, username=username),
            role=role,
            display_name=display_name,
            jurisdiction_code=jurisdiction_code,
        ),
    )


def list_accounts(session: Session, *, role: str | None, cursor: str | None, limit: int) -> Paged[Account]:
    """Accounts in id order, one keyset page."""
    stmt = select(Account)
    if role:
        stmt = stmt.where(Account.role == role)
    return paginate(session, stmt, [asc(Account.id)], cursor, limit)


def update_account(
    session: Session,
    account: Account,
    *,
    is_active: bool | None,
    jurisdiction_code: str | None,
    display_name: str | None,
    fields: set[str],
    actor_id: int | None = None,
) -> Account:
    """Change what an admin may change; deactivation also ends every login of the account and takes a
    seller's profile out of pairing (its proposals withdrawn, its approved matches cancelled)."""
    if "jurisdiction_code" in fields:
        _check_jurisdiction(session, account.role, jurisdiction_code)
        account.jurisdiction_code = jurisdiction_code
    if display_name is not None:
        account.display_name = display_name
    if is_active is False and account.is_active and account.role == Role.ADMIN:
        _keep_one_admin(session, account)
    deactivating = is_active is False and account.is_active
    if deactivating and actor_id == account.id:
        # Another admin must do it: one click would end the session doing it, with nobody to undo it.
        raise Conflict(
            code="cannot_deactivate_self",
            detail=("不能停用自己的账号，请由另一位管理员操作", "you cannot deactivate your own account"),
        )
    if deactivating:
        end_logins(session, account)
    if is_active is not None:
        account.is_active = is_active
    session.flush()
    if deactivating and account.role in MOBILE_ROLES:
        end_pairings_of_account(session, account.id, actor_id=actor_id)
    return account


def end_logins(session: Session, account: Account) -> None:
    """Every login of the account ends: its refresh tokens are revoked, and its access tokens name a
    generation that is no longer the account's (so reactivating it later does not revive them)."""
    now = utcnow()
    for token in session.scalars(
        select(RefreshToken).where(RefreshToken.account_id == account.id, RefreshToken.revoked_at.is_(None))
    ):
        token.revoked_at = now
    account.token_generation += 1


def _keep_one_admin(session: Session, account: Account) -> None:
    """409 if this is the last active admin: nobody could manage accounts any more."""
    # Lock the active admins, so two admins deactivating each other at once cannot both pass.
    admins = select(Account.id).where(Account.role == Role.ADMIN, Account.is_active.is_(True))
    active = set(session.scalars(admins.with_for_update()))
    if not active - {account.id}:
        raise Conflict(
            code="last_admin",
            detail=("不能停用最后一个在用的管理员账户", "the last active admin cannot be deactivated"),
        )


def ensure_admin(session: Session, *, username: str, password: str) -> Account:
    """Create the admin if missing (used by the CLI and the demo seed)."""
    existing = session.scalar(select(Account).where(Account.username == username))
    if existing is not None:
        return existing
    return create_staff_account(
        session,
        username=username,
        password=password,
        role=Role.ADMIN,
        display_name=username,
        jurisdiction_code=None,
    )


def reset_password(session: Session, account: Account, *, password: str) -> Account:
    """An admin sets a new password; every existing login of the account ends at once."""
    account.password_hash = _hash_checked(password, username=account.username, phone=account.phone)
    end_logins(session, account)
    session.flush()
    return account
