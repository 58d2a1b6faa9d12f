"""A small authoritative DNS server for the demo fleet: one zone, UDP and TCP, on loopback.

It answers as an authoritative server does (RFC 1034 4.3.2, RFC 2308): the AA flag on every answer
from its zone; NXDOMAIN, or NODATA for a name that exists without that type (an empty non-terminal
such as ``_domainkey.nghean.example`` included), each with the zone's SOA in the authority section;
REFUSED for names outside its zone and for zone transfers. It does not recurse (RA is never set).
Answers larger than the client accepts over UDP (512 bytes, or its EDNS size) come back truncated
(TC), so the client asks again over TCP::

    zone = dns.zone.from_text(ZONE_TEXT, origin="nghean.example.", relativize=False)
    with DnsServer(zone) as server:
        resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", server.port)]

The UDP and the TCP socket share one port (``port=0``: the OS picks it).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import struct
import threading
from types import TracebackType
from typing import Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone

from scanner.demo.tls_server import LOOPBACK, ListenerBase

__all__ = ["DnsServer", "answer"]

log = logging.getLogger(__name__)

_UDP_DEFAULT = 512  # RFC 1035 4.2.1, for a query without EDNS
_UDP_CEILING = 1232  # the DNS flag day 2020 size: no IP fragmentation
_HEADER = 12
_FREE_PORT_ATTEMPTS = 20
_REFUSED_TYPES = (dns.rdatatype.AXFR, dns.rdatatype.IXFR)  # no zone transfers: the demo's data is not for copying
_ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


def answer(zone: dns.zone.Zone, wire: bytes, max_size: int | None = None) -> bytes | None:
    """The response to the query ``wire``, at most ``max_size`` bytes (UDP: from the query, see
    module docstring; None: TCP's 65535); None when it is not worth an answer (not even a header)."""
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return _format_error(wire)
    if query.flags & dns.flags.QR:  # a response, not a query: answering it could start a loop
        return None
    response = dns.message.make_response(query)
    response.flags &= ~dns.flags.RA
    if query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
    elif len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
    else:
        _resolve(zone, query.question[0], response)
    limit = 65535 if max_size is None else _udp_size(query, max_size)
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        response.answer.clear()
        response.authority.clear()
        response.additional.clear()
        response.flags |= dns.flags.TC
        return response.to_wire(max_size=limit)


def _resolve(zone: dns.zone.Zone, question: dns.rrset.RRset, response: dns.message.Message) -> None:
    name, rdtype = question.name, question.rdtype
    origin = zone.origin
    assert origin is not None  # a zone read from text always has one
    if question.rdclass != dns.rdataclass.IN or not name.is_subdomain(origin) or rdtype in _REFUSED_TYPES:
        response.set_rcode(dns.rcode.REFUSED)
        return
    response.flags |= dns.flags.AA
    node = zone.get_node(name)
    if node is None:
        if not _is_empty_non_terminal(zone, name):
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(_negative_soa(zone))
        return
    found = [rds for rds in node.rdatasets if rdtype == dns.rdatatype.ANY or rds.rdtype == rdtype]
    for rdataset in found:
        # The owner name as the client spelled it (0x20 case randomisation in resolvers).
        response.answer.append(_rrset(name, rdataset))
        _add_glue(zone, rdataset, response)
    if not found:
        response.authority.append(_negative_soa(zone))


def _is_empty_non_terminal(zone: dns.zone.Zone, name: dns.name.Name) -> bool:
    return any(owner != name and owner.is_subdomain(name) for owner in zone.nodes)


def _negative_soa(zone: dns.zone.Zone) -> dns.rrset.RRset:
    """The zone's SOA for a negative answer: its TTL is the lower of the SOA's TTL and its minimum
    field (RFC 2308 3), which is how long a resolver may cache the "no"."""
    origin = zone.origin
    assert origin is not None
    soa = zone.find_rdataset(origin, dns.rdatatype.SOA)
    rrset = _rrset(origin, soa)
    rrset.ttl = min(soa.ttl, min(getattr(rdata, "minimum", soa.ttl) for rdata in soa))
    return rrset


def _add_glue(zone: dns.zone.Zone, rdataset: dns.rdataset.Rdataset, response: dns.message.Message) -> None:
    """Addresses of the zone's own MX and NS targets, as real servers add them (saves a query)."""
    if rdataset.rdtype not in (dns.rdatatype.MX, dns.rdatatype.NS):
        return
    origin = zone.origin
    assert origin is not None
    for rdata in rdataset:
        target: dns.name.Name = rdata.exchange if rdataset.rdtype == dns.rdatatype.MX else rdata.target
        node = zone.get_node(target) if target.is_subdomain(origin) else None
        for rdtype in _ADDRESS_TYPES if node is not None else ():
            assert node is not None
            addresses = node.get_rdataset(dns.rdataclass.IN, rdtype)
            if addresses is not None:
                response.additional.append(_rrset(target, addresses))


def _rrset(name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    return dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset))


def _udp_size(query: dns.message.Message, ceiling: int) -> int:
    if query.edns < 0:
        return _UDP_DEFAULT
    return max(_UDP_DEFAULT, min(query.payload, ceiling))


def _format_error(wire: bytes) -> bytes | None:
    """FORMERR with the query's id, for a message that does not parse; nothing for less than a header."""
    if len(wire) < _HEADER:
        return None
    (ident,) = struct.unpack("!H", wire[:2])
    response = dns.message.Message(id=ident)
    response.flags = dns.flags.QR
    response.set_rcode(dns.rcode.FORMERR)
    return response.to_wire()


class _TcpListener(ListenerBase):
    """DNS over TCP (RFC 7766): two-byte length, message; several queries per connection."""

    def __init__(self, zone: dns.zone.Zone, *, host: str, port: int) -> None:
        super().__init__(host=host, port=port, io_timeout=10.0)
        self.zone = zone

    def handle(self, conn: socket.socket) -> None:
        while not self._stopping.is_set():
            head = _read_exactly(conn, 2)
            if head is None:
                return
            (length,) = struct.unpack("!H", head)
            wire = _read_exactly(conn, length)
            if wire is None:
                return
            reply = answer(self.zone, wire)
            if reply is None:
                return
            conn.sendall(struct.pack("!H", len(reply)) + reply)


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class DnsServer:
    """Serve ``zone`` over UDP and TCP on ``host``; ``port`` 0 picks a port free for both.

    ``start()`` raises ``OSError`` when the given port cannot be bound (for UDP or for TCP).
    """

    def __init__(self, zone: dns.zone.Zone, *, host: str = LOOPBACK, port: int = 0) -> None:
        self.zone = zone
        self._host = host
        self._requested_port = port
        self._udp: socket.socket | None = None
        self._tcp: _TcpListener | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._tcp is None:
            raise RuntimeError("the DNS server is not started")
        return self._tcp.port

    @property
    def address(self) -> str:
        """``address:port``, as a targets file's ``dns_servers`` entry."""
        return f"{self._host}:{self.port}"

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("already started")
        if self._requested_port:
            udp, tcp = self._bind(self._requested_port)
        else:
            udp, tcp = self._bind_free_port()
        self._udp, self._tcp = udp, tcp
        self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=self._serve_udp, args=(udp, self._wake[0]), name=f"DnsServer:{tcp.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._wake is not None:
            with contextlib.suppress(OSError):
                self._wake[1].send(b"x")
        if self._thread is not None:
            self._thread.join(2.0)
        if self._tcp is not None:
            self._tcp.stop()
        for sock in (self._udp, *(self._wake or ())):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._wake = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _bind(self, port: int) -> tuple[socket.socket, _TcpListener]:
        tcp = _TcpListener(self.zone, host=self._host, port=port).start()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind((self._host, tcp.port))
        except OSError:
            udp.close()
            tcp.stop()
            raise
        return udp, tcp

    def _bind_free_port(self) -> tuple[socket.socket, _TcpListener]:
        # The OS picks a free TCP port; the same UDP port is usually free too, but not always.
        for attempt in range(_FREE_PORT_ATTEMPTS):
            try:
                return self._bind(0)
            except OSError:
                if attempt == _FREE_PORT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _serve_udp(self, udp: socket.socket, wake: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(udp, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while True:
                ready = selector.select()
                if any(key.fileobj is wake for key, _ in ready):
                    return
                try:
                    wire, peer = udp.recvfrom(65535)
                    reply = answer(self.zone, wire, _UDP_CEILING)
                    if reply is not None:
                        udp.sendto(reply, peer)
                except OSError as exc:  # a client gone (ICMP unreachable) must not stop the server
                    log.debug("DNS over UDP: %s", exc)
                except Exception:  # nor may a query dnspython chokes on
                    log.debug("DNS query failed", exc_info=True)
