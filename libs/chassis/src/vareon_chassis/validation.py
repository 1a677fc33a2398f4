"""Refuse, at the door, values PostgreSQL cannot store: one check for bodies, queries and paths.

Installed by ``create_service`` as an app-wide dependency, so it runs for every route before
the endpoint, on what the client sent: text with NUL or a lone surrogate (``text``/``jsonb``
refuse the first, the UTF-8 encoder the second) and numbers past ``bigint``. The answer is
the usual 422 ``validation-error`` problem with the field's ``loc``. Columns narrower than
``bigint`` declare their bound on the schema field (``Int32``), where the OpenAPI shows it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import params
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import Field
from starlette.requests import HTTPConnection, Request

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
"""An integer stored in an ``Integer`` column."""
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
"""An integer stored in a ``BigInteger`` column (the default bound of every input anyway)."""

_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
# In raw JSON: an escape (\u0000, \ud800), raw UTF-8 surrogate bytes, or a long number.
_SUSPECT_JSON = re.compile(rb"\\u|\xed[\xa0-\xbf]|\d{19}|[eE]\+?\d")
Loc = tuple[str | int, ...]


def unstorable(value: Any) -> str | None:
    """Why ``value`` (a str or a number) cannot be stored, or None."""
    if isinstance(value, str):
        if _UNSTORABLE_TEXT.search(value):
            return "text must not contain NUL characters or unpaired surrogates"
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return f"integer out of range [{INT64_MIN}, {INT64_MAX}]"
    if isinstance(value, float) and math.isfinite(value) and abs(value) >= 2**63:
        return "number out of range for an integer"
    return None


def _walk(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if reason := unstorable(key):
                yield (*loc, key), reason
            yield from _walk(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*loc, index))
    elif reason := unstorable(value):
        yield loc, reason


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_int(get_args(annotation)[0])
    if origin is Union or type(annotation).__name__ == "UnionType" or origin in (list, set):
        return any(_is_int(arg) for arg in get_args(annotation))
    return False


def _int_params(route: APIRoute) -> frozenset[tuple[str, str]]:
    """``(location, name)`` of the route's query/path parameters declared as integers."""
    found: frozenset[tuple[str, str]] | None = getattr(route, "_vareon_int_params", None)
    if found is None:
        found = frozenset(
            ("path" if isinstance(f.field_info, params.Path) else "query", f.alias)
            for f in get_flat_params(route.dependant)
            if isinstance(f.field_info, params.Path | params.Query)
            and _is_int(f.field_info.annotation)
        )
        route._vareon_int_params = found  # type: ignore[attr-defined]  # computed once per route
    return found


def _integer_text_out_of_range(text: str) -> bool:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return False
    return number.is_finite() and not INT64_MIN <= number <= INT64_MAX


async def _body_problems(request: Request, route: APIRoute) -> list[tuple[Loc, str]]:
    if route.body_field is None:
        return []
    if isinstance(route.body_field.field_info, params.Form):
        form = await request.form()  # already parsed (and cached) by FastAPI
        return [
            (("body", name), reason)
            for name, value in form.multi_items()
            if isinstance(value, str) and (reason := unstorable(value))
        ]
    content_type = request.headers.get("content-type", "application/json")
    if "json" not in content_type:
        return []
    raw = await request.body()
    if not raw or not _SUSPECT_JSON.search(raw):
        return []
    try:
        document = await request.json()
    except ValueError:
        return []  # FastAPI answers malformed JSON itself
    return list(_walk(document, ("body",)))


async def refuse_unstorable(connection: HTTPConnection) -> None:
    """App-wide dependency: 422 for any input value PostgreSQL could not store."""
    problems: list[tuple[Loc, str]] = []
    route = connection.scope.get("route")
    ints = _int_params(route) if isinstance(route, APIRoute) else frozenset()
    for where, items in (
        ("path", connection.path_params.items()),
        ("query", connection.query_params.multi_items()),
    ):
        for name, value in items:
            if not isinstance(value, str):
                continue
            if reason := unstorable(value):
                problems.append(((where, name), reason))
            elif (where, name) in ints and _integer_text_out_of_range(value):
                problems.append(((where, name), f"integer out of range [{INT64_MIN}, {INT64_MAX}]"))
    if isinstance(connection, Request) and isinstance(route, APIRoute):
        problems += await _body_problems(connection, route)
    if problems:
        raise RequestValidationError(
            [{"loc": loc, "msg": msg, "type": "unstorable_value"} for loc, msg in problems]
        )
