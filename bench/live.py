#!/usr/bin/env python3
"""The subscription benchmark: many WebSocket subscribers of one program,
changes made through the API, and how long each change takes to reach every
subscriber, what a connection costs in memory, and whether any event is lost.
Method and options: bench/README.md.

    python3 -m venv target/bench-venv && target/bench-venv/bin/pip install 'websockets>=15,<16'
    target/bench-venv/bin/python bench/live.py                       # SQLite and PostgreSQL, 1 process
    target/bench-venv/bin/python bench/live.py --backends postgres --processes 1,2 --subscribers 2000

Prints a Markdown table and writes the raw figures to target/bench/live-<time>.json.
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.asyncio.client import connect

from api import ADMIN_URL, BINARY, ROOT, SECRET, graphql, run, wait_ready

FIRST_PORT = 18500
WORKSPACE = "bench-live"

SUBSCRIPTION = "subscription($id: ID!) { updateModeChanged(miniProgramId: $id) { mode revision } }"


def token(subject, role):
    """An HS256 token, signed here so that each subscriber has its own subject."""
    def part(value):
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    now = int(time.time())
    body = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': subject, 'workspace_id': WORKSPACE, 'roles': [role], 'iat': now, 'exp': now + 86400})}"
    signature = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def rss_kib(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
        text = answer.read().decode()
    found = re.search(rf"^{name} (\d+)$", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


class Service:
    """A fresh database with `processes` servers on it."""

    def __init__(self, backend, processes, work):
        self.backend = backend
        if backend == "postgres":
            run("psql", ADMIN_URL + "/postgres", "-qc", "DROP DATABASE IF EXISTS bench_live WITH (FORCE)")
            run("psql", ADMIN_URL + "/postgres", "-qc", "CREATE DATABASE bench_live")
            url = f"{ADMIN_URL}/bench_live"
        else:
            url = f"sqlite://{work}/live.db"
        self.env = dict(os.environ, JWT_SECRET=SECRET, DATABASE_URL=url, RUST_LOG="warn",
                        RATE_LIMIT_MUTATIONS_PER_MINUTE="0")
        run(str(BINARY), "migrate", env=self.env)
        self.servers = []
        for index in range(processes):
            port = FIRST_PORT + index
            server = subprocess.Popen([str(BINARY), "serve"], env=dict(self.env, LISTEN_ADDR=f"127.0.0.1:{port}"),
                                      stdout=subprocess.DEVNULL, stderr=open(f"{work}/server-{port}.log", "w"))
            wait_ready(port)
            self.servers.append((server, port))
        self.admin = token("bench-admin", "WORKSPACE_ADMIN")

    def graphql(self, query, variables):
        return graphql(self.servers[0][1], self.admin, query, variables)

    def stop(self):
        for server, _ in self.servers:
            server.terminate()
            server.wait()
        if self.backend == "postgres":
            run("psql", ADMIN_URL + "/postgres", "-qc", "DROP DATABASE IF EXISTS bench_live WITH (FORCE)")


class Subscriber:
    def __init__(self, index, port, program):
        self.index, self.port, self.program = index, port, program
        self.received = {}  # revision -> monotonic time of arrival

    async def open(self):
        self.socket = await connect(f"ws://127.0.0.1:{self.port}/graphql", subprotocols=["graphql-transport-ws"],
                                    ping_interval=None, max_queue=None)
        await self.socket.send(json.dumps({"type": "connection_init",
                                           "payload": {"Authorization": f"Bearer {token(f'viewer-{self.index}', 'VIEWER')}"}}))
        ack = json.loads(await self.socket.recv())
        assert ack["type"] == "connection_ack", ack
        await self.socket.send(json.dumps({"id": "1", "type": "subscribe",
                                           "payload": {"query": SUBSCRIPTION, "variables": {"id": self.program}}}))

    async def listen(self):
        async for message in self.socket:
            event = json.loads(message)
            if event.get("type") == "next":
                change = event["payload"]["data"]["updateModeChanged"]
                self.received[change["revision"]] = time.monotonic()
            elif event.get("type") in ("error", "complete"):
                raise RuntimeError(f"subscriber {self.index}: {event}")


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def measure(backend, processes, subscribers, changes, work):
    service = Service(backend, processes, work)
    try:
        program = service.graphql(
            "mutation { createMiniProgram(input: { name: \"Live\", type: DSL }) { miniProgram { id } } }", {}
        )["createMiniProgram"]["miniProgram"]["id"]
        before = sum(rss_kib(server.pid) for server, _ in service.servers)
        ports = [port for _, port in service.servers]
        crowd = [Subscriber(i, ports[i % len(ports)], program) for i in range(subscribers)]
        started = time.monotonic()
        for batch in range(0, subscribers, 100):
            await asyncio.gather(*(s.open() for s in crowd[batch:batch + 100]))
        listening = [asyncio.create_task(s.listen()) for s in crowd]
        while sum(metric(port, "update_mode_live_subscriptions") for port in ports) < subscribers:
            await asyncio.sleep(0.05)
        connect_seconds = time.monotonic() - started
        after = sum(rss_kib(server.pid) for server, _ in service.servers)

        mutation_ms, delivery_ms, lost = [], [], 0
        modes = ["ASYNC", "SYNC"]
        for change in range(changes):
            sent = time.monotonic()
            answer = await asyncio.to_thread(
                service.graphql,
                "mutation($input: UpdateModeInput!) { updateMode(input: $input) { miniProgram { revision } } }",
                {"input": {"miniProgramId": program, "mode": modes[change % 2]}})
            acknowledged = time.monotonic()
            mutation_ms.append((acknowledged - sent) * 1000)
            revision = answer["updateMode"]["miniProgram"]["revision"]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(revision not in s.received for s in crowd):
                await asyncio.sleep(0.005)
            for s in crowd:
                if revision in s.received:
                    delivery_ms.append((s.received[revision] - sent) * 1000)
                else:
                    lost += 1
            await asyncio.sleep(0.1)
        for task in listening:
            task.cancel()
        await asyncio.gather(*(s.socket.close() for s in crowd), return_exceptions=True)
        return {
            "backend": backend, "processes": processes, "subscribers": subscribers, "changes": changes,
            "connect_seconds": round(connect_seconds, 2),
            "rss_before_mib": round(before / 1024, 1), "rss_after_mib": round(after / 1024, 1),
            "kib_per_subscriber": round((after - before) / subscribers, 1),
            "mutation_p50_ms": round(statistics.median(mutation_ms), 1),
            "delivery_p50_ms": round(percentile(delivery_ms, 0.5), 1),
            "delivery_p99_ms": round(percentile(delivery_ms, 0.99), 1),
            "delivery_max_ms": round(max(delivery_ms), 1),
            "lost": lost,
        }
    finally:
        service.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--processes", default="1")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=30)
    args = parser.parse_args()
    run("cargo", "build", "--release", "--quiet", cwd=ROOT)
    results = []
    with tempfile.TemporaryDirectory() as work:
        for backend in args.backends.split(","):
            for processes in map(int, args.processes.split(",")):
                if backend == "sqlite" and processes > 1:
                    continue
                result = asyncio.run(measure(backend, processes, args.subscribers, args.changes, work))
                print(json.dumps(result), file=sys.stderr)
                results.append(result)
    out = ROOT / "target" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"live-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))
    print("| backend | processes | subscribers | KiB per subscriber | mutation p50 | delivery p50 | p99 | max | lost |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['backend']} | {r['processes']} | {r['subscribers']} | {r['kib_per_subscriber']} | "
              f"{r['mutation_p50_ms']} ms | {r['delivery_p50_ms']} ms | {r['delivery_p99_ms']} ms | "
              f"{r['delivery_max_ms']} ms | {r['lost']} |")


if __name__ == "__main__":
    main()
