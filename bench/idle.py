"""Idle platform: CPU over a quiet window and PSS per process, beside issue 24's targets.

Run: ``uv run python bench/idle.py [--window 30] [--cold]``. Starts a real ``vareon up`` in a
temporary state directory on a free block of loopback ports, stops it once it is ready and
starts it again on the same state directory (the "warm" start: PostgreSQL initialised,
migrations applied), timing how long the warm start takes to say ready. Then, with nothing
sent to the platform, it reads ``/proc/<pid>/stat`` (utime + stime, every thread) of every
process of the platform (the supervisor, each service and worker, the broker, PostgreSQL and
their children) at the start and end of the window, and ``/proc/<pid>/smaps_rollup`` (PSS)
at the end. ``--cold`` measures the first start instead (skips the restart).

Targets (issue 24 item 5): whole platform <= 5 % of one core, warm ready <= 8 s,
each service <= 80 MB PSS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from harness.platform import free_port, start_platform, stop_platform, wait_ready
from vareon_chassis.embedded import EmbeddedBroker, EmbeddedPostgres

CPU_TARGET = 0.05
READY_TARGET_S = 8.0
PSS_TARGET_MB = 80.0
TICK = os.sysconf("SC_CLK_TCK")
MINIMAL_APP = """
import uvicorn
async def app(scope, receive, send):
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), log_level="warning")
"""


@contextlib.contextmanager
def reference(tmp: Path):
    """The same-run reference: a bare embedded PostgreSQL and broker (no client) and one
    idle minimal uvicorn app, measured over the same window as the platform."""
    pg = EmbeddedPostgres(tmp / "ref-pg")
    broker = EmbeddedBroker(tmp / "ref-broker.log")
    app = None
    try:
        pg.start()
        broker.start()
        app = subprocess.Popen([sys.executable, "-c", MINIMAL_APP, str(free_port())])  # noqa: S603
        pg_pid = int((tmp / "ref-pg" / "postmaster.pid").read_text().split()[0])
        assert broker.process is not None
        tree = children()
        yield {
            **{pid: "ref:postgres" for pid in descendants(pg_pid, tree)},
            broker.process.pid: "ref:broker",
            app.pid: "ref:uvicorn app",
        }
    finally:
        if app is not None:
            app.terminate()
            app.wait(10)
        broker.stop()
        pg.stop()


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree[ppid].append(int(entry.name))
    return tree


def descendants(root: int, tree: dict[int, list[int]]) -> list[int]:
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(tree.get(pid, ()))
    return out


def cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def platform_processes(state: dict) -> dict[int, str]:
    """pid -> label: each service and worker by name, the broker, postgres (all its
    processes under one label), the supervisor."""
    tree = children()
    labels: dict[int, str] = {}
    supervisor = int(state["supervisor_pid"])
    for pid in descendants(supervisor, tree):
        labels[pid] = f"other:{comm(pid)}"
    labels[supervisor] = "supervisor"
    for name, svc in state["services"].items():
        for pid in descendants(int(svc["pid"]), tree):
            labels[pid] = name if pid == int(svc["pid"]) else f"{name}:{comm(pid)}"
    if state["broker"].get("pid"):
        for pid in descendants(int(state["broker"]["pid"]), tree):
            labels[pid] = "broker"
    if state["postgres"].get("pid"):
        for pid in descendants(int(state["postgres"]["pid"]), tree):
            labels[pid] = "postgres"
    for pid, label in list(labels.items()):
        if label.startswith("other:") and "python" in label:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"vareon_neosyntis.worker" in cmdline:
                labels[pid] = "neosyntis-worker"
    return labels


def measure(
    state: dict, window_s: float, extra: dict[int, str]
) -> tuple[dict[str, float], dict[str, float]]:
    labels = {**platform_processes(state), **extra}
    before = {pid: cpu_ticks(pid) for pid in labels}
    started = time.monotonic()
    time.sleep(window_s)
    elapsed = time.monotonic() - started
    labels.update(platform_processes(state))  # a process started meanwhile counts too
    cpu: dict[str, float] = defaultdict(float)
    pss: dict[str, float] = defaultdict(float)
    for pid, label in labels.items():
        after = cpu_ticks(pid)
        if after is None:
            continue
        cpu[label] += (after - (before.get(pid) or 0)) / TICK / elapsed
        pss[label] += pss_kb(pid) / 1024
    return dict(cpu), dict(pss)


def report(ready_s: float, warm: bool, cpu: dict[str, float], pss: dict[str, float]) -> bool:
    services = {"arcana", "cognisys", "gateway", "identity", "myntrix", "neosyntis", "wallet"}
    ref = {k: v for k, v in cpu.items() if k.startswith("ref:")}
    cpu = {k: v for k, v in cpu.items() if k not in ref}
    print(f"{'process':<20} {'CPU % core':>10} {'PSS MB':>8}")
    for label in sorted(cpu, key=lambda k: -cpu[k]):
        mark = " over" if label in services and pss[label] > PSS_TARGET_MB else ""
        print(f"{label:<20} {cpu[label] * 100:10.2f} {pss[label]:8.1f}{mark}")
    total = sum(cpu.values())
    print(f"{'total':<20} {total * 100:10.2f} {sum(pss.values()):8.1f}")
    for label in sorted(ref):
        print(f"{label:<20} {ref[label] * 100:10.2f} {pss[label]:8.1f}")
    # the floor of our shape: broker + PostgreSQL + one idle uvicorn process per service
    floor = ref.get("ref:broker", 0) + ref.get("ref:postgres", 0)
    floor += len(services) * ref.get("ref:uvicorn app", 0)
    ratio = f"{total / floor:.1f}x" if floor else "n/a (reference used no ticks)"
    print(f"reference floor (bare broker + postgres + 7 idle uvicorn apps) {floor * 100:.2f} %")
    print(f"ours / reference floor {ratio}")
    over = [s for s in services if pss.get(s, 0) > PSS_TARGET_MB]
    kind = "warm" if warm else "cold"
    print(f"\nidle CPU   {total * 100:6.2f} % of one core   target <= {CPU_TARGET * 100:.0f} %")
    print(f"{kind} ready {ready_s:6.2f} s              target <= {READY_TARGET_S:.0f} s")
    print(
        f"PSS        services over {PSS_TARGET_MB:.0f} MB: {', '.join(sorted(over)) or 'none'}"
        f"   (largest {max(pss.get(s, 0) for s in services):.1f} MB)"
    )
    return total <= CPU_TARGET and ready_s <= READY_TARGET_S and not over


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=float, default=30.0, help="seconds of idle sampled")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after ready first")
    parser.add_argument("--cold", action="store_true", help="measure the first start")
    args = parser.parse_args()
    env = {**os.environ, "VAREON_LOG_FORMAT": "console"}
    with tempfile.TemporaryDirectory(prefix="vareon-idle-") as tmp:
        state_dir = Path(tmp) / "s"  # short: wake sockets' paths must fit in 107 bytes
        state_file = state_dir / "state.json"
        up, log = start_platform(env, state_dir, "vareon-idle-up.log")
        try:
            began = time.monotonic()
            state = wait_ready(state_file, up, timeout_s=330)
            ready_s = time.monotonic() - began
            print(f"cold start ready in {ready_s:.1f} s (log {log})")
            if not args.cold:
                stop_platform(up)
                up, log = start_platform(env, state_dir, "vareon-idle-up.log")
                began = time.monotonic()
                state = wait_ready(state_file, up, timeout_s=330)
                ready_s = time.monotonic() - began
                print(f"warm start ready in {ready_s:.1f} s")
            reported = state.get("timings_s", {})
            print("vareon up timings: " + json.dumps(reported))
            with reference(Path(tmp)) as extra:
                time.sleep(args.settle)
                cpu, pss = measure(state, args.window, extra)
            print(f"\nidle over {args.window:.0f} s (load average {os.getloadavg()[0]:.1f})")
            ok = report(ready_s, not args.cold, cpu, pss)
        finally:
            stop_platform(up)
    print("targets met" if ok else "targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
