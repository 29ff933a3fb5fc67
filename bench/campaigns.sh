#!/usr/bin/env bash
# Benchmark: campaign list by user (page of 50 out of 100,000 records), p50/p99 latency of
# `CampaignStore::list_by_user` on SQLite, PostgreSQL and DynamoDB (moto), side by side in one run.
#
#   bash bench/campaigns.sh        (assumes installs and build are done unless BENCH_SETUP=1)
# Env: CAMPAIGNS_RECORDS (100000), CAMPAIGNS_USERS (100: 1,000 campaigns each),
#      CAMPAIGNS_QUERIES (1000 per SQL engine), CAMPAIGNS_DYNAMO_QUERIES (50: moto answers a GSI
#      query by walking the whole table in Python, so each takes seconds at 100,000 items),
#      AAE_TEST_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test; a fresh database is
#      created and dropped). DynamoDB is a private moto on a free port, stopped at the end.
# Writes bench/results/campaigns.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RECORDS="${CAMPAIGNS_RECORDS:-100000}"
USERS="${CAMPAIGNS_USERS:-100}"
QUERIES="${CAMPAIGNS_QUERIES:-1000}"
DYNAMO_QUERIES="${CAMPAIGNS_DYNAMO_QUERIES:-50}"
PG_URL="${AAE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
BENCH_BIN="$REPO_DIR/target/release/examples/campaign_list_bench"

if [ "${BENCH_SETUP:-1}" = 1 ]; then
  ensure_venv
  bash "$REPO_DIR/scripts/test-servers.sh" # PostgreSQL
  log "building the campaign list benchmark (release)"
  (cd "$REPO_DIR" && cargo build --release -p aae-store --example campaign_list_bench >&2)
fi
[ -x "$BENCH_BIN" ] || die "missing $BENCH_BIN (cargo build --release -p aae-store --example campaign_list_bench)"
bench_setup
start_moto

log "campaigns: $RECORDS records, $USERS users, page 50; $QUERIES SQL / $DYNAMO_QUERIES DynamoDB queries (load $(loadavg))"
measure campaigns "$BENCH_BIN" --records "$RECORDS" --users "$USERS" --page 50 --queries "$QUERIES" \
  --dynamo-queries "$DYNAMO_QUERIES" --postgres "$PG_URL" --dynamodb "$MOTO_URL"

moto_version="$("$BENCH_VENV/bin/python" -c 'from importlib.metadata import version; print(version("moto"))')"
pg_version="$(psql "$PG_URL" -Atc 'SHOW server_version' 2>/dev/null || echo unknown)"
jq -s --arg moto "$moto_version" --arg pg "$pg_version" --arg load "$(loadavg)" \
  --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  --arg seconds "$M_SECONDS" --arg rss "$M_RSS_KIB" '
  {
    benchmark: "campaign list by user",
    unit: "microseconds per list_by_user call (first page of 50; second_page follows its cursor)",
    machine: {cpu: $cpu, cores: 2, loadavg_after: $load},
    servers: {sqlite: "embedded (WAL)", postgres: $pg, dynamodb: "moto \($moto) (private server)"},
    run_seconds: ($seconds | tonumber), peak_rss_kib: ($rss | tonumber),
    engines: (map({key: .engine, value: .}) | from_entries)
  }' "$BENCH_TMP/campaigns.out" >"$RESULTS_DIR/campaigns.json"
log "wrote $RESULTS_DIR/campaigns.json"
jq -c '.engines | map_values({seed_seconds, p50_us: .first_page.p50_us, p99_us: .first_page.p99_us})' \
  "$RESULTS_DIR/campaigns.json"
