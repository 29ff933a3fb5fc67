#!/usr/bin/env python3
"""Drives bench/router.sh: starts the fake upstream and the LiteLLM proxy, runs the load
generator (crates/aae-models/examples/router_overhead.rs) for every side, rate and streaming
mode, measures LiteLLM's CPU and RSS from /proc, writes a JSON report and prints a table."""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message):
    print(f"[bench router {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


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


def rss_mb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def wait_http(url, headers=None, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2):
                return
        except Exception:  # noqa: BLE001 - anything means "not yet"
            time.sleep(0.5)
    raise SystemExit(f"nothing answers at {url}")


def load(bin_path, mode, upstream, rate, seconds, stream, api_key=None):
    command = [bin_path, "load", "--mode", mode, "--upstream", upstream, "--rate", str(rate),
               "--seconds", str(seconds)]
    if stream:
        command.append("--stream")
    if api_key:
        command += ["--api-key", api_key]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=seconds * 20 + 120)
    if output.stderr.strip():
        log(output.stderr.strip().splitlines()[-1])
    return json.loads(output.stdout.strip().splitlines()[-1])


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
    processes = []

    def stop_all(*_):
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except OSError:
                pass
    signal.signal(signal.SIGTERM, lambda *a: (stop_all(), sys.exit(130)))

    try:
        fake_port = free_port()
        fake = subprocess.Popen([args.bin, "fake", "--latency-ms", "20", "--port", str(fake_port)],
                                stdout=subprocess.PIPE, text=True, start_new_session=True)
        processes.append(fake)
        upstream = fake.stdout.readline().strip()
        log(f"fake upstream (20 ms) at {upstream}")

        litellm_port = free_port()
        config = os.path.join(work, "litellm.yaml")
        with open(config, "w") as f:
            f.write(
                "model_list:\n"
                "  - model_name: fake-20ms\n"
                "    litellm_params:\n"
                "      model: openai/fake-20ms\n"
                f"      api_base: {upstream}\n"
                "      api_key: sk-upstream\n"
                "general_settings:\n"
                "  master_key: sk-bench\n"
                "litellm_settings:\n"
                "  drop_params: true\n"
            )
        env = dict(os.environ, LITELLM_MASTER_KEY="sk-bench", LITELLM_LOCAL_MODEL_COST_MAP="True",
                   LITELLM_LOG="ERROR")
        litellm_log = open(os.path.join(work, "litellm.log"), "w")
        litellm = subprocess.Popen([args.litellm, "--config", config, "--host", "127.0.0.1", "--port",
                                    str(litellm_port), "--num_workers", "2"],
                                   stdout=litellm_log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        processes.append(litellm)
        litellm_url = f"http://127.0.0.1:{litellm_port}"
        wait_http(f"{litellm_url}/health/liveliness")
        log(f"litellm (2 workers) at {litellm_url}")

        results = []
        for stream in (False, True):
            for rate in rates:
                row = {"rate": rate, "stream": stream}
                row["direct"] = load(args.bin, "direct", upstream, rate, args.seconds, stream)
                row["router"] = load(args.bin, "router", upstream, rate, args.seconds, stream)
                pids = tree(litellm.pid)
                before = cpu_seconds(pids)
                row["litellm"] = load(args.bin, "proxy", f"{litellm_url}/v1", rate, args.seconds, stream,
                                      api_key="sk-bench")
                pids = tree(litellm.pid)
                row["litellm"]["server_cpu_ms_per_request"] = \
                    (cpu_seconds(pids) - before) * 1000 / max(row["litellm"]["sent"], 1)
                row["litellm"]["server_rss_mb"] = rss_mb(pids)
                row["router"]["server_cpu_ms_per_request"] = max(
                    row["router"]["cpu_ms_per_request"] - row["direct"]["cpu_ms_per_request"], 0.0)
                for side in ("router", "litellm"):
                    for p in ("p50", "p99"):
                        row[side][f"added_{p}_ms"] = row[side][f"{p}_ms"] - row["direct"][f"{p}_ms"]
                log(f"rate {rate} stream {stream}: router +{row['router']['added_p99_ms']:.2f} ms p99, "
                    f"litellm +{row['litellm']['added_p99_ms']:.1f} ms p99 "
                    f"({row['litellm']['ok']}/{row['litellm']['sent']} ok)")
                results.append(row)
    finally:
        stop_all()

    report = {"upstream_latency_ms": 20, "seconds": args.seconds, "results": results}
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
