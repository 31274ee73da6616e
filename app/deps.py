"""Shared dependencies as Annotated aliases: the session, the caller, role and jurisdiction checks."""

from __future__ import annotations

import asyncio
import functools
import inspect
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any

from anyio import CancelScope, CapacityLimiter, to_thread
from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.access import Caller, Role
from app.access.roles import IMPORTER_ROLES, MOBILE_ROLES, REVIEWER_ROLES
from app.auth.tokens import AccessClaims, decode_access_token
from app.config import Settings
from app.errors import Forbidden, Unauthorized, Unprocessable
from app.models import Account
from app.plain_reads import PlainSelect
from app.query_params import check_query, check_query_async, depends_on

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; it commits after the handler returns and rolls back on error.

    Opened on the event loop, since a new session does no I/O (it takes a connection at its first
    query), so a request pays one thread-pool hop for its session, at the end, not two. The commit or
    rollback runs in the pool, shielded from cancellation and outside the pool's capacity limit (a
    full pool must never keep a connection from going back), as FastAPI does for sync dependencies.
    """
    session = request.app.state.sessionmaker()
    try:
        yield session
    except BaseException:
        if not session.info.get(_ENDED):
            with CancelScope(shield=True):
                await to_thread.run_sync(_end, session, False, limiter=CapacityLimiter(1))
        raise
    # A `OneHopRoute` ended the session already, in its handler's thread.
    if not session.info.get(_ENDED):
        with CancelScope(shield=True):
            await to_thread.run_sync(_end, session, True, limiter=CapacityLimiter(1))


_ENDED = "jieduan_ended"


def _end(session: Session, commit: bool) -> None:
    """Commit (or roll back) and close: the session dependency's end, in one call."""
    session.info[_ENDED] = True
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def app_settings(request: Request) -> Settings:
    """The settings the running app was built with (async: no I/O, so no thread hop)."""
    return request.app.state.settings  # type: ignore[no-any-return]


def public_site(request: Request) -> str:
    """The service's address as people reach it: JIEDUAN_PUBLIC_URL, else the one this request came to."""
    configured = request.app.state.settings.public_url
    return str(configured).rstrip("/") if configured else str(request.base_url).rstrip("/")


# scope="function": commit before the response is sent, so a failed commit is never reported as success.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(app_settings)]


# Built and compiled once: the account lookup every authenticated request makes, read on the cursor.
_ACTIVE_ACCOUNT = PlainSelect(
    select(Account.id, Account.role, Account.jurisdiction_code, Account.username).where(
        Account.id == bindparam("account_id"),
        Account.is_active,
        Account.token_generation == bindparam("generation"),
    )
)


def get_caller(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Caller:
    """Authenticate the bearer token and load the (still active) account."""
    caller = _active_caller(session, _claims(request, token))
    # After authentication (and after the role check, where the route has one: `require_role`).
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and not depends_on(route, _is_role_check):
        check_query(request, session)
    return caller


def _claims(request: Request, token: str | None) -> AccessClaims:
    """The claims of a valid bearer token (401 without one, or for a bad one)."""
    if not token:
        raise Unauthorized()
    # The settings straight from the app, not through SettingsDep: one dependency less on every request.
    return decode_access_token(request.app.state.settings, token)


def _active_caller(session: Session, claims: AccessClaims) -> Caller:
    """The caller a valid token names, if the account is still active (401 otherwise)."""
    # One primary-key lookup of four columns on every request: role and jurisdiction come from the
    # database, so a deactivation or a demotion takes effect at once (no cache to go stale). A token
    # from before a deactivation or a password reset names an old generation: it stays dead even after
    # the account is active again.
    account = _ACTIVE_ACCOUNT.first(
        session.connection(), {"account_id": claims.account_id, "generation": claims.generation}
    )
    if account is None:
        # Only on the refusal path: tell a login that was ended from an account that is off.
        active = session.scalar(select(Account.is_active).where(Account.id == claims.account_id))
        raise Unauthorized(code="login_ended" if active else "account_inactive")
    return Caller.of(account)


CurrentUser = Annotated[Caller, Depends(get_caller)]


async def check_public_query(request: Request) -> None:
    """The query check of every API router; a route that authenticates runs it after the caller is known.

    async: on the event loop, since a route that authenticates (most) has nothing to do here, and a
    thread-pool hop for that would cost more than the check.
    """
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and route.body_field is None and request.method in _BODY_METHODS:
        await refuse_unexpected_body(request)
    if isinstance(route, APIRoute) and not depends_on(route, _is_get_caller):
        await check_query_async(request)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What a client library sends when it has nothing to send.
_NOTHING = frozenset({b"", b"{}", b"null"})


async def refuse_unexpected_body(request: Request) -> None:
    """422 body_not_expected for a body sent to a route that takes none.

    The route would ignore it, so a client that thinks it asked for something (retrain province 32)
    would get the route's default (its own jurisdiction) without a word. Malformed input, so it is
    refused before authentication, as a NUL byte in the query is.
    """
    body = await request.body()
    if body.strip().replace(b" ", b"") not in _NOTHING:
        raise Unprocessable(
            code="body_not_expected",
            detail=("此操作不接受请求体", "this operation takes no request body; send none"),
        )


def _is_get_caller(call: Callable[..., Any]) -> bool:
    return call is get_caller or getattr(call, "authenticates", False) is True


def _is_role_check(call: Callable[..., Any]) -> bool:
    return getattr(call, "checks_role", False) is True


def require_role(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    """A dependency that lets only the given roles through (403 otherwise)."""

    async def _check(request: Request, caller: CurrentUser) -> Caller:
        # async on purpose: a pure check should not cost a hop to the thread pool.
        if not caller.has_role(*roles):
            raise Forbidden()
        await check_query_async(request)
        return caller

    _check.__name__ = f"require_{'_or_'.join(roles)}"
    _check.checks_role = True  # type: ignore[attr-defined]
    return _check


AdminUser = Annotated[Caller, Depends(require_role(Role.ADMIN))]
CoordinatorUser = Annotated[Caller, Depends(require_role(*REVIEWER_ROLES))]
OfficeUser = Annotated[Caller, Depends(require_role(*IMPORTER_ROLES))]
MobileUser = Annotated[Caller, Depends(require_role(*MOBILE_ROLES))]
AnyUser = CurrentUser


@dataclass(frozen=True, slots=True)
class PendingCaller:
    """A bearer whose token is valid; the account is read in the route's one hop (`OneHopRoute`)."""

    request: Request
    claims: AccessClaims
    roles: tuple[Role, ...]

    def resolve(self, session: Session) -> Caller:
        """The active caller in one of the roles (401, 403), once the query is checked (422)."""
        caller = _active_caller(session, self.claims)
        if not caller.has_role(*self.roles):
            raise Forbidden()
        check_query(self.request, session)
        return caller


def role_in_one_hop(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    """`require_role` for a `OneHopRoute`: the token is checked here, the account in the route's hop."""

    async def _pending(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Caller:
        # A stand-in: the route's hop swaps it for the Caller before the handler sees it.
        return PendingCaller(request, _claims(request, token), roles)  # type: ignore[return-value]

    _pending.__name__ = f"require_{'_or_'.join(roles)}"
    _pending.authenticates = True  # type: ignore[attr-defined]
    _pending.checks_role = True  # type: ignore[attr-defined]
    _pending.roles = roles  # type: ignore[attr-defined]
    return _pending


class OneHopRoute(APIRoute):
    """A sync route whose account lookup, handler and commit share one thread-pool hop.

    A sync handler with sync dependencies costs a hop per dependency, one for itself and one for the
    session's commit, and each hop is a thread switch both ways. Here its `role_in_one_hop` caller is
    looked up, the handler runs and the session ends (commit, or rollback on error) in one call in the
    pool, before the response is sent, as `get_session` would. Use it for handlers that return a
    built response or model: nothing may read from the session after the handler returns.

    The framework checks the parameters before the hop: a request they fail is first authenticated,
    role-checked and query-checked in a hop of its own, so 401 still comes before 403 before 422.

    A GET's hop runs in the app's small pool of read threads (`read_threads`); other methods, which
    may wait on a lock, in the framework's pool.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if inspect.iscoroutinefunction(endpoint):
            # It would get the token's stand-in instead of the caller, and has no hop to share.
            raise TypeError(f"OneHopRoute serves sync handlers; {endpoint.__name__} is async")
        super().__init__(path, _in_one_hop(endpoint), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The framework's handler, with the caller checked first when the parameters fail."""
        handler = super().get_route_handler()
        reads = self.methods == {"GET"}

        async def app(request: Request) -> Response:
            hop = _HOP_LIMITER.set(read_limiter(request) if reads else None)
            try:
                return await handler(request)
            except RequestValidationError:
                # The bearer token read as the route's own dependency reads it.
                token = await oauth2_scheme(request)
                await run_in_threadpool(_check_before_validation, request, self, token)
                raise
            finally:
                _HOP_LIMITER.reset(hop)

        return app


# The pool the current request's hop runs in (None: the framework's), set by `OneHopRoute`.
_HOP_LIMITER: ContextVar[CapacityLimiter | None] = ContextVar("jieduan_hop_limiter", default=None)
_READ_LIMITERS = "jieduan_read_limiters"


def read_limiter(request: Request) -> CapacityLimiter:
    """The app's read-thread limiter on the running event loop (`read_threads` tokens)."""
    # Per loop: a limiter belongs to the loop it was made on, and test clients may start several.
    state = request.app.state
    limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] | None = getattr(
        state, _READ_LIMITERS, None
    )
    if limiters is None:
        limiters = weakref.WeakKeyDictionary()
        setattr(state, _READ_LIMITERS, limiters)
    loop = asyncio.get_running_loop()
    limiter = limiters.get(loop)
    if limiter is None:
        limiter = limiters[loop] = CapacityLimiter(state.settings.read_threads)
    return limiter


def _in_one_hop(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    async def hop(**kwargs: Any) -> Any:
        # async, so the framework awaits it here instead of sending it to its own pool.
        return await to_thread.run_sync(functools.partial(run, **kwargs), limiter=_HOP_LIMITER.get())

    def run(**kwargs: Any) -> Any:
        session = next((v for v in kwargs.values() if isinstance(v, Session)), None)
        if session is None:
            raise TypeError(f"{endpoint.__name__} on a OneHopRoute must take the session (SessionDep)")
        try:
            for name, value in kwargs.items():
                if isinstance(value, PendingCaller):
                    kwargs[name] = value.resolve(session)
            result = endpoint(**kwargs)
        except BaseException:
            _end(session, False)
            raise
        _end(session, True)
        return result

    return hop


def _check_before_validation(request: Request, route: APIRoute, token: str | None) -> None:
    """For a request whose parameters failed: 401 or 403 if its caller would get one, 422 for the query."""
    roles = [d.call for d in _walk(route.dependant) if getattr(d.call, "authenticates", False)]
    if not roles:
        return
    claims = _claims(request, token)
    with request.app.state.sessionmaker() as session:
        for call in roles:
            PendingCaller(request, claims, call.roles).resolve(session)


def _walk(dependant: Any) -> Any:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


# Only on a `OneHopRoute`, which swaps the token's stand-in for the caller in its hop.
ReviewerUser = Annotated[Caller, Depends(role_in_one_hop(*REVIEWER_ROLES))]
