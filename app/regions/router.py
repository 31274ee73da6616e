"""Browse, search and resolve China's administrative divisions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from app.deps import AnyUser, SessionDep
from app.openapi import problems
from app.pagination import CursorQuery, LimitQuery
from app.regions import service
from app.regions.schemas import RegionDetail, RegionRead
from app.schemas import SEARCH_TEXT_PATTERN, Page, RegionCodeStr

router = APIRouter(prefix="/api/v1/regions", tags=["regions"])
Level = Literal["province", "prefecture", "county", "township"]


@router.get("", response_model=Page[RegionRead], responses=problems(401, 422))
def list_children(
    caller: AnyUser,
    session: SessionDep,
    parent: Annotated[RegionCodeStr | None, Query(description="Parent code; omit for provinces")] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[RegionRead]:
    """Children of a region (provinces when no parent is given)."""
    page = service.list_children(session, parent=parent, cursor=cursor, limit=limit)
    return Page[RegionRead](
        items=[RegionRead.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/search", response_model=list[RegionRead], responses=problems(401, 422))
def search(
    caller: AnyUser,
    session: SessionDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=32,
            pattern=SEARCH_TEXT_PATTERN,
            description="Chinese name, pinyin or initials",
        ),
    ],
    level: Annotated[
        Level | None, Query(description="Only this level: province, prefecture, county or township")
    ] = None,
    within: Annotated[RegionCodeStr | None, Query(description="Only under this code")] = None,
    limit: Annotated[int, Query(ge=1, le=50, description="How many matches (at most 50)")] = 20,
) -> list[RegionRead]:
    """Find regions by Chinese name fragment or pinyin prefix, coarser divisions first."""
    rows = service.search_regions(session, q=q, level=level, within=within, limit=limit)
    return [RegionRead.model_validate(r) for r in rows]


@router.get("/{code}", response_model=RegionDetail, responses=problems(401, 404, 422))
def get_region(
    code: Annotated[RegionCodeStr, Path(description="Division code: 2, 4, 6, 9 or 12 digits")],
    caller: AnyUser,
    session: SessionDep,
) -> RegionDetail:
    """Resolve a code to the region and its full path."""
    region = service.get_region(session, code)
    path = service.region_path(session, region)
    return RegionDetail(
        **RegionRead.model_validate(region).model_dump(),
        path=[RegionRead.model_validate(r) for r in path],
        full_name="".join(r.name for r in path),
    )
