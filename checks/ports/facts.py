"""The port-scan facts about one host, as frozen typed values, and how they come from nmap's XML.

``facts_from_raw`` is a pure function: a ``RawScan`` (the XML of each nmap run: discovery, service
detection, UDP; the banners the collector read; the scan's metadata) goes in, ``PortScanFacts`` come out.
The collector (``_collect.py``) does all the I/O; the checks judge these facts; the unit tests feed
recorded nmap XML straight into it.

Each XML document is parsed with python-nmap (``PortScanner.analyse_nmap_xml_scan``), then read a
second time for what python-nmap drops: the ``tunnel`` (nmap spoke TLS to reach the service), the
detection ``method`` ("probed": a probe's answer matched; "table": a guess from the port number),
every CPE, ``servicefp`` (the raw answers of a service nmap could not name), the ``<extraports>``
counts and whether the host ran out of time (``timedout``).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import nmap

from scanner.evidence import shorten
from scanner.messages import Message, Text, say

MAX_BANNER_BYTES = 512
MAX_RESPONSE_BYTES = 512
MAX_TEXT = 300


class ScanStatus(enum.StrEnum):
    """Whether the TCP port discovery of the host finished."""

    COMPLETE = "complete"
    TIMED_OUT = "timed_out"  # nmap's --host-timeout or our hard limit cut it off: no port list
    DNS_FAILURE = "dns_failure"  # the host name does not resolve
    FAILED = "failed"  # nmap is missing, exited with an error or wrote no usable XML


class Detection(enum.StrEnum):
    """How service/version detection (``-sV``) on the open ports went."""

    COMPLETE = "complete"
    NOT_NEEDED = "not_needed"  # nothing open
    SKIPPED = "skipped"  # not enough of the endpoint's time budget left to start it
    TIMED_OUT = "timed_out"
    FAILED = "failed"


@dataclass(frozen=True)
class NmapRun:
    """One nmap invocation as it happened (the collector's raw record; tests replay recorded ones).

    Attributes:
        args: the command line, without the program name.
        xml: what nmap wrote with ``-oX -`` ("" if nothing).
        stderr: nmap's error output, shortened.
        returncode: nmap's exit code; None when we killed it.
        elapsed: seconds it ran.
        killed: True when it ran past our hard limit and was killed.
    """

    args: tuple[str, ...]
    xml: str
    stderr: str = ""
    returncode: int | None = 0
    elapsed: float = 0.0
    killed: bool = False


@dataclass(frozen=True)
class Response:
    """What a service answered to one of nmap's probes (from ``servicefp``).

    Attributes:
        probe: the probe's name in nmap-service-probes ("NULL" is the banner sent on connect).
        data: the answer's first bytes.
    """

    probe: str
    data: bytes


@dataclass(frozen=True)
class PortFacts:
    """One port nmap found open (or, for UDP, open|filtered), with what service detection said.

    Attributes:
        port: the port number.
        proto: "tcp" or "udp".
        state: nmap's state: "open" (or "open|filtered" for a UDP port that did not answer).
        reason: why nmap says so ("syn-ack", "udp-response", ...).
        service: nmap's service name ("ssh", "http", "unknown"; "" before service detection).
        method: "probed" when an answer to a probe matched, "table" when nmap only guessed from the
            port number, "" when there was no service detection.
        confidence: nmap's confidence 0-10.
        product, version, extrainfo: what nmap read from the answers ("OpenSSH", "7.4", "protocol 2.0").
        tunnel: "ssl" when nmap had to speak TLS to reach the service, else "".
        cpe: CPE names nmap derived.
        scripts: NSE script id -> output, shortened (smtp-commands, pop3-capabilities, ...).
        responses: the raw answers nmap recorded for a service it could not name.
        banner: the first bytes the service sent on a fresh connection without being asked (the
            collector's own read; b"" when it sent nothing in time).
    """

    port: int
    proto: str = "tcp"
    state: str = "open"
    reason: str = ""
    service: str = ""
    method: str = ""
    confidence: int = 0
    product: str = ""
    version: str = ""
    extrainfo: str = ""
    tunnel: str = ""
    cpe: tuple[str, ...] = ()
    scripts: tuple[tuple[str, str], ...] = ()
    responses: tuple[Response, ...] = ()
    banner: bytes = b""

    @property
    def label(self) -> str:
        """ "22/tcp" """
        return f"{self.port}/{self.proto}"

    @property
    def identified(self) -> bool:
        """Whether nmap named the service from its answers (not just from the port number)."""
        return self.method == "probed" and self.service not in ("", "unknown", "tcpwrapped")

    @property
    def software(self) -> str:
        """ "OpenSSH 7.4" ("" when nmap did not read a product)."""
        return " ".join(part for part in (self.product, self.version) if part)

    def script(self, name: str) -> str | None:
        for script_id, output in self.scripts:
            if script_id == name:
                return output
        return None

    @property
    def banner_text(self) -> str:
        """The banner for a report: printable, control and binary bytes escaped, shortened."""
        return printable(self.banner)


@dataclass(frozen=True)
class PortScanFacts:
    """Everything the port scan learned about one host.

    Attributes:
        host: the host name as registered.
        address: the address scanned (from ``resolve``, or the first IPv4 address DNS gave).
        spec: what was scanned: "top-1000", "top-100", "all" or "21-23,80".
        method: "connect" (``-sT``) or "syn" (``-sS``).
        udp: whether UDP 161 (SNMP) was scanned too.
        status: whether the TCP discovery finished; when it did not, ``reason`` says why.
        reason: one sentence for a report (a message; plain text in facts built by hand).
        ports: the open ports (TCP, then UDP when scanned), by port.
        closed: how many scanned TCP ports refused the connection.
        filtered: how many scanned TCP ports did not answer at all.
        detection: how service detection went.
        detection_reason: why it is not complete ("" when it is).
        udp_status: None when UDP was not asked for; else whether its scan finished.
        udp_reason: why the UDP scan did not finish ("" when it did).
        nmap_version: the nmap that ran.
        commands: the nmap command lines, for the evidence.
        scanned_at: when the scan started (UTC).
        duration: seconds the whole collection took.
    """

    host: str
    address: str | None
    spec: str
    method: str = "connect"
    udp: bool = False
    status: ScanStatus = ScanStatus.COMPLETE
    reason: Text = ""
    ports: tuple[PortFacts, ...] = ()
    closed: int = 0
    filtered: int = 0
    detection: Detection = Detection.NOT_NEEDED
    detection_reason: Text = ""
    udp_status: ScanStatus | None = None
    udp_reason: Text = ""
    nmap_version: str = ""
    commands: tuple[str, ...] = ()
    scanned_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    duration: float = 0.0

    @property
    def open_ports(self) -> tuple[PortFacts, ...]:
        """Ports that answered: TCP open, UDP open (an unanswered UDP probe proves nothing)."""
        return tuple(p for p in self.ports if p.state == "open")

    @property
    def answered(self) -> bool:
        """Whether the host answered at all (a port open or closed); False when all were silent."""
        return bool(self.open_ports) or self.closed > 0

    @property
    def target(self) -> str:
        if self.address and self.address != self.host:
            return f"{self.host} ({self.address})"
        return self.host


@dataclass(frozen=True)
class ParsedRun:
    """One nmap XML document, read.

    Attributes:
        ports: every port listed with a state (open, closed, filtered, open|filtered, ...).
        closed, filtered: counts from the listed ports and the ``<extraports>`` summaries.
        timed_out: the host hit ``--host-timeout`` (nmap then lists no ports for it).
        host_found: whether the document has the host at all.
        version: nmap's version.
        error: nmap's own error message, if it says the run failed.
    """

    ports: tuple[PortFacts, ...] = ()
    closed: int = 0
    filtered: int = 0
    timed_out: bool = False
    host_found: bool = False
    version: str = ""
    error: Text = ""


class NmapOutputError(ValueError):
    """The XML could not be parsed (nmap killed mid-write, or not XML at all); ``reason`` says so."""

    def __init__(self, reason: Message) -> None:
        super().__init__(str(reason))
        self.reason = reason


def parse_nmap_xml(xml: str) -> ParsedRun:
    """Read one nmap XML document (pure). Raises ``NmapOutputError`` when it is not usable XML."""
    try:
        # python-nmap reads the fields it knows; it needs no nmap binary for this.
        parser = nmap.PortScanner.__new__(nmap.PortScanner)
        scan = parser.analyse_nmap_xml_scan(nmap_xml_output=xml)
        root = ET.fromstring(xml)
    except (nmap.PortScannerError, ET.ParseError, AttributeError, TypeError) as exc:
        error_text = shorten(f"{type(exc).__name__}: {exc}")
        raise NmapOutputError(
            say("ports.nmap.no_xml", "nmap wrote no usable XML ({error})", error=error_text)
        ) from None
    finished = root.find("runstats/finished")
    error: Text = ""
    if finished is not None and finished.get("exit") == "error":
        message = finished.get("errormsg")
        error = shorten(message) if message else say("ports.nmap.reported_error", "nmap reported an error")
    hosts = root.findall("host")
    if not hosts:
        return ParsedRun(version=root.get("version", ""), error=error)
    host = hosts[0]
    address = _host_key(host)
    known: Mapping[str, Any] = scan.get("scan", {}).get(address, {})
    ports: list[PortFacts] = []
    closed = filtered = 0
    for extra in host.findall("ports/extraports"):
        count = int(extra.get("count", "0"))
        state = extra.get("state", "")
        if state == "closed":
            closed += count
        elif "filtered" in state:
            filtered += count
    for element in host.findall("ports/port"):
        proto = element.get("protocol", "tcp")
        number = int(element.get("portid", "0"))
        base: Mapping[str, Any] = known.get(proto, {}).get(number, {})
        state_el = element.find("state")
        state = (state_el.get("state") if state_el is not None else None) or str(base.get("state", ""))
        if state == "closed":
            closed += 1
            continue
        if state == "filtered":
            filtered += 1
            continue
        service = element.find("service")
        scripts = base.get("script") or {}
        ports.append(
            PortFacts(
                port=number,
                proto=proto,
                state=state,
                reason=str(base.get("reason", "")),
                service=str(base.get("name", "")),
                method=service.get("method", "") if service is not None else "",
                confidence=_int(base.get("conf")),
                product=shorten(str(base.get("product", "")), 120),
                version=shorten(str(base.get("version", "")), 80),
                extrainfo=shorten(str(base.get("extrainfo", "")), 120),
                tunnel=service.get("tunnel", "") if service is not None else "",
                cpe=tuple(c.text or "" for c in service.findall("cpe")) if service is not None else (),
                scripts=tuple(sorted((str(k), shorten(str(v))) for k, v in scripts.items() if v is not None)),
                responses=parse_servicefp(service.get("servicefp", "")) if service is not None else (),
            )
        )
    return ParsedRun(
        ports=tuple(sorted(ports, key=lambda p: (p.proto, p.port))),
        closed=closed,
        filtered=filtered,
        timed_out=host.get("timedout") == "true",
        host_found=True,
        version=root.get("version", ""),
        error=error,
    )


def _host_key(host: ET.Element) -> str:
    """The key python-nmap files the host under: its IPv4 address, else its first address."""
    first = ""
    for address in host.findall("address"):
        if address.get("addrtype") == "ipv4":
            return address.get("addr", "")
        first = first or address.get("addr", "")
    return first


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


_FP_RESPONSE = re.compile(r'%r\(([^,()]+),([0-9A-Fa-f]+),"((?:[^"\\]|\\.)*)"\)', re.S)


def parse_servicefp(servicefp: str) -> tuple[Response, ...]:
    """The probe answers inside an nmap service fingerprint (``SF-Port…%r(GetRequest,22,"…")…``)."""
    if not servicefp:
        return ()
    text = servicefp.replace("\nSF:", "").replace("\n", "")
    out: list[Response] = []
    seen: set[str] = set()
    for match in _FP_RESPONSE.finditer(text):
        probe = match.group(1)
        if probe in seen:
            continue
        seen.add(probe)
        out.append(Response(probe, _unescape(match.group(3))[:MAX_RESPONSE_BYTES]))
    return tuple(out)


_ESCAPES = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0"}


def _unescape(text: str) -> bytes:
    """Decode nmap's escaping in fingerprints: \\xHH, \\r, \\n, \\t, \\0; any other \\c is c."""
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "x" and i + 4 <= len(text):
                try:
                    out.append(int(text[i + 2 : i + 4], 16))
                    i += 4
                    continue
                except ValueError:
                    pass
            out += _ESCAPES.get(nxt, nxt.encode("latin-1", "replace"))
            i += 2
            continue
        out += char.encode("latin-1", "replace")
        i += 1
    return bytes(out)


def printable(data: bytes, limit: int = 160) -> str:
    """``data`` as text for a report: printable ASCII kept, CR/LF as \\r \\n, other bytes as \\xHH."""
    out: list[str] = []
    for byte in data:
        if 32 <= byte < 127 and byte != 0x5C:
            out.append(chr(byte))
        elif byte == 0x5C:
            out.append("\\\\")
        elif byte == 13:
            out.append("\\r")
        elif byte == 10:
            out.append("\\n")
        else:
            out.append(f"\\x{byte:02x}")
    return shorten("".join(out), limit)


def describe_spec(ports: str | Sequence[int]) -> str:
    """ "top-1000", or a port list in nmap's compact form: "21-23,80,443"."""
    if isinstance(ports, str):
        return ports
    values = sorted(set(ports))
    ranges: list[str] = []
    start = prev = None
    for port in values:
        if start is None:
            start = prev = port
        elif port == (prev or 0) + 1:
            prev = port
        else:
            ranges.append(str(start) if start == prev else f"{start}-{prev}")
            start = prev = port
    if start is not None:
        ranges.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(ranges)


# The nmap runs of one host scan, by the name a reason gives them.
_PORT_SCAN = say("ports.run.port_scan", "port scan")
_SERVICE_DETECTION = say("ports.run.service_detection", "service detection")
_RISK_PROBES = say("ports.run.risk_probes", "risk probes")
_UDP_SCAN = say("ports.run.udp_scan", "UDP scan")


def _run_problem(run: NmapRun, what: Message) -> tuple[ScanStatus, Text, ParsedRun | None]:
    """How one run ended: (status, reason, parsed XML or None); ``what`` names the run."""
    if run.killed:
        stopped = say(
            "ports.run.stopped",
            "The {what} was stopped after {seconds:.0f} s (time budget).",
            what=what,
            seconds=run.elapsed,
        )
        return ScanStatus.TIMED_OUT, stopped, None
    try:
        parsed = parse_nmap_xml(run.xml)
    except NmapOutputError as exc:
        return ScanStatus.FAILED, _run_failed(what, _clause(run.stderr) or exc.reason), None
    if parsed.error or (run.returncode not in (0, None)):
        code = say("ports.nmap.exit_code", "nmap exited with code {code}", code=str(run.returncode))
        return ScanStatus.FAILED, _run_failed(what, _clause(parsed.error) or _clause(run.stderr) or code), parsed
    if parsed.timed_out:
        timed_out = say(
            "ports.run.host_timeout",
            "The {what} hit nmap's --host-timeout after {seconds:.0f} s.",
            what=what,
            seconds=run.elapsed,
        )
        return ScanStatus.TIMED_OUT, timed_out, parsed
    if not parsed.host_found:
        no_host = say("ports.nmap.no_host", "nmap reported no result for the host")
        return ScanStatus.FAILED, _run_failed(what, _clause(run.stderr) or no_host), parsed
    return ScanStatus.COMPLETE, "", parsed


def _run_failed(what: Message, detail: Text) -> Message:
    return say("ports.run.failed", "The {what} failed: {detail}.", what=what, detail=detail)


def _clause(text: Text) -> Text:
    """nmap's own words (data) inside our sentence: shortened, without a final period of their own."""
    if isinstance(text, Message):
        return text
    text = shorten(text, 250)
    return text[:-1] if text.endswith(".") else text


@dataclass(frozen=True)
class RawScan:
    """Everything one host scan produced, before interpretation: what the collector records and
    what the unit tests replay (``to_json``/``from_json``).

    Attributes:
        host, address, spec, method: as in ``PortScanFacts``.
        discovery: the TCP port discovery run.
        services: the ``-sV`` run on the open ports; None when it did not run.
        probes: the risk probes on the ports ``services`` left unnamed; None when it did not run.
        probes_skipped: why ``probes`` did not run although ports were left unnamed ("" otherwise; a
            message, plain text in recordings made before messages).
        udp: the opt-in UDP run; None when not asked for.
        banners: TCP port -> what it sent on connect.
        detection_skipped: why service detection did not run although ports were open ("" if it ran).
        scanned_at: when the scan started (UTC).
        duration: seconds the collection took.
    """

    host: str
    address: str
    spec: str
    method: str
    discovery: NmapRun
    services: NmapRun | None = None
    udp: NmapRun | None = None
    probes: NmapRun | None = None
    probes_skipped: Text = ""
    banners: Mapping[int, bytes] = field(default_factory=dict)
    detection_skipped: Text = ""
    scanned_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    duration: float = 0.0

    def to_json(self) -> dict[str, Any]:
        def run(value: NmapRun | None) -> dict[str, Any] | None:
            if value is None:
                return None
            return {
                "args": list(value.args),
                "xml": value.xml,
                "stderr": value.stderr,
                "returncode": value.returncode,
                "elapsed": round(value.elapsed, 3),
                "killed": value.killed,
            }

        return {
            "host": self.host,
            "address": self.address,
            "spec": self.spec,
            "method": self.method,
            "discovery": run(self.discovery),
            "services": run(self.services),
            "udp": run(self.udp),
            "probes": run(self.probes),
            "probes_skipped": _text_json(self.probes_skipped),
            "banners": {str(port): data.hex() for port, data in sorted(self.banners.items())},
            "detection_skipped": _text_json(self.detection_skipped),
            "scanned_at": self.scanned_at.isoformat(),
            "duration": round(self.duration, 3),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RawScan:
        def run(value: Mapping[str, Any] | None) -> NmapRun | None:
            if value is None:
                return None
            return NmapRun(
                args=tuple(value["args"]),
                xml=value["xml"],
                stderr=value.get("stderr", ""),
                returncode=value.get("returncode", 0),
                elapsed=float(value.get("elapsed", 0.0)),
                killed=bool(value.get("killed", False)),
            )

        discovery = run(doc["discovery"])
        assert discovery is not None
        return cls(
            host=doc["host"],
            address=doc["address"],
            spec=doc["spec"],
            method=doc.get("method", "connect"),
            discovery=discovery,
            services=run(doc.get("services")),
            udp=run(doc.get("udp")),
            probes=run(doc.get("probes")),
            probes_skipped=_text_from_json(doc.get("probes_skipped", "")),
            banners={int(port): bytes.fromhex(data) for port, data in doc.get("banners", {}).items()},
            detection_skipped=_text_from_json(doc.get("detection_skipped", "")),
            scanned_at=dt.datetime.fromisoformat(doc["scanned_at"]),
            duration=float(doc.get("duration", 0.0)),
        )


def _text_json(text: Text) -> Any:
    return {"message": text.to_json()} if isinstance(text, Message) else text


def _text_from_json(value: Any) -> Text:
    return Message.from_json(value["message"]) if isinstance(value, dict) else str(value)


def facts_from_raw(raw: RawScan) -> PortScanFacts:
    """Interpret the runs of one host scan. Pure.

    ``discovery`` lists the open TCP ports; ``services`` (``-sV`` on those ports) names what runs
    on them; ``udp`` is the opt-in SNMP scan; ``banners`` add what each port sent on connect.
    """
    runs = (raw.discovery, raw.services, raw.probes, raw.udp)
    base = PortScanFacts(
        host=raw.host,
        address=raw.address,
        spec=raw.spec,
        method=raw.method,
        udp=raw.udp is not None,
        commands=tuple(" ".join(("nmap", *run.args)) for run in runs if run is not None),
        scanned_at=raw.scanned_at,
        duration=raw.duration,
    )
    status, reason, parsed = _run_problem(raw.discovery, _PORT_SCAN)
    version = parsed.version if parsed else ""
    if status is not ScanStatus.COMPLETE or parsed is None:
        return replace(base, status=status, reason=_sentence(reason), nmap_version=version)
    tcp = {p.port: p for p in parsed.ports if p.proto == "tcp" and p.state == "open"}

    detection: Detection = Detection.NOT_NEEDED
    detection_reason: Text = ""
    if tcp:
        if raw.services is None:
            detection = Detection.SKIPPED
            detection_reason = raw.detection_skipped or say(
                "ports.detection.did_not_run", "Service detection did not run."
            )
        else:
            sv_status, sv_reason, sv_parsed = _run_problem(raw.services, _SERVICE_DETECTION)
            if sv_status is ScanStatus.COMPLETE and sv_parsed is not None:
                detection = Detection.COMPLETE
                for found in sv_parsed.ports:
                    if found.proto == "tcp" and found.port in tcp:
                        tcp[found.port] = found
                detection, detection_reason = _merge_probes(raw, tcp)
            else:
                detection = Detection.TIMED_OUT if sv_status is ScanStatus.TIMED_OUT else Detection.FAILED
                detection_reason = sv_reason
    opened = [replace(p, banner=raw.banners.get(p.port, b"")[:MAX_BANNER_BYTES]) for p in tcp.values()]

    udp_status: ScanStatus | None = None
    udp_reason: Text = ""
    if raw.udp is not None:
        udp_status, udp_reason, udp_parsed = _run_problem(raw.udp, _UDP_SCAN)
        if udp_status is ScanStatus.COMPLETE and udp_parsed is not None:
            opened += [p for p in udp_parsed.ports if p.proto == "udp" and "open" in p.state]
    return replace(
        base,
        ports=tuple(sorted(opened, key=lambda p: (p.proto, p.port))),
        closed=parsed.closed,
        filtered=parsed.filtered,
        detection=detection,
        detection_reason=_sentence(detection_reason),
        udp_status=udp_status,
        udp_reason=_sentence(udp_reason),
        nmap_version=version,
    )


def _merge_probes(raw: RawScan, tcp: dict[int, PortFacts]) -> tuple[Detection, Text]:
    """Fold the risk probes' findings into ``tcp``; how detection went once they are counted.

    A port they name takes their facts (keeping step 2's script output); a port they do not name
    keeps step 2's and gains their recorded answers, for our own signatures. When unnamed ports
    were left unprobed, detection is incomplete: a database there would go unseen.
    """
    if raw.probes is None:
        if raw.probes_skipped:
            return Detection.SKIPPED, raw.probes_skipped
        return Detection.COMPLETE, ""  # nothing was left unnamed (or a recording from before step 3)
    status, reason, parsed = _run_problem(raw.probes, _RISK_PROBES)
    if status is not ScanStatus.COMPLETE or parsed is None:
        return (Detection.TIMED_OUT if status is ScanStatus.TIMED_OUT else Detection.FAILED), reason
    for found in parsed.ports:
        before = tcp.get(found.port)
        if found.proto != "tcp" or before is None or before.identified:
            continue
        if found.identified:
            tcp[found.port] = replace(found, scripts=found.scripts or before.scripts)
        else:
            seen = {r.probe for r in before.responses}
            extra = tuple(r for r in found.responses if r.probe not in seen)
            tcp[found.port] = replace(before, responses=before.responses + extra)
    return Detection.COMPLETE, ""


def failed_scan(
    host: str,
    address: str | None,
    spec: str,
    method: str,
    status: ScanStatus,
    reason: Text,
    *,
    udp: bool = False,
    scanned_at: dt.datetime,
    duration: float,
) -> PortScanFacts:
    """Facts for a scan that could not run (no nmap, no address, no time)."""
    return PortScanFacts(
        host=host,
        address=address,
        spec=spec,
        method=method,
        udp=udp,
        status=status,
        reason=_sentence(reason),
        scanned_at=scanned_at,
        duration=duration,
    )


def _sentence(text: Text) -> Text:
    """A reason as a sentence: messages are said as sentences; plain text (recordings made before
    messages, facts built by hand) is capitalised and ended here."""
    if isinstance(text, Message):
        return text
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "…")) else text + "."


def port_list(ports: Iterable[PortFacts]) -> list[str]:
    return [p.label for p in ports]
