#!/usr/bin/env bash
# Benchmark 3: bucket-to-bucket migration of 10,000 x 4 KiB + 4 x 64 MiB objects on one local S3
# server, `aae storage migrate` vs `rclone copy`, at equal concurrency (aae --concurrency 32;
# rclone --transfers 32 --checkers 64), alternating, BENCH_RUNS times each, each run into a fresh
# destination bucket that is checked against the source (keys, sizes, ETags) afterwards.
# Peak RSS of each client process from /usr/bin/time -v.
#
# The source bucket is seeded once (boto3, 32 threads). Both tools see the same server:
#   MIGRATE_SERVER=s3s-fs (default) or moto (a private moto on a free port, never the shared 5000).
#
#   bash bench/migrate.sh
# Env: BENCH_RUNS (3), MIGRATE_CONCURRENCY (32), MIGRATE_SMALL_N (10000), MIGRATE_LARGE_N (4),
#      MIGRATE_SERVER (s3s-fs). Writes bench/results/migrate.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${BENCH_RUNS:-3}"
CONC="${MIGRATE_CONCURRENCY:-32}"
SMALL_N="${MIGRATE_SMALL_N:-10000}"
SMALL_KIB=4
LARGE_N="${MIGRATE_LARGE_N:-4}"
LARGE_MIB=64
SERVER="${MIGRATE_SERVER:-s3s-fs}"

if [ "${BENCH_SETUP:-1}" = 1 ]; then
  ensure_venv
  ensure_rclone
  [ "$SERVER" = s3s-fs ] && ensure_s3s_fs
  build_aae
fi
[ -x "$AAE_BIN" ] || die "missing $AAE_BIN (cargo build --release -p aae-cli)"

write_unavailable() {
  jq -n --arg why "$1" '{benchmark: "migrate", available: false, reason: $why}' >"$RESULTS_DIR/migrate.json"
  log "migrate: $1"
}
if ! "$AAE_BIN" storage migrate --help >/dev/null 2>&1; then
  write_unavailable "this aae has no 'storage migrate' command yet"
  exit 0
fi

bench_setup
case "$SERVER" in
  s3s-fs) start_s3s_fs "$BENCH_TMP/s3s-data"; URL="$S3S_URL"; SERVER_DESC="s3s-fs $S3S_FS_VERSION" ;;
  moto) start_moto; URL="$MOTO_URL"; SERVER_DESC="moto $MOTO_VERSION (in memory)" ;;
  *) die "MIGRATE_SERVER must be s3s-fs or moto" ;;
esac

export AWS_ACCESS_KEY_ID="$BENCH_AK" AWS_SECRET_ACCESS_KEY="$BENCH_SK" AWS_REGION=us-east-1 \
  AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL || true
S3UTIL=("$BENCH_VENV/bin/python" "$BENCH_DIR/s3util.py" "$URL")

SRC_BUCKET="bench-src"
log "seeding s3://$SRC_BUCKET with $SMALL_N x $SMALL_KIB KiB + $LARGE_N x $LARGE_MIB MiB"
seeded_at="$(date +%s)"
"${S3UTIL[@]}" seed "$SRC_BUCKET" "$SMALL_N" "$SMALL_KIB" "$LARGE_N" "$LARGE_MIB" >&2
log "seeded in $(($(date +%s) - seeded_at)) s"
OBJECTS=$((SMALL_N + LARGE_N))
BYTES=$(((SMALL_N * SMALL_KIB << 10) + (LARGE_N * LARGE_MIB << 20)))

# `env` execs the tool, so /usr/bin/time measures the tool itself.
AAE=(env AAE__STORAGE__BACKEND=s3 AAE__STORAGE__S3__ENDPOINT="$URL" AAE__STORAGE__S3__FORCE_PATH_STYLE=true
  AAE__DATA_DIR="$BENCH_TMP/aae-data" "$AAE_BIN" storage migrate --from-endpoint "$URL" --to-endpoint "$URL"
  --concurrency "$CONC" --json)
: >"$BENCH_TMP/rclone.conf"
RCLONE=(env -u AWS_CA_BUNDLE RCLONE_CONFIG="$BENCH_TMP/rclone.conf" RCLONE_CONFIG_BENCH_TYPE=s3
  RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENDPOINT="$URL" RCLONE_CONFIG_BENCH_REGION=us-east-1
  RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="$BENCH_AK" RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="$BENCH_SK"
  RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true rclone copy --transfers "$CONC" --checkers $((CONC * 2))
  --disable ListR)

drop_bucket() {
  if [ "$SERVER" = s3s-fs ]; then
    # s3s-fs keeps each object's metadata beside the buckets, in its root directory, as
    # `.bucket-<base64url(bucket)>.object-<base64url(key)>.{internal,metadata}.json`.
    local encoded
    encoded="$(python3 -c 'import base64, sys; print(base64.urlsafe_b64encode(sys.argv[1].encode()).decode().rstrip("="))' "$1")"
    rm -rf "${S3S_DIR:?}/$1"
    find "$S3S_DIR" -maxdepth 1 -name ".bucket-$encoded.object-*" -delete
  else
    "${S3UTIL[@]}" rmbucket "$1"
  fi
}

runs_json="[]"
for run in $(seq 1 "$RUNS"); do
  order=(aae rclone)
  if [ $((run % 2)) = 0 ]; then order=(rclone aae); fi
  for tool in "${order[@]}"; do
    dst="bench-dst-$tool-$run"
    "${S3UTIL[@]}" mkbucket "$dst"
    if [ "$tool" = aae ]; then
      measure "migrate-aae-$run" "${AAE[@]}" --from "s3://$SRC_BUCKET" --to "s3://$dst"
      summary="$(tail -n 1 "$BENCH_TMP/migrate-aae-$run.out")"
      jq -e --argjson n "$OBJECTS" '.failed == 0 and .copied == $n' <<<"$summary" >/dev/null ||
        die "aae migrate did not copy everything: $summary"
    else
      measure "migrate-rclone-$run" "${RCLONE[@]}" "bench:$SRC_BUCKET" "bench:$dst"
      summary="null"
    fi
    seconds="$M_SECONDS"
    rss="$M_RSS_KIB"
    "${S3UTIL[@]}" same "$SRC_BUCKET" "$dst" || die "$tool: destination differs from the source"
    rate="$(python3 -c "print(round($OBJECTS / $seconds, 1))")"
    mbps="$(python3 -c "print(round($BYTES / 1e6 / $seconds, 1))")"
    log "$tool #$run: $seconds s, $rate objects/s, $mbps MB/s, peak RSS $((rss / 1024)) MiB (load $(loadavg))"
    runs_json="$(jq -c --arg tool "$tool" --argjson s "$seconds" --argjson rate "$rate" --argjson mbps "$mbps" \
      --argjson rss "$rss" --argjson summary "$summary" --arg load "$(loadavg)" \
      '. + [{tool: $tool, seconds: $s, objects_per_sec: $rate, mb_per_sec: $mbps,
             peak_rss_mib: (($rss / 1024) | round), aae_summary: $summary, loadavg: $load}]' <<<"$runs_json")"
    drop_bucket "$dst"
  done
done

rclone_version="$(rclone version 2>/dev/null | head -n 1)"
jq -n --argjson runs "$runs_json" --argjson objects "$OBJECTS" --argjson bytes "$BYTES" --arg server "$SERVER_DESC" \
  --arg rclone "$rclone_version" --argjson conc "$CONC" '
  def median: sort | .[(length - 1) / 2 | floor];
  def med(tool; f): [$runs[] | select(.tool == tool) | f] | median;
  {
    benchmark: "migrate",
    available: true,
    unit: "objects per second (and MB/s), wall clock of the whole command, listing included",
    server: $server,
    objects: $objects,
    bytes: $bytes,
    peer: $rclone,
    settings: {
      ours: "aae storage migrate --from s3://bench-src --to s3://<fresh> --from-endpoint URL --to-endpoint URL --concurrency \($conc) --json",
      peer: "rclone copy bench:bench-src bench:<fresh> --transfers \($conc) --checkers \($conc * 2) --disable ListR"
    },
    runs: $runs,
    median: {
      ours: {objects_per_sec: med("aae"; .objects_per_sec), mb_per_sec: med("aae"; .mb_per_sec), seconds: med("aae"; .seconds)},
      peer: {objects_per_sec: med("rclone"; .objects_per_sec), mb_per_sec: med("rclone"; .mb_per_sec), seconds: med("rclone"; .seconds)}
    },
    peak_rss_mib: {ours: ([$runs[] | select(.tool == "aae") | .peak_rss_mib] | max), peer: ([$runs[] | select(.tool == "rclone") | .peak_rss_mib] | max)}
  }
  | .ratio = ((.median.ours.objects_per_sec / .median.peer.objects_per_sec) * 100 | round / 100)
  | .target = 1.5
  | .met = (.ratio >= 1.5)
' >"$RESULTS_DIR/migrate.json"
log "wrote $RESULTS_DIR/migrate.json"
jq -c '{median, ratio, peak_rss_mib, met}' "$RESULTS_DIR/migrate.json"
