"""Gathering facts once per scan, each gathering in a worker process that can be killed.

Library timeouts are per operation (a server that trickles one byte a second never trips them),
so the only reliable bound on a hostile endpoint is a process we can kill. Workers fork from a
forkserver that has already imported the check families, which keeps a fork to a few milliseconds.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import gc
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TypeVar

from scanner.messages import Text, say

T = TypeVar("T")


class CollectionError(Exception):
    """Facts could not be gathered; ``reason`` is one sentence for the report (best a message)."""

    def __init__(self, reason: Text) -> None:
        super().__init__(str(reason))
        self.reason = reason


class CollectionTimeout(CollectionError):
    pass


class Interrupted(CollectionError):
    pass


def _die_with_parent() -> None:
    """Ask Linux to kill this collector when its parent (the forkserver) exits.

    The forkserver exits when the scanner does, however the scanner ended (SIGKILL, a cron
    timeout), so no collector goes on contacting a target for a scan that no longer exists.
    """
    # Every forkserver child inherits the end of the pipe whose closing tells the forkserver that
    # the scanner is gone; a collector holding it would keep the forkserver (and so itself) alive.
    server = multiprocessing.forkserver._forkserver
    alive_fd = getattr(server, "_forkserver_alive_fd", None)
    if alive_fd is not None:
        with contextlib.suppress(OSError):
            os.close(alive_fd)
        vars(server)["_forkserver_alive_fd"] = None
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent went before prctl took effect
            os._exit(1)


_PR_SET_PDEATHSIG = 1


def _child_main(conn: multiprocessing.connection.Connection, fn: Callable[..., Any], args: Sequence[Any]) -> None:
    # The objects inherited from the forkserver live as long as this process: a garbage collection
    # walking them would write to (and so copy) every page that holds one, about 6 MB for a TLS
    # collection (sslyze allocates enough to trigger full collections).
    gc.freeze()
    _die_with_parent()
    try:
        value = fn(*args)
        conn.send(("ok", value))
    except BaseException as exc:  # report everything, including KeyboardInterrupt, to the parent
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        conn.send(("error", detail, traceback.format_exc(limit=8)))
    finally:
        conn.close()


def main_script_imports() -> set[str]:
    """The modules the program's main script imports as it starts: ``cli.main`` for the
    `platscan` console script.

    multiprocessing runs the main script again in every collector as it starts, and the console
    script's one import pulls in the whole command line: click, jinja2, the reports. Preloaded in
    the forkserver, they are imported once and shared; otherwise each collector imports them
    again, 12 MB and a few hundred ms of CPU each. (Preloading "__main__", as multiprocessing
    documents, does nothing: Python 3.11 never gives the forkserver the script's path.)
    """
    path = _main_script_run_again()
    return _top_level_imports(Path(path)) if path else set()


def _main_script_run_again() -> str | None:
    """The file of the main script that every collector runs again, if there is one."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name.endswith(".__main__"):
        return None  # a package's __main__ (`python -m cli`) is not run again
    origin = getattr(spec, "origin", None) or getattr(main, "__file__", None)
    return origin if isinstance(origin, str) else None


def _top_level_imports(path: Path) -> set[str]:
    """What ``path`` imports outside functions and ``if __name__ == "__main__":`` (what runs again)."""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def start_forkserver(preload: Sequence[str] = ()) -> None:
    """Start the forkserver now, preloading ``preload`` and the main script's imports, instead of
    at a scan's first collection: it imports them in its own process while this one goes on (reads
    the targets, opens the store), so the first collector forks from a ready server.

    ``Workers(preload)`` then uses the running server (the preload is fixed when it starts, so give
    the same modules: the check modules of the scan's jobs). Does nothing when one is running.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(sorted(set(preload) | main_script_imports()))
    multiprocessing.forkserver.ensure_running()


class Workers:
    """Starts collector processes and kills them all on request (Ctrl-C, scan end).

    The forkserver starts at the first collection unless ``start_forkserver`` started it before.
    """

    def __init__(self, preload: Sequence[str] = ()) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(sorted(set(preload) | main_script_imports()))
        self._live: set[BaseProcess] = set()
        self._lock = threading.Lock()
        self._closed = False

    def run(self, fn: Callable[..., T], args: Sequence[Any], timeout: float) -> T:
        if timeout <= 0:
            raise CollectionTimeout(say("scan.budget_spent", "no time left in this endpoint's budget"))
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_child_main, args=(sender, fn, args), daemon=True)
        try:
            with self._lock:
                if self._closed:
                    raise Interrupted(say("scan.interrupted", "scan interrupted"))
                process.start()
                self._live.add(process)
        except BaseException:
            receiver.close()
            sender.close()
            raise
        sender.close()
        try:
            if not receiver.poll(timeout):
                raise CollectionTimeout(
                    say("scan.gave_up", "gave up after {seconds:.0f} s (endpoint time budget)", seconds=timeout)
                )
            try:
                message = receiver.recv()
            except EOFError:
                process.join(1)
                if self._closed:
                    raise Interrupted(say("scan.interrupted", "scan interrupted")) from None
                raise CollectionError(
                    say("scan.collector_died", "collector process died (exit code {code})", code=str(process.exitcode))
                ) from None
            if message[0] == "ok":
                value: T = message[1]
                return value
            raise CollectionError(say("scan.collector_failed", "collector failed: {error}", error=str(message[1])))
        finally:
            receiver.close()
            if process.is_alive():
                process.kill()
            process.join(5)
            with self._lock:
                self._live.discard(process)

    def kill_all(self) -> None:
        with self._lock:
            self._closed = True
            live = list(self._live)
        for process in live:
            if process.is_alive():
                process.kill()


class FactCache:
    """Per-scan memo of collected facts: the first caller for a key collects, the others wait for it."""

    def __init__(self, workers: Workers) -> None:
        self._workers = workers
        self._futures: dict[Hashable, Future[Any]] = {}
        self._lock = threading.Lock()

    def release(self, keys: Iterable[Hashable]) -> None:
        """Forget the facts for ``keys`` (no endpoint will ask for them again), so that a fleet scan
        does not hold every endpoint's facts until it ends."""
        with self._lock:
            for key in keys:
                self._futures.pop(key, None)

    def get(self, key: Hashable, fn: Callable[..., T], args: Sequence[Any], deadline: float) -> T:
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if future is None:
                future = Future()
                self._futures[key] = future
        if owner:
            try:
                future.set_result(self._workers.run(fn, args, deadline - time.monotonic()))
            except CollectionError as exc:
                future.set_exception(exc)
            except BaseException as exc:  # e.g. Ctrl-C in this thread: waiters must not hang
                future.set_exception(
                    Interrupted(
                        say(
                            "scan.collection_stopped", "collection stopped: {error_type}", error_type=type(exc).__name__
                        )
                    )
                )
                raise
        try:
            value: T = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            raise CollectionTimeout(
                say("scan.shared_wait", "gave up waiting for facts shared with another endpoint")
            ) from None
        return value
