"""One resolver per scan: every family of a scan connects to the same address of a host.

A host name is looked up in this order:

1. an IP literal is its own address (never looked up);
2. the platform's ``resolve`` entry in the targets file;
3. the lookup function, bounded by the scan's ``timeout``: the system resolver (``getaddrinfo``),
   or, when ``[scan] dns_servers`` names resolvers, those (``scanner.dns``; ``Resolver.for_scan``).

Each name the lookup answers for (or fails on) is looked up **once per scan**: the answer, or
the failure, is cached and shared by every unit, thread-safely (a second caller waits for the
first lookup instead of starting its own).

The address tested: every address the lookup returned is kept (IPv4 and IPv6, in the order the
resolver gave them, duplicates dropped); the one connected to is the first IPv4 address, else the
first IPv6 address. IPv4 first because it is what a fleet's servers answer on most reliably; the
order within a family is the system resolver's (``/etc/gai.conf``), the same for the whole scan.

The engine resolves a unit's hosts before the unit runs and hands the checks plain data (the
addresses pinned on the endpoint and the platform's ``resolve`` map), never the resolver: a unit
stays picklable for a worker.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from scanner.dns import ServerLookup
from scanner.messages import Text
from scanner.model import Platform
from scanner.reasons import network_error, no_address, unresolved
from scanner.urls import normalize_host

#: ``lookup(host, timeout)``: every address of ``host``; raises ``OSError`` (its message says why)
#: when there is none. The system resolver by default; configurable DNS servers go here.
Lookup = Callable[[str, float], Sequence[str]]


@dataclass(frozen=True)
class Resolution:
    """Where one host name is connected to in this scan.

    Attributes:
        host: the host name (normalised) or IP literal.
        address: the address every family connects to; None when the name does not resolve.
        addresses: every address found (the chosen one among them).
        source: "literal", "targets" (``resolve`` in the targets file) or "dns".
        reason: why there is no address ("does not resolve: …"); "" when there is one.
    """

    host: str
    address: str | None
    addresses: tuple[str, ...] = ()
    source: str = "dns"
    reason: Text = ""


def system_lookup(host: str, timeout: float) -> list[str]:
    """The system resolver's addresses for ``host`` (IPv4 and IPv6), within ``timeout`` seconds.

    ``getaddrinfo`` cannot be interrupted, so it runs in a daemon thread that is abandoned when the
    time is up: a name that takes longer than ``timeout`` to answer does not resolve for this scan.
    """
    answer: list[list[str] | OSError] = []
    done = threading.Event()

    def ask() -> None:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            answer.append([str(info[4][0]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)])
        except OSError as exc:
            answer.append(OSError(exc.strerror or str(exc)))
        except UnicodeError as exc:  # a label too long for IDNA
            answer.append(OSError(str(exc)))
        finally:
            done.set()

    threading.Thread(target=ask, name=f"resolve {host}", daemon=True).start()
    if not done.wait(timeout):
        raise OSError(f"no answer within {timeout:g} s")
    result = answer[0]
    if isinstance(result, OSError):
        raise result
    return result


def choose(addresses: Iterable[str]) -> tuple[str, ...]:
    """The addresses without duplicates, IPv4 first, each family in the order given."""
    unique = list(dict.fromkeys(addresses))
    return tuple(a for a in unique if ":" not in a) + tuple(a for a in unique if ":" in a)


class Resolver:
    """Resolves the host names of one scan, each name once (see the module docstring)."""

    def __init__(self, timeout: float = 10.0, lookup: Lookup = system_lookup) -> None:
        self.timeout = max(0.5, float(timeout))
        self._lookup = lookup
        self._lock = threading.Lock()
        self._answers: dict[str, Resolution] = {}
        self._pending: dict[str, threading.Event] = {}

    @classmethod
    def for_scan(cls, timeout: float, dns_servers: Sequence[str] = ()) -> Resolver:
        """The scan's resolver: asking ``dns_servers`` (``[scan] dns_servers``), else the system's."""
        return cls(timeout, ServerLookup(tuple(dns_servers)) if dns_servers else system_lookup)

    def resolve(self, host: str, platform: Platform | None = None) -> Resolution:
        """Where ``host`` is connected to: an IP literal as it is, ``platform``'s ``resolve``, else DNS."""
        name = normalize_host(host)
        try:
            literal = str(ipaddress.ip_address(name))
        except ValueError:
            pass
        else:
            return Resolution(name, literal, (literal,), source="literal")
        registered = platform.address_for(name) if platform is not None else None
        if registered is not None:
            return Resolution(name, registered, (registered,), source="targets")
        return self._looked_up(name)

    def resolve_all(self, hosts: Iterable[str], platform: Platform | None = None) -> dict[str, Resolution]:
        """``resolve`` for each of ``hosts``, by normalised name."""
        out: dict[str, Resolution] = {}
        for host in hosts:
            if host and normalize_host(host) not in out:
                out[normalize_host(host)] = self.resolve(host, platform)
        return out

    def _looked_up(self, name: str) -> Resolution:
        while True:
            with self._lock:
                if name in self._answers:
                    return self._answers[name]
                waiting = self._pending.get(name)
                if waiting is None:
                    self._pending[name] = threading.Event()
                    break
            waiting.wait()
        try:
            resolution = self._ask(name)
        except BaseException:
            with self._lock:
                self._pending.pop(name).set()
            raise
        with self._lock:
            self._answers[name] = resolution
            self._pending.pop(name).set()
        return resolution

    def _ask(self, name: str) -> Resolution:
        try:
            addresses = choose(self._lookup(name, self.timeout))
        except OSError as exc:
            return Resolution(name, None, source="dns", reason=unresolved(name, network_error(exc)))
        if not addresses:
            return Resolution(name, None, source="dns", reason=unresolved(name, no_address()))
        return Resolution(name, addresses[0], addresses, source="dns")
