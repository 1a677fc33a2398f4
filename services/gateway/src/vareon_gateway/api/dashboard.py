"""The dashboard route: who may see which view, then ``vareon_gateway.dashboard.build``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from vareon_chassis.auth import CurrentUser
from vareon_chassis.errors import Forbidden

from vareon_gateway import dashboard as dashboards
from vareon_gateway.schemas import Dashboard

router = APIRouter(tags=["dashboard"])
SYSTEM_READ = "system:read"


@router.get(
    "/api/v1/dashboard",
    response_model=Dashboard,
    summary="Every service's summary for the caller, each section with its own status",
)
async def dashboard(
    request: Request,
    user: CurrentUser,
    view: Annotated[Literal["user", "admin"], Query()] = "user",
) -> Dashboard:
    """``view=admin`` (needs system:read): platform totals and each service's health."""
    if view == "admin" and not user.has(SYSTEM_READ):
        raise Forbidden(f"the admin view needs {SYSTEM_READ}")
    return await dashboards.build(request, view)
