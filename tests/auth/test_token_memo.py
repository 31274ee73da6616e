"""Access tokens verified once are remembered only for their own verdict, never past their expiry."""

from __future__ import annotations

import time

import jwt
import pytest

from app.auth import tokens
from app.auth.tokens import decode_access_token, issue_access_token
from app.errors import Unauthorized


def _token(settings, seconds: float) -> str:
    """A valid access token that expires in `seconds`."""
    now = time.time()
    payload = {"sub": "7", "role": "coordinator", "jur": "32", "aud": tokens.AUDIENCE, "iat": int(now)}
    payload["exp"] = now + seconds
    return jwt.encode(payload, settings.secret_key.get_secret_value(), algorithm=tokens.ALGORITHM)


def test_a_remembered_token_still_expires(settings):
    token = _token(settings, 1.5)
    assert decode_access_token(settings, token).account_id == 7
    assert decode_access_token(settings, token).jurisdiction == "32"  # from memory now
    assert (settings.secret_key.get_secret_value(), token) in tokens._VERIFIED
    time.sleep(1.6)
    with pytest.raises(Unauthorized):
        decode_access_token(settings, token)
    with pytest.raises(Unauthorized):
        decode_access_token(settings, token)


def test_a_tampered_or_foreign_token_is_never_remembered(settings):
    token = _token(settings, 600)
    head, body, sig = token.split(".")
    tampered = f"{head}.{body}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    foreign = jwt.encode(
        {"sub": "7", "role": "admin", "aud": tokens.AUDIENCE, "iat": 0, "exp": time.time() + 60},
        "another-secret-key-0123456789abcdef",
        algorithm=tokens.ALGORITHM,
    )
    for bad in (tampered, foreign, tampered):
        with pytest.raises(Unauthorized):
            decode_access_token(settings, bad)
    assert not any(token in (tampered, foreign) for _, token in tokens._VERIFIED)


def test_the_memory_is_keyed_by_the_secret(settings):
    token = issue_access_token(settings, account_id=7, role="coordinator", jurisdiction="32", generation=0)
    decode_access_token(settings, token)
    rotated = settings.model_copy(
        update={"secret_key": type(settings.secret_key)("rotated-key-0123456789abcdefghij")}
    )
    with pytest.raises(Unauthorized):
        decode_access_token(rotated, token)


def test_deactivation_still_bites_on_the_next_request(client, make_user, db):
    from app.models import Account

    user = make_user("coordinator", "32")
    assert client.get("/api/v1/mentors", headers=user.headers).status_code == 200
    db.get(Account, user.id).is_active = False
    db.commit()
    r = client.get("/api/v1/mentors", headers=user.headers)
    assert r.status_code == 401 and r.json()["code"] == "account_inactive"
