"""Ctrl-C and SIGTERM as a request to stop at the next safe point (long jobs save their state first).

``stop_requests()`` installs handlers for SIGINT and SIGTERM (in the main thread; elsewhere it does
nothing) that only record the request; the job polls ``requested()`` between steps. A second Ctrl-C
while the job is finishing its step raises KeyboardInterrupt at once, for a user who will not wait.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

_pending: list[int] = []  # the signals received since the handlers were installed


class Interrupted(Exception):
    """Raised by a job that stopped on request after saving what it needs to resume."""


def requested() -> bool:
    """Whether a stop was requested (Ctrl-C or SIGTERM)."""
    return bool(_pending)


def signal_name() -> str:
    return signal.Signals(_pending[0]).name if _pending else ""


def _handler(signum: int, _frame: object) -> None:
    if _pending and signum == signal.SIGINT:  # asked twice: stop now
        raise KeyboardInterrupt
    _pending.append(signum)


@contextlib.contextmanager
def stop_requests() -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM set ``requested()`` instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    _pending.clear()
    for s in old:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        _pending.clear()


def request_stop(signum: int = signal.SIGINT) -> None:
    """Records a stop request as a signal would (for tests and for callers that stop a job themselves)."""
    _pending.append(signum)
