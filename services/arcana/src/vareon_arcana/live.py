"""Replies that outlive their HTTP request: resumable, watchable, cancellable.

A chat reply's ``Stream`` is read by a ``LiveReply`` task, not by the request: the text is
buffered as it arrives and any number of watchers (the request that asked, and those that
reconnect with ``GET .../messages/{id}/stream``) follow the buffer from an offset. When the
last watcher leaves, the call goes on for ``grace_s``; nobody back by then stops it (settled
as ``disconnected``, like a client gone before). Settlement is the call's own, once,
whatever the watchers do.

An event's id is the reply's length in characters after it, so a ``Last-Event-ID`` names a
place in the text: replayed from the buffer while the reply is live, from the stored message
once it ended (that part survives a restart). The buffer is this process's memory: a reply
running in another replica is not found here (docs/conversations.md).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import structlog

from vareon_arcana.calls import End, Stream
from vareon_arcana.errors import ReplyStreamExpired
from vareon_arcana.models import Message

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Piece:
    """Text from ``start`` to ``end`` (character offsets in the reply)."""

    start: int
    end: int
    text: str


class LiveReply:
    def __init__(
        self,
        stream: Stream,
        *,
        message_id: uuid.UUID,
        user_id: uuid.UUID,
        grace_s: float,
        on_end: Callable[[LiveReply], Awaitable[None]],
    ) -> None:
        self.stream = stream
        self.message_id = message_id
        self.user_id = user_id
        self.grace_s = grace_s
        self.pieces: list[Piece] = []
        self.end: End | None = None
        self.watchers = 0
        self._changed = asyncio.Event()
        self._expiry: asyncio.TimerHandle | None = None
        self._on_end = on_end
        self.task = asyncio.create_task(self._pump())

    @property
    def length(self) -> int:
        return self.pieces[-1].end if self.pieces else 0

    async def _pump(self) -> None:
        try:
            async for item in self.stream:
                if isinstance(item, End):
                    self.end = item
                elif item:
                    self.pieces.append(Piece(self.length, self.length + len(item), item))
                self._notify()
        finally:
            self.stream.close()
            self._cancel_expiry()
            try:
                await self._on_end(self)
            except Exception:  # a watcher still gets its end
                log.exception("after a reply ended")
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self, after: int) -> AsyncIterator[Piece | End]:
        """The text after offset ``after``, as it comes, then the ``End``."""
        sent = after
        index = 0
        while True:
            changed = self._changed
            while index < len(self.pieces):
                piece = self.pieces[index]
                index += 1
                if piece.end > sent:
                    cut = max(sent - piece.start, 0)
                    yield Piece(piece.start + cut, piece.end, piece.text[cut:])
                    sent = piece.end
            if self.end is not None:
                yield self.end
                return
            if self.task.done():  # ended without an End (shutdown): nothing more comes
                return
            await changed.wait()

    def attach(self) -> None:
        self.watchers += 1
        self._cancel_expiry()

    def detach(self) -> None:
        self.watchers -= 1
        if self.watchers > 0 or self.end is not None:
            return
        if self.grace_s <= 0:
            self.stream.close()
        else:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_later(self.grace_s, self._expire)

    def _expire(self) -> None:
        self._expiry = None
        if self.watchers == 0 and self.end is None:
            self.stream.close()

    def _cancel_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    async def cancel(self) -> End | None:
        """Stop the provider call; what was produced is stored and charged (``cancelled``)."""
        self.stream.close("cancelled")
        await asyncio.shield(self.task)
        return self.end


def replayable(message: Message) -> Message:
    """A stored reply a reconnect may replay: one stopped because nobody watched it within the
    grace period has no stream left to resume (410; its text is in the branch)."""
    if message.status == "disconnected":
        raise ReplyStreamExpired(
            f"the reply {message.id} was stopped with nobody watching (its grace period ran "
            "out, or arcana restarted); what it produced is stored: GET .../messages"
        )
    return message


class LiveReplies:
    """The replies running in this process, by their message id."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self._live: dict[uuid.UUID, LiveReply] = {}

    def start(
        self,
        stream: Stream,
        user_id: uuid.UUID,
        *,
        after: Callable[[End], Awaitable[None]] | None = None,
    ) -> LiveReply:
        message_id = stream.turn.reply_id or uuid.uuid4()

        async def ended(live: LiveReply) -> None:
            self._live.pop(live.message_id, None)
            if after is not None and live.end is not None and live.end.receipt is not None:
                await after(live.end)

        live = LiveReply(
            stream, message_id=message_id, user_id=user_id, grace_s=self.grace_s, on_end=ended
        )
        self._live[message_id] = live
        return live

    def get(self, message_id: uuid.UUID, user_id: uuid.UUID) -> LiveReply | None:
        live = self._live.get(message_id)
        return live if live is not None and live.user_id == user_id else None

    async def close(self) -> None:
        """At shutdown: stop every running reply (each settles as ``disconnected``)."""
        for live in list(self._live.values()):
            live.stream.close()
        tasks = [live.task for live in self._live.values()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
