"""Why something could not be tested, said once for every family: network errors, names that do
not resolve, a check that crashed. Messages (``scanner.messages``) with core ids (``scan.*``),
translated in ``scanner/translations/<lang>.toml``, so an ``error`` result reads in the report's
language whichever family met the error.
"""

from __future__ import annotations

import errno
import socket
import ssl

from scanner.messages import Message, say

_RESET = say("scan.error.reset", "connection reset by the server")
# errno -> how an owner is told of it: the errors a scan meets on a network.
_ERRNO = {
    errno.ECONNREFUSED: say("scan.error.refused", "connection refused"),
    errno.ECONNRESET: _RESET,
    errno.EPIPE: _RESET,
    errno.ECONNABORTED: _RESET,
    errno.ETIMEDOUT: say("scan.error.timeout", "timed out"),
    errno.EHOSTUNREACH: say("scan.error.host_unreachable", "host unreachable"),
    errno.ENETUNREACH: say("scan.error.network_unreachable", "network unreachable"),
}


def network_error(exc: BaseException) -> Message:
    """One short phrase for why a connection failed ("connection refused"), in any language; an
    error it does not know is given as the system's own words (data, not translated)."""
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return say("scan.error.timeout", "timed out")
    if isinstance(exc, ssl.SSLError):
        return say("scan.error.tls", "TLS handshake failed ({error})", error=exc.reason or str(exc))
    if isinstance(exc, socket.gaierror):
        return say("scan.error.name", "the name does not resolve ({error})", error=str(exc.strerror or exc))
    known = _ERRNO.get(getattr(exc, "errno", None) or 0)
    if known is not None:
        return known
    return say("scan.error.other", "{error}", error=str(exc) or type(exc).__name__)


def unresolved(host: str, cause: Message) -> Message:
    return say("scan.unresolved", "does not resolve: {host} ({cause})", host=host, cause=cause)


def no_address() -> Message:
    return say("scan.error.no_address", "no address")


def crashed(exc: BaseException) -> Message:
    return say(
        "scan.check_crashed", "check crashed: {error_type}: {error}", error_type=type(exc).__name__, error=str(exc)
    )
