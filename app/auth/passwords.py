"""Password hashing with Argon2id (pwdlib's recommended parameters)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Check a password against its stored hash."""
    return _hasher().verify(password, password_hash)


@lru_cache
def dummy_hash() -> str:
    """A hash to verify against when the username is unknown, so both cases take the same time."""
    return _hasher().hash("jieduan-no-such-user")
