#!/usr/bin/env bash
# Benchmark: job queue throughput on PostgreSQL, AAE vs graphile-worker, side by side.
# Each run and side gets a fresh database on the same server and does two timed phases:
#   1. bulk enqueue of JOBS no-op jobs: AAE JobStore::enqueue_many (INSERT … SELECT FROM UNNEST,
#      5,000 rows per statement, one transaction) vs graphile-worker addJobs (one call);
#   2. drain with WORKERS concurrent jobs in one process: one AAE Worker at concurrency WORKERS
#      (lease up to the free slots per round trip, heartbeat, complete each job) vs one
#      graphile-worker runner at `concurrency: WORKERS`, timed until the last job succeeded.
# graphile-worker runs twice per run: with its defaults, and tuned (localQueue size 500,
# completeJobBatchDelay 0). Sides alternate order per run; medians of BENCH_RUNS runs.
#
#   bash bench/jobs.sh
# Env: BENCH_RUNS (3), JOBS_N (20000), JOBS_WORKERS (8),
#      AAE_BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres: the server, and a
#      database on it to create the per-run databases from). Writes bench/results/jobs.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${BENCH_RUNS:-3}"
N="${JOBS_N:-20000}"
WORKERS="${JOBS_WORKERS:-8}"
ADMIN_URL="${AAE_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
GRAPHILE_VERSION="0.18.0"
GRAPHILE_DIR="$TOOLS_DIR/graphile-worker"
QUEUE_BIN="$REPO_DIR/target/release/examples/queue_bench"

ensure_graphile() {
  if [ "$(node -p "require('$GRAPHILE_DIR/node_modules/graphile-worker/package.json').version" 2>/dev/null)" = "$GRAPHILE_VERSION" ]; then
    return 0
  fi
  log "installing graphile-worker $GRAPHILE_VERSION into $GRAPHILE_DIR (npm)"
  mkdir -p "$GRAPHILE_DIR"
  [ -f "$GRAPHILE_DIR/package.json" ] || echo '{"private": true}' >"$GRAPHILE_DIR/package.json"
  (cd "$GRAPHILE_DIR" && npm install --no-audit --no-fund --loglevel=error "graphile-worker@$GRAPHILE_VERSION" >&2)
}

if [ "${BENCH_SETUP:-1}" = 1 ]; then
  ensure_graphile
  log "building the queue benchmark (release)"
  (cd "$REPO_DIR" && cargo build --release -p aae-jobs --example queue_bench >&2)
fi
[ -x "$QUEUE_BIN" ] || die "missing $QUEUE_BIN (cargo build --release -p aae-jobs --example queue_bench)"
bench_setup

# The per-run databases end in _$$ (created inside command substitutions, so no array would see
# them); the exit trap drops every one of them.
drop_databases() {
  local db
  for db in $(psql "$ADMIN_URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'aae_bench_jobs_%_$$'" 2>/dev/null); do
    psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  cleanup
}
trap drop_databases EXIT

# fresh_database NAME: creates it; prints its URL.
fresh_database() {
  psql "$ADMIN_URL" -qc "CREATE DATABASE $1" >/dev/null
  python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$ADMIN_URL" "$1"
}

run_aae() { # RUN
  local url
  url="$(fresh_database "aae_bench_jobs_aae_$1_$$")"
  # Migrations run before the timers start (Records::from_config); logs at warn.
  measure "aae-$1" env AAE__DATABASE__URL="$url" AAE__LOG__LEVEL=warn AAE__DATABASE__MAX_CONNECTIONS=16 \
    "$QUEUE_BIN" "$N" "$WORKERS"
  cat "$BENCH_TMP/aae-$1.out"
}

run_graphile() { # RUN MODE
  local url
  url="$(fresh_database "aae_bench_jobs_gw_$2_$1_$$")"
  measure "graphile-$2-$1" env NODE_PATH="$GRAPHILE_DIR/node_modules" \
    node "$BENCH_DIR/jobs_graphile.cjs" "$url" "$N" "$WORKERS" "$2"
  cat "$BENCH_TMP/graphile-$2-$1.out"
}

runs_json="[]"
for run in $(seq 1 "$RUNS"); do
  if [ $((run % 2)) = 1 ]; then
    aae="$(run_aae "$run")"
    gw="$(run_graphile "$run" default)"
    gwt="$(run_graphile "$run" tuned)"
  else
    gwt="$(run_graphile "$run" tuned)"
    gw="$(run_graphile "$run" default)"
    aae="$(run_aae "$run")"
  fi
  log "jobs run $run: aae $aae; graphile-worker $gw; tuned $gwt (load $(loadavg))"
  runs_json="$(jq -c --argjson a "$aae" --argjson g "$gw" --argjson t "$gwt" --arg load "$(loadavg)" \
    '. + [{aae: $a, graphile_default: $g, graphile_tuned: $t, loadavg: $load}]' <<<"$runs_json")"
done

pg_version="$(psql "$ADMIN_URL" -Atc 'SHOW server_version')"
jq -n --argjson runs "$runs_json" --arg n "$N" --arg w "$WORKERS" --arg gv "$GRAPHILE_VERSION" \
  --arg pg "$pg_version" --arg node "$(node --version)" --arg cpu "$(nproc) cores" '
  def median: sort | .[(length - 1) / 2 | floor];
  def rates(side): {
    enqueue_jobs_per_sec: ([$runs[] | .[side] | (.jobs / .enqueue_s)] | median | round),
    drain_jobs_per_sec: ([$runs[] | .[side] | (.jobs / .drain_s)] | median | round)
  };
  {
    benchmark: "jobs",
    unit: "jobs per second (median of runs)",
    jobs: ($n | tonumber), workers: ($w | tonumber),
    peer: "graphile-worker \($gv) on node \($node)", postgres: $pg, machine: $cpu,
    runs: $runs,
    median: {aae: rates("aae"), graphile_default: rates("graphile_default"), graphile_tuned: rates("graphile_tuned")}
  }
  | .ratio = {
      drain_vs_default: ((.median.aae.drain_jobs_per_sec / .median.graphile_default.drain_jobs_per_sec) * 10 | round / 10),
      drain_vs_tuned: ((.median.aae.drain_jobs_per_sec / .median.graphile_tuned.drain_jobs_per_sec) * 10 | round / 10),
      enqueue_vs_default: ((.median.aae.enqueue_jobs_per_sec / .median.graphile_default.enqueue_jobs_per_sec) * 10 | round / 10)
    }
  | .target = 2
  | .met = (.ratio.drain_vs_default >= 2)
' >"$RESULTS_DIR/jobs.json"
log "wrote $RESULTS_DIR/jobs.json"
jq -c '{median, ratio, met}' "$RESULTS_DIR/jobs.json"
