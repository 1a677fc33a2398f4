"""Gateway speed, side by side: direct upstream, a minimal reference proxy, nginx, the gateway.

One file over 400 lines on purpose: a bench is read top to bottom as one run (its targets,
load, CPU accounting and table); the shared start-up lives in bench/harness.

Run: ``uv run python bench/gateway.py [--duration S] [--rounds R] [--workers N]``.

Every part runs as its own process on loopback: one upstream (nginx answering a fixed JSON
body when nginx is on PATH, so the proxies are the bottleneck; else a raw ASGI app on
uvicorn), a 40-line raw ASGI proxy with one pooled ``aiohttp.ClientSession`` (the reference),
nginx ``proxy_pass`` with upstream keep-alive (when nginx is on PATH), and the gateway
(``python -m vareon_gateway``, ``GATEWAY_WORKERS`` from ``--workers``, default 1: the issue's
targets are per worker). Load comes from ``wrk`` (``apt-get install wrk``); without it a
Python load generator in its own process stands in, which saturates long before nginx does,
so its nginx figures are a floor. For each target: 32 connections (req/s, p50, p99) and one
connection (p50: the latency each proxy adds over the direct upstream). Rounds alternate
targets; the table shows the median of the rounds. Another server: ``--gateway "-m granian
--interface asgi --factory --loop uvloop --http 1 --workers 1 --host 127.0.0.1
vareon_gateway.app:create_app"`` (``pip install granian``; not a dependency).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from vareon_chassis.embedded import free_port

PUBLIC_PATH = "/api/v1/auth/login"
PROTECTED_PATH = "/api/v1/wallet"
KID = "bench-key"
BODY = json.dumps({"ok": True, "pad": "x" * 512})

UPSTREAM_ASGI = """
import json, sys
import uvicorn
BODY = sys.argv[2].encode()
JWKS = sys.argv[3].encode()

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = JWKS if scope["path"] == "/.well-known/jwks.json" else BODY
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, loop="uvloop", http="httptools")
"""

REFERENCE_PROXY = """
import sys
import aiohttp, uvicorn
UPSTREAM = sys.argv[2]
HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"host", b"te"}
session = None

async def app(scope, receive, send):
    global session
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if session is None:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200),
                                        auto_decompress=False)
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k not in HOP]
    url = UPSTREAM + scope["raw_path"].decode()
    async with session.request(scope["method"], url, headers=headers, data=body or None,
                               allow_redirects=False) as upstream:
        out = [(k, v) for k, v in upstream.raw_headers if k.lower() not in HOP]
        await send({"type": "http.response.start", "status": upstream.status, "headers": out})
        async for chunk in upstream.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, loop="uvloop", http="httptools")
"""

PY_LOAD = """
import asyncio, json, sys, time
import aiohttp
url, connections, duration, header = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
headers = dict([header.split(": ", 1)]) if header else {}

async def main():
    latencies, errors = [], 0
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + duration
        async def worker():
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    errors += response.status != 200
                latencies.append(time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(json.dumps({"requests": len(latencies), "rps": len(latencies) / elapsed,
                      "p50": pick(0.5), "p99": pick(0.99), "errors": errors}))

asyncio.run(main())
"""

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx-{name}.pid;
error_log {dir}/nginx-{name}.err warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body-{name};
    proxy_temp_path {dir}/proxy-{name};
    fastcgi_temp_path {dir}/fcgi-{name};
    uwsgi_temp_path {dir}/uwsgi-{name};
    scgi_temp_path {dir}/scgi-{name};
    {body}
}}
"""


def _jwks(key: Ed25519PrivateKey) -> str:
    jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
    return json.dumps({"keys": [{**jwk, "kid": KID, "alg": "EdDSA", "use": "sig"}]})


def _token(key: Ed25519PrivateKey) -> str:
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "iss": "vareon-identity",
        "aud": "vareon",
        "iat": now,
        "exp": now + 3600,
        "email": "bench@example.com",
    }
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": KID})


class Stand:
    def __init__(self, stack: ExitStack, workdir: Path) -> None:
        self.stack, self.workdir = stack, workdir

    def spawn(self, argv: list[str], env: dict[str, str] | None = None) -> int:
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            argv,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / f"{free_port()}.log", "w"),
        )
        self.stack.callback(process.wait, 30)
        self.stack.callback(process.terminate)
        return process.pid

    def nginx(self, name: str, body: str) -> int:
        conf = self.workdir / f"nginx-{name}.conf"
        conf.write_text(NGINX_CONF.format(dir=self.workdir, name=name, body=body))
        nginx = shutil.which("nginx") or "nginx"
        return self.spawn([nginx, "-c", str(conf), "-p", str(self.workdir)])


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(root: int | None) -> float:
    """User + system CPU of a process and its live descendants (uvicorn's or nginx's workers),
    from /proc: the proxy's own cost, whatever else the shared machine is running."""
    if root is None or not Path("/proc/self/stat").exists():
        return float("nan")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / _TICK
    tree, total = {root}, 0.0
    for pid in sorted(parents):  # children have larger pids than their parents here
        if pid in tree or parents[pid] in tree:
            tree.add(pid)
            total += times.get(pid, 0.0)
    return total


def wait_up(url: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status < 500:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


_WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def load(
    url: str, connections: int, duration: float, header: str | None, pid: int | None = None
) -> dict[str, float]:
    """One measurement; with ``pid``, also the CPU that process tree spent per request."""
    before = cpu_seconds(pid)
    result = _load(url, connections, duration, header)
    spent = cpu_seconds(pid) - before
    result["cpu_us"] = spent / max(1.0, result["requests"]) * 1e6
    return result


def _load(url: str, connections: int, duration: float, header: str | None) -> dict[str, float]:
    wrk = shutil.which("wrk")
    if wrk:
        argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", url]
        if header:
            argv[1:1] = ["-H", header]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout  # noqa: S603
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        lat = {q: float(v) * _UNITS[u] for q, v, u in _WRK_LATENCY.findall(out)}
        non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        done = re.search(r"(\d+) requests in", out)
        return {
            "requests": float(done.group(1)) if done else 0.0,
            "rps": rps,
            "p50": lat["50"],
            "p99": lat["99"],
            "errors": float(non2xx.group(1)) if non2xx else 0.0,
        }
    argv = [sys.executable, "-c", PY_LOAD, url, str(connections), str(duration), header or ""]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout  # noqa: S603
    return dict(json.loads(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="GATEWAY_WORKERS")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--gateway", default="-m vareon_gateway", help="python args that serve it")
    args = parser.parse_args()
    has_nginx, has_wrk = bool(shutil.which("nginx")), bool(shutil.which("wrk"))
    if not has_wrk:
        print("wrk not found (install it: apt-get install wrk); using a Python load generator,")
        print("which saturates first: the nginx and direct figures below are floors.\n")
    key = Ed25519PrivateKey.generate()
    jwks, token = _jwks(key), _token(key)
    ports = {name: free_port() for name in ("upstream", "reference", "nginx", "gateway")}
    up = f"http://127.0.0.1:{ports['upstream']}"
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        stand = Stand(stack, Path(tmp))
        pids: dict[str, int | None] = {}
        if has_nginx:
            pids["direct upstream"] = stand.nginx(
                "upstream",
                f"""server {{ listen 127.0.0.1:{ports["upstream"]};
                default_type application/json;
                location = /.well-known/jwks.json {{ return 200 '{jwks}'; }}
                location / {{ return 200 '{BODY}'; }} }}""",
            )
            pids["nginx proxy_pass"] = stand.nginx(
                "proxy",
                f"""upstream up {{ server 127.0.0.1:{ports["upstream"]}; keepalive 64; }}
                server {{ listen 127.0.0.1:{ports["nginx"]};
                location / {{ proxy_pass http://up; proxy_http_version 1.1;
                proxy_set_header Connection ""; }} }}""",
            )
        else:
            pids["direct upstream"] = stand.spawn(
                [sys.executable, "-c", UPSTREAM_ASGI, str(ports["upstream"]), BODY, jwks]
            )
        pids["reference proxy"] = stand.spawn(
            [sys.executable, "-c", REFERENCE_PROXY, str(ports["reference"]), up]
        )
        env = {f"GATEWAY_{s.upper()}_URL": up for s in ("identity", "wallet", "arcana")}
        env.update({f"GATEWAY_{s.upper()}_URL": up for s in ("cognisys", "myntrix", "neosyntis")})
        env.update(
            GATEWAY_PORT=str(ports["gateway"]),
            GATEWAY_HOST="127.0.0.1",
            GATEWAY_WORKERS=str(args.workers),
            GATEWAY_LOG_LEVEL="WARNING",
            GATEWAY_JWKS_URL=up + "/.well-known/jwks.json",
            # the limiter stays on (its cost is part of the figure), with limits no bench reaches
            GATEWAY_RATE_LIMIT_AUTH="1000000000/minute",
            GATEWAY_RATE_LIMIT_DEFAULT="1000000000/minute",
        )
        pids["gateway public"] = pids["gateway bearer"] = stand.spawn(
            [
                sys.executable,
                *args.gateway.split(),
                *(
                    []
                    if args.gateway.startswith("-m vareon_gateway")
                    else [
                        "--port",
                        str(ports["gateway"]),
                        "--no-access-log",
                        "--log-level",
                        "warning",
                    ]
                ),
            ],
            env,
        )
        targets: dict[str, tuple[str, str | None]] = {
            "direct upstream": (up + PUBLIC_PATH, None),
            "reference proxy": (f"http://127.0.0.1:{ports['reference']}{PUBLIC_PATH}", None),
        }
        if has_nginx:
            targets["nginx proxy_pass"] = (f"http://127.0.0.1:{ports['nginx']}{PUBLIC_PATH}", None)
        gw = f"http://127.0.0.1:{ports['gateway']}"
        targets["gateway public"] = (gw + PUBLIC_PATH, None)
        targets["gateway bearer"] = (gw + PROTECTED_PATH, f"Authorization: Bearer {token}")
        for url, _ in targets.values():
            wait_up(url.rsplit("/api/", 1)[0] + "/api/v1/auth/login")
        for url, header in targets.values():
            load(url, args.connections, 1.0, header)  # warm pools, caches
        results: dict[str, dict[int, list[dict[str, float]]]] = {
            n: {args.connections: [], 1: []} for n in targets
        }
        for i in range(args.rounds):
            names = list(targets) if i % 2 == 0 else list(reversed(targets))
            for name in names:
                url, header = targets[name]
                for connections in (args.connections, 1):
                    results[name][connections].append(
                        load(url, connections, args.duration, header, pids.get(name))
                    )
    report(results, args, has_wrk, has_nginx)


def report(
    results: dict[str, dict[int, list[dict[str, float]]]],
    args: argparse.Namespace,
    has_wrk: bool,
    has_nginx: bool,
) -> None:
    c = args.connections

    def med(name: str, conns: int, field: str) -> float:
        return statistics.median(r[field] for r in results[name][conns])

    generator = "wrk" if has_wrk else "python load generator"
    print(
        f"gateway bench: {generator}, {args.duration:g} s x {args.rounds} rounds (median), "
        f"GATEWAY_WORKERS={args.workers}, {os.cpu_count()} cores"
    )
    print(
        textwrap.dedent(
            f"""
        {"target":18s} {"req/s c" + str(c):>11s} {"p50 ms":>8s} {"p99 ms":>8s} """
            f"""{"p50 c1 ms":>10s} {"added c1":>9s} {"cpu us/req":>10s} {"cpu c1":>7s} """
            f"""{"errors":>7s}"""
        )
    )
    direct_c1 = med("direct upstream", 1, "p50")
    for name in results:
        errors = sum(r.get("errors", 0) for rs in results[name].values() for r in rs)
        print(
            f"{name:18s} {med(name, c, 'rps'):11.0f} {med(name, c, 'p50'):8.2f} "
            f"{med(name, c, 'p99'):8.2f} {med(name, 1, 'p50'):10.3f} "
            f"{med(name, 1, 'p50') - direct_c1:+9.3f} {med(name, c, 'cpu_us'):10.0f} "
            f"{med(name, 1, 'cpu_us'):7.0f} {errors:7.0f}"
        )
    gw = med("gateway public", c, "rps")
    print(f"\nratios (req/s at c{c}):")
    print(f"  gateway public / reference proxy  {gw / med('reference proxy', c, 'rps'):6.2f}x")
    if has_nginx:
        print(f"  gateway public / nginx            {gw / med('nginx proxy_pass', c, 'rps'):6.2f}x")
    print(f"  gateway public / direct upstream  {gw / med('direct upstream', c, 'rps'):6.2f}x")
    print(f"  gateway bearer / gateway public   {med('gateway bearer', c, 'rps') / gw:6.2f}x")
    cpu = med("gateway public", c, "cpu_us")
    print(f"CPU per proxied request at c{c} (the steadier yardstick on a shared machine):")
    print(f"  gateway public / reference proxy  {cpu / med('reference proxy', c, 'cpu_us'):6.2f}x")
    if has_nginx:
        nginx_cpu = med("nginx proxy_pass", c, "cpu_us")
        print(f"  gateway public / nginx            {cpu / nginx_cpu:6.2f}x")
    print(f"  gateway bearer / gateway public   {med('gateway bearer', c, 'cpu_us') / cpu:6.2f}x")
    print(
        "targets: public >= 6000 req/s, bearer >= 0.8x public, added c1 p50 <= 0.3 ms, p99 <= 10 ms"
    )


if __name__ == "__main__":
    main()
