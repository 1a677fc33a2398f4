"""Permission names and dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from vareon_myntrix.devices import Policy
from vareon_myntrix.settings import MyntrixSettings

PREFIX = "/api/v1/myntrix"
DEVICES_READ = "devices:read"
DEVICES_WRITE = "devices:write"
DEPLOYMENTS_WRITE = "deployments:write"


def policy(request: Request) -> Policy:
    return request.app.state.device_policy


def settings(request: Request) -> MyntrixSettings:
    return request.app.state.settings
