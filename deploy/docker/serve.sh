#!/bin/sh
# The image's command. The gateway runs its own server (python -m vareon_gateway:
# GATEWAY_WORKERS processes, default one per core, on uvloop + httptools; docs/gateway.md);
# every other service is one uvicorn process on UVICORN_APP, scaled by replicas.
set -eu
if [ "${VAREON_SERVICE}" = gateway ]; then
    export GATEWAY_HOST="${GATEWAY_HOST:-${UVICORN_HOST}}" GATEWAY_PORT="${GATEWAY_PORT:-${UVICORN_PORT}}"
    exec python -m vareon_gateway
fi
# --no-access-log: the chassis writes each request's line itself, as JSON with its ids
exec uvicorn --factory --timeout-graceful-shutdown 25 --no-server-header --no-access-log
