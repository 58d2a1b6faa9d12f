"""Small loopback servers for the demo fleet and the integration tests.

* :class:`TlsServer` — an HTTPS server on Python's ``ssl`` with every knob the TLS checks need
  (protocol range, cipher string incl. ``@SECLEVEL=0``, TLS 1.3 suites, DH parameters, client
  certificates) and a minimal HTTP/1.1 page.
* :class:`PlainHttpServer` — the same page without TLS.
* :class:`SilentServer` — accepts TCP connections and never sends a byte.
* :class:`TrickleServer` — accepts and sends a TLS-looking record one byte per interval.

Every server binds 127.0.0.1 on a port the OS picks (``.port`` after ``start()``), handles each
connection in its own daemon thread, swallows client misbehaviour (aborted or garbage handshakes)
without printing anything, and ``stop()`` closes the listener and every open connection promptly.
Use them as context managers::

    with TlsServer(TlsServerConfig(cert_chain=chain, key=key)) as server:
        url = f"https://good.fleet.test:{server.port}/"
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import selectors
import socket
import ssl
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, TypeVar

__all__ = [
    "DEFAULT_PAGE",
    "LOOPBACK",
    "ListenerBase",
    "PlainHttpServer",
    "SilentServer",
    "TlsServer",
    "TlsServerConfig",
    "TrickleServer",
    "http_response",
]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_PAGE = (
    "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>platscan test endpoint</title></head>"
    "<body><h1>It works</h1></body></html>\n"
)
_MAX_REQUEST = 64 * 1024
_MAX_CONNECTIONS = 512
_READ_SIZE = 16384
_T = TypeVar("_T")


class _Stream(Protocol):
    def recv(self, size: int, /) -> bytes: ...
    def sendall(self, data: bytes, /) -> None: ...


def http_response(
    status: int, reason: str, body: str, headers: Mapping[str, str] | None = None, *, head: bool = False
) -> bytes:
    """A complete HTTP/1.1 response with ``Connection: close``."""
    payload = body.encode("utf-8")
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: text/html; charset=utf-8"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines += [f"Content-Length: {len(payload)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + (b"" if head else payload)


class ListenerBase:
    """A TCP listener on 127.0.0.1 that hands each accepted connection to :meth:`handle` in a thread.

    Subclasses implement :meth:`handle`; it may raise any ``OSError`` (the peer went away, a
    timeout, a TLS alert): those are logged at debug level and the connection is closed.
    """

    def __init__(self, *, host: str = LOOPBACK, port: int = 0, io_timeout: float = 10.0) -> None:
        self._host = host
        self._requested_port = port
        self.io_timeout = io_timeout
        self._listener: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._handlers: dict[threading.Thread, socket.socket] = {}  # handler thread -> its connection
        self._accept_thread: threading.Thread | None = None
        self._port: int | None = None

    # lifecycle ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def host(self) -> str:
        return self._host

    @property
    def running(self) -> bool:
        return self._accept_thread is not None and self._accept_thread.is_alive()

    def start(self) -> Self:
        if self._listener is not None:
            raise RuntimeError("already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Always: the accepted connections inherit it, and only then can the next run bind this port
        # again at once (the demo keeps its ports) while they linger in TIME_WAIT. A listener still
        # holding the port is refused all the same.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self._host, self._requested_port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._wake = socket.socketpair()
        self._port = listener.getsockname()[1]
        self._accept_thread = threading.Thread(
            target=self._accept_loop,
            args=(listener, self._wake[0]),
            name=f"{type(self).__name__}:{self._port}",
            daemon=True,
        )
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop accepting, shut every open connection down, and wait (up to ``timeout``) for the
        handler threads; whatever is still open after that is closed."""
        self._stopping.set()
        if self._wake is not None:
            with contextlib.suppress(OSError):
                self._wake[1].send(b"x")
        if self._accept_thread is not None:
            self._accept_thread.join(timeout / 2)
        with self._lock:
            handlers = dict(self._handlers)
        for sock in handlers.values():
            _shutdown(sock)
        for thread in handlers:
            thread.join(timeout / 2)
        with self._lock:
            leftovers = list(self._handlers.values())
        for sock in leftovers:
            _close(sock)
        if self._listener is not None:
            _close(self._listener)
        if self._wake is not None:
            for sock in self._wake:
                _close(sock)
            self._wake = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # connection handling --------------------------------------------------------------------

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _accept_loop(self, listener: socket.socket, wake: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while not self._stopping.is_set():
                ready = selector.select()
                if self._stopping.is_set():
                    break
                if not any(key.fileobj is listener for key, _ in ready):
                    continue
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                with self._lock:
                    crowded = len(self._handlers) >= _MAX_CONNECTIONS
                    if not crowded:
                        self._handlers[thread] = conn
                if crowded:
                    _shutdown(conn)
                    _close(conn)
                    continue
                thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(self.io_timeout)
            self.handle(conn)
        except (OSError, ValueError) as exc:  # incl. ssl.SSLError; ValueError: a socket stop() closed
            log.debug("%s:%s connection ended: %s", type(self).__name__, self._port, exc)
        except Exception:  # never let a client kill the server or print a traceback
            log.debug("%s:%s handler failed", type(self).__name__, self._port, exc_info=True)
        finally:
            with self._lock:
                self._handlers.pop(threading.current_thread(), None)
            _close(conn)


class _HttpMixin:
    """Reads one HTTP request and answers with a page (``/``) or a 404."""

    body: str
    headers: Mapping[str, str]

    def _respond(self, conn: _Stream) -> None:
        request = b""
        while b"\r\n\r\n" not in request and len(request) < _MAX_REQUEST:
            chunk = conn.recv(4096)
            if not chunk:
                break
            request += chunk
        if not request:
            return
        method, _, rest = request.partition(b" ")
        path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        head = method == b"HEAD"
        if method not in (b"GET", b"HEAD", b"POST"):
            response = http_response(405, "Method Not Allowed", "", self.headers)
        elif path in (b"/", b"/index.html"):
            response = http_response(200, "OK", self.body, self.headers, head=head)
        else:
            response = http_response(404, "Not Found", "<h1>Not Found</h1>\n", self.headers, head=head)
        conn.sendall(response)


@dataclass(frozen=True)
class TlsServerConfig:
    """How a :class:`TlsServer` speaks TLS.

    Attributes:
        cert_chain: PEM file: the leaf first, then whatever chain the server should send, in that order.
        key: PEM file with the leaf's private key.
        minimum_version: lowest protocol accepted.
        maximum_version: highest protocol accepted.
        ciphers: OpenSSL cipher string for TLS 1.2 and below, e.g. ``"ECDHE+AESGCM:@SECLEVEL=0"``.
            None means ``"DEFAULT"``, plus ``:@SECLEVEL=0`` when TLS 1.0/1.1 are enabled (Debian's
            OpenSSL 3 needs it for them, for RSA-1024 keys, SHA-1 certificates and 1024-bit DH).
        tls13_ciphersuites: OpenSSL TLS 1.3 suite list (``"TLS_AES_128_GCM_SHA256:..."``), or None
            for OpenSSL's default.
        dh_params: PEM DH parameters for DHE suites (see ``pki.write_dh_params``).
        client_ca: when set, a client certificate issued under these CAs (PEM) is required.
        body: the page served at ``/``.
        headers: extra response headers (e.g. security headers).
    """

    cert_chain: Path
    key: Path
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    maximum_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED
    ciphers: str | None = None
    tls13_ciphersuites: str | None = None
    dh_params: Path | None = None
    client_ca: Path | None = None
    body: str = DEFAULT_PAGE
    headers: Mapping[str, str] = field(default_factory=dict)

    def context(self) -> ssl.SSLContext:
        """Build the server's ``SSLContext`` (raises ``ssl.SSLError`` for a bad combination)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        legacy = self.minimum_version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
        # The cipher string goes first: its @SECLEVEL decides whether weak keys and DH load at all.
        ctx.set_ciphers(self.ciphers or ("DEFAULT:@SECLEVEL=0" if legacy else "DEFAULT"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 on purpose
            ctx.minimum_version = self.minimum_version
            ctx.maximum_version = self.maximum_version
        ctx.load_cert_chain(str(self.cert_chain), str(self.key))
        if self.dh_params is not None:
            ctx.load_dh_params(str(self.dh_params))
        if self.tls13_ciphersuites is not None:
            set_tls13_ciphersuites(ctx, self.tls13_ciphersuites)
        if self.client_ca is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=str(self.client_ca))
        return ctx


class TlsServer(_HttpMixin, ListenerBase):
    """An HTTPS server on 127.0.0.1 (port picked by the OS) configured by a :class:`TlsServerConfig`.

    The ``SSLContext`` is built in the constructor, so a configuration OpenSSL rejects fails there.
    """

    def __init__(
        self, config: TlsServerConfig, *, host: str = LOOPBACK, port: int = 0, io_timeout: float = 10.0
    ) -> None:
        super().__init__(host=host, port=port, io_timeout=io_timeout)
        self.config = config
        self.context = config.context()
        self.body = config.body
        self.headers = config.headers

    def handle(self, conn: socket.socket) -> None:
        tls = _TlsStream(conn, self.context)
        tls.handshake()
        self._respond(tls)
        tls.close_notify()


class _TlsStream:
    """Server-side TLS over a socket we keep owning: an ``SSLObject`` on memory BIOs, pumped by
    hand. Unlike ``wrap_socket`` nothing leaks when a client resets before the handshake, and
    ``stop()`` can shut the plain socket down from another thread."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        self._sock = sock
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._in, self._out, server_side=True)

    def handshake(self) -> None:
        self._pump(self._tls.do_handshake)

    def recv(self, size: int) -> bytes:
        try:
            return self._pump(lambda: self._tls.read(size))
        except ssl.SSLZeroReturnError:  # the client sent close_notify
            return b""

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            sent = self._pump(functools.partial(self._tls.write, view))
            view = view[sent:]

    def close_notify(self) -> None:
        """Send close_notify without waiting for the client's."""
        with contextlib.suppress(ssl.SSLError, OSError):
            self._tls.unwrap()
        with contextlib.suppress(OSError):
            self._flush()

    def _flush(self) -> None:
        data = self._out.read()
        if data:
            self._sock.sendall(data)

    def _pump(self, operation: Callable[[], _T]) -> _T:
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                self._flush()
                data = self._sock.recv(_READ_SIZE)
                if not data:
                    raise ConnectionAbortedError("the client closed the connection") from None
                self._in.write(data)
                continue
            except ssl.SSLError:
                with contextlib.suppress(OSError):
                    self._flush()  # the alert telling the client why
                raise
            self._flush()
            return result


class PlainHttpServer(_HttpMixin, ListenerBase):
    """A plain HTTP/1.1 server (for "TLS expected, cleartext found")."""

    def __init__(
        self,
        *,
        body: str = DEFAULT_PAGE,
        headers: Mapping[str, str] | None = None,
        port: int = 0,
        io_timeout: float = 10.0,
    ) -> None:
        super().__init__(port=port, io_timeout=io_timeout)
        self.body = body
        self.headers = dict(headers or {})

    def handle(self, conn: socket.socket) -> None:
        self._respond(conn)


class SilentServer(ListenerBase):
    """Accepts TCP connections, reads and discards what arrives, never answers; holds each
    connection until the client closes it or the server stops."""

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        while not self._stopping.is_set():
            try:
                if not conn.recv(4096):
                    return
            except TimeoutError:
                continue


# A TLS 1.2 handshake record announcing 16 KiB, starting like a ServerHello: a client waits for
# the rest. Sent one byte per interval it never completes within any sane deadline.
_TRICKLE_RECORD = bytes.fromhex("160303400002003ffc0303") + bytes(range(32)) + b"\x00" * 4000


class TrickleServer(ListenerBase):
    """Accepts, then sends a TLS-looking handshake record one byte every ``interval`` seconds
    (up to ``max_duration`` seconds per connection)."""

    def __init__(
        self, *, interval: float = 1.0, max_duration: float = 600.0, port: int = 0, io_timeout: float = 10.0
    ) -> None:
        super().__init__(port=port, io_timeout=io_timeout)
        self.interval = interval
        self.max_duration = max_duration

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        with contextlib.suppress(TimeoutError):
            conn.recv(_MAX_REQUEST)  # the ClientHello, if the client sends one first
        conn.settimeout(self.io_timeout)
        elapsed = 0.0
        for byte in _TRICKLE_RECORD:
            if elapsed >= self.max_duration:
                return
            conn.sendall(bytes([byte]))
            if self._stopping.wait(self.interval):
                return
            elapsed += self.interval


def set_tls13_ciphersuites(ctx: ssl.SSLContext, suites: str) -> None:
    """Set the TLS 1.3 cipher suites of ``ctx`` (Python's ``ssl`` has no API for it).

    Calls OpenSSL's ``SSL_CTX_set_ciphersuites`` on the context's ``SSL_CTX``, found as the first
    field after the object header of CPython's ``PySSLContext``; the pointer is checked (its
    options must read back as ``ctx.options``) and the result verified with ``get_ciphers()``.
    """
    import _ssl

    lib = ctypes.CDLL(_ssl.__file__)
    get_options = lib.SSL_CTX_get_options
    get_options.argtypes = [ctypes.c_void_p]
    get_options.restype = ctypes.c_uint64
    set_suites = lib.SSL_CTX_set_ciphersuites
    set_suites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    set_suites.restype = ctypes.c_int
    pointer = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if not pointer or get_options(pointer) != int(ctx.options):
        raise RuntimeError("cannot reach the SSL_CTX of this Python build to set TLS 1.3 suites")
    if set_suites(pointer, suites.encode("ascii")) != 1:
        raise ssl.SSLError(f"OpenSSL rejected the TLS 1.3 cipher suites {suites!r}")
    wanted = {s for s in suites.split(":") if s}
    have = {c["name"] for c in ctx.get_ciphers() if c.get("protocol") == "TLSv1.3"}
    if not have <= wanted:
        raise RuntimeError(f"TLS 1.3 suites did not take effect: {sorted(have)}")


def _shutdown(sock: socket.socket) -> None:
    """Shut a socket down for both directions, waking any thread blocked on it. ``socket.socket``'s
    own ``shutdown`` is called so an ``SSLSocket`` is not touched at the TLS layer from this thread."""
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.close()
