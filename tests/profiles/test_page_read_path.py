"""The API's profile pages and single profiles (plain-row read path) equal the ORM path's bodies.

The list reads a page's ids first and then the columns of those ids (`service.list_rows`); the
reference here is the ORM path (`service.list_profiles` and `ReadModel.of`), which reads whole
entities in one statement. Every page of many callers, filters and page sizes must be the same JSON,
with the same cursors; phones masked or not as the access rules say.
"""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select, update

from app.access import Caller
from app.access.profiles import MENTORS, NEWCOMERS, shown_phone
from app.errors import NotFound
from app.models import Account, Mentor, Newcomer
from app.pagination import encode_cursor
from app.profiles import service
from app.profiles.schemas import MentorRead, NewcomerRead
from tests.conftest import (
    CAOXIAN,
    DAJI,
    JIANGSU,
    SHANDONG,
    SHUYANG,
    ZHAXIA,
    mentor_payload,
    newcomer_payload,
    walk_pages,
)

KINDS = {"mentors": (MENTORS, MentorRead), "newcomers": (NEWCOMERS, NewcomerRead)}
OTHER_TOWNSHIP = "321322001"


@pytest.fixture
def roster(client, make_user, db):
    """Mentors and newcomers in two provinces, kept by offices and by their own accounts, some inactive."""
    zhaxia, other, daji = (make_user("township_office", code) for code in (ZHAXIA, OTHER_TOWNSHIP, DAJI))
    coordinator = make_user("coordinator", SHUYANG)
    created: dict[str, list[int]] = {"mentors": [], "newcomers": []}
    for i in range(9):
        office, region = ((zhaxia, ZHAXIA), (other, OTHER_TOWNSHIP), (daji, DAJI))[i % 3]
        mentor = mentor_payload(
            name=f"导师{i}",
            region_code=region,
            phone=None if i % 4 == 0 else f"1391234{i:04d}",
            products=["tea.processing", "flowers.seedlings"][: 1 + i % 2],
            story="直播带货" if i % 3 == 0 else "合作社",
        )
        if i % 2:
            mentor["resources_offered"] = [{"type": "information", "description": "行情"}]
        r = client.post("/api/v1/mentors", json=mentor, headers=office.headers)
        assert r.status_code == 201, r.text
        created["mentors"].append(r.json()["id"])
        newcomer = newcomer_payload(
            name=f"新人{i}",
            region_code=region,
            phone=None if i % 3 == 0 else f"1370000{i:04d}",
            products=["tea.growing", "flowers.seedlings"][: 1 + i % 2],
        )
        r = client.post("/api/v1/newcomers", json=newcomer, headers=coordinator.headers)
        if region == DAJI:  # outside the Shuyang coordinator: kept by Shandong's instead
            r = client.post(
                "/api/v1/newcomers", json=newcomer, headers=make_user("coordinator", SHANDONG).headers
            )
        assert r.status_code == 201, r.text
        created["newcomers"].append(r.json()["id"])
    # Profiles kept by their own accounts: the owner sees the phone in full.
    owner = make_user("mentor")
    r = client.post("/api/v1/mentors", json=mentor_payload(name="自有账户"), headers=owner.headers)
    assert r.status_code == 201, r.text
    created["mentors"].append(r.json()["id"])
    db.execute(update(Mentor).where(Mentor.id == created["mentors"][4]).values(is_active=False))
    db.execute(update(Newcomer).where(Newcomer.id == created["newcomers"][5]).values(is_active=False))
    db.commit()
    return {"offices": (zhaxia, other, daji), "coordinator": coordinator, "owner": owner, "ids": created}


def _reference_page(db, plural, user, flt, cursor, limit):
    """The page as the ORM path builds it (whole entities, the model's own serialisation)."""
    kind, model = KINDS[plural]
    caller = Caller.of(db.get(Account, user.id))
    page = service.list_profiles(db, kind, caller, flt, cursor, limit)
    items = [model.of(p, phone=shown_phone(kind, caller, p)).model_dump(mode="json") for p in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


FILTERS = [
    {},
    {"region": SHUYANG},
    {"region": CAOXIAN},
    {"region": JIANGSU},
    {"category": "tea"},
    {"category": "flowers.seedlings"},
    {"resource": "information"},
    {"q": "直播"},
    {"active": "false"},
    {"category": "tea", "q": "合作社", "region": ZHAXIA},
]


def test_pages_equal_the_orm_path(client, make_user, db, roster):
    """Every page, for each caller, filter and size: the same bodies and cursors as the ORM path."""
    callers = [
        make_user("admin"),
        make_user("coordinator", JIANGSU),
        make_user("coordinator", SHANDONG),
        roster["coordinator"],
        *roster["offices"],
        make_user("coordinator", None),  # no jurisdiction: sees nothing
    ]
    checked = 0
    for plural, user, flt, limit in itertools.product(KINDS, callers, FILTERS, (1, 3, 50)):
        filters = service.ProfileFilter(
            region=flt.get("region"),
            category=flt.get("category"),
            resource=flt.get("resource"),
            q=flt.get("q"),
            active=flt.get("active") != "false",
        )
        for cursor, body in walk_pages(client, f"/api/v1/{plural}", {**flt, "limit": limit}, user.headers):
            assert body == _reference_page(db, plural, user, filters, cursor, limit), (plural, user, flt)
            checked += len(body["items"])
    assert checked > 300  # the cases do reach rows, masked and unmasked


def test_a_cursor_after_the_last_row_gives_an_empty_page(client, make_user, roster):
    admin = make_user("admin")
    last = max(roster["ids"]["mentors"])
    r = client.get("/api/v1/mentors", params={"cursor": encode_cursor([last])}, headers=admin.headers)
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}


def test_single_profiles_equal_the_orm_path(client, make_user, db, roster):
    """One profile: the same body and ETag as the model of the entity, or the same 404."""
    callers = [make_user("admin"), make_user("coordinator", JIANGSU), roster["owner"], *roster["offices"]]
    for plural, user in itertools.product(KINDS, callers):
        kind, model = KINDS[plural]
        caller = Caller.of(db.get(Account, user.id))
        for profile_id in roster["ids"][plural]:
            r = client.get(f"/api/v1/{plural}/{profile_id}", headers=user.headers)
            if not caller.has_role(*kind.view_roles):
                assert r.status_code == 403, r.text
                continue
            try:
                profile = service.get_visible(db, kind, caller, profile_id)
            except NotFound:
                assert r.status_code == 404, r.text
                continue
            assert r.status_code == 200, r.text
            assert r.json() == model.of(profile, phone=shown_phone(kind, caller, profile)).model_dump(
                mode="json"
            )
            assert r.headers["ETag"] == f'"{profile.version}"'


def test_deactivated_and_demoted_callers_are_refused_at_the_next_request(client, make_user, db, roster):
    user = make_user("coordinator", JIANGSU)
    one = roster["ids"]["mentors"][0]
    for path in ("/api/v1/mentors?limit=50", f"/api/v1/mentors/{one}"):
        assert client.get(path, headers=user.headers).status_code == 200
    db.execute(update(Account).where(Account.id == user.id).values(role="mentor"))
    db.commit()
    assert client.get("/api/v1/mentors?limit=50", headers=user.headers).status_code == 403
    db.execute(update(Account).where(Account.id == user.id).values(role="coordinator", is_active=False))
    db.commit()
    for path in ("/api/v1/mentors?limit=50", f"/api/v1/mentors/{one}", "/api/v1/mentors?limit=0"):
        r = client.get(path, headers=user.headers)
        assert r.status_code == 401 and r.json()["code"] == "account_inactive", path
    assert db.scalar(select(Account.is_active).where(Account.id == user.id)) is False
