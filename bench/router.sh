#!/usr/bin/env bash
# Benchmark: the latency AAE's model router adds over calling an OpenAI-compatible upstream
# directly, side by side with the LiteLLM proxy in the same run.
#   upstream  aae-testkit's fake OpenAI-compatible server, 20 ms fixed latency, its own process
#   direct    the load generator posts to the upstream itself (the baseline)
#   router    the same requests through aae-models' ModelRouter (in the generator's process)
#   litellm   the same requests through the LiteLLM proxy (2 workers) routing to the upstream
# at constant rates of 100, 500 and 1,000 requests/s (open loop), non-streaming and streaming.
# Added latency = side's percentile - direct's percentile at the same rate. CPU per request:
# router = generator CPU (router run) - generator CPU (direct run); LiteLLM = its processes' CPU.
#
#   bash bench/router.sh
# Env: ROUTER_RATES ("100 500 1000"), ROUTER_SECONDS (10), LITELLM_VERSION (1.106.*).
# Installs LiteLLM into ~/.cache/aae-tools/venv-litellm (idempotent); writes
# bench/results/router.json and prints a markdown table.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN="${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/examples/router_overhead"

if [ "${BENCH_SETUP:-1}" = 1 ]; then
  ensure_litellm
  log "building the router benchmark (release)"
  (cd "$REPO_DIR" && cargo build --release -p aae-models --example router_overhead >&2)
fi
[ -x "$BIN" ] || die "missing $BIN (cargo build --release -p aae-models --example router_overhead)"

python3 "$BENCH_DIR/router_bench.py" --bin "$BIN" --litellm "$LITELLM_VENV/bin/litellm" \
  --rates "${ROUTER_RATES:-100 500 1000}" --seconds "${ROUTER_SECONDS:-10}" --out "$RESULTS_DIR/router.json"
