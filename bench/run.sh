#!/usr/bin/env bash
# Runs AAE's storage benchmarks side by side with their peers and writes bench/results/latest.json:
#   1. presign.sh   presigned URLs/s on one core       vs boto3 generate_presigned_url   (≥ 50x)
#   2. transfer.sh  256 MiB upload/download, s3s-fs    vs aws s3 cp (awscli)             (≥ 1.0x)
#   3. migrate.sh   10,000 x 4 KiB + 4 x 64 MiB copy   vs rclone copy, equal concurrency (≥ 1.5x)
#   4. campaigns.sh campaign list by user, p50/p99, SQLite / PostgreSQL / DynamoDB (moto)
#   5. jobs.sh      job queue drain, 20,000 no-op jobs   vs graphile-worker on PostgreSQL (≥ 2x)
#   6. router.sh    model router added latency at 100/500/1000 req/s vs LiteLLM proxy (≥ 20x lower p99)
#   7. local_models.sh  embedded SmolLM2 tokens/s vs llama-cpp-python (≥ 0.9x), MiniLM
#                   sentences/s vs sentence-transformers (≥ 1.0x)
#   8. creatives.sh all seven creative sizes for one brief, one core (< 200 ms; no peer)
#   9. api.sh       HTTP API: GET /api/v1/campaigns and /api/v1/health under wrk, 64 connections,
#                   vs a FastAPI app on the same PostgreSQL table (≥ 5x requests/s)
#  10. gateway.sh   OpenAI-compatible gateway (`aae serve` /v1/chat/completions with an API key,
#                   credits held and captured) added latency at 100/500/1000 req/s vs LiteLLM proxy
# Peak RSS of every client process is recorded for 2 and 3. Prints a markdown table at the end.
#
#   bash bench/run.sh                 all of them
#   bash bench/run.sh presign transfer    only those
# Installs what it needs idempotently into ~/.cache/aae-tools (awscli/boto3/moto venv, s3s-fs via
# cargo install, rclone via apt-get), builds aae in release, starts its own servers on free ports
# and stops them on exit. Common env: BENCH_RUNS (3); see each script for the rest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

benches=("$@")
if [ "${#benches[@]}" = 0 ]; then benches=(presign transfer migrate campaigns jobs router local_models creatives orchestration api gateway); fi

ensure_venv
ensure_s3s_fs
ensure_rclone
build_aae
export BENCH_SETUP=0

for bench in "${benches[@]}"; do
  case "$bench" in
    presign | transfer | migrate | campaigns | jobs | router | local_models | creatives | orchestration | api | gateway) ;;
    *) die "unknown benchmark '$bench' (presign, transfer, migrate, campaigns, jobs, router, local_models, creatives, orchestration, api, gateway)" ;;
  esac
  log "=== $bench"
  case "$bench" in
    # These install their own peers and build their own release examples.
    campaigns | jobs | router | local_models | creatives | orchestration | api | gateway) BENCH_SETUP=1 bash "$BENCH_DIR/$bench.sh" ;;
    *) bash "$BENCH_DIR/$bench.sh" ;;
  esac
done

python3 "$BENCH_DIR/report.py" "$RESULTS_DIR"
