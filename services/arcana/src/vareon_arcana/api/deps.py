"""What arcana's routes depend on, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection
from vareon_chassis.auth import CurrentUser

from vareon_arcana.calls import Caller, Calls
from vareon_arcana.live import LiveReplies


def _calls(connection: HTTPConnection) -> Calls:
    calls: Calls = connection.app.state.calls
    return calls


def _live(connection: HTTPConnection) -> LiveReplies:
    live: LiveReplies = connection.app.state.live
    return live


def _caller(user: CurrentUser) -> Caller:
    return Caller.of(user)


CallsDep = Annotated[Calls, Depends(_calls)]
CallerDep = Annotated[Caller, Depends(_caller)]
"""The authenticated user as the caller of a model call."""
LiveDep = Annotated[LiveReplies, Depends(_live)]
"""The chat replies running in this process (resumable streams)."""
