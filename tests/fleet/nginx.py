"""Run ONE nginx process with many server blocks, each on its own free 127.0.0.1 port.

Usage::

    sites = [NginxSite("good", "good.fleet.test", ("ssl_certificate /x/chain.pem", ...))]
    with NginxFleet(tmp_path / "nginx", sites) as fleet:
        port = fleet.ports["good"]

nginx runs in the foreground (``-g 'daemon off;'``) with its prefix, pid file, logs and temp paths
in the work directory, so it needs no root and touches nothing outside it (as root it runs its
worker as root too: the key files are 0600). Ports are picked by binding port 0 and closing; when
nginx loses the race for one ("Address already in use") it is restarted on fresh ports.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

NGINX = "/usr/sbin/nginx"
LOOPBACK = "127.0.0.1"

_LOG_AND_FOREGROUND = ("-e", "logs/error.log", "-g", "daemon off;")
_PAGE = "<!doctype html><html lang=en><head><title>platscan test endpoint</title></head><body>ok</body></html>"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def nginx_available(binary: str = NGINX) -> bool:
    return Path(binary).is_file() and os.access(binary, os.X_OK)


@dataclass(frozen=True)
class NginxSite:
    """One server block.

    Attributes:
        name: key in ``NginxFleet.ports``; also the log file stem.
        server_name: the block's ``server_name``.
        directives: directives inside the block, without the trailing ``;`` (e.g.
            ``"ssl_protocols TLSv1.2 TLSv1.3"``). Set ``ssl_protocols`` explicitly: nginx 1.22's
            default omits TLS 1.3.
        ssl: listen with ``ssl``.
        body: the page served at ``/``.
    """

    name: str
    server_name: str
    directives: tuple[str, ...] = ()
    ssl: bool = True
    body: str = _PAGE


class NginxError(RuntimeError):
    """nginx did not start; the message carries the tail of its error log."""


class NginxFleet:
    """One nginx master with a server block per :class:`NginxSite`; a context manager."""

    def __init__(
        self,
        workdir: Path,
        sites: Sequence[NginxSite],
        *,
        binary: str = NGINX,
        startup_timeout: float = 5.0,
        attempts: int = 4,
    ) -> None:
        names = [site.name for site in sites]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate site names: {names}")
        self.workdir = workdir
        self.sites = tuple(sites)
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.attempts = attempts
        self._ports: dict[str, int] = {}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def ports(self) -> Mapping[str, int]:
        return dict(self._ports)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def error_log(self) -> Path:
        return self.workdir / "logs" / "error.log"

    def start(self) -> Self:
        if self._process is not None:
            raise RuntimeError("already started")
        if not nginx_available(self.binary):
            raise NginxError(f"nginx not found at {self.binary}")
        for sub in ("logs", "temp", "html"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        last = ""
        for _ in range(self.attempts):
            ports = {site.name: free_port() for site in self.sites}
            if len(set(ports.values())) != len(ports):
                continue
            self._ports = ports
            self._write_config()
            with contextlib.suppress(FileNotFoundError):
                self.error_log.unlink()
            self._process = subprocess.Popen(
                [self.binary, "-p", f"{self.workdir}/", "-c", "nginx.conf", *_LOG_AND_FOREGROUND],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                if self._wait_ready():
                    return self
            except BaseException:
                self.stop()
                raise
            last = self._log_tail()
            self.stop()
            if "Address already in use" not in last:
                break
        raise NginxError(f"nginx did not start:\n{last}")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop nginx (SIGTERM, then SIGKILL) and check that the master and its workers are gone."""
        process, self._process = self._process, None
        if process is None:
            return
        workers = _children(process.pid)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if process.stderr is not None:
            process.stderr.close()
        deadline = time.monotonic() + timeout
        while any(_alive(pid) for pid in workers):
            if time.monotonic() > deadline:
                for pid in workers:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                raise NginxError(f"nginx workers {workers} outlived their master")
            time.sleep(0.01)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # internals ------------------------------------------------------------------------------

    def _wait_ready(self) -> bool:
        """True once every port accepts; False when nginx exited (a failed start)."""
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        pending = set(self._ports.values())
        while pending or not _children(self._process.pid):
            if self._process.poll() is not None:
                return False
            for port in sorted(pending):
                with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.2):
                    pending.discard(port)
            if time.monotonic() > deadline:
                raise NginxError(f"nginx not ready (ports {sorted(pending)} closed) after {self.startup_timeout} s")
            time.sleep(0.005)
        return True

    def _log_tail(self) -> str:
        parts = []
        if self._process is not None and self._process.stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                parts.append(self._process.stderr.read().decode(errors="replace"))
        with contextlib.suppress(OSError):
            parts.append(self.error_log.read_text(errors="replace"))
        return "\n".join(parts)[-4000:]

    def _write_config(self) -> None:
        lines = [
            *(["user root;"] if os.geteuid() == 0 else []),
            "worker_processes 1;",
            "pid logs/nginx.pid;",
            "error_log logs/error.log warn;",
            "events { worker_connections 1024; }",
            "http {",
            "    access_log off;",
            "    server_tokens off;",
            "    default_type text/html;",
            "    client_body_temp_path temp/body;",
            "    proxy_temp_path temp/proxy;",
            "    fastcgi_temp_path temp/fastcgi;",
            "    uwsgi_temp_path temp/uwsgi;",
            "    scgi_temp_path temp/scgi;",
        ]
        for site in self.sites:
            page = self.workdir / "html" / f"{site.name}.html"
            page.write_text(site.body, encoding="utf-8")
            listen = f"{LOOPBACK}:{self._ports[site.name]}" + (" ssl" if site.ssl else "")
            lines += [
                "    server {",
                f"        listen {listen};",
                f"        server_name {site.server_name};",
                *(f"        {d.rstrip().rstrip(';')};" for d in site.directives),
                "        location = / {",
                f"            root {self.workdir / 'html'};",
                f"            try_files /{site.name}.html =404;",
                "        }",
                "        location / { return 404; }",
                "    }",
            ]
        lines.append("}")
        (self.workdir / "nginx.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
