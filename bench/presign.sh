#!/usr/bin/env bash
# Benchmark 1: presigned URLs per second on one core, AAE's SigV4 presigner vs boto3's
# generate_presigned_url, both pinned to CPU 0 with taskset, alternating, BENCH_RUNS times each.
#
#   bash bench/presign.sh          (bench/run.sh calls it; assumes installs and build are done
#                                   unless BENCH_SETUP=1)
# Env: BENCH_RUNS (3), PRESIGN_N_OURS (1,000,000 URLs per method), PRESIGN_N_BOTO3 (50,000),
#      BENCH_CPU (0). Writes bench/results/presign.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${BENCH_RUNS:-3}"
N_OURS="${PRESIGN_N_OURS:-1000000}"
N_BOTO3="${PRESIGN_N_BOTO3:-50000}"
CPU="${BENCH_CPU:-0}"

if [ "${BENCH_SETUP:-1}" = 1 ]; then
  ensure_venv
  build_aae
fi
[ -x "$PRESIGN_BIN" ] || die "missing $PRESIGN_BIN (cargo build --release -p aae-storage --example presign_bench)"
bench_setup

runs_json="[]"
for run in $(seq 1 "$RUNS"); do
  measure "presign-ours-$run" taskset -c "$CPU" "$PRESIGN_BIN" "$N_OURS"
  ours="$(cat "$BENCH_TMP/presign-ours-$run.out")"
  measure "presign-boto3-$run" taskset -c "$CPU" "$BENCH_VENV/bin/python" "$BENCH_DIR/presign_boto3.py" "$N_BOTO3"
  boto3="$(cat "$BENCH_TMP/presign-boto3-$run.out")"
  log "presign run $run: ours $ours, boto3 $boto3 (load $(loadavg))"
  runs_json="$(jq -c --argjson o "$ours" --argjson b "$boto3" --arg load "$(loadavg)" \
    '. + [{ours: $o, boto3: $b, loadavg: $load}]' <<<"$runs_json")"
done

boto3_version="$("$BENCH_VENV/bin/python" -c 'import boto3; print(boto3.__version__)')"
jq -n --argjson runs "$runs_json" --arg cpu "$CPU" --arg n_ours "$N_OURS" --arg n_boto3 "$N_BOTO3" \
  --arg boto3 "$boto3_version" '
  def median: sort | .[(length - 1) / 2 | floor];
  {
    benchmark: "presign",
    unit: "URLs per second, one core",
    peer: "boto3 \($boto3) generate_presigned_url",
    pinned_cpu: ($cpu | tonumber),
    urls_per_method: {ours: ($n_ours | tonumber), boto3: ($n_boto3 | tonumber)},
    runs: $runs,
    median: {
      ours: {get_per_sec: ([$runs[].ours.get_per_sec] | median), put_per_sec: ([$runs[].ours.put_per_sec] | median)},
      boto3: {get_per_sec: ([$runs[].boto3.get_per_sec] | median), put_per_sec: ([$runs[].boto3.put_per_sec] | median)}
    }
  }
  | .ratio = {
      get: ((.median.ours.get_per_sec / .median.boto3.get_per_sec) * 10 | round / 10),
      put: ((.median.ours.put_per_sec / .median.boto3.put_per_sec) * 10 | round / 10)
    }
  | .target = 50
  | .met = (.ratio.get >= 50 and .ratio.put >= 50)
' >"$RESULTS_DIR/presign.json"
log "wrote $RESULTS_DIR/presign.json"
jq -c '{median, ratio, met}' "$RESULTS_DIR/presign.json"
