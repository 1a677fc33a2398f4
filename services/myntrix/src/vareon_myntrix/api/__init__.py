"""Routes at the public paths (/api/v1/myntrix/...): the gateway forwards them unchanged."""

from vareon_myntrix.api.agents import router as agents
from vareon_myntrix.api.deployments import router as deployments
from vareon_myntrix.api.hardware import router as hardware

routers = [agents, hardware, deployments]
