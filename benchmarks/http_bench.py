"""Benchmark: what the http family costs per endpoint on loopback, sensitive-path probes included.

Starts N local HTTPS sites (plus their plain-HTTP twins) served by the pure-Python test server
(keep-alive, every security header, a page with resources, security.txt, 404s for the probes), then
measures:

1. the collector alone (``collect_http``, in this process) on one URL, repeated: seconds per URL,
   HTTP requests per URL, and TCP connections the server saw (one pool per host, keep-alive);
2. ``platscan scan --only http`` through the real CLI (engine, collector worker processes, 16 judges,
   SQLite) on the N https:// URLs, serially (``--concurrency 1``: the cost of one endpoint) and with
   the default concurrency.

Target (issue 4): <= 1 s per endpoint. Usage::

    .venv/bin/python benchmarks/http_bench.py [--endpoints 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from checks.http._collect import HttpTarget, collect_http
from scanner.demo.http_server import LOOPBACK, Handler, HttpSiteServer, Reply, Request
from scanner.demo.pki import LeafSpec, Pki
from scanner.registry import load_targets

HEADERS = (
    ("Server", "nginx"),
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
    ("Content-Security-Policy", "default-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
PAGE = (
    b'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Portal</title>'
    b'<link rel="stylesheet" href="/static/site.css"><script src="/static/app.js"></script></head>'
    b'<body><h1>Portal</h1><img src="/images/logo.png">' + b"<p>Noi dung.</p>" * 2000 + b"</body></html>"
)


def site(host: str, https_port: int, secure: bool) -> Handler:
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=180)).strftime("%Y-%m-%dT%H:%M:%SZ")
    security_txt = f"Contact: mailto:security@{host}\nExpires: {expires}\n".encode()

    def respond(request: Request) -> Reply:
        if not secure:
            return Reply(301, (("Location", f"https://{host}:{https_port}{request.target}"),))
        html = (*HEADERS, ("Content-Type", "text/html; charset=utf-8"))
        if request.method == "TRACE":
            return Reply(405, html)
        if request.method == "OPTIONS":
            return Reply(204, HEADERS)
        if request.path == "/":
            return Reply(200, (*html, ("Set-Cookie", "__Host-s=1; Path=/; Secure; HttpOnly; SameSite=Lax")), PAGE)
        if request.path == "/.well-known/security.txt":
            return Reply(200, (*HEADERS, ("Content-Type", "text/plain")), security_txt)
        return Reply(404, html, b"<h1>Not Found</h1>")

    return respond


@contextlib.contextmanager
def fleet(workdir: Path, count: int) -> Iterator[tuple[Pki, list[tuple[str, HttpSiteServer, HttpSiteServer]]]]:
    pki = Pki.create(workdir / "pki", organization="platscan http benchmark")
    hosts = [f"web{n}.bench.test" for n in range(count)]
    leaf = pki.issue("bench", LeafSpec(hosts=tuple(hosts)))
    chain = pki.write_chain(leaf)
    with contextlib.ExitStack() as stack:
        running = []
        for host in hosts:
            https = stack.enter_context(HttpSiteServer(lambda r: Reply(500), tls=(chain, leaf.key_path)))
            https.handler = site(host, https.port, True)
            plain = stack.enter_context(HttpSiteServer(site(host, https.port, False)))
            running.append((host, https, plain))
        yield pki, running


def write_targets(path: Path, pki: Pki, running: list[tuple[str, HttpSiteServer, HttpSiteServer]]) -> Path:
    lines = ["[scan]", "timeout = 5", "retries = 0", f'ca_bundle = "{pki.bundle_path}"']
    for host, https, plain in running:
        lines += [
            "",
            "[[platforms]]",
            f'id = "{host.split(".")[0]}"',
            f'name = "{host}"',
            # The http:// URL gives the https:// URL's plain twin its port; it redirects to the https:// URL,
            # so it is judged there (2 requests of its own).
            f'urls = ["https://{host}:{https.port}/", "http://{host}:{plain.port}/"]',
            f'resolve = {{ "{host}" = "{LOOPBACK}" }}',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fleet(Path(tmp), args.endpoints) as (pki, running):
        workdir = Path(tmp)
        targets = write_targets(workdir / "targets.toml", pki, running)
        loaded = load_targets(targets)

        # 1. The collector alone.
        host, https, _ = running[0]
        target = HttpTarget(f"https://{host}:{https.port}/", loaded.platform(host.split(".")[0]))
        times, requests, connections = [], [], []
        for _ in range(args.repeat):
            before = https.connections
            started = time.perf_counter()
            facts = collect_http(target, loaded.settings, 60)
            times.append(time.perf_counter() - started)
            requests.append(facts.requests)
            connections.append(https.connections - before)
        print(f"collector, one URL, {args.repeat} runs (in-process):")
        print(f"  median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms per URL")
        print(
            f"  {requests[0]} HTTP requests per URL ({len(facts.sensitive)} sensitive paths, "
            f"{len(facts.directories)} directory probes), over {statistics.median(connections):.0f} TLS connection(s)"
        )

        # 2. The real CLI: serial (cost of one endpoint) and concurrent.
        for concurrency in (1, None):
            db = workdir / f"bench-{concurrency}.db"
            command = [sys.executable, "-m", "scanner", "scan", str(targets), "--db", str(db), "--only", "http", "-q"]
            if concurrency:
                command += ["--concurrency", str(concurrency)]
            started = time.perf_counter()
            subprocess.run(command, check=True, timeout=600)
            elapsed = time.perf_counter() - started
            label = f"--concurrency {concurrency}" if concurrency else "default concurrency"
            print(
                f"platscan scan --only http, {args.endpoints} platforms ({args.endpoints} https:// + "
                f"{args.endpoints} http:// URLs), {label}: {elapsed:.2f} s total, "
                f"{elapsed / args.endpoints:.3f} s per https:// endpoint with its http:// twin "
                "(process start and SQLite included)"
            )
        print("target: <= 1 s per endpoint")


if __name__ == "__main__":
    main()
