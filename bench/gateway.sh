#!/usr/bin/env bash
# Benchmark: the latency AAE's OpenAI-compatible gateway adds over calling an OpenAI-compatible
# upstream directly, side by side with the LiteLLM proxy in the same run.
#   upstream  aae-testkit's fake OpenAI-compatible server, 20 ms fixed latency, its own process
#   direct    the load generator posts to the upstream itself (the baseline)
#   aae       the same requests to `aae serve --no-workers` (release) at /v1/chat/completions,
#             with the API key of a user made by the CLI (`aae users create`, `aae credits grant`,
#             `aae keys create`); openai_compatible/fake-20ms has a price, so every request holds
#             and captures credits; per-user rate limits on but far above the load; PostgreSQL
#             (a fresh database aae_bench_gateway, dropped at the end) or SQLite
#   litellm   the same requests through the LiteLLM proxy (2 workers) routing to the upstream
# at constant rates of 100, 500 and 1,000 requests/s (open loop), non-streaming and streaming.
# Added latency = side's percentile - direct's percentile at the same rate. CPU per request and
# peak RSS of AAE's process and of LiteLLM's process tree come from /proc.
#
#   bash bench/gateway.sh
# Env: GATEWAY_RATES ("100 500 1000"), GATEWAY_SECONDS (10), GATEWAY_DB (postgres | sqlite),
#      AAE_BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres: the server, and a
#      database on it to create aae_bench_gateway from), LITELLM_VERSION (1.106.*),
#      CARGO_TARGET_DIR (target), BENCH_SETUP (1: install LiteLLM into ~/.cache/aae-tools/venv-litellm,
#      start PostgreSQL with scripts/test-servers.sh when it does not answer, cargo build --release
#      aae and router_overhead; 0 skips all that).
# Writes bench/results/gateway.json and prints a markdown table.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_DIR/target}"
BIN="$TARGET_DIR/release/examples/router_overhead"
AAE_SERVER_BIN="$TARGET_DIR/release/aae"
DB="${GATEWAY_DB:-postgres}"
ADMIN_URL="${AAE_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
MODELS_DIR="${AAE_TEST_MODELS_DIR:-$TOOLS_DIR/models}"

case "$DB" in
  postgres | sqlite) ;;
  *) die "GATEWAY_DB must be postgres or sqlite, not '$DB'" ;;
esac

pg_answers() { psql "$ADMIN_URL" -Atc 'SELECT 1' >/dev/null 2>&1; }

if [ "${BENCH_SETUP:-1}" = 1 ]; then
  ensure_litellm
  if [ "$DB" = postgres ] && ! pg_answers; then
    bash "$REPO_DIR/scripts/test-servers.sh" # PostgreSQL on 127.0.0.1:5432
  fi
  log "building aae and the load generator (release) into $TARGET_DIR"
  (cd "$REPO_DIR" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release -p aae-cli -p aae-models \
    --bin aae --example router_overhead >&2)
fi
[ -x "$BIN" ] || die "missing $BIN (cargo build --release -p aae-models --example router_overhead)"
[ -x "$AAE_SERVER_BIN" ] || die "missing $AAE_SERVER_BIN (cargo build --release -p aae-cli --bin aae)"
[ -x "$LITELLM_VENV/bin/litellm" ] || die "missing $LITELLM_VENV/bin/litellm (run with BENCH_SETUP=1)"
if [ "$DB" = postgres ]; then
  command -v psql >/dev/null || die "missing psql (apt-get install postgresql-client)"
  pg_answers || die "PostgreSQL does not answer at $ADMIN_URL (set AAE_BENCH_DATABASE_URL, or run scripts/test-servers.sh)"
fi

python3 "$BENCH_DIR/gateway_bench.py" --bin "$BIN" --aae "$AAE_SERVER_BIN" --litellm "$LITELLM_VENV/bin/litellm" \
  --db "$DB" --admin-url "$ADMIN_URL" --models-dir "$MODELS_DIR" \
  --rates "${GATEWAY_RATES:-100 500 1000}" --seconds "${GATEWAY_SECONDS:-10}" --out "$RESULTS_DIR/gateway.json"
