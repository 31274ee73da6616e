"""Set-based upsert of one chunk of validated roster rows into mentors (no ORM object per row).

Per chunk: one SELECT finds existing mentors by all three keys, one SELECT their products; then one
executemany INSERT ... RETURNING for new mentors, one executemany UPDATE for changed ones, and bulk
replacement of their product rows. The caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from app.access.regions import under, within
from app.bulk import allocate_ids, bulk_insert, join_pairs, one_of
from app.honours.rules import keeping_awarded
from app.imports.validate.rows import RosterRow, RowIssue
from app.imports.validate.stream import Checked
from app.matches.states import withdraw_moved
from app.models import Mentor, MentorProduct
from app.profiles.derived import derived_columns
from matching.vocab import SALES_BANDS

MENTORS = Mentor.__table__
# Columns an import sets; "products" is compared too but lives in mentor_products.
IMPORTED: Final = (
    "name",
    "kind",
    "contact_name",
    "phone",
    "region_code",
    "county_code",
    "external_id",
    "credit_code",
    "source_township",
    "years_selling",
    "sales_band",
    "sales_min",
    "sales_max",
    "employees",
    "resources_offered",
    "resources_mask",
    "channels",
    "channels_mask",
    "capacity",
    "honours",
    "story",
)
# Masks follow their lists; reporting them as changed would only repeat the list's name.
_DERIVED: Final = frozenset({"county_code", "resources_mask", "channels_mask", "sales_band"})
_LOOKUP_COLUMNS: Final = ("id", *IMPORTED, "account_id", "capacity_used", "import_hash")


def _sales_band(low: float | None, high: float | None) -> str | None:
    """The vocabulary band code when the range is exactly one band."""
    return next((code for code, lo, hi in SALES_BANDS if lo == low and hi == high), None)


def mentor_values(row: RosterRow, *, region_code: str, source_township: str) -> dict[str, Any]:
    """The mentor columns a valid row sets."""
    return {
        "name": row.name,
        "kind": row.kind,
        "contact_name": row.contact_name,
        "phone": row.phone,
        "region_code": region_code,
        "external_id": row.external_id,
        "credit_code": row.credit_code,
        "source_township": source_township,
        "years_selling": row.years_selling,
        "sales_band": _sales_band(row.sales_band_min, row.sales_band_max),
        "sales_min": row.sales_band_min,
        "sales_max": row.sales_band_max,
        "employees": row.employees,
        "resources_offered": [{"type": t, "description": ""} for t in row.resources_offered],
        "channels": list(row.channels),
        "capacity": row.capacity,
        "honours": list(row.honours),
        "story": row.notes or "",
        **derived_columns(region_code=region_code, channels=row.channels, resources=row.resources_offered),
    }


# The canonical text: json.dumps with these options, built once (json.dumps builds a new encoder per
# call otherwise). Stored hashes were made from exactly this text, so it must never change.
_HASH_JSON: Final = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode
# orjson writes the same bytes about 7x faster for what mentor_values holds (str keys, strings, ints,
# None, lists and dicts of strings, finite floats at the top level) except for floats below 1e-4,
# which Python spells with an exponent (1e-05, orjson 0.00001), and NaN/infinity (orjson: null).
# tests/imports/test_import_hash.py checks the two agree.
_HASH_OPTIONS: Final = orjson.OPT_SORT_KEYS
_SMALLEST_PLAIN_FLOAT: Final = 1e-4


def _orjson_agrees(values: dict[str, Any]) -> bool:
    """True when orjson's text of the values is json's (only a float's spelling can differ)."""
    return all(
        type(value) is not float or value == 0.0 or _SMALLEST_PLAIN_FLOAT <= abs(value) < math.inf
        for value in values.values()
    )


def import_hash(values: dict[str, Any], products: Sequence[str]) -> str:
    """Canonical hash of a normalised row: equal hashes mean a re-import changes nothing."""
    doc = [values, list(products)]
    if _orjson_agrees(values):
        try:
            return hashlib.sha256(orjson.dumps(doc, option=_HASH_OPTIONS)).hexdigest()
        except orjson.JSONEncodeError:
            pass  # NaN, an integer over 64 bits, a type orjson refuses: json's text below
    return hashlib.sha256(_HASH_JSON(doc).encode()).hexdigest()


def _same(old: Any, new: Any) -> bool:
    return bool(old == new)


def _keep_descriptions(existing: list[dict[str, str]] | None, row: RosterRow) -> list[dict[str, str]]:
    """Offered resources in the row's order, keeping descriptions staff wrote for types that stay."""
    described = {item.get("type"): item.get("description", "") for item in existing or []}
    return [{"type": t, "description": described.get(t, "")} for t in row.resources_offered]


@dataclass(slots=True)
class RowPlan:
    """What happens to one row of a chunk."""

    row_number: int
    outcome: str  # created | updated | unchanged | rejected
    issues: list[RowIssue]
    raw: dict[str, str] | None = None
    mentor_id: int | None = None
    changed: list[str] = field(default_factory=list)
    values: dict[str, Any] | None = None
    products: tuple[str, ...] = ()


@dataclass(slots=True)
class ImportState:
    """What the planner remembers across chunks of one import."""

    office_township: str | None
    claimed: set[int] = field(default_factory=set)  # mentors an earlier row already matched
    # Credit codes of rows planned as new; in a dry run they never reach the table to be found.
    new_credit: dict[str, int] = field(default_factory=dict)


def _issue(row_number: int, column: str, value: str, code: str, zh: str, en: str) -> RowIssue:
    return RowIssue(row_number, column, value, code, zh, en)


def _credit_code_taken(row: RosterRow) -> RowIssue:
    return _issue(
        row.row_number, "credit_code", row.credit_code or "", "credit_code_taken",
        "该统一社会信用代码已属于另一商户（或本文件的另一行）。",
        "This credit code already belongs to another seller (or another row of this file).",
    )  # fmt: skip


class ChunkPlanner:
    """Decide each row's outcome against the current table (read-only)."""

    def __init__(self, session: Session, state: ImportState) -> None:
        self.session = session
        self.state = state

    def _lookup(self, rows: list[RosterRow]) -> list[dict[str, Any]]:
        township = self.state.office_township
        ext: dict[str, set[str]] = {}
        credits, phones = set(), set()
        for row in rows:
            if row.external_id:
                ext.setdefault(township or row.township_code, set()).add(row.external_id)
            if row.credit_code:
                credits.add(row.credit_code)
            if not row.external_id and not row.credit_code:
                phones.add(row.phone)
        columns = [MENTORS.c[name] for name in _LOOKUP_COLUMNS]
        queries = []
        if ext:
            keys = [(town, ext_id) for town, ids in ext.items() for ext_id in sorted(ids)]
            on = (MENTORS.c.source_township, MENTORS.c.external_id)
            queries.append(join_pairs(self.session, select(*columns), on, keys))
        if credits:
            queries.append(select(*columns).where(one_of(self.session, MENTORS.c.credit_code, credits)))
        if phones:
            # A phone is a key only for roster entries keyed by nothing better (families share phones),
            # and an office's only within its township: a phone elsewhere is another family's entry, and
            # answering "another township's" for it would tell an office whose phone is on whose roster.
            in_scope = [under(MENTORS.c.region_code, township)] if township else []
            queries.append(
                select(*columns).where(
                    one_of(self.session, MENTORS.c.phone, phones),
                    MENTORS.c.account_id.is_(None),
                    MENTORS.c.external_id.is_(None),
                    MENTORS.c.credit_code.is_(None),
                    *in_scope,
                )
            )
        found: dict[int, dict[str, Any]] = {}
        for query in queries:
            for record in self.session.execute(query).mappings():
                found.setdefault(record["id"], dict(record))
        return [found[i] for i in sorted(found)]

    def _products(self, ids: list[int]) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {i: [] for i in ids}
        if ids:
            stmt = (
                select(MentorProduct.mentor_id, MentorProduct.category_code)
                .where(MentorProduct.mentor_id.in_(ids))
                .order_by(MentorProduct.mentor_id, MentorProduct.position)
            )
            for mentor_id, code in self.session.execute(stmt):
                found[mentor_id].append(code)
        return found

    def plan(self, items: Sequence[Checked]) -> list[RowPlan]:
        """Outcomes for a chunk of checked rows (validated row, raw cells, region code to store)."""
        rows = [item.validated.row for item in items if item.validated.row is not None]
        existing = self._lookup(rows)
        by_ext = {(m["source_township"], m["external_id"]): m for m in existing if m["external_id"]}
        by_credit = {m["credit_code"]: m for m in existing if m["credit_code"]}
        by_phone: dict[str, dict[str, Any]] = {}
        for m in existing:
            if not m["external_id"] and not m["credit_code"] and m["account_id"] is None:
                by_phone.setdefault(m["phone"], m)
        products = self._products([m["id"] for m in existing])
        chunk_credit: dict[str, int] = {}
        plans = []
        for item in items:
            validated, raw, region = item.validated, item.raw.cells, item.region
            row = validated.row
            if row is None or region is None:
                plans.append(RowPlan(validated.row_number, "rejected", list(validated.issues), raw=raw))
                continue
            township = self.state.office_township or row.township_code
            match: dict[str, Any] | None
            if row.external_id:
                match = by_ext.get((township, row.external_id))
                candidate = by_credit.get(row.credit_code) if row.credit_code else None
                if match is None and candidate is not None and candidate["external_id"] is None:
                    match = candidate  # a seller first imported by credit code now gets an external id
            elif row.credit_code:
                match = by_credit.get(row.credit_code)
            else:
                match = by_phone.get(row.phone)
            values = mentor_values(row, region_code=region, source_township=township)
            problem = self._conflict(row, match, by_credit, chunk_credit)
            if problem is not None:
                plans.append(RowPlan(row.row_number, "rejected", [*validated.issues, problem], raw=raw))
                continue
            if row.credit_code and match is None:
                chunk_credit[row.credit_code] = row.row_number
            digest = import_hash(values, row.products)
            values["import_hash"] = digest
            plan = RowPlan(
                row.row_number, "created", list(validated.issues), values=values, products=row.products
            )
            if match is not None:
                self.state.claimed.add(match["id"])
                values["resources_offered"] = _keep_descriptions(match["resources_offered"], row)
                values["honours"] = keeping_awarded(values["honours"], list(match["honours"] or []))
                plan.mentor_id = match["id"]
                plan.changed = (
                    [] if match["import_hash"] == digest else self._diff(match, values, products, row)
                )
                plan.outcome = "updated" if plan.changed else "unchanged"
            plans.append(plan)
        return plans

    def _conflict(
        self,
        row: RosterRow,
        match: dict[str, Any] | None,
        by_credit: dict[str, dict[str, Any]],
        chunk_credit: dict[str, int],
    ) -> RowIssue | None:
        """Why a valid row still cannot be written, given what is in the table."""
        n = row.row_number
        office = self.state.office_township
        if match is not None and match["id"] in self.state.claimed:
            return _issue(
                n, "external_id", row.external_id or row.credit_code or row.phone, "duplicate_mentor_in_file",
                "本文件中已有一行对应同一商户，本行未导入。",
                "An earlier row of this file already matched the same seller; this row was not imported.",
            )  # fmt: skip
        if match is not None and office and not within(str(match["region_code"]), office):
            # Found by a credit code (phones are looked up in the township only), which is unique in the
            # country: the row is refused as for any taken code, naming neither the seller nor where,
            # nor whether they keep an account.
            return _credit_code_taken(row)
        if match is not None and match["account_id"] is not None:
            return _issue(
                n, "credit_code" if row.credit_code else "phone", row.credit_code or row.phone,
                "profile_has_account",
                "该商户已自行注册并维护资料，导入不能修改。",
                "This seller keeps their own profile; an import cannot change it.",
            )  # fmt: skip
        if row.credit_code:
            owner = by_credit.get(row.credit_code)
            taken = (owner is not None and (match is None or owner["id"] != match["id"])) or (
                row.credit_code in chunk_credit or self.state.new_credit.get(row.credit_code, n) != n
            )
            if taken:
                return _credit_code_taken(row)
        if match is not None and row.capacity < match["capacity_used"]:
            return _issue(
                n, "capacity", str(row.capacity), "capacity_below_used",
                f"已有 {match['capacity_used']} 个结对占用名额，可带徒人数不能更少。",
                f"{match['capacity_used']} seats are in use; capacity cannot be lower.",
            )  # fmt: skip
        return None

    @staticmethod
    def _diff(
        match: dict[str, Any], values: dict[str, Any], products: dict[int, list[str]], row: RosterRow
    ) -> list[str]:
        changed = [name for name in IMPORTED if name not in _DERIVED and not _same(match[name], values[name])]
        if products.get(match["id"], []) != list(row.products):
            changed.append("products")
        return changed


def write_mentors(session: Session, plans: list[RowPlan], state: ImportState, now: datetime) -> None:
    """Insert the created rows, update the changed ones, replace their products (set-based)."""
    created = [p for p in plans if p.outcome == "created"]
    updated = [p for p in plans if p.outcome == "updated"]
    product_rows: list[dict[str, Any]] = []
    if created:
        rows = [
            {
                **(p.values or {}),
                "account_id": None,
                "languages": ["mandarin"],
                "is_active": True,
                "capacity_used": 0,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for p in created
        ]
        ids = allocate_ids(session, MENTORS, len(rows))
        for row, mentor_id in zip(rows, ids, strict=True):
            row["id"] = mentor_id
        # Explicit ids make this a plain executemany: INSERT ... RETURNING in parameter order degrades
        # to one statement per row on SQLite.
        bulk_insert(session, MENTORS, rows)
        for plan, mentor_id in zip(created, ids, strict=True):
            plan.mentor_id = mentor_id
            state.claimed.add(mentor_id)
            if plan.values and plan.values["credit_code"]:
                state.new_credit[plan.values["credit_code"]] = plan.row_number
        product_rows += [
            {"mentor_id": p.mentor_id, "category_code": c, "position": i}
            for p in created
            for i, c in enumerate(p.products)
        ]
    if updated:
        columns = (*IMPORTED, "import_hash")
        stmt = (
            update(MENTORS)
            .where(MENTORS.c.id == bindparam("b_id"))
            .values(
                {c: bindparam(f"b_{c}", type_=MENTORS.c[c].type) for c in columns}
                | {
                    "version": MENTORS.c.version + 1,
                    "updated_at": bindparam("b_now", type_=MENTORS.c.updated_at.type),
                }
            )
        )
        params = [
            {"b_id": p.mentor_id, "b_now": now, **{f"b_{c}": (p.values or {})[c] for c in columns}}
            for p in updated
        ]
        session.connection().execute(stmt, params)
        relocated = [p.mentor_id for p in updated if p.mentor_id is not None and "region_code" in p.changed]
        if relocated:
            withdraw_moved(session, relocated)
        replaced = [p for p in updated if "products" in p.changed]
        if replaced:
            session.execute(
                delete(MentorProduct).where(MentorProduct.mentor_id.in_([p.mentor_id for p in replaced]))
            )
            product_rows += [
                {"mentor_id": p.mentor_id, "category_code": c, "position": i}
                for p in replaced
                for i, c in enumerate(p.products)
            ]
    bulk_insert(session, MentorProduct.__table__, product_rows)


def note_dry_run(plans: list[RowPlan], state: ImportState) -> None:
    """In a dry run nothing is inserted, so remember the would-be new credit codes in memory."""
    for plan in plans:
        if plan.outcome == "created" and plan.values and plan.values["credit_code"]:
            state.new_credit[plan.values["credit_code"]] = plan.row_number
