"""Mentor and newcomer endpoints; one factory builds both, since only the kind differs."""
# No `from __future__ import annotations` here: the route signatures use types built inside
# make_router, which FastAPI must see as objects, not strings.

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel

from app.access import Caller
from app.access.profiles import MENTORS, NEWCOMERS, ProfileKind, shown_phone
from app.deps import OneHopRoute, SessionDep, role_in_one_hop
from app.etags import IfMatch, etag
from app.openapi import problems
from app.pagination import CursorQuery, LimitQuery
from app.profiles import service
from app.profiles.schemas import (
    BODIES,
    MentorCreate,
    MentorRead,
    MentorUpdate,
    NewcomerCreate,
    NewcomerRead,
    NewcomerUpdate,
    ResourceType,
)
from app.query_params import CategoryQuery
from app.responses import json_response
from app.schemas import SEARCH_TEXT_PATTERN, IdPath, Page, RegionCodeStr


def make_router(
    kind: ProfileKind,
    plural: str,
    create_model: type[BaseModel],
    update_model: type[BaseModel],
    read_model: type[BaseModel],
) -> APIRouter:
    """CRUD-and-list endpoints for one kind of profile."""
    # Every handler returns a built response: the account lookup, the work and the commit share one hop.
    router = APIRouter(prefix="/api/v1", tags=[plural], route_class=OneHopRoute)
    Reader = Annotated[Caller, Depends(role_in_one_hop(*kind.list_roles))]
    Creator = Annotated[Caller, Depends(role_in_one_hop(*kind.create_roles))]
    Viewer = Annotated[Caller, Depends(role_in_one_hop(*kind.view_roles))]
    Owner = Annotated[Caller, Depends(role_in_one_hop(kind.owner_role))]

    body_of = BODIES[read_model]  # type: ignore[index]

    def respond(
        caller: Caller,
        profile: service.Profile,
        *,
        status_code: int = status.HTTP_200_OK,
        headers: dict[str, str] | None = None,
    ) -> Response:
        # Built from the row, not validated again (the body builder is tested against read_model).
        products = [p.category_code for p in profile.products]
        content = body_of(profile, products=products, phone=shown_phone(kind, caller, profile))
        return json_response(
            content, status_code=status_code, headers={"ETag": etag(profile.version), **(headers or {})}
        )

    @router.post(
        f"/{plural}",
        status_code=status.HTTP_201_CREATED,
        response_model=read_model,
        responses=problems(401, 403, 409, 422),
        name=f"create_{kind.name}",
    )
    def create(body: create_model, caller: Creator, session: SessionDep) -> Response:  # type: ignore[valid-type]
        profile = service.create_profile(session, kind, caller, body.model_dump())  # type: ignore[attr-defined]
        return respond(
            caller,
            profile,
            status_code=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/{plural}/{profile.id}"},
        )

    @router.get(
        f"/{plural}",
        response_model=Page[read_model],
        responses=problems(401, 403, 422),  # type: ignore[valid-type]
        name=f"list_{plural}",
    )
    def list_(
        caller: Reader,
        session: SessionDep,
        limit: LimitQuery = 50,
        cursor: CursorQuery = None,
        region: Annotated[RegionCodeStr | None, Query(description="Region code prefix")] = None,
        category: CategoryQuery = None,
        resource: Annotated[
            ResourceType | None, Query(description="Resource offered (mentors) or needed")
        ] = None,
        q: Annotated[
            str | None,
            Query(
                min_length=1, max_length=64, pattern=SEARCH_TEXT_PATTERN, description="Text in name or story"
            ),
        ] = None,
        active: Annotated[
            bool | None, Query(description="true (default): active profiles only; false: deactivated only")
        ] = True,
    ) -> Response:
        flt = service.ProfileFilter(region=region, category=category, resource=resource, q=q, active=active)
        page = service.list_rows(session, kind, caller, flt, cursor, limit, body_of.columns)
        items = [
            body_of(
                row,
                products=service.product_list(row.product_codes),
                phone=shown_phone(kind, caller, row),
            )
            for row in page.items
        ]
        return json_response({"items": items, "next_cursor": page.next_cursor})

    @router.get(
        f"/me/{kind.name}-profile",
        response_model=read_model,
        responses=problems(401, 403, 404),
        name=f"get_own_{kind.name}",
    )
    def get_own(caller: Owner, session: SessionDep) -> Response:
        return respond(caller, service.get_own(session, kind, caller))

    @router.get(
        f"/{plural}/{{profile_id}}",
        response_model=read_model,
        responses=problems(401, 403, 404),
        name=f"get_{kind.name}",
    )
    def get(profile_id: IdPath, caller: Viewer, session: SessionDep) -> Response:
        row = service.get_visible_row(session, kind, caller, profile_id, body_of.columns)
        products = service.product_list(row.product_codes)
        content = body_of(row, products=products, phone=shown_phone(kind, caller, row))
        return json_response(content, headers={"ETag": etag(row.version)})

    @router.patch(
        f"/{plural}/{{profile_id}}",
        response_model=read_model,
        responses=problems(401, 403, 404, 409, 412, 422, 428),
        name=f"update_{kind.name}",
    )
    def update(
        profile_id: IdPath,
        body: update_model,  # type: ignore[valid-type]
        caller: Viewer,
        session: SessionDep,
        if_match: IfMatch = None,
    ) -> Response:
        profile = service.get_visible(session, kind, caller, profile_id)
        # Only the fields sent, but each one whole: exclude_unset would also drop the defaults of
        # nested items (a resource offer sent without its description).
        sent = body.model_fields_set  # type: ignore[attr-defined]
        data = {k: v for k, v in body.model_dump().items() if k in sent}  # type: ignore[attr-defined]
        profile = service.update_profile(session, kind, caller, profile, data, if_match)
        return respond(caller, profile)

    @router.delete(
        f"/{plural}/{{profile_id}}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problems(401, 403, 404),
        name=f"deactivate_{kind.name}",
    )
    def deactivate(profile_id: IdPath, caller: Viewer, session: SessionDep) -> Response:
        profile = service.get_visible(session, kind, caller, profile_id)
        service.deactivate_profile(session, kind, caller, profile)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    create.__doc__ = f"Create a {kind.name} profile: your own, or (staff) one inside your jurisdiction."
    list_.__doc__ = f"{kind.name.capitalize()} profiles in your jurisdiction, filtered, one cursor page."
    get_own.__doc__ = f"Your own {kind.name} profile."
    get.__doc__ = f"One {kind.name} profile you may see (404 otherwise); the ETag header is its version."
    update.__doc__ = (
        f"Change a {kind.name} profile; send If-Match with the ETag (412 if stale, 428 if absent)."
    )
    deactivate.__doc__ = f"Deactivate a {kind.name} profile (it leaves matching; history stays)."
    return router


mentors_router = make_router(MENTORS, "mentors", MentorCreate, MentorUpdate, MentorRead)
newcomers_router = make_router(NEWCOMERS, "newcomers", NewcomerCreate, NewcomerUpdate, NewcomerRead)
