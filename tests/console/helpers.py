"""Signing in to the console from a test client: the CSRF cookie from the form, then the form post."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import TEST_PASSWORD

TOKEN = re.compile(r'name="csrftoken" value="([^"]+)"')


def csrf_token(client: TestClient, path: str = "/console/login") -> str:
    """The CSRF token a console page puts in its forms (its cookie is set on the client)."""
    response = client.get(path)
    match = TOKEN.search(response.text)
    assert match, f"no CSRF token on {path}: {response.status_code}"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = TEST_PASSWORD) -> str:
    """Sign in through the form; returns the CSRF token for later posts."""
    token = csrf_token(client)
    response = client.post(
        "/console/login",
        data={"csrftoken": token, "username": username, "password": password, "next": "/console"},
        follow_redirects=False,
    )
    assert response.status_code in (303, 403), response.text
    return token
