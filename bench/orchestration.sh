#!/usr/bin/env bash
# Benchmark (issue 5): orchestration overhead per tool-using turn, i.e. the CPU time and peak
# memory of the agent loop without the model, AAE vs Strands Agents, side by side in one run.
#   server    aae-testkit's scripted OpenAI-compatible server (examples/scripted_openai.rs), its
#             own process: stateless, it answers each request from the tools offered and the
#             number of tool results, so one conversation = 10 model calls, 6 tool-using turns
#   aae       aae-agents' examples/orchestration_bench.rs: orchestrator + 3 specialists as
#             AgentTools, each with one plain tool, through ModelRouter (OpenAI-compatible provider)
#   strands   bench/orchestration_strands.py, the same script on Strands Agents with its
#             OpenAIModel provider, "documented" (sync @tool specialists, model built with
#             client_args: a new OpenAI client per model call) and "tuned" (one injected
#             AsyncOpenAI client, async tools, one event loop)
# Each run is a fresh process per side (AAE, Strands documented, Strands tuned, alternately):
# warm-up conversations, then the measured ones; CPU is the process's user+system time over the
# measured conversations divided by the tool-using turns the server answered; memory is its peak
# RSS (VmHWM). The server's counts are checked: 10 model calls and 6 tool-call replies per
# conversation, else the script fails. Targets: AAE >= 10x less CPU and >= 5x less memory.
#
#   bash bench/orchestration.sh
# Env: ORCH_CONVERSATIONS (50 measured conversations per run, the same for every side),
#      ORCH_WARMUP (5), ORCH_CONCURRENCY ("1 8": one after the other, then 8 conversations in
#      flight), BENCH_RUNS (3 runs per side, medians reported), ORCH_PIN (1: server on CPU 1,
#      clients on CPU 0 with taskset), STRANDS_VERSION (1.62.*), BENCH_SETUP (1: install
#      and build), CARGO_TARGET_DIR.
# Installs Strands into ~/.cache/aae-tools/venv-strands (idempotent); writes
# bench/results/orchestration.json and prints a markdown table.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STRANDS_VENV="$TOOLS_DIR/venv-strands"
STRANDS_VERSION="${STRANDS_VERSION:-1.62.*}"
CONVERSATIONS="${ORCH_CONVERSATIONS:-50}"
WARMUP="${ORCH_WARMUP:-5}"
CONCURRENCY="${ORCH_CONCURRENCY:-1 8}"
RUNS="${BENCH_RUNS:-3}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_DIR/target}"
AAE_BENCH="$TARGET_DIR/release/examples/orchestration_bench"
SERVER_BIN="$TARGET_DIR/release/examples/scripted_openai"

if [ "${BENCH_SETUP:-1}" = 1 ]; then
  if ! [ -x "$STRANDS_VENV/bin/python" ] || ! "$STRANDS_VENV/bin/python" - "${STRANDS_VERSION%\*}" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
import openai, strands  # noqa: F401  (the openai extra is installed)
sys.exit(0 if version("strands-agents").startswith(sys.argv[1]) else 1)
PY
    log "installing strands-agents[openai] $STRANDS_VERSION into $STRANDS_VENV"
    [ -x "$STRANDS_VENV/bin/python" ] || python3 -m venv "$STRANDS_VENV"
    "$STRANDS_VENV/bin/pip" install -q --disable-pip-version-check --no-input "strands-agents[openai]==$STRANDS_VERSION" >&2
  fi
  log "building the orchestration benchmark and the scripted model server (release)"
  (cd "$REPO_DIR" && cargo build --release -p aae-agents --example orchestration_bench >&2)
  (cd "$REPO_DIR" && cargo build --release -p aae-testkit --example scripted_openai >&2)
fi
[ -x "$AAE_BENCH" ] || die "missing $AAE_BENCH (cargo build --release -p aae-agents --example orchestration_bench)"
[ -x "$SERVER_BIN" ] || die "missing $SERVER_BIN (cargo build --release -p aae-testkit --example scripted_openai)"
[ -x "$STRANDS_VENV/bin/python" ] || die "missing $STRANDS_VENV (run with BENCH_SETUP=1)"

bench_setup
server_pin=()
client_pin=()
if [ "${ORCH_PIN:-1}" = 1 ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
  server_pin=(taskset -c 1)
  client_pin=(taskset -c 0)
fi

"${server_pin[@]}" "$SERVER_BIN" >"$BENCH_TMP/server.out" 2>"$BENCH_TMP/server.err" &
SERVER_PID="$!"
BENCH_PIDS+=("$SERVER_PID")
for _ in $(seq 1 100); do
  [ -s "$BENCH_TMP/server.out" ] && break
  sleep 0.1
done
UPSTREAM="$(head -n1 "$BENCH_TMP/server.out")"
[ -n "$UPSTREAM" ] || die "the scripted server did not start: $(cat "$BENCH_TMP/server.err")"
wait_http "${UPSTREAM%/v1}/stats"
LOAD_START="$(loadavg)"
log "scripted server at $UPSTREAM; $CONVERSATIONS conversations (+$WARMUP warm-up) x $RUNS runs per side; concurrency $CONCURRENCY; load $(loadavg)"

# Adds the run's context to a side's JSON line: run number, load average, the other work on the
# machine just before it (busy cores over 1 s with nothing of ours running), the peak RSS and CPU
# seconds of the whole process (start-up included) seen by /usr/bin/time, the server's CPU.
annotate_py="$(
  cat <<'PY'
import json, sys
r = json.loads(sys.stdin.read())
run, load_before, load_after, rss_kib, time_file, background, server_ticks, seconds = sys.argv[1:9]
times = {}
for line in open(time_file):
    key, _, value = line.strip().partition(": ")
    times[key] = value
client_s = float(times["User time (seconds)"]) + float(times["System time (seconds)"])
r.update(run=int(run), loadavg_before=load_before, loadavg_after=load_after, background_cores=float(background),
         process_peak_rss_kib=int(rss_kib), process_cpu_s=client_s, process_seconds=float(seconds),
         server_cpu_s=int(server_ticks) / 100)
print(json.dumps(r))
PY
)"
describe_py="$(
  cat <<'PY'
import json, sys
r = json.loads(sys.stdin.read())
print(f"c={r['concurrency']} run {r['run']} {r['variant']:>10}: {r['cpu_ms_per_tool_turn']:8.3f} ms CPU/turn, "
      f"peak RSS {r['peak_rss_mib']:6.1f} MiB, {r['server']['requests']} model calls, wall {r['wall_s']:.2f} s, "
      f"load {r['loadavg_before']}, other work {r['background_cores']:.2f} cores")
PY
)"
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
pid_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
background_cores() { # busy cores over 1 s (nothing of ours runs then; the server idles)
  local before
  before="$(busy_ticks)"
  sleep 1
  awk -v a="$before" -v b="$(busy_ticks)" 'BEGIN {printf "%.2f", (b - a) / 100}'
}

: >"$BENCH_TMP/runs.jsonl"
for concurrency in $CONCURRENCY; do
  for run in $(seq 1 "$RUNS"); do
    for side in aae documented tuned; do
      if [ "$side" = aae ]; then
        cmd=("$AAE_BENCH" --upstream "$UPSTREAM" --conversations "$CONVERSATIONS" --warmup "$WARMUP"
          --concurrency "$concurrency")
      else
        cmd=("$STRANDS_VENV/bin/python" "$BENCH_DIR/orchestration_strands.py" --upstream "$UPSTREAM" --mode "$side"
          --conversations "$CONVERSATIONS" --warmup "$WARMUP" --concurrency "$concurrency")
      fi
      name="orch-$side-$concurrency-$run"
      background="$(background_cores)"
      load_before="$(loadavg)"
      server_before="$(pid_ticks "$SERVER_PID")"
      measure "$name" "${client_pin[@]}" "${cmd[@]}"
      server=$(($(pid_ticks "$SERVER_PID") - server_before))
      tail -n1 "$BENCH_TMP/$name.out" | python3 -c "$annotate_py" "$run" "$load_before" "$(loadavg)" "$M_RSS_KIB" \
        "$BENCH_TMP/$name.time" "$background" "$server" "$M_SECONDS" >>"$BENCH_TMP/runs.jsonl"
      log "$(tail -n1 "$BENCH_TMP/runs.jsonl" | python3 -c "$describe_py")"
    done
  done
done

python3 - "$BENCH_TMP/runs.jsonl" "$RESULTS_DIR/orchestration.json" "$CONVERSATIONS" "$WARMUP" "$RUNS" \
  "${client_pin[*]:-none}" "$LOAD_START" "$(loadavg)" "$CONCURRENCY" <<'PY'
import datetime, json, pathlib, statistics, subprocess, sys

runs_path, out_path, conversations, warmup, runs, pin, load_start, load_end, levels = sys.argv[1:10]
conversations, warmup, runs = int(conversations), int(warmup), int(runs)
records = [json.loads(line) for line in pathlib.Path(runs_path).read_text().splitlines() if line.strip()]

# Every run must have made exactly the scripted calls.
bad = []
for r in records:
    s = r["server"]
    want = {"requests": 10 * conversations, "tool_call_replies": 6 * conversations,
            "text_replies": 4 * conversations, "unrecognised": 0}
    got = {k: s.get(k) for k in want}
    if got != want or r["tool_calls"] != 6 * conversations or r.get("tool_errors", 0):
        bad.append(f"{r['variant']} run {r['run']} (c={r['concurrency']}): server {got}, tools run {r['tool_calls']}, want {want}")
if bad:
    sys.exit("the scripted server saw other calls than the script's:\n  " + "\n  ".join(bad))

def cpu_model():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"

def rustc():
    try:
        return subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return "unknown"

keys = ["cpu_ms_per_tool_turn", "cpu_ms_per_conversation", "peak_rss_mib", "rss_setup_mib", "wall_s", "background_cores", "server_cpu_s"]
results = {}
for c in sorted({r["concurrency"] for r in records}):
    sides = {}
    for variant in ["aae", "documented", "tuned"]:
        rs = [r for r in records if r["concurrency"] == c and r["variant"] == variant]
        sides[variant] = {
            "median": {k: statistics.median(r[k] for r in rs) for k in keys},
            "runs": rs,
        }
    aae = sides["aae"]["median"]
    ratios = {}
    for peer in ["documented", "tuned"]:
        p = sides[peer]["median"]
        ratios[peer] = {
            "cpu": p["cpu_ms_per_tool_turn"] / aae["cpu_ms_per_tool_turn"],
            "memory": p["peak_rss_mib"] / aae["peak_rss_mib"],
        }
    results[str(c)] = {"sides": sides, "ratios": ratios}

strands = next((r for r in records if r["side"] == "strands"), {})
report = {
    "benchmark": "agent orchestration overhead (issue 5)",
    "unit": "CPU ms of the agent process per tool-using turn (model server excluded); peak RSS (VmHWM) in MiB",
    "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    "command": f"ORCH_CONVERSATIONS={conversations} ORCH_WARMUP={warmup} ORCH_CONCURRENCY='{levels}' "
               f"BENCH_RUNS={runs} bash bench/orchestration.sh",
    "machine": {"cpu": cpu_model(), "cores": 2, "client_pinning": pin, "loadavg_start": load_start,
                "loadavg_end": load_end},
    "versions": {"strands_agents": strands.get("strands_version"), "openai": strands.get("openai_version"),
                 "python": strands.get("python"), "rustc": rustc()},
    "conversations": conversations, "warmup": warmup, "runs": runs,
    "script": "orchestrator + 3 specialists as tools, each calling one plain tool: 10 model calls, 6 tool-using turns per conversation",
    "targets": {"cpu_ratio": 10, "memory_ratio": 5},
    "concurrency": results,
}
pathlib.Path(out_path).write_text(json.dumps(report, indent=2) + "\n")

print(f"\nOrchestration overhead, {conversations} conversations x {runs} runs per side (medians), {report['date']}\n")
print("| concurrency | side | CPU ms / tool-using turn | peak RSS MiB | RSS after set-up MiB | wall s | other work before, cores |")
print("|---|---|---:|---:|---:|---:|---:|")
names = {"aae": "AAE", "documented": "Strands documented", "tuned": "Strands tuned"}
for c, res in results.items():
    for v, side in res["sides"].items():
        m = side["median"]
        print(f"| {c} | {names[v]} | {m['cpu_ms_per_tool_turn']:.3f} | {m['peak_rss_mib']:.1f} | {m['rss_setup_mib']:.1f} | {m['wall_s']:.2f} | {m['background_cores']:.2f} |")
print()
print("| concurrency | AAE vs | CPU ratio (target >= 10) | memory ratio (target >= 5) |")
print("|---|---|---:|---:|")
for c, res in results.items():
    for peer, r in res["ratios"].items():
        print(f"| {c} | Strands {peer} | {r['cpu']:.1f}x | {r['memory']:.1f}x |")
PY
log "wrote $RESULTS_DIR/orchestration.json (load $(loadavg))"
