"""Benchmark: platscan's TLS family against sslyze's own command line, on the same local endpoints.

Starts N TLS endpoints on 127.0.0.1 (pure-Python servers with certificates from a test CA), then
times, in the same run and alternating:

- sslyze's CLI with the scan commands platscan's TLS family runs (certinfo with the test CA,
  all six protocol versions, compression, fallback SCSV, Heartbleed, CCS injection, ROBOT,
  renegotiation), all endpoints in one sslyze process;
- ``platscan scan --only tls`` on a targets file for the same endpoints (scan, judge 28 checks,
  store every result in SQLite).

and prints both times and their ratio (target: platscan <= 1.3x sslyze). Then it scans M endpoints
(default 100) with platscan while sampling the memory of its whole process tree, and prints the
peak (target: <= 300 MB).

Usage: .venv/bin/python benchmarks/tls_bench.py [--endpoints 20] [--memory-endpoints 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from scanner.demo.pki import LeafSpec, Pki
from scanner.demo.tls_server import TlsServer, TlsServerConfig

MODERN = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"
SSLYZE_COMMANDS = [
    "--certinfo",
    "--sslv2",
    "--sslv3",
    "--tlsv1",
    "--tlsv1_1",
    "--tlsv1_2",
    "--tlsv1_3",
    "--compression",
    "--fallback",
    "--heartbleed",
    "--openssl_ccs",
    "--robot",
    "--reneg",
]


@contextlib.contextmanager
def endpoints(workdir: Path, count: int) -> Iterator[tuple[Pki, list[tuple[str, int]]]]:
    pki = Pki.create(workdir / "pki", organization="platscan benchmark")
    with contextlib.ExitStack() as stack:
        running = []
        for index in range(count):
            host = f"bench{index}.bench.test"
            leaf = pki.issue(f"bench{index}", LeafSpec(hosts=(host,)))
            config = TlsServerConfig(cert_chain=pki.write_chain(leaf), key=leaf.key_path, ciphers=MODERN)
            running.append((host, stack.enter_context(TlsServer(config)).port))
        yield pki, running


def write_targets(path: Path, pki: Pki, running: list[tuple[str, int]]) -> Path:
    # Every endpoint is on 127.0.0.1 here; in a real fleet they are different servers, so the
    # per-server politeness limit must not serialise them.
    lines = ["[scan]", "timeout = 5", "per_host = 32", f'ca_bundle = "{pki.bundle_path}"']
    for host, port in running:
        lines += [
            "",
            "[[platforms]]",
            f'id = "{host.split(".")[0]}"',
            f'name = "{host}"',
            f'urls = ["https://{host}:{port}/"]',
            f'resolve = {{ "{host}" = "127.0.0.1" }}',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def time_command(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def process_tree(root: int) -> dict[int, int]:
    """``root`` and its descendants: pid -> depth below ``root`` (0 for ``root``)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    depths = {root: 0}
    todo = [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            depths[child] = depths[pid] + 1
            todo.append(child)
    return depths


def process_memory(pid: int) -> tuple[int, int]:
    """RSS and PSS of one process (bytes); zeros when it has gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, pss


def tree_memory(root: int) -> tuple[int, int, int]:
    """RSS and PSS summed over ``root`` and its descendants, and the RSS of ``root`` alone (bytes)."""
    memory = {pid: process_memory(pid) for pid in process_tree(root)}
    return sum(rss for rss, _ in memory.values()), sum(pss for _, pss in memory.values()), memory[root][0]


def peak_memory(command: list[str], measure: Callable[[int], Sequence[int]] = tree_memory) -> tuple[float, list[int]]:
    """Run ``command`` sampling its process tree every 50 ms: seconds, and the peak of each number
    ``measure(pid)`` gives (by default tree_memory()'s)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peaks = list(measure(proc.pid))
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peaks[:] = [max(peak, value) for peak, value in zip(peaks, measure(proc.pid), strict=True)]
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    proc.wait()
    done.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{command} exited {proc.returncode}")
    return time.perf_counter() - started, peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--memory-endpoints", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, help="platscan --concurrency (default: its own)")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="platscan-bench-") as tmp:
        work = Path(tmp)
        with endpoints(work, args.endpoints) as (pki, running):
            targets = write_targets(work / "targets.toml", pki, running)
            sslyze = [python, "-m", "sslyze", "--quiet", *SSLYZE_COMMANDS, f"--certinfo_ca_file={pki.bundle_path}"]
            sslyze += [f"{host}:{port}{{127.0.0.1}}" for host, port in running]
            platscan = [python, "-m", "scanner", "scan", str(targets), "--only", "tls", "--quiet"]
            if args.concurrency:
                platscan += ["--concurrency", str(args.concurrency)]
            sslyze_times, platscan_times = [], []
            for attempt in range(args.repeat):
                sslyze_times.append(time_command(sslyze))
                platscan_times.append(time_command([*platscan, "--db", str(work / f"bench{attempt}.db")]))
            s, p = statistics.median(sslyze_times), statistics.median(platscan_times)
            print(f"TLS scan of {args.endpoints} local endpoints (median of {args.repeat}):")
            print(f"  sslyze CLI          {s:6.2f} s   runs: {', '.join(f'{t:.2f}' for t in sslyze_times)}")
            print(f"  platscan --only tls {p:6.2f} s   runs: {', '.join(f'{t:.2f}' for t in platscan_times)}")
            print(f"  ratio platscan/sslyze = {p / s:.2f}  (target <= 1.30)")
        if args.memory_endpoints:
            with endpoints(work / "mem", args.memory_endpoints) as (pki, running):
                targets = write_targets(work / "mem-targets.toml", pki, running)
                command = [python, "-m", "scanner", "scan", str(targets), "--only", "tls", "--quiet"]
                command += ["--db", str(work / "mem.db")]
                if args.concurrency:
                    command += ["--concurrency", str(args.concurrency)]
                seconds, (rss, pss, main_rss) = peak_memory(command)
                print(f"platscan scan of {args.memory_endpoints} endpoints: {seconds:.1f} s; peak memory:")
                print(f"  whole process tree, PSS (shared pages counted once)  {pss / 2**20:5.0f} MB  (target <= 300)")
                print(f"  whole process tree, RSS summed per process           {rss / 2**20:5.0f} MB")
                print(f"  main process RSS                                      {main_rss / 2**20:5.0f} MB")


if __name__ == "__main__":
    main()
