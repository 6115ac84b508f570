"""httpx against aiohttp fetching N bodies from a loopback server at one concurrency: requests/s and
the client's CPU seconds (the choice of client for URL inputs, docs/experiments.md).

    .venv/bin/python benchmarks/http_clients.py --n 3000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER = Path(__file__).resolve().parents[1] / "tests" / "url_server.py"


async def with_httpx(urls: list[str], concurrency: int) -> int:
    import httpx

    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency), timeout=60) as client:
        async def one(url: str) -> int:
            async with gate:
                return len((await client.get(url)).content)
        return sum(await asyncio.gather(*map(one, urls)))


async def with_aiohttp(urls: list[str], concurrency: int) -> int:
    import aiohttp

    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def one(url: str) -> int:
            async with gate, session.get(url) as response:
                return len(await response.read())
        return sum(await asyncio.gather(*map(one, urls)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--body-bytes", type=int, default=20_000)
    parser.add_argument("--port", type=int, default=18741)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp, "body")
        body.write_bytes(b"x" * args.body_bytes)
        routes = Path(tmp, "routes.json")
        routes.write_text(json.dumps({f"/{i}": {"file": str(body)} for i in range(args.n)}))
        server = subprocess.Popen([sys.executable, str(SERVER), str(args.port), str(routes)])
        try:
            time.sleep(1.0)
            urls = [f"http://127.0.0.1:{args.port}/{i}" for i in range(args.n)]
            for name, client in (("httpx", with_httpx), ("aiohttp", with_aiohttp)):
                wall, cpu = time.perf_counter(), time.process_time()
                total = asyncio.run(client(urls, args.concurrency))
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                print(f"{name:8s} {args.n / wall:8.0f} requests/s  client CPU {cpu:6.2f} s  ({total} bytes)")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
