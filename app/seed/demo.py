"""A deterministic demo data set: staff and mobile demo accounts, ~2,000 mentors, ~10,000 newcomers.

Profiles come from matching.synthetic (real county codes, products clustered by region as in reality);
each is placed in a real township of its county. The two demo mobile accounts own the hand-written
profiles of app.seed.story, the pair the README tour approves. Running it twice changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from app.accounts.service import create_staff_account, ensure_admin, register_mobile_user
from app.models import Account, Mentor, MentorProduct, Newcomer, NewcomerProduct, Region
from app.profiles.derived import derived_columns
from app.seed.bulk import bulk_insert
from app.seed.history import seed_history
from app.seed.story import story_mentor, story_newcomer
from matching import vocab
from matching.regions import counties
from matching.synthetic import county_penetration, generate_population

DEMO_PASSWORD = "jieduan-demo"  # noqa: S105 - published demo credentials, never used in production
DEMO_STAFF = (
    ("coord-jiangsu", "coordinator", "32", "江苏省电商服务中心"),
    ("coord-shuyang", "coordinator", "321322", "沭阳县电商服务中心"),
    ("coord-yunnan", "coordinator", "53", "云南省电商服务中心"),
    ("office-zhaxia", "township_office", "321322115", "扎下镇人民政府"),
)
DEMO_MENTOR_PHONE, DEMO_NEWCOMER_PHONE = "13800000001", "13800000002"


def seed_demo(
    session: Session,
    *,
    mentors: int = 2_000,
    newcomers: int = 10_000,
    seed: int = 2024,
    history: bool = False,
) -> dict[str, Any]:
    """Create the demo accounts and profiles unless they are already there (and a year of history)."""
    if session.scalar(select(Account.id).where(Account.username == "coord-jiangsu")) is not None:
        return {"skipped": "demo data already present"}
    ensure_admin(session, username="admin", password=DEMO_PASSWORD)
    for username, role, code, name in DEMO_STAFF:
        create_staff_account(
            session,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            display_name=name,
            jurisdiction_code=code,
        )
    mentor_account = register_mobile_user(
        session, phone=DEMO_MENTOR_PHONE, password=DEMO_PASSWORD, role="mentor", display_name="演示导师"
    )
    newcomer_account = register_mobile_user(
        session, phone=DEMO_NEWCOMER_PHONE, password=DEMO_PASSWORD, role="newcomer", display_name="演示新农人"
    )

    _store_penetration(session, seed)
    towns = _townships_by_county(session)
    # A few synthetic counties were merged away since the coordinate source was made: oversample a little.
    population = generate_population(mentors + mentors // 20 + 5, newcomers + newcomers // 20 + 5, seed)
    mentor_story = story_mentor(mentor_account.id, DEMO_MENTOR_PHONE)
    m_count = _insert_mentors(session, population.mentor_records(), towns, mentor_story, mentors)
    n_count = _insert_newcomers(
        session,
        population.newcomer_records(),
        towns,
        story_newcomer(newcomer_account.id, DEMO_NEWCOMER_PHONE),
        newcomers,
    )
    result: dict[str, Any] = {"accounts": 3 + len(DEMO_STAFF), "mentors": m_count, "newcomers": n_count}
    if history:
        # Matches, check-ins, outcomes, ratings and honours, so every report has something to show.
        result["history"] = seed_history(session, seed=seed)
    return result


def _store_penetration(session: Session, seed: int) -> None:
    """Demo e-commerce penetration per county (no open source publishes it); drives the equity rule."""
    table = counties()
    rows = [
        {"c": str(code), "p": float(p)} for code, p in zip(table.code, county_penetration(seed), strict=True)
    ]
    regions = Region.__table__
    stmt = update(regions).where(regions.c.code == bindparam("c")).values(penetration=bindparam("p"))
    session.execute(stmt, rows)


def _townships_by_county(session: Session) -> dict[str, list[str]]:
    towns: dict[str, list[str]] = defaultdict(list)
    for code in session.scalars(select(Region.code).where(Region.level == "township").order_by(Region.code)):
        towns[code[:6]].append(code)
    known_counties = set(session.scalars(select(Region.code).where(Region.level == "county")))
    return {c: towns.get(c, []) for c in known_counties}


def _place(towns: dict[str, list[str]], county: str, key: str) -> str | None:
    """A stable township of the county for this profile (the county itself when it has none)."""
    if county not in towns:
        return None
    options = towns[county]
    if not options:
        return county
    return options[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(options)]


def _common_row(rec: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "name": rec["name"][:128],
        "region_code": region,
        "channels": rec["channels"],
        **derived_columns(region_code=region, channels=rec["channels"]),
        "languages": rec["languages"],
        "story": rec["text"],
        "is_active": True,
        "version": 1,
    }


def _insert_mentors(
    session: Session,
    records: list[dict[str, Any]],
    towns: dict[str, list[str]],
    story: tuple[dict[str, Any], list[str]],
    wanted: int,
) -> int:
    """The demo account's story profile first (its own insert: other columns), then synthetic ones."""
    _insert_profiles(session, Mentor, MentorProduct, "mentor_id", [story[0]], [story[1]])
    rows, products, phones = [], [], {story[0]["phone"]}
    for rec in records:
        if len(rows) == wanted - 1:
            break
        region = _place(towns, rec["county_code"], f"m{rec['id']}")
        if region is None:
            continue  # a county the civil-affairs table no longer lists
        phone = rec["phone"] if rec["phone"] not in phones else None
        phones.add(phone)
        offered = [{"type": t, "description": vocab.RESOURCE_LABELS[t][0]} for t in rec["resources_offered"]]
        capacity = max(1, min(20, rec["capacity_left"] + 1))
        rows.append(
            {
                **_common_row(rec, region),
                "kind": rec["kind"],
                "phone": phone,
                "account_id": None,
                "years_selling": int(rec["years_selling"]),
                "sales_band": rec["sales_band"],
                "orders_per_month": int(rec["orders_per_month"]),
                "employees": int(rec["employees"]),
                "resources_offered": offered,
                **derived_columns(resources=rec["resources_offered"]),
                "capacity": capacity,
                "capacity_used": 0,
                "honours": list(rec["honours"]),
                "fulfilment_rate": rec["fulfilment_rate"],
            }
        )
        products.append(rec["products"])
    _insert_profiles(session, Mentor, MentorProduct, "mentor_id", rows, products)
    return 1 + len(rows)


def _insert_newcomers(
    session: Session,
    records: list[dict[str, Any]],
    towns: dict[str, list[str]],
    story: tuple[dict[str, Any], list[str]],
    wanted: int,
) -> int:
    """The demo account's story profile first (its own insert: other columns), then synthetic ones."""
    _insert_profiles(session, Newcomer, NewcomerProduct, "newcomer_id", [story[0]], [story[1]])
    rows, products = [], []
    for rec in records:
        if len(rows) == wanted - 1:
            break
        region = _place(towns, rec["county_code"], f"n{rec['id']}")
        if region is None:
            continue
        rows.append(
            {
                **_common_row(rec, region),
                "phone": rec["phone"],
                "account_id": None,
                "experience_years": int(rec["experience_years"]),
                "resources_needed": rec["resources_needed"],
                **derived_columns(resources=rec["resources_needed"]),
                "internet": "mobile",
                "goals": "",
            }
        )
        products.append(rec["products"])
    _insert_profiles(session, Newcomer, NewcomerProduct, "newcomer_id", rows, products)
    return 1 + len(rows)


def _insert_profiles(
    session: Session,
    model: Any,
    product_model: Any,
    owner_key: str,
    rows: list[dict[str, Any]],
    products: list[list[str]],
) -> None:
    """Profiles, then their ordered product rows keyed by the new ids."""
    ids = bulk_insert(session, model, rows, returning=True)
    bulk_insert(
        session,
        product_model,
        [
            {owner_key: pid, "category_code": c, "position": i}
            for pid, codes in zip(ids, products, strict=True)
            for i, c in enumerate(codes)
        ],
    )
