"""GET /api/v1/vocabularies lists every code a client may send, reason codes included."""

from __future__ import annotations

from typing import get_args

from app.matches.schemas import CancelReason
from app.proposals.schemas import RejectReason


def test_reason_codes_are_listed_with_labels(client, make_user):
    r = client.get("/api/v1/vocabularies", headers=make_user("coordinator", "32").headers)
    assert r.status_code == 200
    body = r.json()
    assert [i["code"] for i in body["reject_reasons"]] == list(get_args(RejectReason))
    assert [i["code"] for i in body["cancel_reasons"]] == list(get_args(CancelReason))
    assert all(i["name_zh"] and i["name_en"] for i in body["reject_reasons"] + body["cancel_reasons"])


def test_a_listed_reject_reason_is_accepted_and_an_unlisted_one_is_not(client, make_user):
    coordinator = make_user("coordinator", "32")
    vocabularies = client.get("/api/v1/vocabularies", headers=coordinator.headers).json()
    listed = vocabularies["reject_reasons"][0]["code"]
    headers = {**coordinator.headers, "If-Match": '"1"'}
    # No such proposal: a listed code gets past validation to the 404, an unlisted one is a 422.
    ok = client.post("/api/v1/proposals/999999/reject", json={"reason_code": listed}, headers=headers)
    bad = client.post("/api/v1/proposals/999999/reject", json={"reason_code": "flower"}, headers=headers)
    assert ok.status_code == 404 and bad.status_code == 422
