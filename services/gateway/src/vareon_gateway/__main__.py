"""``python -m vareon_gateway``: the gateway on uvicorn (uvloop, httptools), GATEWAY_WORKERS
processes (default: the number of cores), chosen by bench/gateway.py (docs/gateway.md)."""

from __future__ import annotations

import os

import uvicorn
from vareon_chassis.settings import load_settings

from vareon_gateway.serving import GatewayHttpProtocol
from vareon_gateway.settings import GatewaySettings


def main() -> None:
    settings = load_settings(GatewaySettings)
    uvicorn.run(
        "vareon_gateway.serving:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers or os.cpu_count() or 1,
        loop="uvloop",
        http=GatewayHttpProtocol,  # httptools, one socket write per response
        access_log=False,
        proxy_headers=False,  # the edge decides what to trust (GATEWAY_TRUST_FORWARDED_HEADERS)
        server_header=False,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=25,
        # A spawned worker imports the whole app before it can answer the supervisor's ping;
        # on a loaded machine that took over uvicorn's 5 s, so workers were killed and
        # respawned forever (bench/gateway.py --workers 2 never came up at load ~20).
        timeout_worker_healthcheck=60,
    )


if __name__ == "__main__":
    main()
