"""Benchmark: HubSpot list pages (100 records each) served by the sandbox on ONE core.

The server runs in its own process pinned to one CPU; the load generator runs in another process
pinned to a different CPU: `wrk` (Debian: `apt-get install -y wrk`) when installed, else a
multi-connection asyncio client in Python. Clients use keep-alive connections and rotate over every
page of the contact list (opaque `after` cursors collected first), after one warm-up pass.

    .venv/bin/python bench/sandbox_serve.py [--contacts 20000] [--duration 10] [--connections 16] [--client auto|wrk|python]

Target (docs/sandbox.md (part 2)): >= 2,000 pages/s of 100 records on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlsplit

import requests
from rich.console import Console
from rich.table import Table

console = Console(width=130)


def _server_main(conn: Connection, contacts: int, cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})
    from leadflow.sandbox.server import Limits, SandboxServer, ServerConfig
    from leadflow.sandbox.server.testworld import make_world

    world = make_world(contacts, activity=False)
    cfg = ServerConfig(limits=Limits.unlimited(), clock_ms=world.end_ms)
    server = SandboxServer(world, cfg)
    server.serve_forever(lambda s: conn.send((s.url, cfg.hubspot_token.reveal())))


def _page_paths(url: str, token: str) -> list[str]:
    paths, after = [], None
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    while True:
        path = "/crm/v3/objects/contacts?limit=100" + (f"&after={after}" if after else "")
        body = session.get(url + path, timeout=30).json()
        paths.append(path)
        nxt = body.get("paging", {}).get("next")
        if not nxt:
            return paths
        after = nxt["after"]


def _wrk(
    url: str, token: str, paths: list[str], duration: int, connections: int, cpu: int
) -> dict[str, float]:
    lua = "local paths = {" + ",".join(f'"{p}"' for p in paths) + "}\n"
    lua += "local i = 0\nrequest = function()\n  i = i + 1\n"
    lua += f'  return wrk.format("GET", paths[(i % #paths) + 1], {{["Authorization"] = "Bearer {token}"}})\nend\n'
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "pages.lua"
        script.write_text(lua)
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url]
        out = subprocess.run(
            cmd, capture_output=True, text=True, check=True, preexec_fn=lambda: os.sched_setaffinity(0, {cpu})
        ).stdout

    def latency(label: str) -> float:
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    reqs = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": reqs,
        "p50": latency("50%"),
        "p99": latency("99%"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


async def _py_load(
    host: str, port: int, token: str, paths: list[str], duration: int, connections: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def worker(k: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        i = k
        while time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(latencies) / elapsed,
        "p50": q[49] * 1000,
        "p99": q[98] * 1000,
        "errors": float(errors),
    }


def _py_client_main(
    conn: Connection,
    host: str,
    port: int,
    token: str,
    paths: list[str],
    duration: int,
    connections: int,
    cpu: int,
) -> None:
    os.sched_setaffinity(0, {cpu})
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    conn.send(asyncio.run(_py_load(host, port, token, paths, duration, connections)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--contacts", type=int, default=20_000, help="records in the list (pages = contacts / 100)"
    )
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    args = ap.parse_args()
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_server_main, args=(child, args.contacts, args.server_cpu), daemon=True)
    server.start()
    try:
        if not parent.poll(120):
            raise SystemExit("the sandbox server did not start")
        url, token = parent.recv()
        paths = _page_paths(url, token)  # also the warm-up pass: every page rendered and cached once
        _page_paths(url, token)
        console.print(
            f"server pid {server.pid} on CPU {args.server_cpu}, {len(paths)} pages of 100; client {client} on CPU {args.client_cpu}"
        )
        if client == "wrk":
            res = _wrk(url, token, paths, args.duration, args.connections, args.client_cpu)
        else:
            split = urlsplit(url)
            p_parent, p_child = ctx.Pipe()
            proc = ctx.Process(
                target=_py_client_main,
                args=(
                    p_child,
                    split.hostname,
                    split.port,
                    token,
                    paths,
                    args.duration,
                    args.connections,
                    args.client_cpu,
                ),
            )
            proc.start()
            res = p_parent.recv()
            proc.join()
    finally:
        server.terminate()
        server.join(10)
    table = Table(title="sandbox HubSpot list pages (limit=100), server pinned to one core")
    for col in (
        "client",
        "connections",
        "seconds",
        "req/s",
        "records/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "target",
    ):
        table.add_column(col, justify="right")
    table.add_row(
        client,
        str(args.connections),
        str(args.duration),
        f"{res['rps']:,.0f}",
        f"{res['rps'] * 100:,.0f}",
        f"{res['p50']:.2f}",
        f"{res['p99']:.2f}",
        f"{res['errors']:.0f}",
        "PASS (>= 2,000 req/s)" if res["rps"] >= 2000 else "BELOW 2,000 req/s",
    )
    console.print(table)


if __name__ == "__main__":
    main()
