"""Password hashing with Argon2id (pwdlib's recommended parameters), and the password policy."""

from __future__ import annotations

import os
import threading
from functools import lru_cache

from pwdlib import PasswordHash

from app.auth.common_passwords import COMMON_PASSWORDS
from app.errors import Unprocessable

MIN_PASSWORD_CHARS = 8
MIN_DISTINCT_CHARS = 4

# Each Argon2 call takes a core and 64 MiB: more at once than there are cores only queues in memory.
# Callers are sync routes and the CLI, so this runs in worker threads, never on the event loop.
_ARGON2_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    with _ARGON2_SLOTS:
        return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Check a password against its stored hash."""
    with _ARGON2_SLOTS:
        return _hasher().verify(password, password_hash)


@lru_cache
def dummy_hash() -> str:
    """A hash to verify against when the username is unknown, so both cases take the same time."""
    return hash_password("jieduan-no-such-user")


def check_password_policy(password: str, *, username: str, phone: str | None = None) -> None:
    """Refuse a password that is short, equal to the username or phone, or among the most common ones.

    The password is judged exactly as typed: nothing strips or folds it before it is hashed.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise Unprocessable(
            code="weak_password",
            detail=(
                f"密码至少 {MIN_PASSWORD_CHARS} 个字符",
                f"password needs {MIN_PASSWORD_CHARS}+ characters",
            ),
        )
    if len(set(password)) < MIN_DISTINCT_CHARS or not password.strip():
        # Eight spaces, or "aaaaaaaa" and "abababab": long enough, and guessed at once.
        raise Unprocessable(
            code="weak_password",
            detail=(
                f"密码至少要有 {MIN_DISTINCT_CHARS} 个不同的字符，且不能全是空格",
                f"password needs {MIN_DISTINCT_CHARS}+ different characters, not only spaces",
            ),
        )
    folded = password.strip().casefold()
    if folded in {username.casefold(), (phone or username).casefold()}:
        raise Unprocessable(
            code="weak_password",
            detail=("密码不能与用户名或手机号相同", "password equals the username or phone"),
        )
    if folded in COMMON_PASSWORDS:
        raise Unprocessable(
            code="weak_password", detail=("密码过于常见，容易被猜中", "password is too common to be safe")
        )
