"""Running an admitted call: the provider call (with fallback) in its own task feeding a
queue, and the ``Stream`` an entrypoint reads it from.

A model may answer with tool calls instead of (or after) text: their pieces are in the stream
for an entrypoint that passes them on (``Stream.pieces()``), and whole in the ``End``; a plain
``async for`` reads text only.

When the reader goes away it closes the stream: the task stops the provider call, and still
settles, so what was produced is stored and charged, nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from vareon_chassis.periodic import repeat
from vareon_contracts.events.cognisys import ModelTarget

from vareon_arcana import credits
from vareon_arcana.calls.admission import Turn
from vareon_arcana.calls.settlement import Receipt, settle
from vareon_arcana.fallback import Broken, Unanswered, answer
from vareon_arcana.providers import Text, ToolCallDelta, Usage

if TYPE_CHECKING:
    from vareon_arcana.calls import Calls

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ToolCall:
    """One whole tool call of an answer."""

    id: str
    name: str
    arguments: str
    """JSON text, as the model wrote it (not checked: the caller's tool reads it)."""


Item = str | ToolCallDelta


@dataclass(frozen=True)
class End:
    """The last item of every stream."""

    status: str
    """completed, failed (broke mid-stream), disconnected, cancelled, or unanswered (nothing
    produced)."""
    receipt: Receipt | None
    error: str | None = None
    finish_reason: str | None = None
    """The model's own reason to stop (``stop``, ``length``, ``tool_calls``...), when given."""
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class Reply:
    """A whole answer, collected from its stream."""

    text: str
    end: End
    rule: str | None


@dataclass
class Run:
    """The task behind one stream."""

    turn: Turn
    calls: Calls
    queue: asyncio.Queue[Item | End] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    streaming: bool = True
    ended: bool = False
    stopped_as: str = "disconnected"

    def start(self) -> Run:
        self.task = self.calls.spawn(self._run())
        return self

    def stop(self, status: str = "disconnected") -> None:
        """The reader left (or cancelled): end the provider call (settling still runs)."""
        if self.task is not None and self.streaming and not self.task.done():
            self.stopped_as = status
            self.task.cancel()

    async def next(self) -> Item | End:
        item = await self.queue.get()
        if isinstance(item, End):
            self.ended = True
        return item

    async def _keep_reserved(self) -> None:
        """A call may outlive its reservation's TTL: extend it while the call runs."""
        ttl_s = self.calls.settings.reservation_ttl_s
        every = max(ttl_s / 3, 0.05)

        async def extend() -> None:  # a failed round is tried again; the TTL is the backstop
            async with self.calls.sessionmaker.begin() as session:
                await credits.extend(session, self.turn.reservation_id, ttl_s=ttl_s)

        await repeat("keep-reservation", extend, every_s=every, first_delay_s=every)

    async def _run(self) -> None:
        target: ModelTarget | None = None
        parts: list[str] = []
        calls: dict[int, list[str]] = {}  # index: [id, name, arguments]
        usage: Usage | None = None
        finish: str | None = None
        status, error = "completed", None
        keeper = None
        if self.turn.reservation_id is not None:
            keeper = asyncio.create_task(self._keep_reserved())
        try:
            async for answering, piece in answer(
                self.calls.providers,
                self.turn.route.targets,
                self.turn.messages,
                self.turn.options,
                retry_after_cap_s=self.calls.settings.retry_after_cap_s,
            ):
                target = answering
                if isinstance(piece, Text):
                    parts.append(piece.text)
                    self.queue.put_nowait(piece.text)
                elif isinstance(piece, ToolCallDelta):
                    call = calls.setdefault(piece.index, ["", "", ""])
                    call[0] = piece.id or call[0]
                    call[1] += piece.name or ""
                    call[2] += piece.arguments
                    self.queue.put_nowait(piece)
                elif isinstance(piece, Usage):
                    usage = piece
                else:
                    finish = piece.reason
        except asyncio.CancelledError:
            status = self.stopped_as
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
        except Unanswered as exc:
            status, error, target = "unanswered", str(exc), None
        except Broken as exc:
            status, error = "failed", str(exc)
        except Exception as exc:  # any other failure on the SDK path must still settle
            log.exception("the model call failed unexpectedly")
            status = "failed" if parts or calls else "unanswered"
            error = f"the model call failed: {type(exc).__name__}"
            if not parts and not calls:
                target = None
        finally:
            if keeper is not None:
                keeper.cancel()
        self.streaming = False
        tool_calls = tuple(ToolCall(*calls[i]) for i in sorted(calls))
        produced = "".join(parts) + "".join(c.name + c.arguments for c in tool_calls)
        receipt = None
        try:
            async with self.calls.sessionmaker.begin() as session:
                receipt = await settle(
                    session,
                    self.turn,
                    target if produced or usage else None,
                    produced,
                    usage,
                    status,
                )
        except Exception as exc:  # the reader must still get an end
            log.exception("settling a call failed")
            status, error = "failed", f"could not record the answer: {type(exc).__name__}"
        self.queue.put_nowait(End(status, receipt, error, finish, tool_calls))


class Stream:
    """The reply as it is produced: text pieces (``str``), then exactly one ``End``.

    Iterate it (``async for item in stream``), or ``pieces()`` with the tool-call pieces too,
    or ``collect()`` it; a reader that stops early calls ``close()`` (in a ``finally``),
    which stops the provider call."""

    def __init__(self, run: Run, first: Item | End) -> None:
        self._run = run
        self._first: Item | End | None = first
        self.rule = run.turn.route.rule
        self.turn = run.turn

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> str | End:
        while True:
            item = await self._next()
            if not isinstance(item, ToolCallDelta):
                return item

    async def pieces(self) -> AsyncIterator[Item | End]:
        while not self._run.ended or self._first is not None:
            yield await self._next()

    async def _next(self) -> Item | End:
        if self._first is not None:
            item, self._first = self._first, None
            return item
        if self._run.ended:
            raise StopAsyncIteration
        return await self._run.next()

    def close(self, status: str = "disconnected") -> None:
        """Stop the provider call; what was produced settles with ``status``."""
        if not self._run.ended:
            self._run.stop(status)

    async def collect(self) -> Reply:
        parts: list[str] = []
        async for item in self:
            if isinstance(item, End):
                return Reply("".join(parts), item, self.rule)
            parts.append(item)
        raise AssertionError("a stream always ends with End")
