"""The error catalogue covers every code raised, and 422 messages follow Accept-Language."""

from __future__ import annotations

import ast
from pathlib import Path

from app import errors
from app.i18n import TITLES

APP = Path(__file__).resolve().parents[1] / "app"
ERROR_CLASSES = {
    name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, errors.AppError)
}


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def raised_codes() -> dict[str, str]:
    """code -> where, for every AppError built with code="..." and every problem(..., "code", ...)."""
    found: dict[str, str] = {}
    for path in sorted(APP.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _called_name(node)
            if name in ERROR_CLASSES:
                for kw in node.keywords:
                    if kw.arg == "code" and isinstance(kw.value, ast.Constant):
                        found.setdefault(kw.value.value, f"{path.name}:{node.lineno}")
            elif name == "problem" and len(node.args) >= 3 and isinstance(node.args[2], ast.Constant):
                found.setdefault(node.args[2].value, f"{path.name}:{node.lineno}")
    # The default code of each error class, and the codes plain HTTP errors are given.
    for cls_name in ERROR_CLASSES:
        found.setdefault(getattr(errors, cls_name).code, f"errors.py:{cls_name}")
    for code in (*errors._STATUS_CODES.values(), "http_error"):
        found.setdefault(code, "errors.py:_STATUS_CODES")
    return found


def test_the_walk_finds_codes_raised_across_the_app():
    codes = raised_codes()
    assert {"mentor_capacity_full", "invalid_transition", "run_in_progress", "not_found"} <= set(codes)
    assert len(codes) > 30


def test_every_raised_code_has_a_title_in_both_languages():
    missing = {code: where for code, where in raised_codes().items() if code not in TITLES}
    assert not missing, f"add these codes to app.i18n.TITLES: {missing}"
    assert all(zh and en and zh != en for zh, en in TITLES.values())


def test_a_conflict_is_titled_by_its_code(client, make_user):
    admin = make_user("admin")
    r = client.patch(
        f"/api/v1/accounts/{admin.id}",
        json={"is_active": False},
        headers={**admin.headers, "Accept-Language": "en"},
    )
    assert r.status_code == 409 and r.json()["title"] == TITLES["last_admin"][1]
    zh = client.patch(f"/api/v1/accounts/{admin.id}", json={"is_active": False}, headers=admin.headers)
    assert zh.json()["title"] == TITLES["last_admin"][0] and zh.headers["content-language"] == "zh-CN"


def test_validation_messages_follow_accept_language(client, make_user):
    user = make_user("newcomer")
    body = {"name": "", "region_code": "371721121", "products": ["tea.growing"], "resources_needed": []}
    zh = client.post("/api/v1/newcomers", json=body, headers=user.headers)
    en = client.post("/api/v1/newcomers", json=body, headers={**user.headers, "Accept-Language": "en-US"})
    assert zh.status_code == en.status_code == 422
    zh_msgs = {e["loc"][-1]: e["msg"] for e in zh.json()["errors"]}
    en_msgs = {e["loc"][-1]: e["msg"] for e in en.json()["errors"]}
    assert zh_msgs["name"] == "至少 1 个字符" and zh_msgs["resources_needed"] == "至少 1 项"
    assert "at least 1 character" in en_msgs["name"]
    assert zh.json()["title"] == TITLES["validation_failed"][0]
    assert en.json()["title"] == TITLES["validation_failed"][1]


def test_common_refusals_say_what_to_do_in_the_callers_language(client, make_user):
    mentor = make_user("mentor")
    cases = [
        (client.get("/api/v1/mentors/999999", headers=mentor.headers), "not_found"),
        (client.get("/api/v1/proposals", headers=mentor.headers), "forbidden"),
        (client.get("/api/v1/mentors?cursor=garbage", headers=make_user("admin").headers), "invalid_cursor"),
        (client.post("/api/v1/mentors", json={"capacity": 99}, headers=mentor.headers), "validation_failed"),
        (client.get("/api/v1/me/notifications"), "unauthorized"),
    ]
    for response, code in cases:
        body = response.json()
        assert body["code"] == code, body
        assert body["detail"] and body["detail"] != body["title"], body
    english = client.get("/api/v1/mentors/999999", headers={**mentor.headers, "Accept-Language": "en"})
    assert english.json()["detail"].startswith("It does not exist")


def test_a_method_not_allowed_names_every_method_the_path_takes(client):
    for method, path, allowed in (
        ("PUT", "/api/v1/mentors/1", "GET, PATCH, DELETE"),
        ("DELETE", "/api/v1/mentors", "GET, POST"),
        ("POST", "/api/v1/me/notification-preferences", "GET, PUT"),
    ):
        r = client.request(method, path)
        assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
        assert r.headers["allow"] == allowed, (method, path)


def test_head_answers_as_get_without_the_body(client, make_user):
    coordinator = make_user("coordinator", "32")
    for path, headers in (
        ("/readyz", {}),
        ("/console/login", {}),
        ("/verify", {}),
        ("/api/v1/mentors?limit=2", coordinator.headers),
        ("/api/v1/mentors/999999", coordinator.headers),
    ):
        got, head = client.get(path, headers=headers), client.head(path, headers=headers)
        assert head.status_code == got.status_code != 405, (path, head.status_code)
        assert head.content == b"" and got.content, path
        assert head.headers["content-length"] == got.headers["content-length"], path
        assert head.headers["content-type"] == got.headers["content-type"], path
    # A path without GET refuses HEAD as it refuses GET.
    r = client.head("/api/v1/auth/register")
    assert r.status_code == 405 and r.content == b""


def test_a_body_that_is_not_json_is_said_in_the_callers_language(client):
    for body in (b'{"name": "\xff"}', b"[" * 5000, b"hello", b'{"phone": "138', b'{"a": 1,}'):
        r = client.post(
            "/api/v1/auth/register",
            content=body,
            headers={"content-type": "application/json", "accept-language": "zh-CN"},
        )
        assert r.status_code == 400 and r.json()["code"] == "body_unreadable"
        assert "JSON" in r.json()["detail"] and "parsing" not in r.json()["detail"]
