"""Writing files whole or not at all: every file platscan writes for someone else goes through here.

A report, a JUnit or SARIF file, or results kept aside for the database, is written to a temporary
file in the same directory and renamed over the target only once it is complete. A full disk or a
crash therefore leaves the previous file (or none), never an empty or truncated one that a CI job
or a mail-out would take for the real thing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int = 0o666) -> None:
    """Write ``data`` to ``path`` whole, or raise OSError and leave ``path`` as it was.

    ``mode`` is filtered by the umask, as for any new file; the rename keeps the temporary file
    on the same file system as ``path``, which is what makes it atomic.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must not land before the data does
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
