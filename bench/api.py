#!/usr/bin/env python3
"""The API benchmark: update-mode's GraphQL queries and mutations under wrk,
beside the database's and HTTP's ceilings and two peer servers, at several
dataset sizes. Method and options: bench/README.md.

    bench/api.py                                   # PostgreSQL, 1k programs
    bench/api.py --sizes 1000,10000,100000 --backends postgres,sqlite
    bench/api.py --peers --processes 1,2,3

Prints a Markdown table of medians and writes every run's raw figures to
target/bench/api-<time>.json.
"""

import argparse
import http.server
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "update-mode"
SECRET = "bench-secret-bench-secret-bench-secret-0123"
ADMIN_URL = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
POOL = 10
FIRST_PORT = 18400


def run(*command, **options):
    return subprocess.run(command, check=True, text=True, capture_output=True, **options).stdout


class Receiver(http.server.BaseHTTPRequestHandler):
    """Accepts webhook deliveries (204) for the integration of the mutation runs."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class ReceiverServer(http.server.ThreadingHTTPServer):
    # The dispatcher opens up to 32 connections at once; the default backlog
    # of 5 refused some, and refused deliveries wait out their retry backoff.
    request_queue_size = 256


def start_receiver():
    server = ReceiverServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/hooks"


def wait_ready(port, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.002)
    raise RuntimeError(f"nothing ready on port {port}")


def graphql(port, token, query, variables=None):
    """One GraphQL request; its data, or an error carrying the answer."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as answer:
        body = json.load(answer)
    if "errors" in body:
        raise RuntimeError(body)
    return body["data"]


class Peak:
    """Samples a process's resident memory every 100 ms while a load runs."""

    def __init__(self, pids):
        self.pids, self.peak, self.running = pids, 0, True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        while self.running:
            total = 0
            for pid in self.pids:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
                except (OSError, AttributeError):
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak // 1024


class Setup:
    """One database of one size, seeded, with update-mode serving it."""

    def __init__(self, backend, size, work):
        self.backend, self.size, self.work = backend, size, work
        self.servers = []
        if backend == "postgres":
            self.name = f"bench_api_{size}"
            run("psql", ADMIN_URL + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            run("psql", ADMIN_URL + "/postgres", "-qc", f"CREATE DATABASE {self.name}")
            self.url = f"{ADMIN_URL}/{self.name}"
        else:
            self.url = f"sqlite://{work}/bench-{size}.db"
        self.env = dict(os.environ, JWT_SECRET=SECRET, DATABASE_URL=self.url, RUST_LOG="warn",
                        DATABASE_POOL_SIZE=str(POOL), RATE_LIMIT_MUTATIONS_PER_MINUTE="0",
                        WEBHOOK_ALLOW_PRIVATE_TARGETS="true")
        run(str(BINARY), "migrate", env=self.env)
        self.ids = f"{work}/ids-{size}.txt"
        started = time.monotonic()
        run(sys.executable, str(ROOT / "bench" / "seed.py"), self.url, str(size), self.ids)
        # Statistics and the visibility map as a live database has them, so
        # that the first start does not plan against an unanalyzed COPY.
        if backend == "postgres":
            run("psql", self.url, "-qc", "VACUUM ANALYZE")
        self.seed_seconds = time.monotonic() - started
        self.token = run(str(BINARY), "token", "--workspace", "bench-0", "--role", "WORKSPACE_ADMIN",
                         "--ttl", "1d", env=self.env).strip()

    def start(self, processes=1):
        """Starts `processes` servers; returns the first one's start-to-ready time in ms."""
        self.stop()
        ready_ms = None
        for index in range(processes):
            port = FIRST_PORT + index
            started = time.monotonic()
            server = subprocess.Popen([str(BINARY), "serve"], env=dict(self.env, LISTEN_ADDR=f"127.0.0.1:{port}"),
                                      stdout=subprocess.DEVNULL, stderr=open(f"{self.work}/server-{port}.log", "w"))
            wait_ready(port)
            ready_ms = ready_ms or (time.monotonic() - started) * 1000
            self.servers.append((server, port))
        return ready_ms

    def graphql(self, query, variables=None):
        return graphql(self.servers[0][1], self.token, query, variables)

    def stop(self):
        for server, _ in self.servers:
            server.terminate()
            server.wait()
        self.servers = []

    def drop(self):
        self.stop()
        if self.backend == "postgres":
            run("psql", ADMIN_URL + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def drain(port, timeout=120.0):
    """Waits until the server has no webhook delivery pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
            metrics = answer.read().decode()
        pending = re.search(r'update_mode_hook_deliveries\{status="PENDING"\} (\d+)', metrics)
        if pending is None or pending.group(1) == "0":
            return
        time.sleep(0.2)


def wrk(url, seconds, connections, env=None, script="graphql.lua"):
    output = run("wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                 "-s", str(ROOT / "bench" / script), url, env=dict(os.environ, **(env or {})))
    for failed in (line for line in output.splitlines() if line.startswith("FAILED")):
        print(f"   {failed}", flush=True)
    line = next(line for line in output.splitlines() if line.startswith("RESULT"))
    figures = dict(field.split("=") for field in line.split()[1:])
    # graphql.lua says which socket errors they were (wrk times a request
    # out after 2 s) and the slowest answer.
    kinds = {kind: figures[kind] for kind in ["connect", "read", "write", "status", "timeout"]
             if figures.get(kind, "0") != "0"}
    if kinds:
        print(f"   socket errors {kinds}, slowest answer {int(figures['max_us']) / 1000} ms", flush=True)
    return {"rps": float(figures["rps"]), "p50_ms": int(figures["p50_us"]) / 1000,
            "p99_ms": int(figures["p99_us"]) / 1000,
            "void": int(figures.get("failures", figures.get("non200", 0))) + int(figures["socket_errors"])}


def wrk_spread(ports, seconds, connections, env):
    """One wrk per process, run together, each with its share of the connections."""
    share = max(1, connections // len(ports))
    results, threads = [None] * len(ports), []
    for index, port in enumerate(ports):
        def one(index=index, port=port):
            results[index] = wrk(f"http://127.0.0.1:{port}/graphql", seconds, share, env)
        threads.append(threading.Thread(target=one))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"rps": sum(r["rps"] for r in results), "p50_ms": max(r["p50_ms"] for r in results),
            "p99_ms": max(r["p99_ms"] for r in results), "void": sum(r["void"] for r in results)}


def pgbench(url, script, seconds, variables):
    defines = [arg for name, value in variables.items() for arg in ("-D", f"{name}={value}")]
    output = run("pgbench", "-n", "-M", "prepared", "-c", str(POOL), "-j", "1", "-T", str(seconds),
                 "-r", "-f", str(ROOT / "bench" / "pgbench" / script), *defines, url)
    tps = float(re.search(r"tps = ([\d.]+)", output).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", output).group(1))
    return {"rps": tps, "p50_ms": latency, "p99_ms": None, "void": 0}


def pgbench_variables(setup):
    integration = run("psql", setup.url, "-Atc", "SELECT id FROM release_integrations LIMIT 1").strip()
    # pgbench passes each value as a statement parameter, as it is: the
    # workspace listed and, as the server binds them, the page's limits
    # (20 programs and 5 versions each, and one more of each).
    return {"ws": "bench-0", "n": "21", "per": "6", "editable": str(setup.size // 2),
            "integration": integration}


def cpu_seconds(pids):
    """User + system CPU time of the processes and all their descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, seen, todo = 0, set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            pass
    return total / ticks


def quote(text):
    return "'" + text.replace("'", "''") + "'"


def median(runs, key):
    values = [run[key] for run in runs if run[key] is not None]
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000")
    parser.add_argument("--backends", default="postgres")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--peers", action="store_true", help="PostGraphile 5 and Apollo (PostgreSQL only)")
    parser.add_argument("--processes", default="", help="e.g. 1,2,3: the list page over N processes")
    parser.add_argument("--loads", default="list,program,update,mixed")
    args = parser.parse_args()
    for tool in ["wrk", "pgbench", "psql"]:
        if subprocess.run(["which", tool], capture_output=True).returncode:
            sys.exit(f"{tool} is needed (apt-get install -y wrk postgresql-client)")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    receiver = start_receiver()
    loads = args.loads.split(",")
    results = []
    with tempfile.TemporaryDirectory() as work:
        for backend in args.backends.split(","):
            for size in [int(size) for size in args.sizes.split(",")]:
                results.extend(measure(backend, size, work, receiver, args, loads))
    out = ROOT / "target" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"api-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    report(results)
    print(f"\nraw figures: {path}")


def measure(backend, size, work, receiver, args, loads):
    setup = Setup(backend, size, work)
    print(f"== {backend}, {size} programs (seeded in {setup.seed_seconds:.1f} s)", flush=True)
    results = []
    try:
        ready = [setup.start() for _ in range(3)]
        results.append({"backend": backend, "size": size, "load": "start to ready", "ready_ms": ready})
        setup.graphql("mutation($url: String!) { registerReleaseIntegration(input: { name: \"bench\", url: $url, "
                      "events: [UPDATE_MODE_CHANGED] }) { integration { id } } }", {"url": receiver})
        port = setup.servers[0][1]
        url = f"http://127.0.0.1:{port}/graphql"
        base = {"TOKEN": setup.token, "IDS": setup.ids}
        subjects = {load: (lambda load=load: wrk(url, args.seconds, args.connections, dict(base, MODE=load)))
                    for load in loads}
        subjects["http ceiling"] = lambda: wrk(f"http://127.0.0.1:{port}/healthz", args.seconds, args.connections,
                                               script="wrk.lua")
        peers = []
        if backend == "postgres":
            variables = pgbench_variables(setup)
            if "list" in loads:
                subjects["db ceiling: list"] = lambda: pgbench(setup.url, "list.sql", args.seconds, variables)
                subjects["db ceiling: PostGraphile's SQL"] = lambda: pgbench(
                    setup.url, "postgraphile-list.sql", args.seconds, variables)
            if "update" in loads:
                subjects["db ceiling: update"] = lambda: pgbench(setup.url, "update_mode.sql", args.seconds, variables)
            if args.peers:
                peers = start_peers(setup, work)
                for name, peer_port, body, program_body, token in peers:
                    subjects[f"peer: {name}"] = (lambda peer_port=peer_port, body=body, token=token: wrk(
                        f"http://127.0.0.1:{peer_port}/graphql", args.seconds, args.connections,
                        {"BODY": body, "TOKEN": token or "", "MODE": "list"}))
                    # The same program query as ours (`program`), on the same ids.
                    if "program" in loads:
                        subjects[f"peer: {name}, program"] = (
                            lambda peer_port=peer_port, program_body=program_body, token=token: wrk(
                                f"http://127.0.0.1:{peer_port}/graphql", args.seconds, args.connections,
                                {"PROGRAM_BODY": program_body, "IDS": setup.ids, "TOKEN": token or "",
                                 "MODE": "program"}))
        # Warm-up, not reported.
        wrk(url, 2, args.connections, dict(base, MODE="list"))
        runs = {name: [] for name in subjects}
        peaks = {name: 0 for name in subjects}
        ours = [server.pid for server, _ in setup.servers]
        served_by = {subject: [process.pid] for (name, *_), process in zip(peers, PEER_PROCESSES)
                     for subject in (f"peer: {name}", f"peer: {name}, program")}
        for round in range(args.rounds):
            for name, subject in subjects.items():
                pids = served_by.get(name, [] if name.startswith("db") else ours)
                peak = Peak(ours)
                cpu = cpu_seconds(pids)
                figures = subject()
                cpu = cpu_seconds(pids) - cpu
                peaks[name] = max(peaks[name], peak.stop())
                # CPU per answered request of the server that answered it.
                answered = figures["rps"] * args.seconds
                figures["cpu_ms"] = 1000 * cpu / answered if pids and answered else None
                runs[name].append(figures)
                # The webhook deliveries of the mutations are not left to
                # compete with the next load.
                if name in ("update", "mixed"):
                    drain(port)
                cpu_ms = "" if figures["cpu_ms"] is None else f" cpu {figures['cpu_ms']:.3f} ms/request"
                print(f"  round {round + 1} {name}: {figures['rps']:.0f}/s p50 {figures['p50_ms']} ms "
                      f"p99 {figures['p99_ms']} ms void {figures['void']}{cpu_ms}", flush=True)
        for name in subjects:
            results.append({"backend": backend, "size": size, "load": name, "runs": runs[name],
                            "rps": median(runs[name], "rps"), "p50_ms": median(runs[name], "p50_ms"),
                            "p99_ms": median(runs[name], "p99_ms"), "void": sum(r["void"] for r in runs[name]),
                            "cpu_ms": median(runs[name], "cpu_ms"),
                            "server_peak_rss_mib": peaks[name] if not name.startswith(("peer", "db")) else None})
        stop_peers()
        if args.processes and backend == "postgres":
            for count in [int(n) for n in args.processes.split(",")]:
                setup.start(count)
                ports = [port for _, port in setup.servers]
                wrk_spread(ports, 2, args.connections, dict(base, MODE="list"))
                scaled = [wrk_spread(ports, args.seconds, args.connections, dict(base, MODE="list"))
                          for _ in range(args.rounds)]
                results.append({"backend": backend, "size": size, "load": f"list over {count} processes",
                                "runs": scaled, "rps": median(scaled, "rps"), "p50_ms": median(scaled, "p50_ms"),
                                "p99_ms": median(scaled, "p99_ms"), "void": sum(r["void"] for r in scaled)})
                print(f"  list over {count} processes: {median(scaled, 'rps'):.0f}/s", flush=True)
    finally:
        stop_peers()
        setup.drop()
    return results


PEER_PROCESSES = []


def stop_peers():
    for process in PEER_PROCESSES:
        process.terminate()
        process.wait()
    PEER_PROCESSES.clear()


def start_peers(setup, work):
    peers_dir = ROOT / "bench" / "peers"
    if not (peers_dir / "node_modules").exists():
        subprocess.run(["npm", "ci", "--silent"], cwd=peers_dir, check=True)
    started = []
    for name, script, port, body, program_body, token in [
        ("PostGraphile 5 (no token)", "start-postgraphile.sh", FIRST_PORT + 50, "postgraphile-list.json",
         "postgraphile-program.json", None),
        ("Apollo Server + pg", "start-apollo.sh", FIRST_PORT + 51, "apollo-list.json", "apollo-program.json",
         setup.token),
    ]:
        command = [str(peers_dir / script), setup.url, str(port), str(POOL)] + ([SECRET] if token else [])
        process = subprocess.Popen(command, cwd=peers_dir, stdout=subprocess.DEVNULL,
                                   stderr=open(f"{work}/{script}.log", "w"))
        PEER_PROCESSES.append(process)
        wait_port(port)
        started.append((name, port, str(peers_dir / "queries" / body), str(peers_dir / "queries" / program_body),
                        token))
    return started


def wait_port(port, timeout=60.0):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"peer on port {port} did not start")


def report(results):
    print("\n| backend | programs | load | req/s | p50 ms | p99 ms | CPU ms/request | peak RSS MiB | void |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        if "ready_ms" in result:
            ready = ", ".join(f"{ms:.0f}" for ms in result["ready_ms"])
            print(f"| {result['backend']} | {result['size']} | start to ready | {ready} ms | | | | | |")
            continue
        p99 = "" if result["p99_ms"] is None else f"{result['p99_ms']:.2f}"
        rss = result.get("server_peak_rss_mib") or ""
        cpu = "" if result.get("cpu_ms") is None else f"{result['cpu_ms']:.3f}"
        print(f"| {result['backend']} | {result['size']} | {result['load']} | {result['rps']:.0f} | "
              f"{result['p50_ms']:.2f} | {p99} | {cpu} | {rss} | {result['void']} |")


if __name__ == "__main__":
    main()
