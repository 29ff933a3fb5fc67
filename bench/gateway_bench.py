#!/usr/bin/env python3
"""Drives bench/gateway.sh: starts the fake upstream, AAE's gateway (`aae serve --no-workers`
with a user, credits and an API key made by the `aae` CLI) and the LiteLLM proxy, runs the
load generator (crates/aae-models/examples/router_overhead.rs) against each at every rate and
streaming mode, measures both servers' CPU and RSS from /proc, writes a JSON report and prints
a markdown table. The shared pieces live in router_bench.py."""

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from router_bench import (LITELLM_KEY, MODEL, UPSTREAM_LATENCY_MS, Processes, add_overheads, free_port, load,
                          load_measuring, log, start_fake, start_litellm, wait_http)

REPO = Path(__file__).resolve().parent.parent
DATABASE = "aae_bench_gateway"
USER = "bench@example.com"
CREDITS = 1_000_000
# Credits per million tokens of openai_compatible/{MODEL}: every request holds and captures.
PRICE = {"input_per_million": 1.0, "output_per_million": 2.0}
# Per-user limits far above the highest rate, for every route group (read from aae-config, so a
# group added later is covered too): they are checked on every request but never refuse one.
LIMIT = {"requests_per_minute": 60_000_000, "burst": 1_000_000}
LIMIT_GROUPS_SOURCE = REPO / "crates/aae-config/src/api.rs"
KNOWN_LIMIT_GROUPS = ("auth", "chat", "campaigns", "files", "admin")


def limit_groups():
    text = LIMIT_GROUPS_SOURCE.read_text() if LIMIT_GROUPS_SOURCE.exists() else ""
    match = re.search(r"RATE_LIMIT_GROUPS\s*:\s*&\[&str\]\s*=\s*&\[([^\]]*)\]", text)
    groups = re.findall(r'"([^"]+)"', match.group(1)) if match else []
    return groups or list(KNOWN_LIMIT_GROUPS)


def write_config(path, models_dir):
    """The settings that are not per run (those come as AAE__ variables): quiet logs, limits that
    never trigger, the router's own per-model buckets off (as the router benchmark), a price."""
    lines = ['[log]', 'level = "warn"', '', '[server]', 'shutdown_grace_secs = 5', '',
             '[rate_limits]', 'enabled = true',
             f'requests_per_minute = {LIMIT["requests_per_minute"]}', f'burst = {LIMIT["burst"]}', '']
    for group in limit_groups():
        lines += [f'[rate_limits.routes.{group}]', f'requests_per_minute = {LIMIT["requests_per_minute"]}',
                  f'burst = {LIMIT["burst"]}', '']
    lines += ['[router.limits]', 'requests_per_minute = 0', 'tokens_per_minute = 0', '',
              f'[prices."openai_compatible/{MODEL}"]']
    lines += [f'{key} = {value}' for key, value in PRICE.items()]
    if models_dir and os.path.isdir(models_dir):
        # The local model's weights, when present, make /health's model line healthy.
        lines += ['', '[models]', f'dir = {json.dumps(models_dir)}']
    Path(path).write_text("\n".join(lines) + "\n")


def psql(admin_url, sql):
    subprocess.run(["psql", admin_url, "-qAtc", sql], check=True, capture_output=True, text=True)


def fresh_database(admin_url):
    """Drops and creates DATABASE on admin_url's server; returns its URL."""
    psql(admin_url, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    psql(admin_url, f"CREATE DATABASE {DATABASE}")
    log(f"fresh PostgreSQL database {DATABASE}")
    return urllib.parse.urlsplit(admin_url)._replace(path=f"/{DATABASE}").geturl()


class Aae:
    """The `aae` CLI and server with one configuration: a data directory (also the working
    directory, so no ./aae.toml is read), a generated config file and AAE__ variables (the
    caller's own AAE__* and AAE_CONFIG removed)."""

    def __init__(self, binary, work, upstream, database_url, models_dir):
        self.binary = binary
        self.data = os.path.join(work, "aae-data")
        os.makedirs(self.data)
        self.config = os.path.join(work, "aae.toml")
        write_config(self.config, models_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(work, "aae.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AAE__") and k != "AAE_CONFIG"}
        env.update({
            "AAE__DATA_DIR": self.data,
            "AAE__SERVER__HOST": "127.0.0.1",
            "AAE__SERVER__PORT": str(self.port),
            "AAE__PROVIDERS__OPENAI_COMPATIBLE__BASE_URL": upstream,
            "AAE__PROVIDERS__OPENAI_COMPATIBLE__MODELS": MODEL,
        })
        if database_url:
            env["AAE__DATABASE__URL"] = database_url
        self.env = env

    def run(self, *args):
        """Runs `aae --config … ARGS` and returns its stdout (logs go to stderr)."""
        command = [self.binary, "--config", self.config, *args]
        done = subprocess.run(command, cwd=self.data, env=self.env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise SystemExit(f"`aae {' '.join(args)}` failed ({done.returncode}):\n{done.stderr}{done.stdout}")
        return done.stdout

    def provision(self):
        """Schema, a user with credits and an API key; returns the key."""
        self.run("db", "migrate")
        user_id = self.run("users", "create", USER).strip()
        self.run("credits", "grant", USER, str(CREDITS))
        lines = self.run("keys", "create", USER, "--name", "bench").split()
        if not lines:
            raise SystemExit("`aae keys create` printed no key")
        log(f"user {USER} ({user_id or '?'}) with {CREDITS:,} credits and an API key")
        return lines[-1]

    def serve(self, processes):
        with open(self.log_path, "w") as log_file:
            server = processes.start([self.binary, "--config", self.config, "serve", "--no-workers"], cwd=self.data,
                                     env=self.env, stdout=log_file, stderr=subprocess.STDOUT)
        wait_http(f"{self.url}/api/v1/health", process=server, log_file=self.log_path, any_status=True)
        log(f"aae serve --no-workers at {self.url} (pid {server.pid})")
        return server


def post_chat(base_url, key, stream):
    body = {"model": MODEL, "max_tokens": 64, "stream": stream,
            "messages": [{"role": "system", "content": "You write short ad copy."},
                         {"role": "user", "content": "Write a tagline for a coffee brand."}]}
    request = urllib.request.Request(f"{base_url}/chat/completions", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read().decode()
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{base_url}/chat/completions (stream {stream}) answered {error.code}: "
                         f"{error.read().decode(errors='replace')}") from None


def preflight(base_url, key):
    """One request of each kind answers as expected before any load."""
    reply = json.loads(post_chat(base_url, key, stream=False))
    if not reply.get("choices") or not reply.get("usage"):
        raise SystemExit(f"{base_url}: unexpected reply {reply}")
    streamed = post_chat(base_url, key, stream=True)
    if "data: [DONE]" not in streamed:
        raise SystemExit(f"{base_url}: the stream did not end with [DONE]:\n{streamed[-500:]}")
    return reply["usage"]


def command_output(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout.strip() or None
    except OSError:
        return None


def served(side):
    text = f"{side['ok']:,} / {side['sent']:,}"
    if side["achieved_rps"] < 0.95 * side["rate"]:
        text += f" ({side['achieved_rps']:,.0f} req/s)"
    return text


def print_table(results):
    print("| stream | rate (req/s) | direct p50 / p99 ms | AAE added p50 / p99 ms | LiteLLM added p50 / p99 ms "
          "| direct served / sent | AAE served / sent | LiteLLM served / sent | CPU ms per request AAE / LiteLLM "
          "| RSS MB AAE / LiteLLM |")
    print("|---|---:|---|---|---|---|---|---|---|---|")
    for row in results:
        d, a, l = row["direct"], row["aae"], row["litellm"]
        print(f"| {'yes' if row['stream'] else 'no'} | {row['rate']} | {d['p50_ms']:.2f} / {d['p99_ms']:.2f} "
              f"| {a['added_p50_ms']:+.2f} / {a['added_p99_ms']:+.2f} "
              f"| {l['added_p50_ms']:+,.1f} / {l['added_p99_ms']:+,.1f} "
              f"| {served(d)} | {served(a)} | {served(l)} "
              f"| {a['server_cpu_ms_per_request']:.2f} / {l['server_cpu_ms_per_request']:.1f} "
              f"| {a['server_peak_rss_mb']:,.0f} / {l['server_peak_rss_mb']:,.0f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="router_overhead (fake upstream and load generator)")
    parser.add_argument("--aae", required=True, help="the release aae binary")
    parser.add_argument("--litellm", required=True)
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="PostgreSQL server (and a database on it) to create the benchmark's database from")
    parser.add_argument("--models-dir", help="embedded models' weights (optional; only /health looks at them)")
    parser.add_argument("--rates", default="100 500 1000")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split()]

    work = tempfile.mkdtemp(prefix="aae-bench-gateway.")
    database_url = fresh_database(args.admin_url) if args.db == "postgres" else None
    results = []
    try:
        with Processes() as processes:
            upstream = start_fake(processes, args.bin)
            aae = Aae(args.aae, work, upstream, database_url, args.models_dir)
            key = aae.provision()
            server = aae.serve(processes)
            gateway = f"{aae.url}/v1"
            usage = preflight(gateway, key)
            log(f"AAE gateway answers at {gateway} (usage {usage})")
            litellm, litellm_url = start_litellm(processes, args.litellm, upstream, work)
            for stream in (False, True):
                for rate in rates:
                    row = {"rate": rate, "stream": stream}
                    row["direct"] = load(args.bin, "direct", upstream, rate, args.seconds, stream)
                    row["aae"] = load_measuring(server, args.bin, gateway, rate, args.seconds, stream, key, MODEL)
                    row["litellm"] = load_measuring(litellm, args.bin, f"{litellm_url}/v1", rate, args.seconds, stream,
                                                    LITELLM_KEY, MODEL)
                    add_overheads(row, ("aae", "litellm"))
                    log(f"rate {rate} stream {stream}: AAE +{row['aae']['added_p99_ms']:.2f} ms p99 "
                        f"({row['aae']['ok']}/{row['aae']['sent']} ok, "
                        f"{row['aae']['server_cpu_ms_per_request']:.2f} ms CPU), "
                        f"litellm +{row['litellm']['added_p99_ms']:.1f} ms p99 "
                        f"({row['litellm']['ok']}/{row['litellm']['sent']} ok)")
                    results.append(row)
    except BaseException:
        log(f"kept {work} (logs: aae.log, litellm.log)")
        raise
    finally:
        if database_url:
            try:
                psql(args.admin_url, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            except subprocess.CalledProcessError as error:
                log(f"could not drop {DATABASE}: {error.stderr.strip()}")
    shutil.rmtree(work, ignore_errors=True)

    litellm_python = os.path.join(os.path.dirname(args.litellm), "python")
    report = {
        "upstream_latency_ms": UPSTREAM_LATENCY_MS,
        "seconds": args.seconds,
        "database": args.db,
        "model": MODEL,
        "price": {f"openai_compatible/{MODEL}": PRICE},
        "aae_version": command_output([args.aae, "--version"]),
        "litellm_version": command_output(
            [litellm_python, "-c", "from importlib.metadata import version; print(version('litellm'))"]),
        "results": results,
    }
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    log(f"wrote {args.out}")
    print_table(results)


if __name__ == "__main__":
    main()
