"""What a bench measures: requests and latencies per step, percentiles, memory (RSS) per
service, and py-spy profiles."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import psutil


class Stats:
    def __init__(self, max_requests: int) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter[int]] = defaultdict(Counter)
        self.requests = 0
        self.max_requests = max_requests

    def record(self, step: str, status: int, seconds: float) -> None:
        self.requests += 1
        self.status[step][status] += 1
        self.latency[step].append(seconds)

    @property
    def exhausted(self) -> bool:
        return self.requests >= self.max_requests


def rss(pids: dict[str, int]) -> dict[str, int]:
    out = {}
    for name, pid in pids.items():
        with contextlib.suppress(psutil.Error):
            out[name] = psutil.Process(pid).memory_info().rss
    return out


def percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(stats: Stats, elapsed: float) -> None:
    print(f"\nrequests: {stats.requests} in {elapsed:.1f} s ({stats.requests / elapsed:.0f}/s)")
    print(f"{'step':<16}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  statuses")
    for step, values in stats.latency.items():
        ms = [v * 1000 for v in values]
        statuses = " ".join(f"{s}x{n}" for s, n in sorted(stats.status[step].items()))
        print(
            f"{step:<16}{len(ms):>7}{percentile(ms, 50):>9.0f}{percentile(ms, 95):>9.0f}"
            f"{percentile(ms, 99):>9.0f}  {statuses}"
        )
    errors = Counter[int]()
    for counts in stats.status.values():
        errors.update({s: n for s, n in counts.items() if s >= 400})
    print("errors by status:", dict(sorted(errors.items())) or "none")


def memory(before: dict[str, int], warm: dict[str, int], after: dict[str, int]) -> None:
    print(
        f"{'service':<12}{'RSS start':>10}{'warm':>8}{'end MB':>8}{'growth':>8}{'since warm':>12}"
    )
    for name in sorted(before):
        if name in after and name in warm:
            mb = [before[name] / 2**20, warm[name] / 2**20, after[name] / 2**20]
            print(
                f"{name:<12}{mb[0]:>10.1f}{mb[1]:>8.1f}{mb[2]:>8.1f}"
                f"{(mb[2] - mb[0]) / mb[0] * 100:>7.1f}%{(mb[2] - mb[1]) / mb[1] * 100:>11.1f}%"
            )


def profile(name: str, pid: int, seconds: float, directory: Path) -> subprocess.Popen[bytes]:
    """py-spy samples one service for the run (collapsed stacks: ``<dir>/<name>.txt``)."""
    directory.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(  # noqa: S603 - fixed argv
        [
            os.environ.get("PY_SPY", "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "50",
            "--format",
            "raw",
            "--output",
            str(directory / f"{name}.txt"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
