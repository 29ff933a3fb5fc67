#!/usr/bin/env python3
"""Drives bench/router.sh: starts the fake upstream and the LiteLLM proxy, runs the load
generator (crates/aae-models/examples/router_overhead.rs) for every side, rate and streaming
mode, measures LiteLLM's CPU and RSS from /proc, writes a JSON report and prints a table.

Also the helpers bench/gateway_bench.py shares: processes, /proc measurements, the fake
upstream, the LiteLLM proxy and one measured load run."""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
UPSTREAM_LATENCY_MS = 20
MODEL = "fake-20ms"
LITELLM_KEY = "sk-bench"
# router_overhead load warms up for this long at min(rate, WARMUP_MAX_RATE) before measuring.
WARMUP_SECONDS = 2
WARMUP_MAX_RATE = 200


def log(message):
    name = os.path.basename(sys.argv[0]).removesuffix(".py").removesuffix("_bench")
    print(f"[bench {name} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid):
    """pid and all its descendants."""
    pids, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as f:
                children = [int(c) for c in f.read().split()]
        except OSError:
            children = []
        pids += children
        frontier += children
    return pids


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def status_mb(pids, field):
    """Sum over pids of a /proc/PID/status memory field (VmRSS: now, VmHWM: peak), in MB."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def rss_mb(pids):
    return status_mb(pids, "VmRSS")


def peak_rss_mb(pids):
    return status_mb(pids, "VmHWM")


def reset_peak_rss(pids):
    """Sets each process's peak RSS (VmHWM) back to its current RSS."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def wait_http(url, headers=None, timeout=120, process=None, log_file=None, any_status=False):
    """Waits for a 2xx answer (any HTTP answer with any_status) from url; fails early when
    process exits, showing the end of log_file."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            tail = ""
            if log_file:
                with open(log_file, errors="replace") as f:
                    tail = "".join(f.readlines()[-30:])
            raise SystemExit(f"the server of {url} exited with {process.returncode}:\n{tail}")
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2):
                return
        except urllib.error.HTTPError:
            if any_status:
                return
            time.sleep(0.5)
        except Exception:  # noqa: BLE001 - anything means "not yet"
            time.sleep(0.5)
    raise SystemExit(f"nothing answers at {url}")


class Processes:
    """The servers of one benchmark, each in its own session; all stopped (SIGTERM, then SIGKILL
    after 10 s) on leaving the `with` block or at SIGTERM."""

    def __init__(self):
        self.started = []

    def start(self, command, **kwargs):
        process = subprocess.Popen(command, start_new_session=True, **kwargs)
        self.started.append(process)
        return process

    def stop_all(self):
        for process in self.started:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.time() + 10
        for process in self.started:
            try:
                process.wait(timeout=max(deadline - time.time(), 0.1))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except OSError:
                    pass

    def __enter__(self):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
        return self

    def __exit__(self, *_):
        self.stop_all()


def start_fake(processes, bin_path):
    """aae-testkit's fake OpenAI-compatible server (fixed latency); returns its base URL (…/v1)."""
    fake = processes.start([bin_path, "fake", "--latency-ms", str(UPSTREAM_LATENCY_MS), "--port", str(free_port())],
                           stdout=subprocess.PIPE, text=True)
    upstream = fake.stdout.readline().strip()
    log(f"fake upstream ({UPSTREAM_LATENCY_MS} ms) at {upstream}")
    return upstream


def start_litellm(processes, litellm_bin, upstream, work):
    """The LiteLLM proxy (2 workers) routing MODEL to upstream; returns (process, base URL)."""
    port = free_port()
    config = os.path.join(work, "litellm.yaml")
    with open(config, "w") as f:
        f.write(
            "model_list:\n"
            f"  - model_name: {MODEL}\n"
            "    litellm_params:\n"
            f"      model: openai/{MODEL}\n"
            f"      api_base: {upstream}\n"
            "      api_key: sk-upstream\n"
            "general_settings:\n"
            f"  master_key: {LITELLM_KEY}\n"
            "litellm_settings:\n"
            "  drop_params: true\n"
        )
    env = dict(os.environ, LITELLM_MASTER_KEY=LITELLM_KEY, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR")
    log_path = os.path.join(work, "litellm.log")
    with open(log_path, "w") as log_file:
        litellm = processes.start([litellm_bin, "--config", config, "--host", "127.0.0.1", "--port", str(port),
                                   "--num_workers", "2"], stdout=log_file, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health/liveliness", process=litellm, log_file=log_path)
    log(f"litellm (2 workers) at {url}")
    return litellm, url


def load(bin_path, mode, upstream, rate, seconds, stream, api_key=None, model=None):
    command = [bin_path, "load", "--mode", mode, "--upstream", upstream, "--rate", str(rate),
               "--seconds", str(seconds), "--warmup-seconds", str(WARMUP_SECONDS)]
    if stream:
        command.append("--stream")
    if api_key:
        command += ["--api-key", api_key]
    if model:
        command += ["--model", model]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=seconds * 20 + 120)
    if output.stderr.strip():
        log(output.stderr.strip().splitlines()[-1])
    return json.loads(output.stdout.strip().splitlines()[-1])


def load_measuring(server, bin_path, url, rate, seconds, stream, api_key, model=None):
    """`load --mode proxy` against url while measuring the server process tree from /proc: CPU
    per request (warm-up requests included in the count, as its CPU includes them) and RSS."""
    pids = tree(server.pid)
    reset_peak_rss(pids)
    before = cpu_seconds(pids)
    report = load(bin_path, "proxy", url, rate, seconds, stream, api_key=api_key, model=model)
    pids = tree(server.pid)
    requests = report["sent"] + round(min(rate, WARMUP_MAX_RATE) * WARMUP_SECONDS)
    report["server_cpu_ms_per_request"] = (cpu_seconds(pids) - before) * 1000 / max(requests, 1)
    report["server_rss_mb"] = rss_mb(pids)
    report["server_peak_rss_mb"] = peak_rss_mb(pids)
    return report


def add_overheads(row, sides):
    """side's p50/p99 minus direct's, as added_p50_ms / added_p99_ms."""
    for side in sides:
        for p in ("p50", "p99"):
            row[side][f"added_{p}_ms"] = row[side][f"{p}_ms"] - row["direct"][f"{p}_ms"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--litellm", required=True)
    parser.add_argument("--rates", default="100 500 1000")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split()]

    work = tempfile.mkdtemp(prefix="aae-bench-router.")
    results = []
    with Processes() as processes:
        upstream = start_fake(processes, args.bin)
        litellm, litellm_url = start_litellm(processes, args.litellm, upstream, work)
        for stream in (False, True):
            for rate in rates:
                row = {"rate": rate, "stream": stream}
                row["direct"] = load(args.bin, "direct", upstream, rate, args.seconds, stream)
                row["router"] = load(args.bin, "router", upstream, rate, args.seconds, stream)
                row["litellm"] = load_measuring(litellm, args.bin, f"{litellm_url}/v1", rate, args.seconds, stream,
                                                LITELLM_KEY)
                row["router"]["server_cpu_ms_per_request"] = max(
                    row["router"]["cpu_ms_per_request"] - row["direct"]["cpu_ms_per_request"], 0.0)
                add_overheads(row, ("router", "litellm"))
                log(f"rate {rate} stream {stream}: router +{row['router']['added_p99_ms']:.2f} ms p99, "
                    f"litellm +{row['litellm']['added_p99_ms']:.1f} ms p99 "
                    f"({row['litellm']['ok']}/{row['litellm']['sent']} ok)")
                results.append(row)

    report = {"upstream_latency_ms": UPSTREAM_LATENCY_MS, "seconds": args.seconds, "results": results}
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    log(f"wrote {args.out}")

    print("| stream | rate (req/s) | direct p50 / p99 ms | AAE router added p50 / p99 ms | LiteLLM added p50 / p99 ms "
          "| LiteLLM ok / sent | AAE / LiteLLM CPU ms per request | LiteLLM RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for row in results:
        d, r, l = row["direct"], row["router"], row["litellm"]
        print(f"| {'yes' if row['stream'] else 'no'} | {row['rate']} | {d['p50_ms']:.2f} / {d['p99_ms']:.2f} "
              f"| {r['added_p50_ms']:.3f} / {r['added_p99_ms']:.3f} "
              f"| {l['added_p50_ms']:.1f} / {l['added_p99_ms']:.1f} | {l['ok']} / {l['sent']} "
              f"| {r['server_cpu_ms_per_request']:.3f} / {l['server_cpu_ms_per_request']:.1f} "
              f"| {l['server_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
