"""Permissions and helpers shared by the routers."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from vareon_chassis.auth import CurrentUser, Principal
from vareon_chassis.errors import Forbidden

from vareon_myntrix.devices import Policy
from vareon_myntrix.settings import MyntrixSettings

PREFIX = "/api/v1/myntrix"
DEVICES_READ = "devices:read"
DEVICES_WRITE = "devices:write"
DEPLOYMENTS_WRITE = "deployments:write"


def require_any(*permissions: str) -> Any:
    async def check(user: CurrentUser) -> Principal:
        if not any(user.has(p) for p in permissions):
            raise Forbidden(f"needs one of the permissions {', '.join(permissions)}")
        return user

    return Depends(check)


def policy(request: Request) -> Policy:
    return request.app.state.device_policy


def settings(request: Request) -> MyntrixSettings:
    return request.app.state.settings
