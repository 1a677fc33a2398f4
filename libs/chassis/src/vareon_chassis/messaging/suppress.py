"""Side effects switched off while a consumer's events are replayed into its own database.

A rebuild re-runs handlers that already announced their effects: the events they publish
went out the first time, and mails were sent. Inside ``side_effects_suppressed()``
``Outbox.publish`` stages nothing, and anything else with an outside effect (a mailer)
checks ``is_replaying()`` and does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_replaying: ContextVar[bool] = ContextVar("vareon_replaying", default=False)


def is_replaying() -> bool:
    return _replaying.get()


@contextlib.contextmanager
def side_effects_suppressed() -> Iterator[None]:
    token = _replaying.set(True)
    try:
        yield
    finally:
        _replaying.reset(token)
