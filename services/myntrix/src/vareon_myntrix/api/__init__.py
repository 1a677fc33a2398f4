"""Routes at the public paths (/api/v1/myntrix/...): the gateway forwards them unchanged.

One router per aggregate, named after its domain module (``api/devices.py`` serves
``/hardware`` over ``devices.py``); ``deps.py`` holds the permission names and dependencies.
"""

from vareon_myntrix.api.agents import router as agents
from vareon_myntrix.api.deployments import router as deployments
from vareon_myntrix.api.devices import router as devices
from vareon_myntrix.api.summary import router as summary

routers = [agents, devices, deployments, summary]
