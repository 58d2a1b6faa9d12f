"""One connection at a time to a server that asks for it (a mail server), machine-wide.

Mail servers count a scanner's parallel sessions and answer the extra ones with 421 ("too many
connections"), which would then be mistaken for a missing service. A family whose collectors talk
to such a server holds ``one_at_a_time(address)`` around each session. The lock is an ``flock`` on
a file named after the address, so it holds across the collectors' worker processes, across the
families of one endpoint, and across two platscan runs on one machine; every endpoint of one
server is in one unit of work (``scanner.engine``), so the unit's machine is the only one talking
to that server. The kernel drops the lock of a killed process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

#: How often a waiting session tries the lock again.
_POLL_SECONDS = 0.05


class Busy(TimeoutError):
    """Another session with the server did not end within the time this one could wait."""


def _lock_file(address: str) -> Path:
    folder = Path(tempfile.gettempdir()) / f"platscan-sessions-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"{hashlib.sha256(address.encode()).hexdigest()[:32]}.lock"


@contextlib.contextmanager
def one_at_a_time(address: str, wait: float) -> Iterator[float]:
    """Hold the machine-wide session lock of ``address`` (an IP address or host name) while the
    block runs; wait at most ``wait`` seconds for it, else raise ``Busy``. Yields the seconds spent
    waiting, which the caller subtracts from its own budget."""
    started = time.monotonic()
    with open(_lock_file(address), "a+b") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - started >= wait:
                    raise Busy(f"another session with {address} did not end within {wait:.0f} s") from None
                time.sleep(_POLL_SECONDS)
        try:
            yield time.monotonic() - started
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
