"""Fetch wake-ups for a broker that does not answer a waiting fetch when records arrive.

Kafka answers a long-polling Fetch as soon as a record lands, so a consumer waits at no cost.
The embedded broker (Tansu) does not: it looks again after about half the fetch's
``max_wait``, so a consumer either waits ~250 ms per event (the 500 ms default) or polls
often (measured: a 10 ms wait costs ~15% of a core per consumer, client and broker). So on
the embedded platform (``kafka_wake_dir`` set):

- a relay, once the broker acknowledged a batch, sends a datagram naming the batch's topics
  to every socket in the wake directory (one per consuming process; stale ones are removed);
- a consumer whose partitions have been quiet for ``LINGER_S`` pauses them (no fetches at
  all), and resumes when a datagram names one of its topics or after
  ``kafka_idle_fetch_s`` (the fallback for producers that announce nothing: the CLI,
  another host). Resumed, it fetches with a short ``max_wait`` and stays resumed at least
  until a fetch of each partition was answered (``last_poll_timestamp``); then a fallback
  resume lasts ``FALLBACK_LINGER_S`` unless a record or a wake-up comes (idle cost: issue 24).

A lost datagram costs latency only: the fallback fetch finds the record. Nothing about
delivery, order or offsets depends on a wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)
LINGER_S = 0.25
"""How long partitions stay resumed after the last record or wake-up."""
FALLBACK_LINGER_S = 0.05
"""How long a fallback fetch (nobody woke the consumer) stays resumed once the broker has
answered a fetch of every partition: resumed, a consumer fetches back to back, each costing
the client and the broker; a fallback need not linger as a wake-up, which is sure of records."""
ASSIGNED_LINGER_S = 2.0
"""How long newly assigned partitions stay resumed at least (a backlog such as the start-up
re-seed comes in, its records extending the stay)."""
ANSWER_WAIT_S = 30.0
"""The longest partitions stay resumed waiting for a first answered fetch (a loaded machine,
a broker away): a pause before the answer would drop it, and the fallback find nothing."""
PACED_FETCH_MAX_WAIT_MS = 10
"""The fetch wait while resumed: the embedded broker answers an empty fetch after ~half."""


def announce(directory: str, topics: Iterable[str]) -> None:
    """Tell every consumer process using ``directory`` that ``topics`` have new records."""
    payload = "\n".join(sorted(set(topics))).encode()
    if not payload:
        return
    try:
        targets = [p for p in Path(directory).iterdir() if p.suffix == ".sock"]
    except OSError:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for target in targets:
            try:
                sock.sendto(payload, str(target))
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):  # nobody bound: a process that died
                    target.unlink()
            except OSError:  # a full buffer: that consumer is awake and busy anyway
                pass


class WakeListener:
    """This process's socket in the wake directory; wakes the pacers of announced topics."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"
        self._sock: socket.socket | None = None
        self._pacers: list[FetchPacer] = []

    def register(self, pacer: FetchPacer) -> None:
        self._pacers.append(pacer)

    def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            sock.setblocking(False)
            sock.bind(str(self.path))  # fails for a path over ~107 bytes
        except OSError as exc:  # consumers still fetch every kafka_idle_fetch_s
            sock.close()
            log.warning("no fetch wake-ups", path=str(self.path), error=repr(exc))
            return
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._read)

    def _read(self) -> None:
        assert self._sock is not None
        topics: set[str] = set()
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while True:
                topics.update(self._sock.recv(65536).decode(errors="replace").split("\n"))
        for pacer in self._pacers:
            if topics & pacer.topics:
                pacer.wake()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(sock.fileno())
        sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class FetchPacer:
    """Pauses one consumer's partitions while they are quiet; resumes them when woken.

    Between ``begin()`` and ``end()`` a record is handled: then the partitions belong to the
    handler (an outage's keepalive pauses and polls them) and the pacer leaves them alone."""

    def __init__(
        self,
        topics: Iterable[str],
        consumer: Callable[[], Any],
        idle_fetch_s: float,
        linger_s: float = LINGER_S,
    ) -> None:
        self.topics = frozenset(topics)
        self._consumer = consumer
        self.idle_fetch_s = idle_fetch_s
        self.linger_s = linger_s
        self.last_activity = time.monotonic()
        self._held: frozenset[Any] = frozenset()
        self._unanswered: frozenset[Any] = frozenset()
        self._asked_ms = 0
        self._answer_by = 0.0
        self._woken = asyncio.Event()
        self._free = asyncio.Event()
        self._free.set()

    @property
    def busy(self) -> bool:
        return not self._free.is_set()

    def begin(self) -> None:
        self._free.clear()

    def end(self) -> None:
        self._free.set()
        self.last_activity = time.monotonic()

    def wake(self) -> None:
        self.last_activity = time.monotonic()
        self._woken.set()

    def _note_assignment(self, held: set[Any]) -> None:
        """Partitions assigned since the last look count as activity (``ASSIGNED_LINGER_S``):
        assigned during a pause they fetch unpaused until it ends, and a pacer that paused
        before the first assignment would otherwise leave them fetching for all of it."""
        if held - self._held:
            self.last_activity = time.monotonic() + ASSIGNED_LINGER_S - self.linger_s
            self._await_answers(held - self._held)
        self._held = frozenset(held)

    def _await_answers(self, partitions: set[Any]) -> None:
        self._unanswered |= frozenset(partitions)
        self._asked_ms = int(time.time() * 1000)  # aiokafka's clock for last_poll_timestamp
        self._answer_by = time.monotonic() + ANSWER_WAIT_S

    def _awaiting_answers(self, consumer: Any) -> bool:
        """Some resumed partition has had no fetch answered since it was resumed."""
        if not self._unanswered:
            return False
        if time.monotonic() > self._answer_by:
            self._unanswered = frozenset()
            return False
        answered = set()
        for tp in self._unanswered:
            try:
                stamp = consumer.last_poll_timestamp(tp)
            except AssertionError:  # no longer assigned
                stamp = self._asked_ms
            if stamp is not None and stamp >= self._asked_ms:
                answered.add(tp)
        self._unanswered -= answered
        if self._unanswered:
            return True
        # a short grace for the handler to take what the answer brought before a pause
        grace = time.monotonic() - self.linger_s + FALLBACK_LINGER_S
        self.last_activity = max(self.last_activity, grace)
        return False

    async def run(self) -> None:
        while True:
            consumer = self._consumer()
            if consumer is not None:
                self._note_assignment(consumer.assignment())
            if consumer is None or not self._held:  # not joined yet: nothing to pause
                await asyncio.sleep(self.linger_s)
                continue
            if self._awaiting_answers(consumer):
                await asyncio.sleep(PACED_FETCH_MAX_WAIT_MS / 1000)
                continue
            quiet = time.monotonic() - self.last_activity
            if self.busy or quiet < self.linger_s:
                await asyncio.sleep(max(self.linger_s - quiet, 0.02))
                continue
            self._woken.clear()  # before pausing: a wake-up from here on is not lost
            held = consumer.assignment()
            consumer.pause(*held)
            woken = True
            try:
                await asyncio.wait_for(self._woken.wait(), self.idle_fetch_s)
            except TimeoutError:
                woken = False
            await self._free.wait()  # a record fetched just before the pause is handled
            held = consumer.assignment()
            consumer.resume(*(consumer.paused() & held))
            # last_activity + linger_s is when the partitions pause again
            self.last_activity = time.monotonic()
            if not woken:
                self.last_activity -= self.linger_s
            self._await_answers(held)  # woken or not, stay resumed until the broker answered
            self._note_assignment(held)
