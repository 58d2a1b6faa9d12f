"""A small HTTP/1.1 server for tests, benchmarks and demos: keep-alive, optional TLS, any response.

Each request is handed to a handler function that returns a :class:`Reply`; the server writes it
exactly as given (header order, repeated headers, odd values), so a test can serve whatever a
misconfigured server would. Replies can stream a huge or endless body, or trickle their head one
byte at a time. The server keeps counts (connections, requests) and the last requests it saw, so a
test can check what the client sent (Host, User-Agent, SNI) and how many connections it used.

Usage::

    def site(request: Request) -> Reply:
        return Reply(200, headers=(("Content-Type", "text/plain"),), body=b"hello")

    with HttpSiteServer(site, tls=(chain_pem, key_pem)) as server:
        url = f"https://portal.example.test:{server.port}/"   # connect to 127.0.0.1 with resolve

Binds 127.0.0.1 (or ``host``) on a port the OS picks; ``stop()`` closes every connection promptly.
"""

from __future__ import annotations

import collections
import http
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from scanner.demo.tls_server import LOOPBACK, ListenerBase, _TlsStream

__all__ = ["LOOPBACK", "HttpSiteServer", "Reply", "Request", "server_context"]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 1024 * 1024
_FILL = b"A" * 65536


@dataclass(frozen=True)
class Request:
    """One request as received.

    Attributes:
        method: the method ("GET").
        target: the request target as sent ("/a?b=c").
        version: "HTTP/1.1".
        headers: (name, value) in order.
        head: the raw request line and headers (what TRACE echoes).
        body: the request body (Content-Length only; at most 1 MiB).
        secure: received over TLS.
        server_name: the SNI name the client sent (TLS only).
    """

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    head: bytes
    body: bytes = b""
    secure: bool = False
    server_name: str | None = None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass(frozen=True)
class Reply:
    """A response to write.

    Attributes:
        status: the status code.
        headers: (name, value) lines written as given, in order (Content-Length is added unless present
            or the body is endless).
        body: the body.
        filler: bytes of filler streamed after ``body`` (a huge body without holding it in memory).
        endless: stream filler forever with chunked encoding (until the client goes away).
        trickle: seconds between bytes of the status line and headers (a slow-loris server).
        body_trickle: seconds between bytes of the body, sent after a prompt head (a large page served
            too slowly: every read succeeds, the whole never ends).
        close: close the connection after this response.
        reason: the reason phrase (the standard one when empty).
    """

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    filler: int = 0
    endless: bool = False
    trickle: float = 0.0
    body_trickle: float = 0.0
    close: bool = False
    reason: str = ""


Handler = Callable[[Request], Reply]


class _Stream(Protocol):
    def recv(self, size: int, /) -> bytes: ...
    def sendall(self, data: bytes, /) -> None: ...


def server_context(chain: Path, key: Path) -> ssl.SSLContext:
    """A TLS 1.2+ server context that records the client's SNI name on each connection."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(chain), str(key))

    def remember(connection: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
        connection.platscan_sni = name  # type: ignore[union-attr]

    context.sni_callback = remember
    return context


class HttpSiteServer(ListenerBase):
    """An HTTP/1.1 server (TLS when ``tls`` or ``context`` is given) answering with ``handler``."""

    def __init__(
        self,
        handler: Handler,
        *,
        tls: tuple[Path, Path] | None = None,
        context: ssl.SSLContext | None = None,
        host: str = LOOPBACK,
        port: int = 0,
        io_timeout: float = 10.0,
        keep: int = 200,
    ) -> None:
        super().__init__(host=host, port=port, io_timeout=io_timeout)
        self.handler = handler
        self.context = context or (server_context(*tls) if tls else None)
        self.connections = 0
        self.requests = 0
        self.seen: collections.deque[Request] = collections.deque(maxlen=keep)
        self._counter_lock = threading.Lock()

    @property
    def scheme(self) -> str:
        return "https" if self.context is not None else "http"

    def handle(self, conn: socket.socket) -> None:
        with self._counter_lock:
            self.connections += 1
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms delayed-ACK stalls
        server_name: str | None = None
        stream: _Stream
        if self.context is not None:
            tls = _TlsStream(conn, self.context)
            tls.handshake()
            server_name = getattr(tls._tls, "platscan_sni", None)
            stream = tls
        else:
            stream = conn
        pending = b""
        while not self._stopping.is_set():
            request, pending = self._read_request(stream, pending, server_name)
            if request is None:
                return
            with self._counter_lock:
                self.requests += 1
                self.seen.append(request)
            reply = self.handler(request)
            keep_alive = self._send(stream, request, reply)
            if not keep_alive:
                if isinstance(stream, _TlsStream):
                    stream.close_notify()
                return

    def _read_request(self, stream: _Stream, pending: bytes, server_name: str | None) -> tuple[Request | None, bytes]:
        data = pending
        while b"\r\n\r\n" not in data:
            if len(data) > _MAX_HEAD:
                return None, b""
            chunk = stream.recv(16384)
            if not chunk:
                return None, b""
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return None, b""
        method, target, version = parts
        headers = tuple(
            (name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines[1:] if line)
        )
        length = 0
        for name, value in headers:
            if name.lower() == "content-length" and value.isdigit():
                length = min(int(value), _MAX_BODY)
        while len(rest) < length:
            chunk = stream.recv(16384)
            if not chunk:
                break
            rest += chunk
        request = Request(
            method=method,
            target=target,
            version=version,
            headers=headers,
            head=head + b"\r\n\r\n",
            body=rest[:length],
            secure=self.context is not None,
            server_name=server_name,
        )
        return request, rest[length:]

    def _send(self, stream: _Stream, request: Request, reply: Reply) -> bool:
        send = stream.sendall
        reason = reply.reason or _reason(reply.status)
        names = {name.lower() for name, _ in reply.headers}
        lines = [f"HTTP/1.1 {reply.status} {reason}"]
        lines += [f"{name}: {value}" for name, value in reply.headers]
        if reply.endless:
            lines.append("Transfer-Encoding: chunked")
        elif "content-length" not in names:
            lines.append(f"Content-Length: {len(reply.body) + reply.filler}")
        wants_close = reply.close or (request.header("Connection") or "").lower() == "close"
        if wants_close:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        if reply.trickle > 0:
            for byte in head:
                send(bytes([byte]))
                if self._stopping.wait(reply.trickle):
                    return False
        else:
            send(head)
        if request.method == "HEAD" or reply.status in (204, 304):
            return not wants_close
        if reply.endless:
            if reply.body:
                send(b"%x\r\n%s\r\n" % (len(reply.body), reply.body))
            while not self._stopping.is_set():
                send(b"%x\r\n%s\r\n" % (len(_FILL), _FILL))
            return False
        if reply.body_trickle > 0:
            for byte in reply.body + _FILL[: reply.filler]:
                send(bytes([byte]))
                if self._stopping.wait(reply.body_trickle):
                    return False
            return not wants_close
        send(reply.body)
        remaining = reply.filler
        while remaining > 0 and not self._stopping.is_set():
            piece = _FILL[: min(remaining, len(_FILL))]
            send(piece)
            remaining -= len(piece)
        return not wants_close


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
