#!/usr/bin/env bash
# Benchmark 2: upload and download of one large object (256 MiB) to a local s3s-fs server,
# `aae storage put/get` vs awscli's `aws s3 cp`, same server, same file, alternating, BENCH_RUNS
# times each. Every download is compared byte for byte with the original (cmp). Peak RSS of each
# client process from /usr/bin/time -v.
#
# Multipart settings: both sides use awscli's defaults, 8 MiB parts and 10 requests in flight
# (AAE__STORAGE__MULTIPART__PART_SIZE_MIB=8, __CONCURRENCY=10; awscli untouched).
#
#   bash bench/transfer.sh
# Env: BENCH_RUNS (3), TRANSFER_MIB (256), AAE_PART_SIZE_MIB (8), AAE_CONCURRENCY (10).
# Writes bench/results/transfer.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${BENCH_RUNS:-3}"
SIZE_MIB="${TRANSFER_MIB:-256}"
PART_MIB="${AAE_PART_SIZE_MIB:-8}"
CONCURRENCY="${AAE_CONCURRENCY:-10}"

if [ "${BENCH_SETUP:-1}" = 1 ]; then
  ensure_venv
  ensure_s3s_fs
  build_aae
fi
[ -x "$AAE_BIN" ] || die "missing $AAE_BIN (cargo build --release -p aae-cli)"
bench_setup
start_s3s_fs "$BENCH_TMP/s3s-data"

BUCKET="bench-videos"
SRC="$BENCH_TMP/big.bin"
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$SRC"
BYTES="$(stat -c %s "$SRC")"

export AWS_ACCESS_KEY_ID="$BENCH_AK" AWS_SECRET_ACCESS_KEY="$BENCH_SK" AWS_REGION=us-east-1 \
  AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_CA_BUNDLE AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL || true
# awscli reads ~/.aws/config: point it at an empty one so its defaults apply.
export AWS_CONFIG_FILE="$BENCH_TMP/aws-config" AWS_SHARED_CREDENTIALS_FILE="$BENCH_TMP/aws-credentials"
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"

# `env` execs aae, so /usr/bin/time measures aae itself.
AAE=(env AAE__STORAGE__BACKEND=s3 AAE__STORAGE__S3__ENDPOINT="$S3S_URL" AAE__STORAGE__S3__FORCE_PATH_STYLE=true
  AAE__STORAGE__BUCKETS__VIDEOS="$BUCKET" AAE__STORAGE__CREATE_BUCKETS=true
  AAE__STORAGE__MULTIPART__PART_SIZE_MIB="$PART_MIB" AAE__STORAGE__MULTIPART__CONCURRENCY="$CONCURRENCY"
  AAE__DATA_DIR="$BENCH_TMP/aae-data" "$AAE_BIN")
AWS=("$BENCH_VENV/bin/aws" --endpoint-url "$S3S_URL" --only-show-errors)

"$BENCH_VENV/bin/python" "$BENCH_DIR/s3util.py" "$S3S_URL" mkbucket "$BUCKET"

mbps() { python3 -c "print(round($BYTES / 1e6 / $1, 1))"; }
runs_json="[]"
record() { # TOOL OP NAME
  local ok=true
  runs_json="$(jq -c --arg tool "$1" --arg op "$2" --argjson s "$M_SECONDS" --argjson rss "$M_RSS_KIB" \
    --argjson mbps "$(mbps "$M_SECONDS")" --arg load "$(loadavg)" \
    '. + [{tool: $tool, op: $op, seconds: $s, mb_per_sec: $mbps, peak_rss_mib: (($rss / 1024) | round), loadavg: $load}]' \
    <<<"$runs_json")"
  log "$3: $M_SECONDS s, $(mbps "$M_SECONDS") MB/s, peak RSS $((M_RSS_KIB / 1024)) MiB (load $(loadavg))"
}

for run in $(seq 1 "$RUNS"); do
  # Alternate which side goes first, so neither always gets the warmer server.
  order=(aae aws)
  if [ $((run % 2)) = 0 ]; then order=(aws aae); fi
  for tool in "${order[@]}"; do
    out="$BENCH_TMP/out-$tool.bin"
    rm -f "$out"
    if [ "$tool" = aae ]; then
      measure "put-aae-$run" "${AAE[@]}" storage put videos big-aae.bin "$SRC"
      record aae upload "aae put #$run"
      measure "get-aae-$run" "${AAE[@]}" storage get videos big-aae.bin --output "$out"
      record aae download "aae get #$run"
    else
      measure "put-aws-$run" "${AWS[@]}" s3 cp "$SRC" "s3://$BUCKET/big-aws.bin"
      record aws upload "aws s3 cp up #$run"
      measure "get-aws-$run" "${AWS[@]}" s3 cp "s3://$BUCKET/big-aws.bin" "$out"
      record aws download "aws s3 cp down #$run"
    fi
    cmp "$SRC" "$out" || die "$tool: downloaded file differs from the original"
    rm -f "$out"
  done
done

aws_version="$("$BENCH_VENV/bin/aws" --version 2>&1)"
jq -n --argjson runs "$runs_json" --argjson bytes "$BYTES" --arg aws "$aws_version" \
  --argjson part "$PART_MIB" --argjson conc "$CONCURRENCY" --arg s3s "$S3S_FS_VERSION" '
  def median: sort | .[(length - 1) / 2 | floor];
  def med(tool; op): [$runs[] | select(.tool == tool and .op == op) | .mb_per_sec] | median;
  def rss(tool; op): [$runs[] | select(.tool == tool and .op == op) | .peak_rss_mib] | max;
  {
    benchmark: "transfer",
    unit: "MB/s (10^6 bytes per second, wall clock of the whole command)",
    server: "s3s-fs \($s3s) on 127.0.0.1",
    bytes: $bytes,
    peer: $aws,
    settings: {
      ours: "aae storage put/get; multipart part_size_mib=\($part), concurrency=\($conc) (= awscli defaults); downloads of at least the 25 MiB threshold are part_size ranges, concurrency at a time, each written at its offset",
      peer: "aws s3 cp with its defaults (multipart_chunksize 8 MiB, max_concurrent_requests 10)"
    },
    runs: $runs,
    median: {
      upload: {ours: med("aae"; "upload"), peer: med("aws"; "upload")},
      download: {ours: med("aae"; "download"), peer: med("aws"; "download")}
    },
    peak_rss_mib: {
      upload: {ours: rss("aae"; "upload"), peer: rss("aws"; "upload")},
      download: {ours: rss("aae"; "download"), peer: rss("aws"; "download")}
    },
    verified: "cmp of every download against the original: identical"
  }
  | .ratio = {
      upload: ((.median.upload.ours / .median.upload.peer) * 100 | round / 100),
      download: ((.median.download.ours / .median.download.peer) * 100 | round / 100)
    }
  | .target = 1.0
  | .met = (.ratio.upload >= 1.0 and .ratio.download >= 1.0)
' >"$RESULTS_DIR/transfer.json"
log "wrote $RESULTS_DIR/transfer.json"
jq -c '{median, ratio, peak_rss_mib, met}' "$RESULTS_DIR/transfer.json"
