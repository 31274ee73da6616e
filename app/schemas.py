"""Pydantic building blocks shared by every domain's schemas."""

from __future__ import annotations

import re
import types
from functools import cache
from typing import Annotated, Any, Final, Generic, TypeVar, Union, get_args, get_origin

from fastapi import Path
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from app.text import drop_invisible

T = TypeVar("T")

# Digits are spelled [0-9]: the validator's `\d` is Unicode-aware, so it would also take full-width (１３９…)
# or Arabic-Indic digits, and the same number could then be stored (or signed up) twice in two spellings.
PhoneStr = Annotated[str, StringConstraints(pattern=r"^1[3-9][0-9]{9}$")]
RegionCodeStr = Annotated[
    str, StringConstraints(pattern=r"^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$")
]
# Never stripped: a password is used exactly as typed (the policy lives in app.auth.passwords).
Password = Annotated[str, StringConstraints(min_length=8, max_length=128, strip_whitespace=False)]


def has_nul(value: object) -> bool:
    """True if a string, or any string inside a list or dict, holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return False


def refusal(zh: str, en: str) -> PydanticCustomError:
    """A validator's refusal in both languages: the 422 (and the console's form notice) says it in the
    caller's language, where a ValueError would show its English inside 取值无效：…"""
    return PydanticCustomError("value_error", "Value error, {error}", {"error": en, "error_zh": zh})


def _refuse_nul(value: Any) -> Any:
    if has_nul(value):
        raise refusal("不能包含 NUL 字符", "must not contain NUL characters")
    return value


# For string parameters outside an `Input` body (form fields): the same NUL rule as every body.
NoNulStr = Annotated[str, AfterValidator(_refuse_nul)]
# Search text: no control characters (PostgreSQL text cannot hold NUL; none belongs in a search anyway).
SEARCH_TEXT_PATTERN = r"^[^\x00-\x1f\x7f]+$"


# Fields used exactly as typed: a password's every character counts (the policy lives in app.auth).
EXACT_FIELDS = frozenset({"password"})


# Validation context of a console form handler: a form posts every value as text, so there "3" is a
# number and "true" a yes. A JSON body says what it means: "3" for a number, or 1 or "yes" for a
# boolean, is a 422 (the lax parser would take them, and true as a count of 1).
FORM_INPUT: Final = {"form": True}
_JSON_SCALARS: Final = {
    bool: ("bool_type", "Input should be a valid boolean"),
    int: ("int_type", "Input should be a valid integer"),
    float: ("float_type", "Input should be a valid number"),
}


@cache
def _scalar_type(model: type[BaseModel], field: str) -> type | None:
    """bool, int or float if the field holds that scalar (optionally None), else None."""
    annotation = model.model_fields[field].annotation
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    return annotation if annotation in _JSON_SCALARS else None


def _refuse_loose_scalar(model: type[BaseModel], info: ValidationInfo, value: Any) -> None:
    if value is None or (info.context or {}).get("form") or info.field_name is None:
        return
    kind = _scalar_type(model, info.field_name)
    if kind is None:
        return
    # bool is an int subclass in Python, and JSON has one number type: 2 is a valid float.
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (isinstance(value, bool) if kind is bool else number):
        raise PydanticCustomError(*_JSON_SCALARS[kind])


class Input(BaseModel):
    """Base of every request body: unknown fields are an error, so no mass assignment slips in."""

    # Field docstrings are the fields' descriptions in the API document.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, use_attribute_docstrings=True)

    @field_validator("*", mode="before")
    @classmethod
    def _plain_text(cls, value: Any, info: ValidationInfo) -> Any:
        # PostgreSQL text cannot hold NUL and no field has a use for one: refused in every body (422).
        _refuse_nul(value)
        _refuse_loose_scalar(cls, info, value)
        if info.field_name in EXACT_FIELDS:
            return value
        # Invisible marks and direction controls go, as the importer drops them: a name of only those
        # is then blank (422), and none shows its letters in another order than they are stored in.
        if isinstance(value, str):
            return drop_invisible(value)
        if isinstance(value, list) and any(isinstance(v, str) for v in value):
            return [drop_invisible(v) if isinstance(v, str) else v for v in value]
        return value


def not_null(value: Any) -> Any:
    """A field a partial update may leave out but not null: null would erase a value the row needs."""
    if value is None:
        raise refusal(
            "不能为 null：不修改的字段请不要填写", "may not be null: leave the field out to keep its value"
        )
    return value


class Output(BaseModel):
    """Base of every response body, built from ORM objects or dicts."""

    model_config = ConfigDict(from_attributes=True, use_attribute_docstrings=True)


class Page(Output, Generic[T]):
    """One page of a cursor-paginated list; pass next_cursor back to get the following page."""

    items: list[T]
    """This page's items, in the list's order"""
    next_cursor: str | None = Field(default=None, description="Opaque; absent on the last page")


# Database ids are 32-bit on both databases; larger path values are a 422, not an overflow.
MAX_ID = 2**31 - 1
_PLAIN_ID = re.compile(r"[1-9][0-9]*")


def _plain_id(value: Any) -> Any:
    # A path id is spelled one way. The lax int parser also takes "+1", " 1", "01", "1.0" and "1_000",
    # which would give one resource many URLs (and many cache, log and rate-limit keys).
    if isinstance(value, str) and not _PLAIN_ID.fullmatch(value):
        raise refusal(
            "应为普通写法的整数（1、2、…）", "must be a whole number written in plain digits (1, 2, …)"
        )
    return value


IdPath = Annotated[int, BeforeValidator(_plain_id), Path(ge=1, le=MAX_ID)]


class Accepted(Output):
    """202 answer for work that runs in the background."""

    id: int
    """Id of the work accepted"""
    status: str
    """Its status now (queued at first)"""
    url: str
    """Where to poll its status (also in the Location header)"""
