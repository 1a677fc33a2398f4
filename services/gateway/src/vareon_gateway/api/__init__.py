"""The gateway's own routes (everything else is proxied by the edge, ``edge.py``).

Order matters: ``system`` ends with the catch-all 404, so it comes after the others.
"""

from vareon_gateway.api.dashboard import router as dashboard
from vareon_gateway.api.system import router as system
from vareon_gateway.api.verify_page import router as verify_page
from vareon_gateway.api.websocket import router as websocket

__all__ = ["dashboard", "system", "verify_page", "websocket"]
