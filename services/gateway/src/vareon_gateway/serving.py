"""How ``python -m vareon_gateway`` serves the edge: uvicorn's httptools protocol with one
socket write per response instead of two, and the start-up heap frozen out of the GC.

uvicorn writes the status line and headers at ``http.response.start`` and the body at
``http.response.body``: two ``send`` syscalls per small response, and on loopback each one
also runs the receiver's TCP processing. Here writes made in one event-loop turn are held
and handed to the transport together at the end of that turn (``writelines``: one
``writev``), so a response whose body follows its start without waiting goes out as one
segment. A stream's later chunks still go out in the turn they are sent.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from vareon_gateway import app
from vareon_gateway.edge import Edge
from vareon_gateway.settings import GatewaySettings


def create_app(settings: GatewaySettings | None = None) -> Edge:
    """The app as ``python -m vareon_gateway`` serves it: one per process, so the heap
    built at start-up is frozen out of the garbage collector's scans once started."""
    edge = app.create_app(settings)
    edge.freeze_after_startup = True
    return edge


class CoalescingTransport:
    """The transport, with writes of one loop turn sent as one ``writelines``."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if not pending or self._transport.is_closing():
            return
        if len(pending) == 1:
            self._transport.write(pending[0])
        else:
            self._transport.writelines(pending)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    @property
    def raw(self) -> asyncio.Transport:
        return self._transport

    def get_write_buffer_size(self) -> int:
        pending = sum(len(chunk) for chunk in self._pending or ())
        return pending + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GatewayHttpProtocol(HttpToolsProtocol):
    """``uvicorn.run(..., http=GatewayHttpProtocol)``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    def handle_websocket_upgrade(self) -> None:
        """A WebSocket gets the plain transport (its frames are not ours to hold)."""
        if isinstance(self.transport, CoalescingTransport):
            self.transport.flush()
            self.transport = self.transport.raw
        super().handle_websocket_upgrade()
