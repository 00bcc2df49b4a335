"""Benchmark password auth in `subtrail serve`: what a login costs per request.

Usage:
    python bench/bench_serve_auth.py                     # 2,000 messages, 5 runs of 20 requests
    python bench/bench_serve_auth.py --runs 7 --requests 40 --iterations 480000

Starts the real `subtrail serve` on a free loopback port three times over one generated database
(bench_serve.generate): without a password, then with SUBTRAIL_PASSWORD_HASH set (a pbkdf2 hash
of `--iterations` rounds, 480,000 being what `datasette hash-password` makes). For each, times
`--requests` sequential keep-alive requests per run to a cheap URL (robots.txt) and to a table
page, and prints the median requests/s over `--runs` runs. Then, with auth on, times logged-in
requests while two clients keep sending a wrong password (the cost a stranger can impose).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD = "alice", "bench password, never logged"
URLS = {"robots.txt": "/robots.txt", "messages page": "/subtrail/messages"}


def start(path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    from bench.bench_serve import free_port

    port = free_port()
    cmd = [sys.executable, "-c", "from ingest.cli import cli; cli()", "serve", "--db", str(path)]
    cmd += ["--port", str(port)]
    server = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/robots.txt", timeout=30)
            return server, base
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("subtrail serve did not start")


def rate(client: httpx.Client, url: str, requests: int) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        response = client.get(url)
        response.read()
        assert response.status_code == 200, response.status_code
    return requests / (time.perf_counter() - started)


def measure(base: str, auth: tuple[str, str] | None, runs: int, requests: int) -> dict[str, float]:
    out = {}
    with httpx.Client(timeout=120, auth=auth) as client:
        for name, path in URLS.items():
            client.get(base + path).read()  # warm-up
            out[name] = statistics.median(rate(client, base + path, requests) for _ in range(runs))
    return out


def under_attack(base: str, requests: int) -> float:
    """Median ms of a logged-in robots.txt while two strangers keep trying wrong passwords."""
    stop = threading.Event()

    def stranger(n: int) -> None:
        with httpx.Client(timeout=120, auth=(USER, f"wrong {n}")) as client:
            i = 0
            while not stop.is_set():
                i += 1
                client.auth = (USER, f"wrong {n}-{i}")
                client.get(f"{base}/robots.txt")

    threads = [threading.Thread(target=stranger, args=(n,), daemon=True) for n in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    times = []
    with httpx.Client(timeout=120, auth=(USER, PASSWORD)) as client:
        client.get(f"{base}/robots.txt")
        for _ in range(requests):
            t0 = time.perf_counter()
            client.get(f"{base}/robots.txt").read()
            times.append((time.perf_counter() - t0) * 1000)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=480_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere
    from datasette_auth_passwords.utils import hash_password

    from bench.bench_serve import generate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        generate(path, args.messages)
        started = time.perf_counter()
        password_hash = hash_password(PASSWORD, iterations=args.iterations)
        kdf_ms = (time.perf_counter() - started) * 1000
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{args.messages:,} messages; pbkdf2 {args.iterations:,} rounds = {kdf_ms:.0f} ms; load {load}")
        print(f"median requests/s over {args.runs} runs of {args.requests} sequential requests")
        results = {}
        auth_env = {"SUBTRAIL_PASSWORD_HASH": password_hash, "SUBTRAIL_USERNAME": USER}
        for label, env, auth in (("no auth", {}, None), ("basic auth", auth_env, (USER, PASSWORD))):
            server, base = start(path, env)
            try:
                results[label] = measure(base, auth, args.runs, args.requests)
                if auth:
                    attacked = under_attack(base, args.requests)
            finally:
                server.terminate()
                server.wait(timeout=30)
        print(f"{'page':20} {'no auth':>10} {'basic auth':>11}")
        for name in URLS:
            print(f"{name:20} {results['no auth'][name]:10.1f} {results['basic auth'][name]:11.1f}")
        print(f"logged-in robots.txt while 2 clients send wrong passwords: median {attacked:.0f} ms")


if __name__ == "__main__":
    main()
